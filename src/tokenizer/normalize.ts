/**
 * BERT's normalizer and pre-tokenizer for one word: what Hugging Face's `BertNormalizer` + `BertPreTokenizer`
 * (tokenizer.json) and Python's `BasicTokenizer` (vocab.txt) do before WordPiece.
 *
 *   1. clean text: drop NUL, U+FFFD and control/format characters; every whitespace becomes a space
 *   2. CJK ideographs become words of their own (`tokenize_chinese_chars`)
 *   3. strip accents (NFD, then drop non-spacing marks), when `strip_accents` (default: same as `lowercase`)
 *   4. lowercase, character by character as Rust does (so a final capital sigma gives σ, not ς)
 *   5. split on whitespace and isolate every punctuation character
 *
 * mBERT cased uses 1, 2 and 5 only: accents and case stay, Devanagari combining marks stay attached.
 */
import { CHAR_CHINESE, CHAR_PUNCT, CHAR_REMOVED, CHAR_WHITESPACE, charFlags } from './unicode.js';

export interface BertNormalization {
  /** Remove control characters, map whitespace to spaces (`clean_text`). */
  cleanText: boolean;
  /** Isolate CJK ideographs (`handle_chinese_chars` / `tokenize_chinese_chars`). */
  handleChineseChars: boolean;
  /** NFD + drop combining marks (`strip_accents`). */
  stripAccents: boolean;
  /** Lowercase (`lowercase` / `do_lower_case`). */
  lowercase: boolean;
}

/** Splits one (pre-tokenised) word into the normalized pieces WordPiece sees. May return no piece at all. */
export function preTokenizeWord(word: string, norm: BertNormalization): string[] {
  let text = word;
  if (norm.cleanText) text = cleanText(text);
  if (norm.stripAccents) text = text.normalize('NFD').replace(/\p{Mn}/gu, '');
  if (norm.lowercase) text = lowercaseByChar(text);
  return splitPieces(text, norm.handleChineseChars);
}

/** True when the word is plain printable ASCII letters/digits: no normalization step can change it. */
function isPlainAlnum(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return false;
  }
  return true;
}

function cleanText(text: string): string {
  // Most words contain nothing to remove or map: return them untouched without building a new string.
  let clean = true;
  for (let i = 0; i < text.length && clean;) {
    const cp = text.codePointAt(i)!;
    if (charFlags(cp) & (CHAR_REMOVED | CHAR_WHITESPACE) && cp !== 0x20) clean = false;
    i += cp > 0xffff ? 2 : 1;
  }
  if (clean) return text;
  let out = '';
  for (const ch of text) {
    const flags = charFlags(ch.codePointAt(0)!);
    if (flags & CHAR_REMOVED) continue;
    out += flags & CHAR_WHITESPACE ? ' ' : ch;
  }
  return out;
}

function lowercaseByChar(text: string): string {
  let out = '';
  for (const ch of text) out += ch.toLowerCase();
  return out;
}

function splitPieces(text: string, chinese: boolean): string[] {
  if (text.length > 0 && isPlainAlnum(text)) return [text];
  const pieces: string[] = [];
  let start = -1; // start of the current run of ordinary characters
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const flags = charFlags(cp);
    if (flags & CHAR_WHITESPACE) {
      if (start >= 0) pieces.push(text.slice(start, i));
      start = -1;
    } else if (flags & CHAR_PUNCT || (chinese && flags & CHAR_CHINESE)) {
      if (start >= 0) pieces.push(text.slice(start, i));
      start = -1;
      pieces.push(text.slice(i, i + width));
    } else if (start < 0) {
      start = i;
    }
    i += width;
  }
  if (start >= 0) pieces.push(text.slice(start));
  return pieces;
}

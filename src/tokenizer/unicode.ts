/**
 * Character classes of Hugging Face's BERT normalizer and pre-tokenizer, as the Rust `tokenizers` crate (which
 * runs every `tokenizer.json`) defines them, so that our WordPiece gives the ids the model was trained with.
 *
 * The Rust crate takes control and punctuation classes from an older Unicode table (`unicode_categories`) than
 * Node's ICU, and it does not count unassigned code points (Cn) as control characters, unlike Python's
 * BertTokenizer. The exception lists below are the whole difference between Node 20 (Unicode 15.1/17) and
 * `tokenizers` 0.23.2, found by running both over every code point (test/tokenizer/unicode.test.ts repeats that
 * comparison whenever the `tokenizers` dev dependency is installed, so a Node upgrade that moves a class shows up).
 */

/** Rust's `char::is_whitespace`: the Unicode White_Space property. */
export function isBertWhitespace(cp: number): boolean {
  if (cp <= 0x20) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  if (cp < 0x85) return false;
  return (
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

const CONTROL_RE = /^[\p{Cc}\p{Cf}\p{Co}]$/u;
/** Format characters newer than the Rust crate's table: Rust keeps them as ordinary characters. */
const CONTROL_KEPT_BY_RUST: readonly (readonly [number, number])[] = [
  [0x890, 0x891],
  [0x8e2, 0x8e2],
  [0x110cd, 0x110cd],
  [0x13430, 0x1343f],
];

/**
 * Whether the normalizer's `clean_text` removes the character: NUL, U+FFFD and "other" characters (Cc, Cf, Co,
 * not Cn) except tab, newline and carriage return, which count as whitespace.
 */
export function isBertRemoved(cp: number): boolean {
  if (cp < 0x7f) return cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d;
  if (cp === 0xfffd) return true;
  if (cp < 0xa0) return true; // 0x7f-0x9f are Cc
  if (!CONTROL_RE.test(String.fromCodePoint(cp))) return false;
  return !inRanges(cp, CONTROL_KEPT_BY_RUST);
}

const PUNCT_RE = /^\p{P}$/u;
/** Punctuation in Node's Unicode table but not in the Rust crate's (newer characters). */
const PUNCT_NOT_IN_RUST: readonly (readonly [number, number])[] = [
  [0x61d, 0x61d],
  [0x9fd, 0x9fd],
  [0xa76, 0xa76],
  [0xc77, 0xc77],
  [0xc84, 0xc84],
  [0x1b4e, 0x1b4f],
  [0x1b7d, 0x1b7f],
  [0x2e43, 0x2e4f],
  [0x2e52, 0x2e5d],
  [0x10d6e, 0x10d6e],
  [0x10ead, 0x10ead],
  [0x10ed0, 0x10ed0],
  [0x10f55, 0x10f59],
  [0x10f86, 0x10f89],
  [0x113d4, 0x113d5],
  [0x113d7, 0x113d8],
  [0x1144b, 0x1144f],
  [0x1145a, 0x1145b],
  [0x1145d, 0x1145d],
  [0x11660, 0x1166c],
  [0x116b9, 0x116b9],
  [0x1183b, 0x1183b],
  [0x11944, 0x11946],
  [0x119e2, 0x119e2],
  [0x11a3f, 0x11a46],
  [0x11a9a, 0x11a9c],
  [0x11a9e, 0x11aa2],
  [0x11b00, 0x11b09],
  [0x11be1, 0x11be1],
  [0x11c41, 0x11c45],
  [0x11c70, 0x11c71],
  [0x11ef7, 0x11ef8],
  [0x11f43, 0x11f4f],
  [0x11fff, 0x11fff],
  [0x12ff1, 0x12ff2],
  [0x16d6d, 0x16d6f],
  [0x16e97, 0x16e9a],
  [0x16fe2, 0x16fe2],
  [0x1e5ff, 0x1e5ff],
  [0x1e95e, 0x1e95f],
];
/** Characters Rust still counts as punctuation that later Unicode versions moved to another category. */
const PUNCT_ONLY_IN_RUST: readonly number[] = [0x166d, 0x111c9];

/** BERT punctuation: every ASCII non-alphanumeric printable character (`$`, `+`, `^`, ...) and Unicode P*. */
export function isBertPunctuation(cp: number): boolean {
  if (cp < 0x80) {
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  }
  if (PUNCT_ONLY_IN_RUST.includes(cp)) return true;
  if (!PUNCT_RE.test(String.fromCodePoint(cp))) return false;
  return !inRanges(cp, PUNCT_NOT_IN_RUST);
}

/**
 * The CJK Unified Ideograph blocks BERT splits into single characters (Hangul, kana and Thai are not among them;
 * they stay whole words and go through WordPiece).
 */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) || // sic: Rust starts at 0x2B920 (Python's BertTokenizer at 0x2B820)
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function inRanges(cp: number, ranges: readonly (readonly [number, number])[]): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

/** Flags of `charFlags`. */
export const CHAR_REMOVED = 1;
export const CHAR_WHITESPACE = 2;
export const CHAR_PUNCT = 4;
export const CHAR_CHINESE = 8;

let bmpTable: Uint8Array | undefined;

/** The four classes above as bit flags; a table for the BMP (built once, ~65k lookups), direct tests beyond. */
export function charFlags(cp: number): number {
  if (cp < 0x10000) {
    if (bmpTable === undefined) {
      bmpTable = new Uint8Array(0x10000);
      for (let c = 0; c < 0x10000; c++) bmpTable[c] = computeFlags(c);
    }
    return bmpTable[cp]!;
  }
  return computeFlags(cp);
}

function computeFlags(cp: number): number {
  if (cp >= 0xd800 && cp <= 0xdfff) return 0; // lone surrogate halves: ordinary characters, as `\p{Cs}` is not removed
  return (
    (cp === 0 || isBertRemoved(cp) ? CHAR_REMOVED : 0) |
    (isBertWhitespace(cp) ? CHAR_WHITESPACE : 0) |
    (isBertPunctuation(cp) ? CHAR_PUNCT : 0) |
    (isChineseChar(cp) ? CHAR_CHINESE : 0)
  );
}

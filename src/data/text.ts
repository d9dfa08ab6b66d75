/**
 * Bytes to lines. The original CoNLL-2002 and German CoNLL-2003 releases are ISO-8859-1, later copies UTF-8, and
 * nothing in the files says which. A latin-1 file with any non-ASCII letter is almost never valid UTF-8 (an
 * accented letter is one byte >= 0x80 followed by ASCII, which UTF-8 forbids), so: decode strictly as UTF-8 and
 * fall back to latin-1 when that fails. Pure-ASCII files decode identically either way. Latin-1 here is true
 * ISO-8859-1 (every byte is the code point of the same value), not the WHATWG `latin1` label, which means
 * windows-1252 and would turn bytes 0x80-0x9F into other characters.
 */
import { readFileSync } from 'node:fs';

export type Encoding = 'utf-8' | 'latin-1';

export interface DecodedText {
  lines: string[];
  encoding: Encoding;
  bom: boolean;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes (`encoding: 'auto'` tries UTF-8 first) and splits them into lines, accepting LF, CRLF and CR. */
export function decodeLines(bytes: Uint8Array, encoding: Encoding | 'auto' = 'auto'): DecodedText {
  let text: string;
  let used: Encoding;
  if (encoding === 'latin-1') {
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    used = 'latin-1';
  } else {
    try {
      text = UTF8.decode(bytes);
      used = 'utf-8';
    } catch (err) {
      if (encoding === 'utf-8') throw err;
      text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
      used = 'latin-1';
    }
  }
  // A UTF-8 byte-order mark decodes to U+FEFF; in latin-1 it reads as the three characters "ï»¿".
  let bom = false;
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
    bom = true;
  } else if (used === 'latin-1' && text.startsWith('\u00ef\u00bb\u00bf')) {
    text = text.slice(3);
    bom = true;
  }
  const lines = text.split(/\r\n|\n|\r/);
  // The final line ending does not start another line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return { lines, encoding: used, bom };
}

/** Reads a file and decodes it; a missing file is an error naming the path. */
export function readLines(path: string, encoding: Encoding | 'auto' = 'auto'): DecodedText {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  return decodeLines(bytes, encoding);
}

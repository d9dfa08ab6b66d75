/**
 * WordPiece over pre-tokenised words, equal in output to Hugging Face's BertTokenizer / `tokenizer.json`
 * (test/tokenizer/parity.test.ts checks it against fixtures from HF's Rust tokenizer and against
 * `@huggingface/tokenizers`).
 *
 * NER text arrives as words, so the unit of work is one word: it is normalized and split into pieces
 * (normalize.ts), each piece is cut greedily into the longest vocabulary entries (`##` marks continuations), and
 * the result is cached per distinct word: a corpus repeats most of its words, so the bulk of a dataset costs a
 * map lookup per word. Two rules keep every gold word alive: a word that yields no piece at all (only control or
 * format characters, only whitespace) becomes `[UNK]`, and a piece longer than `maxInputCharsPerWord` code points
 * (100) or with no vocabulary cut becomes `[UNK]`, as in BERT.
 */
import { preTokenizeWord, type BertNormalization } from './normalize.js';
import { PrefixTrie } from './trie.js';

export interface WordPieceConfig {
  /** Token -> id. */
  vocab: ReadonlyMap<string, number>;
  normalization: BertNormalization;
  unkToken: string;
  clsToken: string;
  sepToken: string;
  padToken: string;
  /** Prefix of non-initial pieces (`##`). */
  continuingSubwordPrefix: string;
  /** Longer pieces (in code points) become the unknown token. */
  maxInputCharsPerWord: number;
  /**
   * Added tokens matched verbatim in the raw word before normalization (`[CLS]`, `[SEP]`, ...), as HF's added
   * vocabulary does; each must be in `vocab`.
   */
  specialTokens: readonly string[];
  /** Where the tokenizer was loaded from (file path), for messages. */
  source: string;
}

/** The sub-tokens of one word. Shared with the cache: do not mutate. */
export interface WordTokens {
  readonly tokens: readonly string[];
  readonly ids: readonly number[];
}

/** Sub-tokens of a word sequence, without [CLS]/[SEP]. */
export interface EncodedWords {
  ids: Int32Array;
  /** Per sub-token: the index of its word in the input. */
  wordIds: Int32Array;
  tokens: string[];
}

/** Distinct words kept in the per-word cache before it is cleared (bounds memory on huge corpora). */
const CACHE_LIMIT = 1 << 20;

export class WordPieceTokenizer {
  readonly config: WordPieceConfig;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly idToTokenTable: string[];
  /** Every entry (word-initial matches) and the continuation entries without their prefix. */
  private readonly initialTrie: PrefixTrie;
  private readonly continuationTrie: PrefixTrie;
  private readonly match: [number, number] = [0, 0];
  private readonly bracketSpecials: boolean;
  private readonly cache = new Map<string, WordTokens>();

  constructor(config: WordPieceConfig) {
    this.config = config;
    this.vocab = config.vocab;
    const need = (token: string, what: string): number => {
      const id = config.vocab.get(token);
      if (id === undefined) throw new Error(`${config.source}: the ${what} '${token}' is not in the vocabulary`);
      return id;
    };
    this.unkId = need(config.unkToken, 'unknown token');
    this.clsId = need(config.clsToken, 'CLS token');
    this.sepId = need(config.sepToken, 'SEP token');
    this.padId = need(config.padToken, 'PAD token');
    for (const t of config.specialTokens) need(t, 'special token');
    this.bracketSpecials = config.specialTokens.every((t) => t.startsWith('['));
    this.idToTokenTable = [];
    const prefix = config.continuingSubwordPrefix;
    const continuation: [string, number][] = [];
    for (const [token, id] of config.vocab) {
      this.idToTokenTable[id] = token;
      if (token.startsWith(prefix)) continuation.push([token.slice(prefix.length), id]);
    }
    // A repeated token keeps the id the map holds (its last line), so look ids up through the map.
    this.initialTrie = new PrefixTrie(config.vocab);
    this.continuationTrie = new PrefixTrie(continuation.filter(([k, id]) => config.vocab.get(prefix + k) === id));
  }

  /** Number of ids (largest id + 1). */
  get vocabSize(): number {
    return this.idToTokenTable.length;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  /** The sub-tokens of one word; never empty (see the module comment). */
  tokenizeWord(word: string): WordTokens {
    let hit = this.cache.get(word);
    if (hit === undefined) {
      hit = this.tokenizeUncached(word);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, hit);
    }
    return hit;
  }

  /** Sub-tokens of a word sequence with the word each one belongs to (no special tokens added). */
  encodeWords(words: readonly string[]): EncodedWords {
    const per = words.map((w) => this.tokenizeWord(w));
    let n = 0;
    for (const p of per) n += p.ids.length;
    const ids = new Int32Array(n);
    const wordIds = new Int32Array(n);
    const tokens: string[] = [];
    let k = 0;
    per.forEach((p, w) => {
      for (let j = 0; j < p.ids.length; j++, k++) {
        ids[k] = p.ids[j]!;
        wordIds[k] = w;
        tokens.push(p.tokens[j]!);
      }
    });
    return { ids, wordIds, tokens };
  }

  /** Empties the per-word cache (it refills as words come). */
  clearCache(): void {
    this.cache.clear();
  }

  private tokenizeUncached(word: string): WordTokens {
    const tokens: string[] = [];
    for (const part of this.splitSpecial(word)) {
      if (part.special) {
        tokens.push(part.text);
        continue;
      }
      for (const piece of preTokenizeWord(part.text, this.config.normalization)) this.wordPiece(piece, tokens);
    }
    if (tokens.length === 0) tokens.push(this.config.unkToken);
    const ids = tokens.map((t) => this.vocab.get(t)!);
    return { tokens, ids };
  }

  /** Cuts the raw word at verbatim occurrences of special tokens (leftmost, then longest). */
  private splitSpecial(word: string): { text: string; special: boolean }[] {
    const specials = this.config.specialTokens;
    // Fast exit: BERT's special tokens all start with '['; scan for others only where a vocabulary has them.
    if (specials.length === 0 || (this.bracketSpecials && !word.includes('['))) return [{ text: word, special: false }];
    const parts: { text: string; special: boolean }[] = [];
    let from = 0;
    for (;;) {
      let at = -1;
      let match = '';
      for (const s of specials) {
        const i = word.indexOf(s, from);
        if (i >= 0 && (at < 0 || i < at || (i === at && s.length > match.length))) {
          at = i;
          match = s;
        }
      }
      if (at < 0) break;
      if (at > from) parts.push({ text: word.slice(from, at), special: false });
      parts.push({ text: match, special: true });
      from = at + match.length;
    }
    if (from < word.length) parts.push({ text: word.slice(from), special: false });
    return parts;
  }

  /**
   * Greedy longest-match-first WordPiece of one normalized piece, appended to `out`: at each position the longest
   * vocabulary entry (with the continuation prefix after the first) is taken; if some position has none, the whole
   * piece becomes the unknown token. Vocabulary entries are whole code points, so a cut never splits a pair.
   */
  private wordPiece(piece: string, out: string[]): void {
    const { unkToken, maxInputCharsPerWord } = this.config;
    let nChars = piece.length;
    if (nChars > maxInputCharsPerWord) {
      nChars = 0;
      for (let i = 0; i < piece.length; i++) {
        const c = piece.charCodeAt(i);
        if (c < 0xdc00 || c > 0xdfff) nChars++; // count code points: skip the low half of each pair
      }
      if (nChars > maxInputCharsPerWord) {
        out.push(unkToken);
        return;
      }
    }
    const ids: number[] = [];
    const m = this.match;
    for (let s = 0; s < piece.length; s = m[1]) {
      const trie = s === 0 ? this.initialTrie : this.continuationTrie;
      if (!trie.longest(piece, s, piece.length, m)) {
        out.push(unkToken);
        return;
      }
      ids.push(m[0]);
    }
    for (const id of ids) out.push(this.idToTokenTable[id]!);
  }
}

/**
 * BERT's WordPiece tokenizer (uncased, as InstructBLIP's Q-Former uses it):
 * 1. clean: drop NUL, U+FFFD and control characters (Unicode C*, except \t \n \r), map
 *    whitespace (\t \n \r, Zs) to a space;
 * 2. put spaces around CJK ideographs; split on whitespace;
 * 3. per word: lower-case, strip accents (NFD, drop Mn), split off every punctuation character
 *    (ASCII symbol ranges and Unicode P*);
 * 4. greedy longest-match-first against the vocabulary, continuation pieces prefixed "##";
 *    a word with an unmatched rest, or longer than 100 characters, becomes [UNK].
 * Special tokens written in the text ([CLS], [SEP], [PAD], [MASK], [UNK], [DEC]) stay whole.
 * `encode` adds [CLS] … [SEP] and truncates from the left by default (the official Q-Former's
 * `truncation_side = "left"`) or the right.
 * @module
 */

/** Options of {@link WordPieceTokenizer.encode}. */
export interface WordPieceEncodeOptions {
  /** Add [CLS] at the start and [SEP] at the end (default true). */
  addSpecialTokens?: boolean;
  /** Keep at most this many ids (special tokens included). */
  maxLength?: number;
  /** Which end loses tokens when too long (default "left", as the official Q-Former). */
  truncationSide?: "left" | "right";
  /** Pad with [PAD] up to maxLength (default false). */
  padToMaxLength?: boolean;
}

/** Encoded text: ids and the attention mask (1 = token, 0 = padding). */
export interface WordPieceEncoding {
  ids: number[];
  attentionMask: number[];
}

const CJK =
  /[\u4E00-\u9FFF\u3400-\u4DBF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\uF900-\uFAFF\u{2F800}-\u{2FA1F}]/gu;
const CONTROL = /[\0\uFFFD]|(?![\t\n\r])\p{C}/gu;
const SPACES = /[\t\n\r\p{Zs}]/gu;
const PUNCT_SPLIT = /[!-/:-@[-`{-~\p{P}]|[^!-/:-@[-`{-~\p{P}]+/gu;
const MARKS = /\p{Mn}/gu;
const NON_ASCII = /\P{ASCII}/u;

/** The BERT WordPiece tokenizer over a vocabulary (`vocab.txt` order = ids). */
export class WordPieceTokenizer {
  /** Pieces by id. */
  readonly vocab: string[];
  readonly #ids: Map<string, number>;
  readonly #special: string[];
  readonly #cache = new Map<string, number[]>();
  #specialRe: RegExp;
  /** Whether to lower-case and strip accents (bert-base-uncased: true). */
  readonly lowercase: boolean;
  /** Words longer than this many characters become [UNK]. */
  readonly maxCharsPerWord = 100;

  /** `vocab`: pieces in id order. */
  constructor(vocab: string[], { lowercase = true }: { lowercase?: boolean } = {}) {
    this.vocab = [...vocab];
    this.#ids = new Map();
    this.vocab.forEach((p, i) => {
      if (!this.#ids.has(p)) this.#ids.set(p, i);
    });
    for (const t of ["[UNK]", "[CLS]", "[SEP]", "[PAD]"]) {
      if (!this.#ids.has(t)) throw new Error(`wordpiece: vocabulary lacks '${t}'`);
    }
    this.lowercase = lowercase;
    this.#special = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"].filter((t) => this.#ids.has(t));
    this.#specialRe = this.#makeSpecialRe();
  }

  /** Parses a `vocab.txt` (one piece per line). */
  static fromVocabText(text: string, opts?: { lowercase?: boolean }): WordPieceTokenizer {
    const lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    return new WordPieceTokenizer(lines.map((l) => l.replace(/\r$/, "")), opts);
  }

  /** Reads a `vocab.txt` file. */
  static fromFile(path: string, opts?: { lowercase?: boolean }): WordPieceTokenizer {
    return WordPieceTokenizer.fromVocabText(Deno.readTextFileSync(path), opts);
  }

  /** Reads an HF `tokenizer.json` with a WordPiece model (vocab, unk, lowercase from BertNormalizer). */
  static fromTokenizerJson(json: string | Record<string, unknown>): WordPieceTokenizer {
    const j = (typeof json === "string" ? JSON.parse(json) : json) as {
      model?: { type?: string; vocab?: Record<string, number> };
      normalizer?: { lowercase?: boolean };
      added_tokens?: { id: number; content: string; special?: boolean }[];
    };
    if (j.model?.type !== "WordPiece" || !j.model.vocab) {
      throw new Error(`wordpiece: tokenizer.json model is '${j.model?.type}', expected WordPiece`);
    }
    const vocab: string[] = [];
    for (const [p, id] of Object.entries(j.model.vocab)) vocab[id] = p;
    for (const t of j.added_tokens ?? []) vocab[t.id] = t.content;
    for (let i = 0; i < vocab.length; i++) {
      if (vocab[i] === undefined) throw new Error(`wordpiece: tokenizer.json has no piece with id ${i}`);
    }
    const tok = new WordPieceTokenizer(vocab, { lowercase: j.normalizer?.lowercase ?? true });
    for (const t of j.added_tokens ?? []) if (t.special !== false) tok.addSpecialToken(t.content);
    return tok;
  }

  /** Appends a special token (e.g. the Q-Former's "[DEC]", id 30522 on bert-base) and returns its id. */
  addSpecialToken(token: string): number {
    let id = this.#ids.get(token);
    if (id === undefined) {
      id = this.vocab.length;
      this.vocab.push(token);
      this.#ids.set(token, id);
    }
    if (!this.#special.includes(token)) this.#special.push(token);
    this.#specialRe = this.#makeSpecialRe();
    this.#cache.clear(); // a new piece can change how cached words split
    return id;
  }

  #makeSpecialRe(): RegExp {
    const alts = [...this.#special].sort((a, b) => b.length - a.length).map((s) =>
      s.replace(/[[\]]/g, "\\$&")
    );
    return new RegExp(`(${alts.join("|")})`);
  }

  /** Id of a piece (throws when absent). */
  tokenId(piece: string): number {
    const id = this.#ids.get(piece);
    if (id === undefined) throw new Error(`wordpiece: '${piece}' is not in the vocabulary`);
    return id;
  }

  /** Vocabulary size (with added special tokens). */
  get size(): number {
    return this.vocab.length;
  }

  /** The basic tokenizer (steps 1–3): words and punctuation, before WordPiece. */
  basicTokenize(text: string): string[] {
    let t = text.replace(CONTROL, "").replace(SPACES, " ");
    if (NON_ASCII.test(t)) t = t.replace(CJK, " $& ");
    const out: string[] = [];
    for (let w of t.split(" ")) {
      if (!w) continue;
      if (this.lowercase) {
        w = w.toLowerCase();
        if (NON_ASCII.test(w)) w = w.normalize("NFD").replace(MARKS, "");
      }
      const parts = w.match(PUNCT_SPLIT);
      if (parts) out.push(...parts);
    }
    return out;
  }

  /** WordPiece pieces of one basic token. */
  wordPieces(word: string, out: string[] = []): string[] {
    if ([...word].length > this.maxCharsPerWord) {
      out.push("[UNK]");
      return out;
    }
    if (this.#ids.has(word)) {
      out.push(word);
      return out;
    }
    const start = out.length;
    let s = 0;
    while (s < word.length) {
      let e = word.length, found: string | null = null;
      while (e > s) {
        // never cut inside a surrogate pair
        const c = word.charCodeAt(e - 1);
        if (c >= 0xd800 && c <= 0xdbff) {
          e--;
          continue;
        }
        const sub = s > 0 ? "##" + word.slice(s, e) : word.slice(s, e);
        if (this.#ids.has(sub)) {
          found = sub;
          break;
        }
        e--;
      }
      if (found === null) {
        out.length = start;
        out.push("[UNK]");
        return out;
      }
      out.push(found);
      s = e;
    }
    return out;
  }

  /** Text → pieces (no [CLS]/[SEP]). */
  tokenize(text: string): string[] {
    return this.tokenizeIds(text).map((id) => this.vocab[id]);
  }

  /** Text → piece ids (no [CLS]/[SEP]); words seen before come from a bounded cache. */
  tokenizeIds(text: string): number[] {
    const out: number[] = [];
    const chunks = text.includes("[") ? text.split(this.#specialRe) : [text];
    for (let i = 0; i < chunks.length; i++) {
      if (i % 2 === 1) {
        out.push(this.#ids.get(chunks[i])!);
        continue;
      }
      for (const w of this.basicTokenize(chunks[i])) {
        let ids = this.#cache.get(w);
        if (!ids) {
          ids = this.wordPieces(w).map((p) => this.#ids.get(p)!);
          if (this.#cache.size >= 100_000) this.#cache.clear(); // bound memory on endless new words
          this.#cache.set(w, ids);
        }
        for (const id of ids) out.push(id);
      }
    }
    return out;
  }

  /** Text → ids with [CLS] … [SEP], truncation and optional padding. */
  encode(text: string, opts: WordPieceEncodeOptions = {}): WordPieceEncoding {
    const { addSpecialTokens = true, maxLength, truncationSide = "left", padToMaxLength = false } = opts;
    let ids = this.tokenizeIds(text);
    const extra = addSpecialTokens ? 2 : 0;
    if (maxLength !== undefined) {
      if (!Number.isInteger(maxLength) || maxLength < extra) {
        throw new Error(`wordpiece: maxLength ${maxLength} must be an integer ≥ ${extra}`);
      }
      const keep = maxLength - extra;
      if (ids.length > keep) {
        ids = truncationSide === "left" ? ids.slice(ids.length - keep) : ids.slice(0, keep);
      }
    }
    if (addSpecialTokens) ids = [this.tokenId("[CLS]"), ...ids, this.tokenId("[SEP]")];
    const attentionMask = ids.map(() => 1);
    if (padToMaxLength && maxLength !== undefined) {
      const pad = this.tokenId("[PAD]");
      while (ids.length < maxLength) {
        ids.push(pad);
        attentionMask.push(0);
      }
    }
    return { ids, attentionMask };
  }

  /** Encodes several texts, padding to the longest (or maxLength with padToMaxLength). */
  encodeBatch(texts: string[], opts: WordPieceEncodeOptions = {}): WordPieceEncoding[] {
    const enc = texts.map((t) => this.encode(t, opts));
    const len = Math.max(0, ...enc.map((e) => e.ids.length));
    const pad = this.tokenId("[PAD]");
    for (const e of enc) {
      while (e.ids.length < len) {
        e.ids.push(pad);
        e.attentionMask.push(0);
      }
    }
    return enc;
  }

  /** Ids → text: "##" pieces join the previous one; special tokens dropped unless asked. */
  decode(ids: number[], { skipSpecialTokens = true } = {}): string {
    const words: string[] = [];
    for (const id of ids) {
      const p = this.vocab[id];
      if (p === undefined) {
        throw new Error(`wordpiece: id ${id} is outside the ${this.vocab.length}-piece vocabulary`);
      }
      if (skipSpecialTokens && this.#special.includes(p)) continue;
      if (p.startsWith("##") && words.length) words[words.length - 1] += p.slice(2);
      else words.push(p);
    }
    return words.join(" ");
  }
}

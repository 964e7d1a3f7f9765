/**
 * Byte-fallback BPE tokenizer trained by our own code on the training captions plus the
 * instruction templates, saved as JSON beside checkpoints.
 *
 * Normalisation (the "up to" in decode(encode(x)) === normalize(x)): Unicode NFKC, runs of
 * whitespace collapsed to one space, trimmed. Case and punctuation are kept (T5-style).
 * Pre-tokenisation splits into words / numbers / punctuation runs, each carrying its leading
 * space as "▁" (SentencePiece's marker); merges never cross those pieces. Characters never
 * seen in training are encoded as UTF-8 byte tokens, so every string round-trips exactly.
 * Training is deterministic: ties between equally frequent pairs go to the smaller string.
 */
import { REGIONS } from "./regions.ts";

/** Fixed special-token ids (T5's pad/eos/unk order, then bos and mask for MLM). */
export const SPECIAL_TOKENS = { pad: 0, eos: 1, unk: 2, bos: 3, mask: 4 } as const;
const SPECIAL_STRINGS = ["<pad>", "</s>", "<unk>", "<s>", "<mask>"];
const BYTE_BASE = SPECIAL_STRINGS.length; // ids 5..260 are the 256 byte tokens
const FIRST_LEARNED = BYTE_BASE + 256;
const SPACE = "\u2581";

/** The paper's instruction template; `[R]` is replaced by the region list. */
export const PAPER_INSTRUCTION =
  "These facial areas may be manipulated by AI: [R]. Please describe the specific issues in these areas.";

/** Instruction strings for tokenizer training: the template filled with every region. */
export function instructionTexts(template = PAPER_INSTRUCTION): string[] {
  return [template.replace("[R]", REGIONS.join(", ")), ...REGIONS.map((r) => template.replace("[R]", r))];
}

/** NFKC, collapse whitespace, trim. */
export function normalizeText(text: string): string {
  return text.normalize("NFKC").replace(/\s+/gu, " ").trim();
}

const PRETOKEN = /\s?\p{L}+|\s?\p{N}+|\s?[^\s\p{L}\p{N}]+/gu;

/**
 * Longest pre-token, in code points. Longer runs (a 1M-character "word") are cut into pieces
 * of this length before BPE, so per-word work and the encode cache stay bounded; merges never
 * cross the cut, and decoding still reproduces the text exactly.
 */
export const MAX_WORD_CHARS = 256;

function pretokenize(norm: string): string[] {
  const out: string[] = [];
  for (const m of norm.matchAll(PRETOKEN)) {
    const p = m[0][0] === " " ? SPACE + m[0].slice(1) : m[0];
    if (p.length <= MAX_WORD_CHARS) out.push(p); // UTF-16 length ≥ code points: surely short
    else {
      const cps = Array.from(p);
      for (let i = 0; i < cps.length; i += MAX_WORD_CHARS) {
        out.push(cps.slice(i, i + MAX_WORD_CHARS).join(""));
      }
    }
  }
  return out;
}

/**
 * Apply BPE merges to one word's characters: repeatedly merge the adjacent pair of lowest
 * rank (leftmost on ties) until none has a rank. A min-heap of candidate pairs over a doubly
 * linked list of symbols makes this O(n log n) (the naive rescan is O(n²)); stale heap
 * entries are recognised and skipped when popped.
 */
export function bpeMerge(chars: string[], ranks: ReadonlyMap<string, number>): string[] {
  const n = chars.length;
  if (n < 2) return chars.slice();
  const sym = chars.slice();
  const prev = new Int32Array(n), next = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // Heap entries: rank, left index (position order = index order), right index.
  let hr = new Int32Array(n), hl = new Int32Array(n), hrt = new Int32Array(n);
  let size = 0;
  const less = (a: number, b: number) => hr[a] < hr[b] || (hr[a] === hr[b] && hl[a] < hl[b]);
  const swap = (a: number, b: number) => {
    let t = hr[a];
    hr[a] = hr[b];
    hr[b] = t;
    t = hl[a];
    hl[a] = hl[b];
    hl[b] = t;
    t = hrt[a];
    hrt[a] = hrt[b];
    hrt[b] = t;
  };
  const push = (l: number, r: number) => {
    const rank = ranks.get(sym[l] + "\u0000" + sym[r]);
    if (rank === undefined) return;
    if (size === hr.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      hr = grow(hr);
      hl = grow(hl);
      hrt = grow(hrt);
    }
    let i = size++;
    hr[i] = rank;
    hl[i] = l;
    hrt[i] = r;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(i, p)) break;
      swap(i, p);
      i = p;
    }
  };
  const pop = () => {
    swap(0, --size);
    let i = 0;
    for (;;) {
      const a = 2 * i + 1, b = a + 1;
      let m = i;
      if (a < size && less(a, m)) m = a;
      if (b < size && less(b, m)) m = b;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
  };
  for (let i = 0; i + 1 < n; i++) push(i, i + 1);
  while (size > 0) {
    const rank = hr[0], l = hl[0], r = hrt[0];
    pop();
    if (!alive[l] || !alive[r] || next[l] !== r || ranks.get(sym[l] + "\u0000" + sym[r]) !== rank) continue;
    sym[l] += sym[r];
    alive[r] = 0;
    next[l] = next[r];
    if (next[r] >= 0) prev[next[r]] = l;
    if (prev[l] >= 0) push(prev[l], l);
    if (next[l] >= 0) push(l, next[l]);
  }
  const out: string[] = [];
  for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
  return out;
}

/** JSON form written beside checkpoints. */
export interface TokenizerJSON {
  type: "bpe-bytefallback";
  version: 1;
  specials: string[];
  /** Learned tokens (characters then merges), ids from 261 upward. */
  tokens: string[];
  /** Merge pairs in rank order. */
  merges: [string, string][];
}

/** Subword tokenizer with fixed special ids and exact byte-fallback round trips. */
export class Tokenizer {
  private tokens: string[] = [];
  private ids = new Map<string, number>();
  private ranks = new Map<string, number>();
  private cache = new Map<string, number[]>();

  /** Pad id (0). */
  readonly pad = SPECIAL_TOKENS.pad;
  /** End-of-sequence id (1). */
  readonly eos = SPECIAL_TOKENS.eos;
  /** Unknown id (2); unused by encode thanks to byte fallback, kept for models. */
  readonly unk = SPECIAL_TOKENS.unk;
  /** Beginning-of-sequence id (3). */
  readonly bos = SPECIAL_TOKENS.bos;
  /** Mask id (4) for masked-language-model pretraining. */
  readonly mask = SPECIAL_TOKENS.mask;

  /** Total vocabulary size including specials and byte tokens. */
  get vocabSize(): number {
    return FIRST_LEARNED + this.tokens.length;
  }

  /** Learn merges from `texts` until the vocabulary has `vocabSize` entries. */
  static train(texts: Iterable<string>, vocabSize: number, _seed = 0): Tokenizer {
    // Count pre-tokens; BPE works on the distinct words weighted by frequency.
    const wordCounts = new Map<string, number>();
    for (const t of texts) {
      for (const w of pretokenize(normalizeText(t))) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
    const words = [...wordCounts.keys()].sort();
    const counts = words.map((w) => wordCounts.get(w)!);
    const seqs = words.map((w) => Array.from(w));
    const chars = [...new Set(seqs.flat())].sort();
    const tok = new Tokenizer();
    tok.tokens = chars.slice();
    const merges: [string, string][] = [];
    while (FIRST_LEARNED + tok.tokens.length < vocabSize) {
      const pairs = new Map<string, number>();
      for (let i = 0; i < seqs.length; i++) {
        const s = seqs[i];
        for (let j = 0; j + 1 < s.length; j++) {
          const k = s[j] + "\u0000" + s[j + 1];
          pairs.set(k, (pairs.get(k) ?? 0) + counts[i]);
        }
      }
      let best = "", bestN = 0;
      for (const [k, n] of pairs) if (n > bestN || (n === bestN && k < best)) [best, bestN] = [k, n];
      if (bestN < 2) break; // nothing left worth merging
      const [a, b] = best.split("\u0000") as [string, string];
      merges.push([a, b]);
      tok.tokens.push(a + b);
      for (const s of seqs) {
        for (let j = 0; j + 1 < s.length; j++) {
          if (s[j] === a && s[j + 1] === b) s.splice(j, 2, a + b);
        }
      }
    }
    tok.index(merges);
    return tok;
  }

  /** Train in place (same as the static `Tokenizer.train`, for the `new` + `train` style). */
  train(texts: Iterable<string>, vocabSize: number, seed = 0): this {
    const t = Tokenizer.train(texts, vocabSize, seed);
    this.tokens = t.tokens;
    this.index(t.toJSON().merges);
    return this;
  }

  private index(merges: [string, string][]): void {
    this.ids.clear();
    this.tokens.forEach((t, i) => this.ids.set(t, FIRST_LEARNED + i));
    this.ranks.clear();
    merges.forEach(([a, b], i) => this.ranks.set(a + "\u0000" + b, i));
    this.cache.clear();
  }

  private encodeWord(w: string): number[] {
    const hit = this.cache.get(w);
    if (hit) return hit;
    const parts = bpeMerge(Array.from(w), this.ranks);
    const out: number[] = [];
    const enc = new TextEncoder();
    for (const p of parts) {
      const id = this.ids.get(p);
      if (id !== undefined) out.push(id);
      else for (const byte of enc.encode(p)) out.push(BYTE_BASE + byte);
    }
    if (this.cache.size < 100000) this.cache.set(w, out);
    return out;
  }

  /** Text → ids (no specials unless asked). */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = opts.bos ? [this.bos] : [];
    for (const w of pretokenize(normalizeText(text))) for (const id of this.encodeWord(w)) out.push(id);
    if (opts.eos) out.push(this.eos);
    return out;
  }

  /** Ids → text; special tokens are dropped, byte tokens reassembled as UTF-8. */
  decode(ids: readonly number[]): string {
    let s = "";
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) s += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (id < BYTE_BASE) continue;
      if (id < FIRST_LEARNED) {
        bytes.push(id - BYTE_BASE);
        continue;
      }
      flush();
      const t = this.tokens[id - FIRST_LEARNED];
      if (t === undefined) {
        throw new Error(`Tokenizer.decode: id ${id} outside vocabulary of ${this.vocabSize}`);
      }
      s += t;
    }
    flush();
    return s.replaceAll(SPACE, " ").trim();
  }

  /** Token string for an id (for debugging and tests). */
  idToToken(id: number): string {
    if (id < BYTE_BASE) return SPECIAL_STRINGS[id];
    if (id < FIRST_LEARNED) return `<0x${(id - BYTE_BASE).toString(16).padStart(2, "0").toUpperCase()}>`;
    return this.tokens[id - FIRST_LEARNED];
  }

  /** Serialisable form. */
  toJSON(): TokenizerJSON {
    const merges: [string, string][] = [];
    const byRank = [...this.ranks.entries()].sort((a, b) => a[1] - b[1]);
    for (const [k] of byRank) merges.push(k.split("\u0000") as [string, string]);
    return {
      type: "bpe-bytefallback",
      version: 1,
      specials: SPECIAL_STRINGS.slice(),
      tokens: this.tokens.slice(),
      merges,
    };
  }

  /** Rebuild from `toJSON()` output; throws naming the field when the JSON is malformed. */
  static fromJSON(j: TokenizerJSON): Tokenizer {
    if (j?.type !== "bpe-bytefallback" || j.version !== 1) {
      throw new Error(`tokenizer JSON: expected type 'bpe-bytefallback' version 1`);
    }
    if (!Array.isArray(j.tokens) || !j.tokens.every((t) => typeof t === "string" && t.length > 0)) {
      throw new Error(`tokenizer JSON: 'tokens' must be an array of non-empty strings`);
    }
    if (!Array.isArray(j.merges)) {
      throw new Error(
        `tokenizer JSON: 'merges' is ${
          j.merges === undefined ? "missing" : "not an array"
        }; expected [left, right] string pairs`,
      );
    }
    j.merges.forEach((m, i) => {
      if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== "string" || typeof m[1] !== "string") {
        throw new Error(
          `tokenizer JSON: merges[${i}] is ${JSON.stringify(m)}, expected a [left, right] string pair`,
        );
      }
    });
    if (JSON.stringify(j.specials) !== JSON.stringify(SPECIAL_STRINGS)) {
      throw new Error(`tokenizer JSON: expected specials ${SPECIAL_STRINGS.join(" ")}`);
    }
    const t = new Tokenizer();
    t.tokens = j.tokens.slice();
    t.index(j.merges);
    return t;
  }
}

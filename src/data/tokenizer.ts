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

function pretokenize(norm: string): string[] {
  return (norm.match(PRETOKEN) ?? []).map((p) => (p[0] === " " ? SPACE + p.slice(1) : p));
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
    const parts = Array.from(w);
    for (;;) {
      let bestJ = -1, bestR = Infinity;
      for (let j = 0; j + 1 < parts.length; j++) {
        const r = this.ranks.get(parts[j] + "\u0000" + parts[j + 1]);
        if (r !== undefined && r < bestR) [bestR, bestJ] = [r, j];
      }
      if (bestJ < 0) break;
      parts.splice(bestJ, 2, parts[bestJ] + parts[bestJ + 1]);
    }
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
    for (const w of pretokenize(normalizeText(text))) out.push(...this.encodeWord(w));
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

  /** Rebuild from `toJSON()` output; throws when the JSON is of another kind. */
  static fromJSON(j: TokenizerJSON): Tokenizer {
    if (j?.type !== "bpe-bytefallback" || j.version !== 1 || !Array.isArray(j.tokens)) {
      throw new Error(`tokenizer JSON: expected type 'bpe-bytefallback' version 1`);
    }
    if (JSON.stringify(j.specials) !== JSON.stringify(SPECIAL_STRINGS)) {
      throw new Error(`tokenizer JSON: expected specials ${SPECIAL_STRINGS.join(" ")}`);
    }
    const t = new Tokenizer();
    t.tokens = j.tokens.slice();
    t.index(j.merges);
    return t;
  }
}

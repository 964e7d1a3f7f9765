/**
 * Report decoding for the T5 decoder with a key/value cache: greedy and beam search with
 * Hugging Face `generate` semantics (transformers 4.3x, encoder–decoder models), so results
 * compare with the official code's decoding:
 * - sequences start with the decoder start token (pad, 0); `maxNewTokens` new tokens at most;
 * - min length counts the start token: while length < minLength the EOS score is −inf;
 * - repetition penalty p on every token already in the sequence (start token included):
 *   score < 0 ? score·p : score/p — on raw logits (greedy) or on log-probabilities (beam);
 * - optional no-repeat n-gram ban;
 * - beam search: beams of a batch item start as one live beam (the others at −1e9); each step
 *   takes the top 2·beams of (beam score + log-prob); an EOS candidate ranked below `beams`
 *   is dropped, otherwise its hypothesis (length = tokens before EOS, start included) is
 *   scored sum/len^lengthPenalty; an item is done when `beams` hypotheses exist and the best
 *   live score / cur_len^lp cannot beat the worst kept one (early_stopping = false); at the
 *   end every live beam is offered as a hypothesis and the best score wins.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import { intTensor } from "../tensor/create.ts";
import { keep, tidy } from "../tensor/scope.ts";
import { concat, slice } from "../ops/shape_ops.ts";
import { noGrad } from "../autograd/tape.ts";
import { T5, type T5DecodeCache } from "../nn/t5.ts";

/** Decoding settings (defaults: the paper's beam 5, 100 new tokens, min length 5, penalty 1.5). */
export interface DecodeOptions {
  /** Beam width; 1 = greedy (default 5). */
  beams?: number;
  /** New tokens at most (default 100). */
  maxNewTokens?: number;
  /** Minimum length, start token included (default 5). */
  minLength?: number;
  /** Repetition penalty (default 1.5; 1 disables). */
  repetitionPenalty?: number;
  /** Length penalty exponent of beam scores (default 1.0). */
  lengthPenalty?: number;
  /** Ban repeating any n-gram of this size (default 0: off). */
  noRepeatNgram?: number;
  /** End-of-sequence id (default 1). */
  eos?: number;
  /** Decoder start id (default 0, T5's pad). */
  start?: number;
  /** Ids at or above this are never generated (a tokenizer smaller than the model's vocabulary). */
  vocabLimit?: number;
}

/** A decoded sequence: ids after the start token, EOS excluded, and its score. */
export interface Decoded {
  /** Generated ids (no start token, no EOS). */
  ids: number[];
  /** Beam score (sum of log-probs / len^lp) or, for greedy, the sum of chosen log-probs. */
  score: number;
}

/** Fills in defaults and checks ranges. */
export function decodeDefaults(o: DecodeOptions = {}): Required<DecodeOptions> {
  const r = {
    beams: o.beams ?? 5,
    maxNewTokens: o.maxNewTokens ?? 100,
    minLength: o.minLength ?? 5,
    repetitionPenalty: o.repetitionPenalty ?? 1.5,
    lengthPenalty: o.lengthPenalty ?? 1.0,
    noRepeatNgram: o.noRepeatNgram ?? 0,
    eos: o.eos ?? 1,
    start: o.start ?? 0,
    vocabLimit: o.vocabLimit ?? Infinity,
  };
  if (!Number.isInteger(r.beams) || r.beams < 1) {
    throw new Error(`decode: beams must be a positive integer, got ${r.beams}`);
  }
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) {
    throw new Error(`decode: maxNewTokens must be a positive integer, got ${r.maxNewTokens}`);
  }
  if (!(r.repetitionPenalty > 0)) {
    throw new Error(`decode: repetitionPenalty must be > 0, got ${r.repetitionPenalty}`);
  }
  return r;
}

/** Applies min-length, repetition and n-gram rules to one row of scores in place. */
export function processScores(row: Float32Array, seq: readonly number[], o: Required<DecodeOptions>): void {
  if (o.repetitionPenalty !== 1) {
    const seen = new Set(seq);
    for (const t of seen) {
      const s = row[t];
      row[t] = s < 0 ? s * o.repetitionPenalty : s / o.repetitionPenalty;
    }
  }
  if (o.noRepeatNgram > 0 && seq.length + 1 >= o.noRepeatNgram) {
    const n = o.noRepeatNgram, prefix = seq.slice(seq.length - n + 1);
    for (let i = 0; i + n <= seq.length; i++) {
      let match = true;
      for (let j = 0; j < n - 1; j++) if (seq[i + j] !== prefix[j]) match = false;
      if (match) row[seq[i + n - 1]] = -Infinity;
    }
  }
  if (seq.length < o.minLength) row[o.eos] = -Infinity;
  if (o.vocabLimit < row.length) row.fill(-Infinity, o.vocabLimit);
}

/** log Σ exp of a row (float64 accumulation). */
export function logSumExpRow(row: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > m) m = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  return m + Math.log(s);
}

/** log_softmax of a row (float64 accumulation, float32 result like PyTorch's CPU kernel). */
export function logSoftmaxRow(row: Float32Array): Float32Array {
  const lse = logSumExpRow(row);
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** Rows `rows` of t along axis 0 (one copy). */
export function gatherRows(t: Tensor, rows: number[]): Tensor {
  const parts: Tensor[] = [];
  let i = 0;
  while (i < rows.length) {
    let j = i + 1;
    while (j < rows.length && rows[j] === rows[j - 1] + 1) j++;
    parts.push(slice(t, 0, rows[i], rows[j - 1] + 1));
    i = j;
  }
  return parts.length === 1 ? parts[0] : concat(parts, 0);
}

function keepCache(c: T5DecodeCache): void {
  for (const s of c.cross) keep(s.k), keep(s.v);
  if (c.mask) keep(c.mask);
}

function disposeCache(c: T5DecodeCache): void {
  for (const kv of c.self) kv.dispose();
  for (const s of c.cross) s.k.dispose(), s.v.dispose();
  c.mask?.dispose();
}

/**
 * Decodes B sequences from the T5 encoder output enc (B, Te, d) with mask (B, Te):
 * greedy when beams = 1, else beam search. Returns one sequence per batch item.
 */
export function generate(t5: T5, enc: Tensor, encMask: Tensor | null, opts: DecodeOptions = {}): Decoded[] {
  const o = decodeDefaults(opts);
  return noGrad(() => (o.beams === 1 ? greedy(t5, enc, encMask, o) : beam(t5, enc, encMask, o)));
}

/** One decoder step inside its own scope (the caches grow in place): logits (B·V) on the host. */
function step(t5: T5, cache: T5DecodeCache, last: number[]): Float32Array {
  return tidy(() =>
    t5.decodeStep(intTensor(last, [last.length, 1], t5.shared.weight.device), cache).data().slice()
  );
}

function greedy(t5: T5, enc: Tensor, encMask: Tensor | null, o: Required<DecodeOptions>): Decoded[] {
  const B = enc.shape[0], V = t5.cfg.vocabSize;
  const all = Array.from({ length: B }, (_, i) => i);
  let cache!: T5DecodeCache;
  tidy(() => {
    // the cache owns its tensors (a copy of the mask), freed in `finally`
    cache = t5.startDecode(enc, encMask ? gatherRows(encMask, all) : null, o.maxNewTokens + 1);
    keepCache(cache);
  });
  const seqs = Array.from({ length: B }, () => [o.start]);
  const done = new Array(B).fill(false);
  const scores = new Array(B).fill(0);
  try {
    for (let t = 0; t < o.maxNewTokens && !done.every(Boolean); t++) {
      const logits = step(t5, cache, seqs.map((s) => s[s.length - 1]));
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          seqs[b].push(o.start); // pad, like HF, so rows stay aligned
          continue;
        }
        // scores are processed in place on this step's own copy; the log-prob of the chosen
        // token comes from the raw logits (float32 like log_softmax's output)
        const raw = logits.subarray(b * V, (b + 1) * V);
        const row = raw.slice();
        processScores(row, seqs[b], o);
        let best = 0;
        for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
        seqs[b].push(best);
        scores[b] += Math.fround(raw[best] - logSumExpRow(raw));
        if (best === o.eos) done[b] = true;
      }
    }
  } finally {
    disposeCache(cache);
  }
  return seqs.map((s, b) => {
    const ids = s.slice(1);
    const end = ids.indexOf(o.eos);
    return { ids: end >= 0 ? ids.slice(0, end) : ids, score: scores[b] };
  });
}

interface Hyp {
  ids: number[];
  score: number;
}

/** HF's BeamHypotheses for one batch item. */
class Hyps {
  list: Hyp[] = [];
  worst = 1e9;
  constructor(readonly n: number, readonly lp: number) {}
  add(ids: number[], sumLogprobs: number): void {
    const score = sumLogprobs / ids.length ** this.lp;
    if (this.list.length < this.n || score > this.worst) {
      this.list.push({ ids, score });
      if (this.list.length > this.n) {
        let wi = 0;
        for (let i = 1; i < this.list.length; i++) if (this.list[i].score < this.list[wi].score) wi = i;
        this.list.splice(wi, 1);
        this.worst = Math.min(...this.list.map((h) => h.score));
      } else {
        this.worst = Math.min(score, this.worst);
      }
    }
  }
  isDone(bestSum: number, curLen: number): boolean {
    if (this.list.length < this.n) return false;
    return this.worst >= bestSum / curLen ** this.lp;
  }
}

function beam(t5: T5, enc: Tensor, encMask: Tensor | null, o: Required<DecodeOptions>): Decoded[] {
  const B = enc.shape[0], nb = o.beams, V = t5.cfg.vocabSize;
  const rows0: number[] = [];
  for (let b = 0; b < B; b++) for (let i = 0; i < nb; i++) rows0.push(b);
  let cache!: T5DecodeCache;
  tidy(() => {
    const encB = gatherRows(enc, rows0);
    cache = t5.startDecode(encB, encMask ? gatherRows(encMask, rows0) : null, o.maxNewTokens + 1);
    keepCache(cache);
  });
  let seqs = rows0.map(() => [o.start]);
  let beamScores: number[] = rows0.map((_, r) => (r % nb === 0 ? 0 : -1e9));
  const hyps = Array.from({ length: B }, () => new Hyps(nb, o.lengthPenalty));
  const done = new Array(B).fill(false);
  try {
    for (let curLen = 1; curLen < 1 + o.maxNewTokens; curLen++) {
      const logits = step(t5, cache, seqs.map((s) => s[s.length - 1]));
      const nextSeqs: number[][] = [], nextScores: number[] = [], srcRows: number[] = [];
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          for (let i = 0; i < nb; i++) {
            nextSeqs.push([...seqs[b * nb + i], o.start]);
            nextScores.push(0);
            srcRows.push(b * nb + i);
          }
          continue;
        }
        // candidates: (score, beam, token) over nb·V, top 2·nb
        const cand: { s: number; beam: number; tok: number }[] = [];
        const k = 2 * nb;
        for (let i = 0; i < nb; i++) {
          const r = b * nb + i;
          const row = logSoftmaxRow(logits.subarray(r * V, (r + 1) * V));
          processScores(row, seqs[r], o);
          for (let tok = 0; tok < V; tok++) {
            const s = Math.fround(row[tok] + beamScores[r]);
            if (cand.length < k || s > cand[cand.length - 1].s) {
              // keep sorted desc; ties keep the lower flat index first (PyTorch topk on CPU)
              let pos = cand.length;
              while (pos > 0 && cand[pos - 1].s < s) pos--;
              cand.splice(pos, 0, { s, beam: i, tok });
              if (cand.length > k) cand.pop();
            }
          }
        }
        let taken = 0;
        for (let rank = 0; rank < cand.length && taken < nb; rank++) {
          const c = cand[rank], r = b * nb + c.beam;
          if (c.tok === o.eos) {
            if (rank >= nb) continue;
            hyps[b].add(seqs[r].slice(), c.s);
          } else {
            nextSeqs.push([...seqs[r], c.tok]);
            nextScores.push(c.s);
            srcRows.push(r);
            taken++;
          }
        }
        const best = Math.max(...cand.map((c) => c.s));
        done[b] = done[b] || hyps[b].isDone(best, curLen);
      }
      seqs = nextSeqs;
      beamScores = nextScores;
      if (!srcRows.every((r, i) => r === i)) T5.reorderCache(cache, srcRows);
      if (done.every(Boolean)) break;
    }
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      for (let i = 0; i < nb; i++) hyps[b].add(seqs[b * nb + i].slice(), beamScores[b * nb + i]);
    }
  } finally {
    disposeCache(cache);
  }
  return hyps.map((h) => {
    let best = h.list[0];
    // HF sorts ascending (stable) and pops the last: among equal scores the latest added wins
    for (const x of h.list) if (x.score >= best.score) best = x;
    const ids = best.ids.slice(1).filter((t) => t !== o.eos);
    return { ids, score: best.score };
  });
}

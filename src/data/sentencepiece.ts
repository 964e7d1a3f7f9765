/**
 * SentencePiece unigram tokenizer (T5 / Flan-T5), matching the C++ library id for id:
 * - reads `spiece.model` (protobuf ModelProto via ./protobuf.ts: pieces with score and type,
 *   trainer flags, normalizer spec) or an HF `tokenizer.json` (Unigram model + Precompiled
 *   normalizer + Metaspace pre-tokenizer);
 * - normalizes like `normalizer.cc`: longest match in the precompiled character map (a
 *   Darts-clone double-array trie over UTF-8 bytes + NUL-terminated replacements, which is how
 *   `nmt_nfkc` ships), user-defined symbols left untouched, leading / repeated / trailing
 *   whitespace removed, a dummy "▁" prefix, spaces escaped as "▁";
 * - segments with the Viterbi search of the library's optimized unigram encoder (float32
 *   path scores, the same tie-breaking, user-defined symbols boosted, one [UNK] per unknown
 *   character, byte fallback to <0xXX> pieces when the model has them);
 * - decodes ids back with "▁" → space and byte pieces reassembled as UTF-8.
 * T5 adds `</s>` after each text and 100 `<extra_id_N>` sentinels above the model's pieces.
 * @module
 */
import { protoFields, protoFloat, protoString } from "./protobuf.ts";

/** SentencePiece piece types (sentencepiece_model.proto). */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

/** One vocabulary entry. */
export interface Piece {
  piece: string;
  score: number;
  type: number;
}

/** How text is normalized before segmentation. */
export interface NormalizerSpec {
  /** The compiled rule blob (null: identity). */
  charsmap: Uint8Array | null;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  treatWhitespaceAsSuffix: boolean;
}

/** Options of {@link SentencePieceTokenizer.encode}. */
export interface SpmEncodeOptions {
  /** Append `</s>` (T5 does; default false, like `sp.encode`). */
  addEos?: boolean;
  /** Prepend `<s>` when the model has one (default false). */
  addBos?: boolean;
}

const SPACE = "\u2581";
const SPACE_BYTES = [0xe2, 0x96, 0x81];

/** The parts of an HF tokenizer.json we read. */
interface HfNode {
  type?: string;
  normalizers?: HfNode[];
  pretokenizers?: HfNode[];
  precompiled_charsmap?: string;
  prepend_scheme?: string;
  add_prefix_space?: boolean;
}
interface HfTokenizerJson {
  model?: { type?: string; vocab?: [string, number][]; unk_id?: number; byte_fallback?: boolean };
  normalizer?: HfNode | null;
  pre_tokenizer?: HfNode | null;
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

interface TrieNode {
  next: Map<number, TrieNode>;
  id: number;
}

/** Precompiled character map: Darts double-array over UTF-8 keys + replacement strings. */
class CharsMap {
  readonly #units: Uint32Array;
  readonly #strings: Uint8Array;
  constructor(blob: Uint8Array, what: string) {
    if (blob.length < 4) throw new Error(`${what}: precompiled charsmap shorter than 4 bytes`);
    const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = dv.getUint32(0, true);
    if (trieBytes % 4 || 4 + trieBytes > blob.length) {
      throw new Error(
        `${what}: precompiled charsmap trie size ${trieBytes} does not fit ${blob.length} bytes`,
      );
    }
    this.#units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.#units.length; i++) this.#units[i] = dv.getUint32(4 + 4 * i, true);
    this.#strings = blob.slice(4 + trieBytes);
  }

  /** Whether some rule's key starts with byte `b`. */
  startsWith(b: number): boolean {
    const u = this.#units;
    if (!u.length) return false;
    const node = offset(u[0]) ^ b;
    return node < u.length && (u[node] & ((1 << 31) | 0xff)) >>> 0 === b;
  }

  /** Longest rule matching `key[pos..]`: [consumed bytes, replacement] or null. */
  longest(key: Uint8Array, pos: number): [number, Uint8Array] | null {
    const u = this.#units;
    if (!u.length) return null;
    let node = 0;
    let unit = u[0];
    node ^= offset(unit);
    let bestLen = 0, bestVal = -1;
    for (let i = pos; i < key.length; i++) {
      const c = key[i];
      node ^= c;
      if (node >= u.length) break;
      unit = u[node];
      if ((unit & ((1 << 31) | 0xff)) >>> 0 !== c) break; // label mismatch
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        // has a leaf: its value is the offset of the replacement string
        bestLen = i + 1 - pos;
        bestVal = u[node] & 0x7fffffff;
      }
    }
    if (bestVal < 0) return null;
    let end = bestVal;
    while (end < this.#strings.length && this.#strings[end] !== 0) end++;
    return [bestLen, this.#strings.subarray(bestVal, end)];
  }
}

function offset(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}

function utf8Len(b: number): number {
  return b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
}

/** The unigram tokenizer of a SentencePiece model. */
export class SentencePieceTokenizer {
  readonly pieces: Piece[];
  readonly normalizer: NormalizerSpec;
  readonly byteFallback: boolean;
  readonly unkId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** T5's sentinels above the model's pieces (0 for a plain model). */
  readonly extraIds: number;
  /** What an unknown piece decodes to (the library's " ⁇ "). */
  unkSurface = " \u2047 ";
  readonly #charsmap: CharsMap | null;
  readonly #trie: TrieNode = { next: new Map(), id: -1 };
  readonly #userTrie: TrieNode = { next: new Map(), id: -1 };
  readonly #hasUser: boolean;
  readonly #ids = new Map<string, number>();
  readonly #byteIds = new Int32Array(256).fill(-1);
  readonly #unkScore: number;
  readonly #maxScore: number;
  readonly #enc = new TextEncoder();
  #added = new Map<string, number>();
  #addedRe: RegExp | null = null;
  readonly #dec = new TextDecoder();
  #out = new Uint8Array(1024);
  /** ASCII bytes that start no charsmap rule and no user-defined symbol (copied as they are). */
  readonly #plainAscii = new Uint8Array(128);
  #score = new Float64Array(0);
  #from = new Int32Array(0);
  #best = new Int32Array(0);
  readonly #pieceScore: Float64Array;
  readonly #pieceType: Uint8Array;

  constructor(
    pieces: Piece[],
    normalizer: NormalizerSpec,
    opts: {
      byteFallback?: boolean;
      unkId?: number;
      bosId?: number;
      eosId?: number;
      padId?: number;
      extraIds?: number;
    } = {},
    what = "sentencepiece",
  ) {
    this.pieces = pieces;
    this.normalizer = normalizer;
    this.byteFallback = opts.byteFallback ?? false;
    this.extraIds = opts.extraIds ?? 0;
    this.#charsmap = normalizer.charsmap ? new CharsMap(normalizer.charsmap, what) : null;
    let min = Infinity, max = -Infinity, unk = -1;
    pieces.forEach((p, id) => {
      if (!this.#ids.has(p.piece)) this.#ids.set(p.piece, id);
      if (p.type === PieceType.NORMAL) {
        min = Math.min(min, p.score);
        max = Math.max(max, p.score);
      }
      if (p.type === PieceType.UNKNOWN) unk = id;
      if (p.type === PieceType.BYTE) {
        const m = /^<0x([0-9A-F]{2})>$/.exec(p.piece);
        if (!m) throw new Error(`${what}: byte piece '${p.piece}' is not <0xXX>`);
        this.#byteIds[parseInt(m[1], 16)] = id;
      }
      if (p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED) {
        insert(this.#trie, p.piece, id);
      }
      if (p.type === PieceType.USER_DEFINED) insert(this.#userTrie, p.piece, id);
    });
    if (unk < 0) throw new Error(`${what}: model has no unknown (<unk>) piece`);
    this.unkId = opts.unkId ?? unk;
    this.#hasUser = this.#userTrie.next.size > 0;
    this.#unkScore = Math.fround(min - 10); // kUnkPenalty
    this.#maxScore = max;
    const find = (type: number, names: string[]) =>
      pieces.findIndex((p) => p.type === type && names.includes(p.piece));
    this.bosId = opts.bosId ?? find(PieceType.CONTROL, ["<s>"]);
    this.eosId = opts.eosId ?? find(PieceType.CONTROL, ["</s>"]);
    this.padId = opts.padId ?? find(PieceType.CONTROL, ["<pad>"]);
    this.#pieceScore = Float64Array.from(pieces, (p) => p.score);
    this.#pieceType = Uint8Array.from(pieces, (p) => p.type);
    for (let b = 0; b < 128; b++) {
      this.#plainAscii[b] = !this.#charsmap?.startsWith(b) && !this.#userTrie.next.has(b) ? 1 : 0;
    }
    if (this.byteFallback && this.#byteIds.some((v) => v < 0)) {
      throw new Error(`${what}: byte_fallback is on but the model lacks some of the 256 <0xXX> pieces`);
    }
  }

  /** Parses a serialized `ModelProto` (`spiece.model`). `extraIds`: 100 for T5. */
  static fromModelProto(
    bytes: Uint8Array,
    { extraIds = 0, what = "spiece.model" } = {},
  ): SentencePieceTokenizer {
    const pieces: Piece[] = [];
    const norm: NormalizerSpec = {
      charsmap: null,
      addDummyPrefix: true,
      removeExtraWhitespaces: true,
      escapeWhitespaces: true,
      treatWhitespaceAsSuffix: false,
    };
    let modelType = 1, byteFallback = false;
    for (const f of protoFields(bytes, what)) {
      if (f.field === 1 && f.wire === 2) {
        const p: Piece = { piece: "", score: 0, type: PieceType.NORMAL };
        for (const g of protoFields(f.bytes, `${what} piece ${pieces.length}`)) {
          if (g.field === 1) p.piece = protoString(g);
          else if (g.field === 2) p.score = protoFloat(g);
          else if (g.field === 3) p.type = g.int;
        }
        pieces.push(p);
      } else if (f.field === 2 && f.wire === 2) { // TrainerSpec
        for (const g of protoFields(f.bytes, `${what} trainer_spec`)) {
          if (g.field === 3) modelType = g.int;
          else if (g.field === 35) byteFallback = g.int !== 0;
          else if (g.field === 24) norm.treatWhitespaceAsSuffix = g.int !== 0;
        }
      } else if (f.field === 3 && f.wire === 2) { // NormalizerSpec
        for (const g of protoFields(f.bytes, `${what} normalizer_spec`)) {
          if (g.field === 2) norm.charsmap = g.bytes.length ? g.bytes.slice() : null;
          else if (g.field === 3) norm.addDummyPrefix = g.int !== 0;
          else if (g.field === 4) norm.removeExtraWhitespaces = g.int !== 0;
          else if (g.field === 5) norm.escapeWhitespaces = g.int !== 0;
        }
      }
    }
    if (modelType !== 1) {
      throw new Error(
        `${what}: model_type ${modelType} is not unigram (1); BPE/word/char models are not supported`,
      );
    }
    if (!pieces.length) throw new Error(`${what}: no pieces (not a SentencePiece model?)`);
    return new SentencePieceTokenizer(pieces, norm, { byteFallback, extraIds }, what);
  }

  /** Reads `spiece.model` from disk. */
  static fromFile(path: string, opts: { extraIds?: number } = {}): SentencePieceTokenizer {
    return SentencePieceTokenizer.fromModelProto(Deno.readFileSync(path), { ...opts, what: path });
  }

  /**
   * Reads an HF `tokenizer.json` with a Unigram model, a Precompiled normalizer (alone or in a
   * Sequence) and a Metaspace pre-tokenizer. `added_tokens` are split out of the text first, as
   * HF does (special ones are also control pieces, so decode drops them).
   */
  static fromTokenizerJson(
    json: string | Record<string, unknown>,
    what = "tokenizer.json",
  ): SentencePieceTokenizer {
    const j = (typeof json === "string" ? JSON.parse(json) : json) as HfTokenizerJson;
    if (j?.model?.type !== "Unigram" || !Array.isArray(j.model.vocab)) {
      throw new Error(`${what}: model.type is '${j?.model?.type}', expected Unigram with a vocab list`);
    }
    const model = j.model as Required<HfTokenizerJson>["model"] & { vocab: [string, number][] };
    const flat = (n: HfNode | null | undefined): HfNode[] =>
      !n ? [] : n.type === "Sequence" ? (n.normalizers ?? n.pretokenizers ?? []).flatMap(flat) : [n];
    const norms = flat(j.normalizer), pres = flat(j.pre_tokenizer);
    const pre = norms.find((n) => n.type === "Precompiled");
    const meta = pres.find((n) => n.type === "Metaspace");
    const charsmap = pre?.precompiled_charsmap
      ? Uint8Array.from(atob(pre.precompiled_charsmap), (c) => c.charCodeAt(0))
      : null;
    const addPrefix = meta
      ? (meta.prepend_scheme ? meta.prepend_scheme !== "never" : meta.add_prefix_space !== false)
      : false;
    const unkId: number = model.unk_id ?? 0;
    const special = new Map<number, boolean>();
    for (const t of j.added_tokens ?? []) special.set(t.id, t.special !== false);
    const pieces: Piece[] = model.vocab.map(([piece, score], id) => ({
      piece,
      score: Math.fround(score),
      type: id === unkId
        ? PieceType.UNKNOWN
        : /^<0x[0-9A-F]{2}>$/.test(piece) && model.byte_fallback
        ? PieceType.BYTE
        : special.get(id) === true
        ? PieceType.CONTROL
        : special.get(id) === false
        ? PieceType.USER_DEFINED
        : PieceType.NORMAL,
    }));
    const tok = new SentencePieceTokenizer(
      pieces,
      {
        charsmap,
        addDummyPrefix: addPrefix,
        removeExtraWhitespaces: true,
        escapeWhitespaces: true,
        treatWhitespaceAsSuffix: false,
      },
      { byteFallback: model.byte_fallback === true, unkId },
      what,
    );
    tok.setAddedTokens(new Map((j.added_tokens ?? []).map((t) => [t.content, t.id])));
    return tok;
  }

  /** Pieces plus extra ids. */
  get size(): number {
    return this.pieces.length + this.extraIds;
  }

  /** Id of a piece (or `<extra_id_N>`), -1 when absent. */
  pieceToId(piece: string): number {
    const id = this.#ids.get(piece);
    if (id !== undefined) return id;
    const m = /^<extra_id_(\d+)>$/.exec(piece);
    if (m && Number(m[1]) < this.extraIds) return this.size - 1 - Number(m[1]);
    return -1;
  }

  /** Piece text of an id (extra ids as `<extra_id_N>`). */
  idToPiece(id: number): string {
    if (id >= 0 && id < this.pieces.length) return this.pieces[id].piece;
    if (id >= this.pieces.length && id < this.size) return `<extra_id_${this.size - 1 - id}>`;
    throw new Error(`sentencepiece: id ${id} is outside the ${this.size}-id vocabulary`);
  }

  /** The normalized text the segmenter sees ("▁" for spaces), as `normalizer.cc` produces it. */
  normalize(text: string): string {
    const n = this.normalizer;
    const input = this.#enc.encode(text);
    let out = this.#out.length >= input.length * 3 + 8
      ? this.#out
      : (this.#out = new Uint8Array(input.length * 3 + 64));
    let o = 0, pos = 0;
    const push = (b: number) => {
      if (o === out.length) {
        const bigger = new Uint8Array(out.length * 2);
        bigger.set(out);
        out = this.#out = bigger;
      }
      out[o++] = b;
    };
    const ws = () => {
      if (n.escapeWhitespaces) { for (const b of SPACE_BYTES) push(b); }
      else push(0x20);
    };
    if (n.removeExtraWhitespaces) {
      while (pos < input.length) {
        const [norm, len] = this.#prefix(input, pos);
        if (!(norm.length === 1 && norm[0] === 0x20)) break;
        pos += len;
      }
    }
    if (pos >= input.length) return "";
    let prevSpace = n.removeExtraWhitespaces;
    if (!n.treatWhitespaceAsSuffix && n.addDummyPrefix) ws();
    const plain = this.#plainAscii;
    while (pos < input.length) {
      const c = input[pos];
      if (c < 0x80 && plain[c]) {
        // fast path: an ASCII byte no rule or user symbol starts with maps to itself
        if (c === 0x20) {
          if (!prevSpace) {
            if (n.escapeWhitespaces) ws();
            else push(0x20);
            prevSpace = true;
          }
        } else {
          push(c);
          prevSpace = false;
        }
        pos++;
        if (!n.removeExtraWhitespaces) prevSpace = false;
        continue;
      }
      const [norm, len] = this.#prefix(input, pos);
      let s = 0;
      if (prevSpace) { while (s < norm.length && norm[s] === 0x20) s++; }
      if (s < norm.length) {
        for (let i = s; i < norm.length; i++) {
          if (n.escapeWhitespaces && norm[i] === 0x20) ws();
          else push(norm[i]);
        }
        prevSpace = norm[norm.length - 1] === 0x20;
      }
      pos += len;
      if (!n.removeExtraWhitespaces) prevSpace = false;
    }
    let end = o;
    if (n.removeExtraWhitespaces) {
      const sp = n.escapeWhitespaces ? SPACE_BYTES : [0x20];
      while (end >= sp.length && sp.every((b, i) => out[end - sp.length + i] === b)) end -= sp.length;
    }
    let str = this.#dec.decode(out.subarray(0, end));
    if (n.treatWhitespaceAsSuffix && n.addDummyPrefix) str += n.escapeWhitespaces ? SPACE : " ";
    return str;
  }

  /** Normalization of the prefix at `pos`: [replacement bytes, consumed bytes]. */
  #prefix(input: Uint8Array, pos: number): [Uint8Array, number] {
    if (this.#hasUser) {
      // user-defined symbols pass through untouched (longest match over their UTF-8 bytes)
      const len = this.#userMatch(input, pos);
      if (len) return [input.subarray(pos, pos + len), len];
    }
    if (this.#charsmap) {
      const m = this.#charsmap.longest(input, pos);
      if (m) return [m[1], m[0]];
    }
    const len = Math.min(utf8Len(input[pos]), input.length - pos);
    return [input.subarray(pos, pos + len), len];
  }

  #userBytes: { bytes: Uint8Array }[] | null = null;
  #userMatch(input: Uint8Array, pos: number): number {
    if (!this.#userBytes) {
      this.#userBytes = this.pieces.filter((p) => p.type === PieceType.USER_DEFINED)
        .map((p) => ({ bytes: this.#enc.encode(p.piece) }));
    }
    let best = 0;
    for (const { bytes } of this.#userBytes) {
      if (bytes.length <= best || pos + bytes.length > input.length) continue;
      let ok = true;
      for (let i = 0; i < bytes.length; i++) {
        if (input[pos + i] !== bytes[i]) {
          ok = false;
          break;
        }
      }
      if (ok) best = bytes.length;
    }
    return best;
  }

  /** Viterbi segmentation of normalized text → [piece surface, id] pairs. */
  segment(norm: string): [string, number][] {
    const n = norm.length;
    if (!n) return [];
    if (this.#score.length < n + 1) {
      this.#score = new Float64Array(2 * n + 16);
      this.#from = new Int32Array(2 * n + 16);
      this.#best = new Int32Array(2 * n + 16);
    }
    const score = this.#score, from = this.#from, ids = this.#best;
    from.fill(-1, 0, n + 1);
    score[0] = 0;
    const pScore = this.#pieceScore, pType = this.#pieceType;
    const UD = PieceType.USER_DEFINED, UNUSED = PieceType.UNUSED;
    let start = 0;
    while (start < n) {
      const base = score[start];
      const c0 = norm.charCodeAt(start);
      const mblen = c0 >= 0xd800 && c0 <= 0xdbff && start + 1 < n ? 2 : 1;
      let single = false;
      let node: TrieNode | undefined = this.#trie;
      for (let k = start; k < n; k++) {
        node = node.next.get(norm.charCodeAt(k));
        if (!node) break;
        const id = node.id;
        if (id < 0) continue;
        const type = pType[id];
        if (type === UNUSED) continue;
        const end = k + 1;
        // float32 path scores; user-defined symbols get length(bytes) × max score − 0.1 (a double)
        const s = type === UD ? Math.fround(utf8Bytes(norm, start, end) * this.#maxScore) - 0.1 : pScore[id];
        const cand = s + base;
        if (from[end] === -1 || cand > score[end]) {
          score[end] = Math.fround(cand);
          from[end] = start;
          ids[end] = id;
        }
        if (end - start === mblen) single = true;
      }
      if (!single) {
        const end = start + mblen;
        const cand = Math.fround(this.#unkScore + base);
        if (from[end] === -1 || cand > score[end]) {
          score[end] = cand;
          from[end] = start;
          ids[end] = this.unkId;
        }
      }
      start += mblen;
    }
    // backtrack; runs of unknown characters merge into one <unk> (as the library does)
    const out: [string, number][] = [];
    let e = n;
    while (e > 0) {
      let b = from[e];
      if (ids[e] === this.unkId) { while (b > 0 && ids[b] === this.unkId) b = from[b]; }
      out.push([norm.slice(b, e), ids[e]]);
      e = b;
    }
    return out.reverse();
  }

  /** Text → ids (unknown characters become <unk>, or their UTF-8 bytes with byte fallback). */
  encode(text: string, opts: SpmEncodeOptions = {}): number[] {
    const ids: number[] = [];
    if (opts.addBos && this.bosId >= 0) ids.push(this.bosId);
    for (const chunk of this.#splitExtra(text)) {
      if (typeof chunk === "number") {
        ids.push(chunk);
        continue;
      }
      for (const [surface, id] of this.segment(this.normalize(chunk))) {
        if (id === this.unkId && this.byteFallback) {
          for (const b of this.#enc.encode(surface)) ids.push(this.#byteIds[b]);
        } else ids.push(id);
      }
    }
    if (opts.addEos) {
      if (this.eosId < 0) throw new Error("sentencepiece: model has no </s> piece");
      ids.push(this.eosId);
    }
    return ids;
  }

  /** Text → piece strings. */
  encodeAsPieces(text: string): string[] {
    return this.encode(text).map((id) => this.idToPiece(id));
  }

  /** T5's sentinels in the text (`<extra_id_N>`) are split out whole, like HF's added tokens. */
  #splitExtra(text: string): (string | number)[] {
    const re = this.#addedRe;
    if (!re && (!this.extraIds || !text.includes("<extra_id_"))) return [text];
    const out: (string | number)[] = [];
    let last = 0;
    for (const m of text.matchAll(re ?? /<extra_id_(\d+)>/g)) {
      const id = this.#added.get(m[0]) ?? this.pieceToId(m[0]);
      if (id < 0) continue;
      if (m.index! > last) out.push(text.slice(last, m.index));
      out.push(id);
      last = m.index! + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  /**
   * Makes `tokens` split out of the text before normalization, each one id (HF's added-token
   * rule: the text between them is encoded piece by piece, each with its own "▁" prefix).
   */
  setAddedTokens(tokens: Map<string, number>): void {
    this.#added = new Map(tokens);
    const alts = [...tokens.keys()].filter(Boolean).sort((a, b) => b.length - a.length)
      .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    if (this.extraIds) alts.push("<extra_id_\\d+>");
    this.#addedRe = alts.length ? new RegExp(alts.join("|"), "g") : null;
  }

  /** Ids → text: control ids vanish, <unk> becomes " ⁇ ", byte pieces are reassembled. */
  decode(ids: number[]): string {
    let out = "";
    let bytes: number[] = [];
    let first = true;
    const flush = () => {
      if (!bytes.length) return;
      out += new TextDecoder().decode(Uint8Array.from(bytes));
      bytes = [];
      first = false;
    };
    for (const id of ids) {
      if (id >= this.pieces.length && id < this.size) {
        flush();
        out += this.idToPiece(id);
        first = false;
        continue;
      }
      const p = this.pieces[id];
      if (!p) throw new Error(`sentencepiece: id ${id} is outside the ${this.size}-id vocabulary`);
      if (p.type === PieceType.CONTROL) continue;
      if (p.type === PieceType.BYTE) {
        bytes.push(parseInt(p.piece.slice(3, 5), 16));
        continue;
      }
      flush();
      let s = p.type === PieceType.UNKNOWN ? this.unkSurface : p.piece;
      if (
        first && this.normalizer.addDummyPrefix && !this.normalizer.treatWhitespaceAsSuffix &&
        s.startsWith(SPACE)
      ) {
        s = s.slice(1);
      }
      out += s.replaceAll(SPACE, " ");
      first = false;
    }
    flush();
    return out;
  }
}

function insert(root: TrieNode, s: string, id: number): void {
  let node = root;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let nx = node.next.get(c);
    if (!nx) node.next.set(c, nx = { next: new Map(), id: -1 });
    node = nx;
  }
  if (node.id < 0) node.id = id;
}

function utf8Bytes(s: string, a: number, b: number): number {
  let n = 0;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? (i++, 4) : 3;
  }
  return n;
}

/**
 * A restricted pickle interpreter (protocols 0–5). It decodes the opcode stream itself and never
 * runs anything: a GLOBAL / STACK_GLOBAL / INST / OBJ may only name an entry of the caller's
 * allow-list (each entry is a TypeScript function, not Python), so `os.system`,
 * `builtins.eval`, `subprocess.Popen` and every other global are refused with an error that
 * names the global and the file — the behaviour of `torch.load(weights_only=True)`.
 * Extension codes (EXT1/2/4), out-of-band buffers and text persistent ids are refused too.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes/bytearray → Uint8Array, list/tuple/set → Array,
 * dict → Map (keys keep their Python types).
 * @module
 */

/** A decoded Python value (plus whatever the allow-list's functions build). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | Map<PyValue, PyValue>
  | object;

/** One allowed global: what REDUCE / NEWOBJ / BUILD do with it, all in TypeScript. */
export interface AllowedGlobal {
  /** Called by REDUCE / NEWOBJ / INST / OBJ with the Python arguments. */
  call?: (args: PyValue[]) => PyValue;
  /** Applies a BUILD state to an object this global made (default: refuse). */
  build?: (obj: PyValue, state: PyValue) => PyValue;
}

/** A resolved global on the pickle stack (only ever an allow-listed one). */
export class PyGlobal {
  /** "module.name". */
  readonly qualname: string;
  /** The allow-list entry behind it. */
  readonly def: AllowedGlobal;
  constructor(qualname: string, def: AllowedGlobal) {
    this.qualname = qualname;
    this.def = def;
  }
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** Names the source in errors (file path, and record inside it). */
  what: string;
  /** Allowed globals by "module.name". Anything else is refused. */
  globals: Map<string, AllowedGlobal>;
  /** Resolves a binary persistent id (torch: storage references); absent = refuse them. */
  persistentLoad?: (pid: PyValue) => PyValue;
}

/** Result of {@link unpickle}: the value and where the STOP opcode ended. */
export interface UnpickleResult {
  value: PyValue;
  /** Byte offset just past STOP (the next pickle in a stream starts there). */
  end: number;
}

const MARK = Symbol("mark");
type Item = PyValue | typeof MARK;

/** Thrown when the input ends before STOP (callers streaming a file read more and retry). */
export class PickleTruncated extends Error {}

/** Decodes one pickle from `bytes` starting at `start`. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions, start = 0): UnpickleResult {
  const { what, globals } = opts;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  const stack: Item[] = [];
  const metaStack: Item[][] = [];
  const memo = new Map<number, PyValue>();
  const maker = new WeakMap<object, PyGlobal>(); // which global made an object (for BUILD)
  let pos = start;

  const fail = (msg: string): never => {
    throw new Error(`pickle '${what}': ${msg} (at byte ${pos})`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleTruncated(`pickle '${what}': truncated at byte ${pos}`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, dv.getUint16(pos - 2, true));
  const i32 = () => (need(4), pos += 4, dv.getInt32(pos - 4, true));
  const u32 = () => (need(4), pos += 4, dv.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  };
  const take = (n: number) => (need(n), pos += n, bytes.subarray(pos - n, pos));
  const line = () => {
    const i = bytes.indexOf(0x0a, pos);
    if (i < 0) throw new PickleTruncated(`pickle '${what}': truncated line at byte ${pos}`);
    const s = new TextDecoder("latin1").decode(bytes.subarray(pos, i));
    pos = i + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) fail("stack underflow");
    if (v === MARK) fail("unexpected MARK");
    return v as PyValue;
  };
  const top = (): PyValue => {
    if (!stack.length) fail("stack underflow");
    const v = stack[stack.length - 1];
    if (v === MARK) fail("unexpected MARK");
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack.splice(0) as PyValue[];
    const prev = metaStack.pop();
    if (!prev) fail("MARK expected");
    stack.push(...prev!);
    return items;
  };
  const resolve = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    const def = globals.get(q);
    if (!def) {
      fail(
        `refusing global '${q}': only tensor/container rebuild functions on the allow-list may be ` +
          `loaded (like torch.load(weights_only=True)); nothing was executed`,
      );
    }
    return new PyGlobal(q, def!);
  };
  const call = (fn: PyValue, args: PyValue, op: string): PyValue => {
    if (!(fn instanceof PyGlobal)) fail(`${op} on a non-callable ${describe(fn)}`);
    const g = fn as PyGlobal;
    if (!g.def.call) fail(`${op}: '${g.qualname}' may be referenced but not called`);
    if (!Array.isArray(args)) fail(`${op}: arguments of '${g.qualname}' are not a tuple`);
    const out = g.def.call!(args as PyValue[]);
    if (out !== null && typeof out === "object") maker.set(out, g);
    return out;
  };
  const setItems = (d: PyValue, items: PyValue[]) => {
    if (!(d instanceof Map)) fail(`SETITEMS on ${describe(d)}`);
    if (items.length % 2) fail("odd number of dict items");
    for (let i = 0; i < items.length; i += 2) (d as Map<PyValue, PyValue>).set(items[i], items[i + 1]);
  };
  const appendItems = (l: PyValue, items: PyValue[]) => {
    if (!Array.isArray(l)) fail(`APPEND on ${describe(l)}`);
    (l as PyValue[]).push(...items);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol above 5");
        break;
      case 0x95: // FRAME (a length hint only)
        need(8);
        pos += 8;
        break;
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length || metaStack.length) fail("data left on the stack at STOP");
        return { value: v, end: pos };
      }
      case 0x28: // MARK
        metaStack.push(stack.splice(0));
        break;
      case 0x30: // POP
        if (stack.length && stack[stack.length - 1] === MARK) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // ---- scalars
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x49: { // INT (text; "01"/"00" are True/False)
        const s = line();
        stack.push(s === "01" ? true : s === "00" ? false : parseIntText(s, fail));
        break;
      }
      case 0x4c: // LONG (text, trailing L)
        stack.push(parseIntText(line().replace(/L$/, ""), fail));
        break;
      case 0x8a: // LONG1
        stack.push(longLE(take(u8()), fail));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail("negative LONG4 length");
        stack.push(longLE(take(n), fail));
        break;
      }
      case 0x46: { // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) fail("bad FLOAT");
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      // ---- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text)
        stack.push(rawUnicodeEscape(line()));
        break;
      case 0x53: // STRING (quoted repr; Python 2 str)
        stack.push(pyStringLiteral(line(), fail));
        break;
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) fail("negative BINSTRING length");
        stack.push(new TextDecoder("latin1").decode(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(new TextDecoder("latin1").decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      // ---- containers
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map<PyValue, PyValue>();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      // ---- memo
      case 0x70: { // PUT (text)
        memo.set(parseIntText(line(), fail) as number, top());
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text)
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const k = op === 0x67 ? parseIntText(line(), fail) as number : op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} missing`);
        stack.push(memo.get(k)!);
        break;
      }
      // ---- globals and calls: the only place code could run, so the allow-list guards them
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line(), name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x69: { // INST "module\nname\n" with MARKed args
        const module = line(), name = line();
        const cls = resolve(module, name);
        stack.push(call(cls, popMark(), "INST"));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args...
        const items = popMark();
        if (!items.length) fail("OBJ without a class");
        stack.push(call(items[0], items.slice(1), "OBJ"));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        stack.push(call(fn, args, "REDUCE"));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop(), cls = pop();
        stack.push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop(), args = pop(), cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) fail("NEWOBJ_EX with keyword arguments");
        stack.push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case 0x62: { // BUILD
        const state = pop(), obj = top();
        const g = obj !== null && typeof obj === "object" ? maker.get(obj) : undefined;
        if (!g?.def.build) fail(`BUILD (set state) on ${describe(obj)} is not allowed`);
        stack[stack.length - 1] = g!.def.build!(obj, state);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail("persistent ids are not allowed here");
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: // PERSID (text)
        fail("text persistent ids (PERSID) are not allowed");
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail("extension-registry opcodes (EXT1/EXT2/EXT4) are not allowed");
        break;
      case 0x97:
      case 0x98:
        fail("out-of-band buffers (NEXT_BUFFER/READONLY_BUFFER) are not allowed");
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}

/** Short type description for messages. */
export function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof PyGlobal) return `global '${v.qualname}'`;
  if (Array.isArray(v)) return "a list/tuple";
  if (v instanceof Map) return "a dict";
  if (v instanceof Uint8Array) return "bytes";
  if (typeof v === "object") return `an object (${(v as object).constructor?.name ?? "?"})`;
  return `a ${typeof v}`;
}

function toNum(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Integers beyond this size are refused (a huge one would only serve to stall the parser). */
const MAX_INT_BYTES = 4096;

function parseIntText(s: string, fail: (m: string) => never): number | bigint {
  if (s.length > MAX_INT_BYTES * 3) fail(`integer of ${s.length} digits is too large`);
  if (!/^[+-]?\d+$/.test(s.trim())) fail(`bad integer '${s.slice(0, 40)}'`);
  return toNum(BigInt(s.trim()));
}

/** Little-endian two's-complement integer (LONG1/LONG4); built from hex, so linear in its size. */
function longLE(b: Uint8Array, fail: (m: string) => never): number | bigint {
  if (!b.length) return 0;
  if (b.length > MAX_INT_BYTES) fail(`integer of ${b.length} bytes is too large`);
  let hex = "0x";
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, "0");
  let v = BigInt(hex);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toNum(v);
}

function rawUnicodeEscape(s: string): string {
  return s.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_, a, b) => String.fromCodePoint(parseInt(a ?? b, 16)),
  );
}

/** A protocol-0 STRING argument: a quoted Python literal with backslash escapes. */
function pyStringLiteral(s: string, fail: (m: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) fail("STRING is not quoted");
  const body = s.slice(1, -1);
  const simple: Record<string, string> = {
    n: "\n",
    r: "\r",
    t: "\t",
    "\\": "\\",
    "'": "'",
    '"': '"',
    a: "\x07",
  };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return simple[e] ?? "\\" + e;
  });
}

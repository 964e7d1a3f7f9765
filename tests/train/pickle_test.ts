/**
 * The restricted pickle interpreter on every protocol Python writes (0–5): plain values must
 * decode to what Python pickled (Python's own json of the same object is the reference), and
 * any global outside the allow-list is refused. Needs /usr/bin/python3 (no torch); skips with
 * one line otherwise. Run: .tools/deno test --allow-all tests/train/pickle_test.ts
 */
import { assertEquals, assertOk, assertThrows } from "../assert.ts";
import { type PyValue, unpickle } from "../../src/train/pickle.ts";
import { buildAllowList } from "../../src/train/torch_globals.ts";

const PY = "/usr/bin/python3";

// one object with every plain type; sets/tuples become lists, dict keys stay typed
const SCRIPT = `
import base64, collections, json, pickle, sys
obj = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**53, -2**63, 2**70, -2**100],
    "floats": [0.0, -0.0, 1.5, -2.25e-300, 1e308, 3.141592653589793],
    "strs": ["", "ascii", "ünïcödé ✓ 🙂", "new\\nline", "quote'\\"", "back\\\\slash"],
    "bytes": b"\\x00\\xffabc",
    "none": None, "t": True, "f": False,
    "tuple": (1, (2, 3), ()),
    "nested": {"a": [{"b": [1, 2, {"c": None}]}]},
    "intkeys": {1: "one", 2: "two"},
    "set": {7},
    "od": collections.OrderedDict([("x", 1), ("y", [2])]),
    "shared": None,
}
lst = [1, 2]
obj["shared"] = [lst, lst]
out = {}
for p in range(6):
    out[str(p)] = base64.b64encode(pickle.dumps(obj, protocol=p)).decode()
print(json.dumps(out))
`;

function canPython(): boolean {
  try {
    return Deno.permissions.querySync({ name: "run", command: PY }).state === "granted" &&
      Deno.statSync(PY).isFile;
  } catch {
    return false;
  }
}

/** Our value with Maps turned into plain objects (keys as strings) for comparison. */
function plain(v: PyValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return [...v];
  if (typeof v === "bigint") return `big:${v}`;
  return v;
}

if (!canPython()) {
  Deno.test("pickle protocols: skipped (/usr/bin/python3 not available or not allowed to run)", () => {});
} else {
  Deno.test("pickle protocols 0–5: Python's values decode exactly; shared objects stay shared", async () => {
    const res = await new Deno.Command(PY, { args: ["-c", SCRIPT], stdout: "piped", stderr: "piped" })
      .output();
    assertOk(res.success, new TextDecoder().decode(res.stderr));
    const blobs = JSON.parse(new TextDecoder().decode(res.stdout)) as Record<string, string>;
    for (const [proto, b64] of Object.entries(blobs)) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const { value, end } = unpickle(bytes, { what: `protocol ${proto}`, globals: buildAllowList() });
      assertEquals(end, bytes.length, `protocol ${proto}: STOP at the end`);
      const v = plain(value) as Record<string, unknown>;
      assertEquals(v.ints, [
        0,
        1,
        -1,
        255,
        256,
        65535,
        65536,
        -(2 ** 31),
        2 ** 31 - 1,
        2 ** 31,
        `big:${2n ** 53n}`, // past Number.MAX_SAFE_INTEGER: a bigint, never a rounded number
        `big:${-(2n ** 63n)}`,
        `big:${2n ** 70n}`,
        `big:${-(2n ** 100n)}`,
      ], `protocol ${proto} ints`);
      assertEquals(v.floats, [0, -0, 1.5, -2.25e-300, 1e308, 3.141592653589793], `protocol ${proto} floats`);
      assertEquals(v.strs, ["", "ascii", "ünïcödé ✓ 🙂", "new\nline", "quote'\"", "back\\slash"]);
      assertEquals(v.bytes, [0, 255, 97, 98, 99], `protocol ${proto} bytes`);
      assertEquals([v.none, v.t, v.f], [null, true, false]);
      assertEquals(v.tuple, [1, [2, 3], []]);
      assertEquals(v.nested, { a: [{ b: [1, 2, { c: null }] }] });
      assertEquals(v.intkeys, { 1: "one", 2: "two" });
      assertOk(
        [...(value as Map<PyValue, PyValue>).get("intkeys") as Map<PyValue, PyValue>].every(([k]) =>
          typeof k === "number"
        ),
      );
      assertEquals(v.set, [7]);
      assertEquals(v.od, { x: 1, y: [2] });
      const shared = (value as Map<PyValue, PyValue>).get("shared") as PyValue[][];
      assertOk(shared[0] === shared[1], `protocol ${proto}: memo keeps one list`);
    }
  });
}

Deno.test("pickle: hand-written opcodes for refused features name what is wrong", () => {
  const o = { what: "t.pkl", globals: buildAllowList() };
  const b = (...x: number[]) => new Uint8Array(x);
  const enc = (s: string) => [...new TextEncoder().encode(s)];
  assertThrows(() => unpickle(b(0x80, 2, 0x82, 1, 0x2e), o), Error, "EXT1/EXT2/EXT4");
  assertThrows(() => unpickle(b(0x80, 5, 0x97, 0x2e), o), Error, "out-of-band");
  assertThrows(() => unpickle(b(...enc("P1\n"), 0x2e), o), Error, "PERSID");
  assertThrows(() => unpickle(b(0x80, 2, 0x4e, 0x51, 0x2e), o), Error, "persistent ids are not allowed");
  assertThrows(() => unpickle(b(0x80, 2, 0xff), o), Error, "unknown opcode 0xff");
  assertThrows(() => unpickle(b(0x80, 2, 0x4e, 0x4e, 0x2e), o), Error, "data left on the stack");
  // a global that exists on the allow-list only as a reference cannot be called
  const torchTensor = [...enc("ctorch\nTensor\n"), 0x29, 0x52, 0x2e];
  assertThrows(() => unpickle(b(0x80, 2, ...torchTensor), o), Error, "may be referenced but not called");
  // BUILD on a plain dict (what a __setstate__ attack would need) is refused
  assertThrows(() => unpickle(b(0x80, 2, 0x7d, 0x7d, 0x62, 0x2e), o), Error, "BUILD (set state) on a dict");
  assertThrows(() => unpickle(b(0x80, 2, 0x8a, 2), o), Error, "truncated");
});

/**
 * The FFI tables of the attention and model ops (src/ops/{attention,gather,topk,where,cast,
 * cumsum,pad,masks,resize}.ts) against the C declarations in native/*.cpp and kernels/*.cu:
 * same symbols, same parameter count, each parameter's C type compatible with its FFI type.
 * The CUDA library cannot be loaded without a device, so this is what keeps its ABI honest.
 * Run: deno test --allow-ffi --allow-read --allow-env tests/ops/new_ops_abi_test.ts
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ATTENTION_SYMBOLS } from "../../src/ops/attention.ts";
import { GATHER_SYMBOLS } from "../../src/ops/gather.ts";
import { TOPK_SYMBOLS } from "../../src/ops/topk.ts";
import { WHERE_SYMBOLS } from "../../src/ops/where.ts";
import { CAST_SYMBOLS } from "../../src/ops/cast.ts";
import { CUMSUM_SYMBOLS } from "../../src/ops/cumsum.ts";
import { PAD_SYMBOLS } from "../../src/ops/pad.ts";
import { MASKS_SYMBOLS } from "../../src/ops/masks.ts";
import { RESIZE_SYMBOLS } from "../../src/ops/resize.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FILES = ["attention", "gather", "topk", "where", "cast", "cumsum", "pad", "masks", "resize"];

/** C parameter types of `FT_API int name(...)` in a source text, or null when absent. */
function cParams(text: string, name: string): string[] | null {
  const src = text.replace(/\/\/[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, ""); // comments may hold parentheses
  const m = new RegExp(`FT_API\\s+int\\s+${name}\\s*\\(`).exec(src);
  if (!m) return null;
  let i = m.index + m[0].length, depth = 1, body = "";
  while (depth > 0 && i < src.length) {
    const c = src[i++];
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (depth > 0) body += c;
  }
  return body.split(",").map((p) => p.trim()).filter((p) => p.length > 0).map((p) =>
    p.replace(/\s+\w+$/, "").trim()
  );
}

function compatible(c: string, ffi: string): boolean {
  if (c.includes("*")) return ffi === "pointer" || ffi === "buffer";
  if (c === "int64_t") return ffi === "i64";
  if (c === "int") return ffi === "i32";
  if (c === "float") return ffi === "f32";
  return false;
}

Deno.test("new ops' FFI tables match the CPU and CUDA C declarations", () => {
  const tables = [
    ATTENTION_SYMBOLS,
    GATHER_SYMBOLS,
    TOPK_SYMBOLS,
    WHERE_SYMBOLS,
    CAST_SYMBOLS,
    CUMSUM_SYMBOLS,
    PAD_SYMBOLS,
    MASKS_SYMBOLS,
    RESIZE_SYMBOLS,
  ];
  const sources = FILES.flatMap((f) => [
    [`native/${f}.cpp`, Deno.readTextFileSync(join(ROOT, "native", `${f}.cpp`))],
    [`kernels/${f}.cu`, Deno.readTextFileSync(join(ROOT, "kernels", `${f}.cu`))],
  ]);
  let checked = 0;
  for (const table of tables) {
    for (const [name, def] of Object.entries(table)) {
      for (const lib of ["native/", "kernels/"]) {
        const hits = sources.filter(([p]) => p.startsWith(lib)).map(([p, s]) =>
          [p, cParams(s, name)] as const
        )
          .filter(([, ps]) => ps !== null);
        if (hits.length !== 1) throw new Error(`${name}: ${hits.length} declarations under ${lib} (want 1)`);
        const [path, ps] = hits[0];
        const want = def.parameters as readonly string[];
        if (ps!.length !== want.length) {
          throw new Error(`${name} (${path}): C has ${ps!.length} parameters, the FFI table ${want.length}`);
        }
        ps!.forEach((c, i) => {
          if (!compatible(c, want[i])) {
            throw new Error(`${name} (${path}) parameter ${i}: C ${c} vs FFI ${want[i]}`);
          }
        });
        checked++;
      }
    }
  }
  if (checked < 30) throw new Error(`only ${checked} declarations checked`);
});

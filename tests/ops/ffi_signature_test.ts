// ABI check without a device: every FFI symbol table the TypeScript declares (each op file's
// table registered through kernels(), the CUDA runtime and 16-bit tables, every exported
// `*_SYMBOLS`) against the C prototypes of BOTH libraries: native/*.cpp + native/*.h
// (libft_cpu) and kernels/*.cu (libft_cuda). Arity and i64/i32/f32/f64/pointer types must
// match every C definition of the name, and a name defined in both libraries must have one
// signature. New op files are covered automatically: every module under src/ (bar the CLI,
// data and eval layers, which bind no kernels) is imported, which registers its tables; inline
// tables in tests/ and bench/ are read from their source text (a stale one segfaults at run time).
// Run: .tools/deno test --allow-all tests/ops/ffi_signature_test.ts
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { registeredSymbols } from "../../src/backend/dispatch.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SKIP_DIRS = new Set(["cli", "data", "eval"]);

type Def = Deno.ForeignFunction | Deno.ForeignStatic;
interface Proto {
  file: string;
  result: string;
  params: { decl: string; type: string }[];
}

function walk(dir: string, ext: RegExp, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) walk(p, ext, out);
    else if (ext.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** The FFI type a C declaration maps to; pointers may be "pointer" or "buffer". */
function ffiType(decl: string, isResult: boolean): string {
  if (decl.includes("*")) return "pointer";
  const t = decl.replace(/\bconst\b/g, "").trim().split(/\s+/);
  // a parameter ends with its name; a result type has none
  const base = (isResult ? t : t.slice(0, -1)).join(" ");
  const map: Record<string, string> = {
    int64_t: "i64",
    int32_t: "i32",
    int: "i32",
    float: "f32",
    double: "f64",
    size_t: "usize",
    uint32_t: "u32",
    uint64_t: "u64",
    int16_t: "i16",
    uint16_t: "u16",
    int8_t: "i8",
    uint8_t: "u8",
    void: "void",
  };
  return map[base] ?? `? (${base})`;
}

/** Parses every `FT_API <type> ft_<name>(...)` definition or declaration in a C/C++/CUDA file. */
export function parsePrototypes(src: string, file: string): Map<string, Proto> {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
  const out = new Map<string, Proto>();
  for (const m of code.matchAll(/FT_API\s+([\w\s*]+?)\s*\b(ft_\w+)\s*\(([^)]*)\)/g)) {
    const [, ret, name, args] = m;
    const list = args.trim() === "" || args.trim() === "void" ? [] : args.split(",").map((a) => a.trim());
    out.set(name, {
      file,
      result: ffiType(ret, true),
      params: list.map((decl) => ({ decl, type: ffiType(decl, false) })),
    });
  }
  return out;
}

function loadLibrary(files: string[]): Map<string, Proto[]> {
  const all = new Map<string, Proto[]>();
  for (const f of files) {
    for (const [name, p] of parsePrototypes(Deno.readTextFileSync(f), relative(ROOT, f))) {
      if (!all.has(name)) all.set(name, []);
      all.get(name)!.push(p);
    }
  }
  return all;
}

const CPU = loadLibrary(walk(join(ROOT, "native"), /\.(cpp|h)$/));
const CUDA = loadLibrary(walk(join(ROOT, "kernels"), /\.(cu|cuh)$/));

function sameType(ts: string, c: string): boolean {
  if (c === "pointer") return ts === "pointer" || ts === "buffer";
  if (c === "void") return ts === "void";
  return ts === c;
}

/** Problems of one TS definition against one C prototype (empty when they agree). */
export function compare(name: string, def: Def, c: Proto): string[] {
  if (!("parameters" in def)) return [`${name}: declared as a static, C has a function (${c.file})`];
  const bad: string[] = [];
  const ps = def.parameters as readonly string[];
  if (ps.length !== c.params.length) {
    bad.push(`${name}: ${ps.length} parameters in TS, ${c.params.length} in ${c.file}`);
    return bad;
  }
  ps.forEach((t, i) => {
    if (!sameType(t, c.params[i].type)) {
      bad.push(
        `${name}: parameter ${i} '${c.params[i].decl}' is ${c.params[i].type} in ${c.file}, "${t}" in TS`,
      );
    }
  });
  const r = String(def.result);
  if (!sameType(r, c.result)) bad.push(`${name}: result ${c.result} in ${c.file}, "${r}" in TS`);
  return bad;
}

async function tsTables(): Promise<Map<string, { def: Def; from: string }[]>> {
  const out = new Map<string, { def: Def; from: string }[]>();
  const add = (name: string, def: Def, from: string) => {
    if (!out.has(name)) out.set(name, []);
    out.get(name)!.push({ def, from });
  };
  const src = join(ROOT, "src");
  const mods = walk(src, /\.ts$/).filter((f) => !SKIP_DIRS.has(relative(src, f).split("/")[0]));
  for (const f of mods) {
    const mod = await import(`file://${f}`) as Record<string, unknown>;
    for (const [exp, v] of Object.entries(mod)) {
      if (!exp.endsWith("_SYMBOLS") || typeof v !== "object" || v === null) continue;
      for (const [name, def] of Object.entries(v)) add(name, def as Def, `${relative(ROOT, f)} ${exp}`);
    }
  }
  for (const [name, def] of registeredSymbols()) add(name, def, "registered via kernels()");
  return out;
}

Deno.test("ffi: the C parser reads names, arity and types (including multi-line, commented args)", () => {
  const p = parsePrototypes(
    `FT_API int ft_x_fwd(int64_t n, // rows
       const float* x,  /* (n) */ float* const* y, int flag, float s) { return 0; }
     FT_API void* ft_alloc(int64_t bytes);
     FT_API int64_t ft_count() { return 0; }`,
    "t.cpp",
  );
  assert.deepEqual(p.get("ft_x_fwd")!.params.map((q) => q.type), ["i64", "pointer", "pointer", "i32", "f32"]);
  assert.equal(p.get("ft_alloc")!.result, "pointer");
  assert.equal(p.get("ft_count")!.result, "i64");
  assert.deepEqual(p.get("ft_count")!.params, []);
  // and a drift is caught
  const def = { parameters: ["i64", "pointer", "pointer", "i64", "f32"], result: "i32" } as const;
  assert.match(compare("ft_x_fwd", def, p.get("ft_x_fwd")!).join("\n"), /parameter 3 'int flag' is i32/);
  const short = { parameters: ["i64"], result: "i32" } as const;
  assert.match(compare("ft_x_fwd", short, p.get("ft_x_fwd")!).join("\n"), /1 parameters in TS, 5/);
});

Deno.test("ffi: both libraries parse and the CUDA entry points mirror the CPU ones", () => {
  assert.ok(CPU.size > 30, `only ${CPU.size} CPU prototypes parsed`);
  assert.ok(CUDA.size > 30, `only ${CUDA.size} CUDA prototypes parsed`);
  const bad: string[] = [];
  for (const [name, cs] of CUDA) {
    const cpu = CPU.get(name);
    if (!cpu) continue;
    for (const c of cs) {
      const a = c.params.map((q) => q.type).join(","), b = cpu[0].params.map((q) => q.type).join(",");
      if (a !== b || c.result !== cpu[0].result) {
        bad.push(`${name}: ${c.file} (${a}) -> ${c.result} vs ${cpu[0].file} (${b}) -> ${cpu[0].result}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("ffi: every TypeScript symbol table matches the C sources of both libraries", async () => {
  const tables = await tsTables();
  assert.ok(tables.size > 40, `only ${tables.size} TS symbols found`);
  const bad: string[] = [];
  for (const [name, defs] of tables) {
    // only our own ABI (ft_*): third-party symbols (NCCL, the CUDA runtime) have no source here
    if (!name.startsWith("ft_")) continue;
    const cs = [...(CPU.get(name) ?? []), ...(CUDA.get(name) ?? [])];
    for (const { def, from } of defs) {
      if (cs.length === 0) {
        if (!(def as { optional?: boolean }).optional) bad.push(`${name} (${from}): no C definition found`);
        continue;
      }
      for (const c of cs) for (const b of compare(name, def, c)) bad.push(`${b} [${from}]`);
    }
  }
  assert.deepEqual(bad, [], bad.join("\n"));
});

Deno.test("ffi: every symbol table in src names each argument and is typed with satisfies", () => {
  const bad: string[] = [];
  const src = join(ROOT, "src");
  for (const f of walk(src, /\.ts$/)) {
    const rel = relative(ROOT, f);
    const text = Deno.readTextFileSync(f);
    if (/\bkernels\(\{/.test(text) || /cpuKernels\(\{/.test(text)) {
      bad.push(
        `${rel}: inline table (declare an exported *_SYMBOLS const ... satisfies Deno.ForeignLibraryInterface)`,
      );
    }
    for (const m of text.matchAll(/export const (\w+_SYMBOLS) = \{[\s\S]*?\n\}( as const)? satisfies/g)) {
      for (const p of m[0].matchAll(/parameters:\s*\[([^\]]*)\]/g)) {
        const args = p[1].match(/"\w+"/g)?.length ?? 0;
        const named = p[1].match(/\/\*\s*[^\s*][\s\S]*?\*\/\s*"\w+"/g)?.length ?? 0;
        if (args !== named) {
          bad.push(`${rel} ${m[1]}: ${args - named} of ${args} arguments lack a /* name */`);
        }
      }
    }
    const tables = text.match(/export const \w+_SYMBOLS = \{/g)?.length ?? 0;
    const typed = text.match(/\n\}( as const)? satisfies Deno\.ForeignLibraryInterface/g)?.length ?? 0;
    if (tables !== typed) bad.push(`${rel}: ${tables} *_SYMBOLS tables, ${typed} typed with satisfies`);
  }
  assert.deepEqual(bad, [], bad.join("\n"));
});

/**
 * Inline FFI tables in tests/ and bench/ (not importable without running them): every
 * `ft_x: { parameters: [...], result: "..." }` literal, read from the source text.
 */
export function parseInlineTables(text: string): { name: string; parameters: string[]; result: string }[] {
  const out: { name: string; parameters: string[]; result: string }[] = [];
  const re = /(ft_\w+):\s*\{\s*(?:\/\/[^\n]*\n\s*)*parameters:\s*\[([^\]]*)\],\s*result:\s*"(\w+)"/g;
  for (const m of text.matchAll(re)) {
    const body = m[2].replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ")
      .replace(
        /\.\.\.Array\((\d+)\)\.fill\((?:I64|"i64")\)/g,
        (_, n) => Array(Number(n)).fill('"i64"').join(","),
      );
    out.push({ name: m[1], parameters: [...body.matchAll(/"(\w+)"/g)].map((x) => x[1]), result: m[3] });
  }
  return out;
}

Deno.test("ffi: inline tables in tests/ and bench/ match the C sources too", () => {
  const bad: string[] = [];
  let seen = 0;
  for (const dir of ["tests", "bench"]) {
    for (const f of walk(join(ROOT, dir), /\.ts$/)) {
      const rel = relative(ROOT, f);
      if (rel === "tests/ops/ffi_signature_test.ts" || rel === "tests/cuda/host_logic_test.ts") continue; // fakes
      for (const t of parseInlineTables(Deno.readTextFileSync(f))) {
        const cs = [...(CPU.get(t.name) ?? []), ...(CUDA.get(t.name) ?? [])];
        seen++;
        if (cs.length === 0) {
          if (!/optional:\s*true/.test(Deno.readTextFileSync(f))) {
            bad.push(`${t.name} (${rel}): no C definition`);
          }
          continue;
        }
        const def = { parameters: t.parameters, result: t.result } as unknown as Def;
        for (const c of cs) for (const b of compare(t.name, def, c)) bad.push(`${b} [${rel}]`);
      }
    }
  }
  assert.ok(seen >= 5, `only ${seen} inline tables found`);
  assert.deepEqual(bad, [], bad.join("\n"));
});

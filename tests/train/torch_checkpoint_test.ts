/**
 * PyTorch checkpoint reader against files Debian's python3-torch writes at test time
 * (tests/train/torch_fixtures.py): every dtype, strided / shared / tied storages, nested
 * containers, a LAVIS-shaped dict, the legacy format, a sparse ZIP64 file past 4 GiB,
 * truncated / corrupted zips, and malicious pickles that must be refused without running.
 * Run: .tools/deno test --allow-all tests/train/torch_checkpoint_test.ts
 */
import { assertEquals, assertOk as assert, assertThrows } from "../assert.ts";
import {
  convertToSafetensors,
  listCheckpoint,
  loadTorchCheckpoint,
  loadTorchStateDict,
} from "../../src/train/torch_checkpoint.ts";
import { loadSafetensors } from "../../src/train/checkpoint.ts";
import { memoryStats } from "../../src/tensor/storage.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { ZipReader } from "../../src/train/zip.ts";
import { unpickle } from "../../src/train/pickle.ts";
import { buildAllowList, StorageRef } from "../../src/train/torch_globals.ts";
import { main as ckptMain } from "../../src/cli/ckpt.ts";

const PY = "/usr/bin/python3";
type Expected = Record<string, Record<string, { shape: number[]; dtype: string; values: number[] }>>;

async function fixtures(): Promise<{ dir: string; marker: string; exp: Expected } | null> {
  try {
    if (Deno.permissions.querySync({ name: "run", command: PY }).state !== "granted") return null;
    const probe = await new Deno.Command(PY, { args: ["-c", "import torch"], stderr: "null" }).output();
    if (!probe.success) return null;
  } catch {
    return null;
  }
  const dir = Deno.makeTempDirSync({ prefix: "ft_torch_" });
  const marker = `${dir}/PWNED`;
  const script = new URL("./torch_fixtures.py", import.meta.url).pathname;
  const res = await new Deno.Command(PY, { args: [script, dir, marker], stdout: "piped", stderr: "piped" })
    .output();
  if (!res.success) throw new Error(`torch_fixtures.py failed: ${new TextDecoder().decode(res.stderr)}`);
  // Python's json writes Infinity / NaN bare; quote them, then turn them back into numbers
  const text = Deno.readTextFileSync(`${dir}/expected.json`).replace(/-?Infinity|NaN/g, (m) => `"${m}"`);
  const exp = JSON.parse(
    text,
    (_k, v) => (typeof v === "string" && /^-?Infinity$|^NaN$/.test(v) ? Number(v) : v),
  );
  return { dir, marker, exp };
}

const fx = await fixtures();

function values(t: Tensor): number[] {
  return t.toArray();
}

function checkAgainst(file: string, tensors: Map<string, Tensor>, exp: Expected) {
  const want = exp[file];
  for (const [name, e] of Object.entries(want)) {
    if (name.startsWith("_")) continue;
    const t = tensors.get(name);
    assert(t, `${file}: tensor '${name}' missing (have ${[...tensors.keys()].join(", ")})`);
    assertEquals([...t!.shape], e.shape, `${file}:${name} shape`);
    const isFloat = /float/.test(e.dtype);
    assertEquals(t!.dtype, isFloat ? "float32" : "int32", `${file}:${name} engine dtype`);
    const got = values(t!);
    // torch's own .float() of the stored value must equal ours bit for bit
    const ref = isFloat ? e.values.map(Math.fround) : e.values;
    for (let i = 0; i < ref.length; i++) {
      if (got[i] !== ref[i] && !(Number.isNaN(got[i]) && Number.isNaN(ref[i]))) {
        throw new Error(`${file}:${name}[${i}] = ${got[i]}, torch says ${ref[i]}`);
      }
    }
  }
}

if (!fx) {
  Deno.test("torch checkpoints: skipped (/usr/bin/python3 with torch not available or not allowed to run)", () => {});
} else {
  const { dir, marker, exp } = fx;
  const p = (f: string) => `${dir}/${f}`;

  Deno.test("torch zip + legacy: every dtype equals torch's own conversion; no memory left live", () => {
    const live = memoryStats().liveBytes;
    for (const f of ["dtypes.pth", "dtypes_legacy.pth", "big_f16.pth"]) {
      const ck = loadTorchCheckpoint(p(f));
      assertEquals(ck.format, f.includes("legacy") ? "torch-legacy" : "torch-zip");
      checkAgainst(f, ck.tensors, exp);
      ck.dispose();
    }
    assertEquals(memoryStats().liveBytes, live);
    const l = listCheckpoint(p("dtypes.pth"));
    const byName = Object.fromEntries(l.map((e) => [e.name, e]));
    assertEquals(byName.bf16.dtype, "bfloat16");
    assertEquals(byName.f64.bytes, 15 * 8);
    assertEquals(byName.i64.shape, [2, 3]);
    assertEquals(byName.scalar.shape, []);
  });

  Deno.test("strided, offset, expanded and tied storages (zip and legacy)", () => {
    for (const f of ["strided.pth", "strided_legacy.pth"]) {
      const ck = loadTorchCheckpoint(p(f));
      checkAgainst("strided.pth", ck.tensors, exp);
      // tied parameters come back sharing one engine Storage
      assert(ck.tensors.get("tied_a")!.storage === ck.tensors.get("tied_b")!.storage, `${f}: tied storage`);
      const l = Object.fromEntries(ck.entries.map((e) => [e.name, e]));
      assertEquals(l.t.contiguous, false);
      assertEquals(l.t.stride, [1, 6]);
      assertEquals(l.offset.offset, 5);
      assertEquals(l.expanded.stride, [6, 1].map((s, i) => (i === 0 ? 0 : s)));
      assertEquals(l.t.sharedWith, "base");
      ck.dispose();
    }
  });

  Deno.test("nested containers, Python scalars, strings, bytes and big ints", () => {
    const ck = loadTorchCheckpoint(p("nested.pth"));
    checkAgainst("nested.pth", ck.tensors, exp);
    const root = ck.root as Map<unknown, unknown>;
    assertEquals(root.get("s"), "text ✓");
    assertEquals(root.get("i"), 3);
    assertEquals(root.get("f"), 1.5);
    assertEquals(root.get("n"), null);
    assertEquals(root.get("flag"), true);
    assertEquals(root.get("huge"), 2n ** 70n);
    assertEquals(root.get("neg"), -(2 ** 40));
    assertEquals([...(root.get("blob") as Uint8Array)], [0, 1, 255]);
    assertEquals(root.get("tup"), [1, "two", 3]);
    assert((root.get("a") as unknown[])[0] instanceof Tensor, "tensor placed back in the tree");
    assert((root.get("ints") as Map<unknown, unknown>).has(0), "int dict keys stay ints");
    ck.dispose();
  });

  Deno.test("LAVIS-shaped {model, optimizer, config, epoch} and an HF pytorch_model.bin", () => {
    const ck = loadTorchCheckpoint(p("lavis.pth"));
    checkAgainst("lavis.pth", ck.tensors, exp);
    const root = ck.root as Map<string, unknown>;
    assertEquals(root.get("epoch"), 3);
    const cfg = root.get("config") as Map<string, Map<string, unknown>>;
    assertEquals(cfg.get("model")!.get("num_query_token"), 32);
    assertEquals(cfg.get("run")!.get("init_lr"), 1e-5);
    assert(ck.tensors.has("optimizer.state.0.exp_avg"), "AdamW moments present");
    ck.dispose();
    const sd = loadTorchStateDict(p("lavis.pth"), "model");
    assertEquals([...sd.keys()], ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]);
    for (const t of sd.values()) t.dispose();
    assertThrows(() => loadTorchStateDict(p("lavis.pth"), "nope"), Error, "no tensors under 'nope'");
    const bin = loadTorchCheckpoint(p("pytorch_model.bin"));
    checkAgainst("pytorch_model.bin", bin.tensors, exp);
    bin.dispose();
  });

  Deno.test("ZIP64: a record past 4 GiB in a sparse 4.5 GB file, listed and loaded", () => {
    const disk =
      (exp["zip64.pth"] as unknown as Record<string, { apparent: number; allocated: number }>)._disk;
    assert(disk.apparent > 4.5e9, "apparent size past 4 GiB");
    const l = listCheckpoint(p("zip64.pth"));
    assertEquals(l.map((e) => [e.name, e.dtype, e.bytes]), [["big", "uint8", 4_500_000_000], [
      "small",
      "float32",
      24,
    ]]);
    const ck = loadTorchCheckpoint(p("zip64.pth"), { filter: (n) => n === "small" });
    checkAgainst("zip64.pth", ck.tensors, exp);
    assert(!ck.tensors.has("big"), "filtered tensor not loaded");
    ck.dispose();
  });

  Deno.test("truncated and corrupted files fail with a message naming the file and the problem", () => {
    const cases: [string, RegExp][] = [
      ["trunc_half.pth", /trunc_half\.pth.*no end-of-central-directory/],
      ["trunc_tail.pth", /trunc_tail\.pth.*no end-of-central-directory/],
      ["trunc_legacy.pth", /trunc_legacy\.pth.*(truncated|past the end)/],
      ["corrupt_pickle.pth", /corrupt_pickle\.pth.*data\.pkl.*CRC-32.*corrupt/],
      ["corrupt_data.pth", /corrupt_data\.pth.*storage '0'.*CRC-32.*corrupt/],
      ["corrupt_directory.pth", /corrupt_directory\.pth.*central directory entry \d+ is corrupt/],
      ["complex.pth", /complex\.pth.*unsupported storage type 'torch\.ComplexFloatStorage'/],
    ];
    const live = memoryStats().liveBytes;
    for (const [f, re] of cases) {
      let msg = "";
      try {
        loadTorchCheckpoint(p(f)).dispose();
      } catch (e) {
        msg = (e as Error).message;
      }
      assert(re.test(msg), `${f}: got '${msg}'`);
    }
    assertEquals(memoryStats().liveBytes, live, "failed loads free what they allocated");
  });

  Deno.test("malicious pickles are refused by name, and their command never runs", () => {
    const cases: [string, string][] = [
      ["evil_reduce_os_system.pth", "posix.system"],
      ["evil_global_os_system.pth", "os.system"],
      ["evil_stack_global_eval.pth", "builtins.eval"],
      ["evil_inst_os_system.pth", "os.system"],
      ["evil_obj_subprocess.pth", "subprocess.call"],
      ["evil_popen_p2.pth", "commands.Popen"],
      ["evil_popen_p4.pth", "subprocess.Popen"],
      ["evil_in_state_dict.pth", "posix.system"],
      ["evil_legacy.pth", "posix.system"],
    ];
    for (const [f, global] of cases) {
      for (const op of [() => listCheckpoint(p(f)), () => loadTorchCheckpoint(p(f)).dispose()]) {
        let msg = "";
        try {
          op();
        } catch (e) {
          msg = (e as Error).message;
        }
        assert(msg.includes(`refusing global '${global}'`) && msg.includes(f), `${f}: got '${msg}'`);
      }
    }
    let exists = true;
    try {
      Deno.statSync(marker);
    } catch {
      exists = false;
    }
    assert(!exists, "a payload ran: marker file exists");
  });

  Deno.test("hostile object trees (cycle, shared-list explosion, deep nesting) fail fast", () => {
    const cases: [string, string][] = [
      ["hostile_cycle.pth", "contains itself"],
      ["hostile_laughs.pth", "expands past"],
      ["hostile_deep.pth", "nested deeper"],
    ];
    for (const [f, msg] of cases) {
      const t0 = performance.now();
      assertThrows(() => listCheckpoint(p(f)), Error, msg);
      assert(performance.now() - t0 < 10_000, `${f} took too long`);
    }
  });

  Deno.test("pickle interpreter: 2,000 random corruptions of a real data.pkl only ever throw Errors", () => {
    using zip = new ZipReader(p("lavis.pth"));
    const name = [...zip.entries.keys()].find((n) => n.endsWith("data.pkl"))!;
    const good = zip.readEntry(name);
    const rng = new Rng(7);
    const globals = buildAllowList();
    let ok = 0, failed = 0;
    for (let i = 0; i < 2000; i++) {
      const b = good.slice();
      const flips = 1 + Math.floor(rng.uniform() * 4);
      for (let k = 0; k < flips; k++) {
        b[Math.floor(rng.uniform() * b.length)] = Math.floor(rng.uniform() * 256);
      }
      const cut = rng.uniform() < 0.2 ? Math.floor(rng.uniform() * b.length) : b.length;
      try {
        unpickle(b.subarray(0, cut), {
          what: "fuzz",
          globals,
          persistentLoad: () => new StorageRef("0", "float32", "cpu", 1 << 20),
        });
        ok++;
      } catch (e) {
        assert(e instanceof Error, `non-Error thrown: ${String(e)}`);
        failed++;
      }
    }
    assertEquals(ok + failed, 2000);
    assert(failed > 1000, "corruptions are detected");
  });

  Deno.test("ckpt CLI: inspect and convert exit 0; a malicious file exits 1 naming the global", () => {
    const log = console.log, err = console.error;
    const out: string[] = [], errs: string[] = [];
    console.log = (...a: unknown[]) => out.push(a.join(" "));
    console.error = (...a: unknown[]) => errs.push(a.join(" "));
    try {
      assertEquals(ckptMain(["inspect", p("strided.pth")]), 0);
      assert(out.some((l) => l.includes("shares storage with base")), out.join("\n"));
      assertEquals(ckptMain(["inspect", p("lavis.pth")]), 0);
      assert(out.some((l) => l.includes("epoch: 3")), "non-tensor values listed");
      assertEquals(ckptMain(["convert", p("lavis.pth"), p("cli.safetensors"), "--key", "model"]), 0);
      assertEquals(listCheckpoint(p("cli.safetensors")).length, 6);
      assertEquals(ckptMain(["inspect", p("evil_popen_p4.pth")]), 1);
      assert(errs.some((l) => l.includes("refusing global 'subprocess.Popen'")), errs.join("\n"));
      assertEquals(ckptMain(["convert", p("lavis.pth")]), 2);
    } finally {
      console.log = log;
      console.error = err;
    }
  });

  Deno.test("progress reaches the total; verify: false still loads", () => {
    let last = [0, -1];
    const ck = loadTorchCheckpoint(p("big_f16.pth"), { onProgress: (d, t) => (last = [d, t]) });
    assertEquals(last[0], last[1]);
    assertEquals(last[1], 300 * 1000 * 2);
    ck.dispose();
    loadTorchCheckpoint(p("dtypes.pth"), { verify: false }).dispose();
  });

  Deno.test("convert to safetensors: keep dtypes or engine dtypes, atomic, readable", () => {
    const out = p("lavis_model.safetensors");
    assertEquals(convertToSafetensors(p("lavis.pth"), out, { key: "model", dtype: "engine" }), 6);
    const st = loadSafetensors(out);
    const want = exp["lavis.pth"];
    for (const [n, t] of st.tensors) {
      assertEquals(t.toArray(), want[`model.${n}`].values.map(Math.fround), n);
      t.dispose();
    }
    const kept = p("dtypes.safetensors");
    convertToSafetensors(p("dtypes.pth"), kept);
    const l = Object.fromEntries(listCheckpoint(kept).map((e) => [e.name, e]));
    assertEquals(l.bf16.dtype, "bfloat16");
    assertEquals(l.i8.dtype, "int8");
    assertEquals(l.f64.bytes, 120);
    // strided sources are written contiguous
    const s2 = p("strided.safetensors");
    convertToSafetensors(p("strided.pth"), s2);
    const sd = loadSafetensors(s2);
    assertEquals(sd.tensors.get("t")!.toArray(), exp["strided.pth"].t.values);
    for (const t of sd.tensors.values()) t.dispose();
    // a refused input leaves no output and no temp file behind
    const bad = p("evil.safetensors");
    assertThrows(() => convertToSafetensors(p("evil_in_state_dict.pth"), bad), Error, "refusing global");
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("evil.safetensors")).length, 0);
  });

  Deno.test("convert --dtype keep: torch itself finds every tensor equal in our safetensors file", async () => {
    for (const f of ["dtypes.pth", "strided.pth", "nested.pth"]) {
      convertToSafetensors(p(f), p(f + ".safetensors"));
    }
    // an independent reader: struct + json + torch.frombuffer, compared with torch.load of the source
    const script = `
import json, struct, sys, torch
DT = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
      "BOOL": torch.bool}
def flat(v, name, out):
    if isinstance(v, torch.Tensor): out[name] = v
    elif isinstance(v, dict): [flat(x, f"{name}.{k}" if name else str(k), out) for k, x in v.items()]
    elif isinstance(v, (list, tuple)): [flat(x, f"{name}.{i}" if name else str(i), out) for i, x in enumerate(v)]
    return out
n_ok = 0
for src in sys.argv[1:]:
    want = flat(torch.load(src), "", {})
    b = open(src + ".safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    assert sorted(h) == sorted(want), (src, sorted(h), sorted(want))
    for k, e in h.items():
        s, t = e["data_offsets"]
        raw = bytearray(b[8 + n + s:8 + n + t])
        got = torch.frombuffer(raw, dtype=DT[e["dtype"]]) if raw else torch.empty(0, dtype=DT[e["dtype"]])
        got = got.reshape(e["shape"])
        assert got.dtype == want[k].dtype and torch.equal(got, want[k]), (src, k)
        n_ok += 1
print(n_ok)
`;
    const res = await new Deno.Command(PY, {
      args: ["-c", script, p("dtypes.pth"), p("strided.pth"), p("nested.pth")],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(res.success, new TextDecoder().decode(res.stderr));
    assertEquals(Number(new TextDecoder().decode(res.stdout).trim()), 13 + 8 + 5);
  });

  Deno.test({
    name: "torch fixtures: cleanup",
    fn: () => Deno.removeSync(dir, { recursive: true }),
  });
}

/**
 * withoutRandomInit: the initialisers make zeros without drawing (generator state untouched),
 * and a model built that way then loaded strictly from another model's state equals it
 * (every parameter and buffer, and the same forward output), at a fraction of the build time;
 * readCheckpoint can leave a checkpoint's optimizer state unread.
 *
 *   .tools/deno test --allow-all tests/model/load_without_init_test.ts
 */
import { assertEquals, assertOk } from "../assert.ts";
import {
  rand,
  randn,
  randomInitSkipped,
  tensor,
  truncNormal,
  withoutRandomInit,
} from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { exampleBatch } from "../../src/model/example_batch.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { Linear } from "../../src/nn/linear.ts";
import { AdamW } from "../../src/train/adamw.ts";
import { backward, noGrad } from "../../src/autograd/tape.ts";
import { sum } from "../../src/ops/reduce.ts";
import {
  CHECKPOINT_VERSION,
  type CheckpointMeta,
  disposeCheckpoint,
  readCheckpoint,
  saveCheckpoint,
} from "../../src/train/run_checkpoint.ts";

Deno.test("withoutRandomInit: zeros, no draws, nesting, restored after a throw", () => {
  const rng = new Rng(7);
  const before = JSON.stringify(rng.state());
  const ts = withoutRandomInit(() => {
    assertOk(randomInitSkipped(), "inside");
    return [
      rand([3, 4], rng),
      randn([5], rng, 2),
      truncNormal([2, 2], rng, 0.02),
      withoutRandomInit(() => randn([2], rng)),
    ];
  });
  for (const t of ts) assertOk(Array.from(t.data()).every((v) => v === 0), "zeros");
  assertEquals(JSON.stringify(rng.state()), before, "generator state untouched");
  try {
    withoutRandomInit(() => {
      throw new Error("x");
    });
  } catch { /* expected */ }
  assertOk(!randomInitSkipped(), "flag cleared after a throw");
  const drawn = randn([4], new Rng(7));
  assertOk(Array.from(drawn.data()).some((v) => v !== 0), "draws again outside");
  for (const t of [...ts, drawn]) t.dispose();
});

const host = (t: Tensor) => (t.dtype === "float32" ? t.data() : t.dataI32());

Deno.test("ForgeryTalker built without init + strict load equals the source model", () => {
  const src = new ForgeryTalker({ name: "tiny", dropout: 0 }, 3);
  const t0 = performance.now();
  const dst = withoutRandomInit(() => new ForgeryTalker({ name: "tiny", dropout: 0 }, 3));
  const msSkip = performance.now() - t0;
  let nonzero = 0;
  for (const [, t] of dst.stateDict()) if (Array.from(host(t)).some((v) => v !== 0 && v !== 1)) nonzero++;
  dst.loadStateDict(src.stateDict());
  const a = src.stateDict(), b = dst.stateDict();
  assertEquals([...a.keys()].sort(), [...b.keys()].sort(), "same keys");
  for (const [k, t] of a) {
    const x = host(t), y = host(b.get(k)!);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) throw new Error(`${k}[${i}]: ${y[i]} != ${x[i]}`);
    }
  }
  src.eval(), dst.eval();
  const one = exampleBatch(src.cfg, 1, 5);
  noGrad(() =>
    tidy(() => {
      const f = (m: ForgeryTalker) => Array.from(m.forward(one).maskLogits.data());
      assertEquals(f(dst), f(src), "same mask logits");
    })
  );
  for (const t of Object.values(one)) (t as Tensor).dispose();
  // nothing random was drawn: only deterministic tensors (e.g. coordinate channels) are not 0/1
  console.log(`  build without init ${msSkip.toFixed(0)} ms; tensors with values other than 0/1: ${nonzero}`);
  assertOk(msSkip < 2000, `build without init took ${msSkip.toFixed(0)} ms`);
});

Deno.test("readCheckpoint { optimizer: false }: same model tensors, no optimizer state read", () => {
  const m = new Linear(6, 4, { rng: new Rng(1) });
  const opt = new AdamW(m.uniqueNamedParameters(), { lr: 0.1 });
  tidy(() => {
    backward(sum(m.forward(tensor(Array.from({ length: 12 }, (_, i) => i / 10), [2, 6]))));
    opt.step();
  });
  const dir = Deno.makeTempDirSync({ prefix: "ft_ck_" });
  const path = `${dir}/ck.safetensors`;
  const meta = { version: CHECKPOINT_VERSION, stage: "test" } as unknown as CheckpointMeta;
  saveCheckpoint(path, m, meta, opt);
  const all = readCheckpoint(path), lean = readCheckpoint(path, { optimizer: false });
  try {
    assertOk(all.optim.size > 0, "the file holds optimizer state");
    assertEquals(lean.optim.size, 0, "optimizer state skipped");
    assertEquals([...lean.model.keys()].sort(), [...all.model.keys()].sort());
    for (const [k, t] of all.model) {
      assertEquals(Array.from(lean.model.get(k)!.data()), Array.from(t.data()), k);
    }
  } finally {
    disposeCheckpoint(all), disposeCheckpoint(lean), opt.dispose?.(), m.dispose();
    Deno.removeSync(dir, { recursive: true });
  }
});

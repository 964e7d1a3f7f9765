// ForgeryTalker on CUDA vs CPU: the same seed builds the same weights on both devices; every
// loss term of each stage, the mask and LM logits, a sample of gradients, and the greedy
// decode must agree (fp32). Skipped with one line without a device.
import assert from "node:assert/strict";
import { cudaTest } from "./cuda_helpers.ts";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { exampleBatch } from "../../src/model/example_batch.ts";
import { generate } from "../../src/infer/generate.ts";
import { getDefaultDevice, setDefaultDevice } from "../../src/tensor/tensor.ts";
import { backward, noGrad } from "../../src/autograd/tape.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

interface Run {
  terms: Record<string, number>;
  grads: Record<string, Float32Array>;
  mask: Float32Array;
  lm: Float32Array;
  greedy: number[][];
}

function run(device: "cpu" | "cuda"): Run {
  const prev = getDefaultDevice();
  setDefaultDevice(device);
  const m = new ForgeryTalker({ name: "tiny", dropout: 0 }, 5);
  const b = exampleBatch(m.cfg, 2, 6, { instruction: 16, caption: 20 });
  try {
    const out: Run = { terms: {}, grads: {}, mask: new Float32Array(), lm: new Float32Array(), greedy: [] };
    for (const stage of ["fpn", "finetune", "pretrain"] as const) {
      tidy(() => {
        m.zeroGrad();
        const { loss, terms } = m.losses(b, { stage });
        backward(loss);
        for (const [k, v] of Object.entries(terms)) out.terms[`${stage}.${k}`] = v.item();
        for (const [n, p] of m.namedParameters()) {
          if (p.grad && /blocks\.0\.|layer\.0\.|block\.0\.|head|mask_token|coord_conv/.test(n)) {
            out.grads[`${stage}.${n}`] = p.grad.data().slice();
          }
        }
      });
    }
    m.eval();
    noGrad(() =>
      tidy(() => {
        const f = m.forward(b);
        out.mask = f.maskLogits.data().slice();
        out.lm = f.lmLogits!.data().slice();
        out.greedy = generate(m.t5, f.encoder, f.encoderMask, { beams: 1, maxNewTokens: 12 }).map((d) =>
          d.ids
        );
      })
    );
    return out;
  } finally {
    for (const t of Object.values(b)) (t as Tensor).dispose();
    m.dispose();
    setDefaultDevice(prev);
  }
}

function rel(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) d += (a[i] - b[i]) ** 2, s += b[i] ** 2;
  return Math.sqrt(d / Math.max(s, 1e-30));
}

cudaTest("ForgeryTalker tiny: losses, logits, gradients and greedy decode match the CPU", () => {
  const cpu = run("cpu"), gpu = run("cuda");
  for (const [k, v] of Object.entries(cpu.terms)) {
    assert.ok(
      Math.abs(gpu.terms[k] - v) <= 1e-3 * Math.max(1, Math.abs(v)),
      `${k}: cuda ${gpu.terms[k]} cpu ${v}`,
    );
  }
  assert.ok(rel(gpu.mask, cpu.mask) < 1e-3, `mask logits rel ${rel(gpu.mask, cpu.mask)}`);
  assert.ok(rel(gpu.lm, cpu.lm) < 1e-3, `lm logits rel ${rel(gpu.lm, cpu.lm)}`);
  for (const [k, g] of Object.entries(cpu.grads)) {
    assert.ok(gpu.grads[k], `no CUDA gradient for ${k}`);
    assert.ok(rel(gpu.grads[k], g) < 5e-3, `${k}: rel ${rel(gpu.grads[k], g)}`);
  }
  assert.deepEqual(gpu.greedy, cpu.greedy);
});

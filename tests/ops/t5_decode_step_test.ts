// The fused T5 decoder step (native/t5_decode_step.cpp via src/ops/t5_decode_step.ts) against the
// op-by-op step it replaces on the CPU: logits and the grown self-attention caches equal bit for
// bit, tied and untied heads, both GELU forms, int32 and float32 encoder masks, several rows;
// greedy and beam decodes give the same ids and scores. Bad input is a clear error.
// Run: .tools/deno test --allow-all tests/ops/t5_decode_step_test.ts
import assert from "node:assert/strict";
import { resolveConfig, type T5Config } from "../../src/model/config.ts";
import { T5, type T5DecodeCache } from "../../src/nn/t5.ts";
import { generate } from "../../src/infer/generate.ts";
import { intTensor, randn, tensor } from "../../src/tensor/create.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { noGrad } from "../../src/autograd/tape.ts";
import { tidy } from "../../src/tensor/scope.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

function toyT5(over: Partial<T5Config>, seed: number): T5 {
  const cfg = {
    ...resolveConfig("tiny").t5,
    vocabSize: 50,
    dModel: 48,
    dKv: 8,
    heads: 3,
    dFf: 40,
    encoderLayers: 1,
    decoderLayers: 2,
    ...over,
  };
  const t5 = new T5(cfg, new Rng(seed));
  t5.eval();
  return t5;
}

/** Runs `steps` cached steps with the fused kernel on or off; returns every step's logits and the caches. */
function run(t5: T5, enc: Tensor, mask: Tensor | null, ids: number[][], fused: boolean) {
  const prev = Deno.env.get("FT_T5_FUSED");
  Deno.env.set("FT_T5_FUSED", fused ? "1" : "0");
  try {
    const cache: T5DecodeCache = t5.startDecode(enc, mask, ids.length + 2);
    const logits: Float32Array[] = [];
    for (const step of ids) {
      logits.push(tidy(() => t5.decodeStep(intTensor(step, [step.length, 1]), cache).data().slice()));
    }
    const caches = cache.self.map((kv) => [kv.k.data().slice(), kv.v.data().slice()]);
    const lengths = [cache.length, ...cache.self.map((kv) => kv.length)];
    for (const kv of cache.self) kv.dispose();
    return { logits, caches, lengths };
  } finally {
    if (prev === undefined) Deno.env.delete("FT_T5_FUSED");
    else Deno.env.set("FT_T5_FUSED", prev);
  }
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length),
    ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

const cases: { name: string; over: Partial<T5Config>; mask: "int32" | "float32" | null; B: number }[] = [
  { name: "untied, gelu_tanh, float mask", over: { tied: false, act: "gelu_tanh" }, mask: "float32", B: 3 },
  { name: "tied, erf gelu, int32 mask", over: { tied: true, act: "gelu" }, mask: "int32", B: 2 },
  { name: "one row, no mask, 3 layers", over: { decoderLayers: 3 }, mask: null, B: 1 },
];

for (const c of cases) {
  Deno.test(`t5 fused decode step = op path (${c.name})`, () => {
    const t5 = toyT5(c.over, 7);
    try {
      noGrad(() =>
        tidy(() => {
          const Te = 5, V = t5.cfg.vocabSize;
          const enc = randn([c.B, Te, t5.cfg.dModel], new Rng(3));
          const keep = Array.from({ length: c.B * Te }, (_, i) => (i % Te < Te - (i / Te | 0) % 3 ? 1 : 0));
          const mask = c.mask === null
            ? null
            : c.mask === "int32"
            ? intTensor(keep, [c.B, Te])
            : tensor(keep, [c.B, Te]);
          const ids = Array.from({ length: 9 }, (_, t) =>
            Array.from({ length: c.B }, (_, b) => (t * 7 + b * 13) % V));
          const op = run(t5, enc, mask, ids, false);
          const fused = run(t5, enc, mask, ids, true);
          op.logits.forEach((l, t) =>
            sameBits(fused.logits[t], l, `step ${t} logits`)
          );
          op.caches.forEach(([k, v], l) => {
            sameBits(fused.caches[l][0], k, `layer ${l} key cache`);
            sameBits(fused.caches[l][1], v, `layer ${l} value cache`);
          });
          assert.deepEqual(fused.lengths, op.lengths);
          assert.deepEqual(fused.lengths, new Array(t5.cfg.decoderLayers + 1).fill(ids.length));
        })
      );
    } finally {
      t5.dispose();
    }
  });
}

Deno.test("t5 fused decode: greedy and beam decodes give the op path's ids and scores", () => {
  const t5 = toyT5({}, 21);
  try {
    noGrad(() =>
      tidy(() => {
        const enc = randn([2, 6, t5.cfg.dModel], new Rng(5));
        const mask = tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [2, 6]);
        for (const beams of [1, 4]) {
          const opts = { beams, maxNewTokens: 12, minLength: 3 };
          Deno.env.set("FT_T5_FUSED", "0");
          const ref = generate(t5, enc, mask, opts);
          Deno.env.delete("FT_T5_FUSED");
          const got = generate(t5, enc, mask, opts);
          assert.deepEqual(got, ref, `beams ${beams}`);
        }
      })
    );
  } finally {
    Deno.env.delete("FT_T5_FUSED");
    t5.dispose();
  }
});

Deno.test("t5 fused decode: a full cache and out-of-range ids are clear errors", () => {
  const t5 = toyT5({}, 2);
  try {
    noGrad(() =>
      tidy(() => {
        const enc = randn([1, 4, t5.cfg.dModel], new Rng(1));
        const cache = t5.startDecode(enc, null, 1);
        try {
          t5.decodeStep(intTensor([3], [1, 1]), cache);
          assert.throws(() => t5.decodeStep(intTensor([3], [1, 1]), cache), /capacity/);
        } finally {
          for (const kv of cache.self) kv.dispose();
        }
        const fresh = t5.startDecode(enc, null, 4);
        try {
          assert.throws(
            () => t5.decodeStep(intTensor([t5.cfg.vocabSize], [1, 1]), fresh),
            /t5DecodeStep.*ids/,
          );
        } finally {
          for (const kv of fresh.self) kv.dispose();
        }
      })
    );
  } finally {
    t5.dispose();
  }
});

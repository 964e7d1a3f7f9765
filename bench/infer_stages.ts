/**
 * Where inference time goes on one image (batch 1) of a freshly built model: FPN, image encoder,
 * Q-Former, mask decoder, T5 encoder, greedy and beam-5 decoding (40 tokens), median of a few runs.
 *
 *   .tools/deno run --allow-all bench/infer_stages.ts [--config tiny] [--reps 5]
 * @module
 */
import { parseArgs } from "node:util";
import { ForgeryTalker } from "../src/model/forgerytalker.ts";
import { exampleBatch } from "../src/model/example_batch.ts";
import { noGrad } from "../src/autograd/tape.ts";
import { tidy } from "../src/tensor/scope.ts";
import { generate } from "../src/infer/generate.ts";
import type { Tensor } from "../src/tensor/tensor.ts";

const { values } = parseArgs({
  options: { config: { type: "string", default: "tiny" }, reps: { type: "string", default: "5" } },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const model = new ForgeryTalker({ name: values.config, dropout: 0 }, 0);
model.eval();
const one = exampleBatch(model.cfg, 1, 9);
const times: Record<string, number[]> = {};
function timed<T>(name: string, f: () => T): T {
  const t0 = performance.now();
  const r = f();
  (times[name] ??= []).push(performance.now() - t0);
  return r;
}
for (let rep = 0; rep < Number(values.reps) + 1; rep++) {
  noGrad(() =>
    tidy(() => {
      timed("fpn", () => model.fpn.forward(one.images).logits.data());
      const image = timed("image encoder", () => {
        const t = model.encodeImage(one.images);
        t.data();
        return t;
      });
      const q = timed("q-former", () => {
        const t = model.queries(image, one.instrIds, one.instrMask);
        t.data();
        return t;
      });
      timed("mask decoder", () =>
        model.maskDecoder.forward({ image, regions: one.regions, queries: q }).data());
      const { enc, mask } = timed("t5 encoder", () => {
        const r = model.encodeReport(q, one.instrIds, one.instrMask);
        r.enc.data();
        return r;
      });
      timed("greedy 40", () =>
        generate(model.t5, enc, mask, { beams: 1, maxNewTokens: 40, minLength: 40 }));
      timed("beam5 40", () => generate(model.t5, enc, mask, { beams: 5, maxNewTokens: 40, minLength: 40 }));
    })
  );
  if (rep === 0) { for (const k in times) times[k] = []; // warm-up
   }
}
for (const [k, v] of Object.entries(times)) console.log(`${k.padEnd(14)} ${median(v).toFixed(1)} ms`);
for (const t of Object.values(one)) (t as Tensor).dispose();

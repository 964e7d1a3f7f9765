// The trainer's --precision on CUDA (src/train/trainer.ts): a micro ForgeryTalker pretrains a few
// steps at fp32, bf16 and fp16 on the same synthetic batches; every loss is finite, the 16-bit
// runs track the fp32 losses step by step (within 5 %: operands rounded to 16 bits, fp32
// accumulation), the fp16 run logs its loss scale and checkpoints the scaler, and an fp16 run
// resumed from its checkpoint repeats the uninterrupted losses exactly. Skipped without a device.
import assert from "node:assert/strict";
import { cudaTest } from "./cuda_helpers.ts";
import { generateDataset } from "../../src/data/synth/generate.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { train, type TrainOptions } from "../../src/train/trainer.ts";
import { MICRO, microOptions } from "../train/micro_fixture.ts";
import { disposeCheckpoint, readCheckpoint } from "../../src/train/run_checkpoint.ts";
import { getDefaultDevice, setDefaultDevice } from "../../src/tensor/tensor.ts";

function options(
  out: string,
  precision: "fp32" | "bf16" | "fp16",
  over: Partial<TrainOptions> = {},
): TrainOptions {
  return microOptions(out, ["pretrain"], {
    config: { ...MICRO, dropout: 0 },
    steps: { fpn: 6, pretrain: 6, finetune: 6 },
    finetuneRegions: "gt",
    saveEvery: 3,
    augment: false,
    precision,
    ...over,
  });
}

const log = (out: string) =>
  Deno.readTextFileSync(`${out}/log.jsonl`).split("\n").filter((l) => l.includes('"type":"train"')).map((l) =>
    JSON.parse(l)
  );

cudaTest(
  "trainer --precision bf16/fp16 tracks fp32; fp16 scaler checkpointed and resumed exactly",
  async () => {
    const root = Deno.makeTempDirSync({ prefix: "ft_amp_" });
    const prev = getDefaultDevice();
    setDefaultDevice("cuda");
    try {
      const dataDir = `${root}/data`;
      await generateDataset({ out: dataDir, n: 30, seed: 5, size: 64, workers: 0, quiet: true });
      const d = {
        train: await readMMTT(splitPath(dataDir, "train"), dataDir),
        val: await readMMTT(splitPath(dataDir, "eval"), dataDir),
      };
      const losses: Record<string, number[]> = {};
      for (const p of ["fp32", "bf16", "fp16"] as const) {
        await train(options(`${root}/${p}`, p), d);
        losses[p] = log(`${root}/${p}`).map((r) => r.loss);
        assert.equal(losses[p].length, 6, p);
        assert.ok(losses[p].every(Number.isFinite), `${p}: ${losses[p]}`);
      }
      for (const p of ["bf16", "fp16"]) {
        losses[p].forEach((l, i) => {
          const ref = losses.fp32[i];
          assert.ok(Math.abs(l - ref) <= 0.05 * Math.abs(ref), `${p} step ${i + 1}: ${l} vs fp32 ${ref}`);
        });
      }
      const fp16 = log(`${root}/fp16`);
      assert.ok(fp16.every((r) => r.loss_scale > 0 && r.overflow_steps >= 0), "fp16 logs its loss scale");
      const c = readCheckpoint(`${root}/fp16/pretrain-last.safetensors`);
      assert.ok(c.meta.scaler && c.meta.scaler.scale > 0, "the scaler state is in the checkpoint");
      disposeCheckpoint(c);
      // interrupted at 3, resumed: the same six losses
      await train(options(`${root}/part`, "fp16", { stopAfter: 3 }), d);
      await train(options(`${root}/part`, "fp16", { resume: `${root}/part/pretrain-last.safetensors` }), d);
      assert.deepEqual(log(`${root}/part`).map((r) => r.loss), losses.fp16);
    } finally {
      setDefaultDevice(prev);
      Deno.removeSync(root, { recursive: true });
    }
  },
);

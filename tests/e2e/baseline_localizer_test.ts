/**
 * End-to-end: the stand-in localizer baseline (src/baselines/localizer_baseline.ts) run in-process with tiny settings (24 samples at
 * 64x64, 32x32 model input, 30 steps) into a temp folder. Asserts every file it promises
 * exists, the training loss fell ≥ 1.4x (mean of the first vs last 7 steps), the report has
 * finite IoU / precision / recall and all caption-metric columns, the caption is the labelled
 * template baseline, tensor memory returns to its start, a second run reuses the data, and
 * bad flags are one-line usage errors (exit 2). About 15–30 s on a 2-core machine.
 */
import { ok as assert, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../src/baselines/localizer_baseline.ts";
import { memoryStats } from "../../src/tensor/storage.ts";
import { loadSafetensors } from "../../src/train/checkpoint.ts";

const LOSS_FACTOR = 1.4;

const exists = async (p: string) => {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test({
  name: "e2e: localizer baseline trains, predicts and evaluates end to end (tiny settings)",
  sanitizeResources: false, // the synth workers' and codecs' handles outlive the call
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "ft_demo_" });
    try {
      const args = [
        ...["--out", out, "--n", "24", "--steps", "30", "--seed", "3", "--device", "cpu"],
        ...["--size", "64", "--input", "32", "--batch", "8"],
      ];
      const lines: string[] = [];
      const live0 = memoryStats().liveBytes;
      const t0 = performance.now();
      const code = await main(args, (l) => lines.push(l));
      const secs = (performance.now() - t0) / 1000;
      strictEqual(code, 0, `baseline failed:\n${lines.join("\n")}`);
      strictEqual(memoryStats().liveBytes, live0, "baseline leaked tensor memory");

      for (const f of ["localizer.safetensors", "PRED.json", "report.json", "data/test-mutilabel.json"]) {
        assert(await exists(join(out, f)), `missing ${f}`);
      }
      const test = JSON.parse(await Deno.readTextFile(join(out, "data/test-mutilabel.json")));
      const pred = JSON.parse(await Deno.readTextFile(join(out, "PRED.json")));
      strictEqual(pred.length, test.length, "one prediction per test record");
      for (const p of pred) {
        assert(await exists(join(out, p.mask_path)), `missing mask ${p.mask_path}`);
        assert(/^The .+ shows? signs of manipulation\.$/.test(p.caption), `caption '${p.caption}'`);
        strictEqual(p.multilabel.length, 21);
      }
      const ckpt = loadSafetensors(join(out, "localizer.safetensors"));
      assert(ckpt.tensors.has("stem.conv.weight") && ckpt.tensors.has("region_head.weight"));
      strictEqual(ckpt.metadata.format, "forgerytalker-demo-localizer");
      for (const t of ckpt.tensors.values()) t.dispose();

      const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
      const { firstLoss, lastLoss, losses } = report.demo.train;
      strictEqual(losses.length, 30);
      assert(
        firstLoss / lastLoss >= LOSS_FACTOR,
        `loss fell only ${(firstLoss / lastLoss).toFixed(2)}x (${firstLoss} -> ${lastLoss})`,
      );
      const all = report.rows[0];
      strictEqual(all.name, "all");
      for (const k of ["IoU", "Precision", "Recall"]) {
        assert(Number.isFinite(all[k]) && all[k] >= 0 && all[k] <= 100, `${k} = ${all[k]}`);
      }
      for (const k of ["CIDEr", "METEOR", "BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "PLM"]) {
        assert(k in all && Number.isFinite(all[k]), `caption metric ${k} = ${all[k]}`);
      }
      strictEqual(Object.values(report.issues).reduce((a: number, b) => a + (b as number), 0), 0);
      assert(lines.some((l) => l.includes("template baseline") && l.includes("later issue")));
      assert(lines.some((l) => /^all +\d/m.test(l)), "the table was printed");
      console.log(
        `  demo: loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)} (${
          (firstLoss / lastLoss).toFixed(2)
        }x), ` +
          `IoU ${all.IoU.toFixed(1)}, ${secs.toFixed(1)} s`,
      );

      // Second run: the data set is reused, not regenerated.
      const again: string[] = [];
      strictEqual(await main([...args, "--steps", "2", "--quiet"], (l) => again.push(l)), 0);
      assert(again.some((l) => l.includes("reusing")), `data not reused:\n${again.join("\n")}`);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("e2e: localizer baseline rejects bad flags with a one-line error and exit code 2", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    strictEqual(await main(["--steps", "zero"]), 2);
    strictEqual(await main(["--device", "tpu"]), 2);
    strictEqual(await main(["--input", "30"]), 2);
    strictEqual(await main(["--bogus"]), 2);
  } finally {
    console.error = orig;
  }
  assert(errors[0].startsWith("localizer baseline: --steps: expected an integer ≥ 1, got 'zero'"), errors[0]);
  assert(
    errors[1].startsWith("localizer baseline: --device: expected auto, cpu or cuda, got 'tpu'"),
    errors[1],
  );
  assert(errors[2].includes("--input: expected a multiple of 8"), errors[2]);
  assert(errors[3].startsWith("localizer baseline: "), errors[3]);
});

/**
 * End-to-end: `deno task demo` on two images (one forged face + the untouched one) with the
 * bundled model, in-process, into a temp folder. Checks that every promised file exists and
 * that the outputs agree with each other: each mask PNG has the forged-pixel count its JSON
 * report states, predictions.json carries the reports' explanations and regions, report.json's
 * rows match the reports, the evaluation scored both images, and a second run with the same
 * seed reproduces the explanations. Skips with one line when the bundled model is absent.
 */
import { deepStrictEqual, ok as assert, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../src/cli/demo.ts";
import { defaultCheckpoint } from "../../src/infer/analyze.ts";
import { readImage } from "../../src/data/image_io.ts";
import { REGIONS } from "../../src/data/regions.ts";

const ckpt = defaultCheckpoint();

Deno.test({
  name: "e2e: demo analyses two images with the bundled model and its outputs agree",
  ignore: !ckpt,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "ft_demo_" });
    try {
      const run = async (dir: string) => {
        const lines: string[] = [];
        const code = await main(
          ["--out", dir, "--n", "1", "--seed", "3", "--greedy", "--device", "cpu", "--no-photo"],
          (l) => lines.push(l),
        );
        strictEqual(code, 0, `demo failed:\n${lines.join("\n")}`);
        return lines;
      };
      const lines = await run(out);
      const report = JSON.parse(await Deno.readTextFile(join(out, "report.json")));
      strictEqual(report.rows.length, 2, "one forged + one untouched image");
      strictEqual(report.rows.filter((r: { kind: string }) => r.kind === "untouched").length, 1);
      const preds = JSON.parse(await Deno.readTextFile(join(out, "predictions.json")));
      strictEqual(preds.length, 2);
      for (let i = 0; i < 2; i++) {
        const row = report.rows[i];
        for (const f of ["mask", "overlay", "json"] as const) {
          assert((await Deno.stat(row.outputs[f])).size > 0, `${row.outputs[f]} is empty`);
        }
        const rep = JSON.parse(await Deno.readTextFile(row.outputs.json));
        strictEqual(rep.explanation, row.explanation);
        strictEqual(preds[i].caption, rep.explanation);
        deepStrictEqual(rep.regions.selected, row.regions);
        deepStrictEqual(
          REGIONS.filter((_, k) => preds[i].multilabel[k] === 1),
          rep.regions.selected,
          "predictions.json regions = the report's selected regions",
        );
        const mask = await readImage(row.outputs.mask);
        strictEqual(mask.width, rep.mask.width);
        let forged = 0;
        for (const v of mask.data) forged += v > 127 ? 1 : 0;
        strictEqual(forged, rep.mask.forgedPixels, "mask PNG = the report's forged-pixel count");
        const overlay = await readImage(row.outputs.overlay);
        assert(overlay.width >= rep.mask.width, "overlay at least as wide as the image");
        assert(row.explanation.trim().length > 0, "an explanation was written");
        assert(row.iou >= 0 && row.iou <= 1);
        assert(lines.some((l) => l.includes(row.explanation)), "the explanation was printed");
      }
      const all = report.evaluation.rows.find((r: { name: string }) => r.name === "all") ??
        report.evaluation.rows[0];
      strictEqual(all.n, 2, "both images scored");
      // same seed, same outputs
      const out2 = join(out, "again");
      await run(out2);
      const again = JSON.parse(await Deno.readTextFile(join(out2, "report.json")));
      deepStrictEqual(
        again.rows.map((r: { explanation: string }) => r.explanation),
        report.rows.map((r: { explanation: string }) => r.explanation),
      );
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});

Deno.test("e2e: demo rejects bad flags with a one-line error and exit code 2", async () => {
  for (const args of [["--n", "0"], ["--greedy", "--beams", "3"], ["--device", "tpu"], ["--bogus"]]) {
    strictEqual(await main(args, () => {}), 2, args.join(" "));
  }
});

// `deno task eval --ckpt`: the model's predictions scored by the evaluator equal `--pred` on
// the saved predictions, and agree with an independent computation from `analyze`;
// --robustness, --ablate and --compare produce their tables.
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals } from "../eval/assert_helpers.ts";
import { fixture } from "./fixture.ts";
import { main } from "../../src/cli/eval.ts";
import { analyzeBatch, type Report } from "../../src/infer/analyze.ts";
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { readImage, toGray } from "../../src/data/image_io.ts";
import { maskMetrics } from "../../src/eval/mask_metrics.ts";
import { plm } from "../../src/eval/plm.ts";
import { REGIONS } from "../../src/data/regions.ts";

async function quiet<T>(fn: () => Promise<T>): Promise<{ v: T; out: string }> {
  let out = "";
  const log = console.log, error = console.error, w = Deno.stderr.writeSync;
  console.log = (...a: unknown[]) => (out += a.join(" ") + "\n");
  console.error = () => {};
  Deno.stderr.writeSync = (b: Uint8Array) => b.length;
  try {
    return { v: await fn(), out };
  } finally {
    console.log = log, console.error = error, Deno.stderr.writeSync = w;
  }
}

Deno.test("eval --ckpt == eval --pred on the saved predictions, and matches analyze()", async () => {
  const f = await fixture();
  const preds = join(f.dir, "preds"), a = join(f.dir, "rep_ckpt.json"), b = join(f.dir, "rep_pred.json");
  const dec = ["--greedy", "--max-new-tokens", "6"];
  const r1 = await quiet(() =>
    main(["--ckpt", f.ckpt, "--data", f.data, "--out", a, "--save-preds", preds, "--batch", "2", ...dec])
  );
  assertEquals(r1.v, 0);
  const r2 = await quiet(() =>
    main(["--pred", join(preds, "predictions.json"), "--data", f.data, "--out", b])
  );
  assertEquals(r2.v, 0);
  const ra = JSON.parse(await Deno.readTextFile(a)), rb = JSON.parse(await Deno.readTextFile(b));
  assertEquals(ra.rows, rb.rows);
  assert(ra.model.sha256.length === 64 && ra.decoding.mode === "greedy");

  // independent: analyze the same images, score the model-resolution maps and FPN regions directly
  const recs = await readMMTT(splitPath(f.data, "test"), f.data, { checkFiles: false });
  assert(recs.length >= 2);
  const reps = (await analyzeBatch(recs.map((r) => r.imageFile), {
    ckpt: f.ckpt,
    greedy: true,
    maxNewTokens: 6,
  })) as Report[];
  const saved = JSON.parse(await Deno.readTextFile(join(preds, "predictions.json")));
  assertEquals(saved.map((p: { caption: string }) => p.caption), reps.map((r) => r.explanation));
  const S = reps[0].model.imageSize;
  const gts = await Promise.all(recs.map(async (r) => {
    const g = toGray(await readImage(r.maskFile!));
    return { width: g.width, height: g.height, data: g.data };
  }));
  const mm = maskMetrics(reps.map((r) => ({ width: S, height: S, data: r.mask.modelProbability })), gts);
  const all = ra.rows[0];
  assertAlmostEquals(all.IoU, mm.iou * 100, 1e-9);
  assertAlmostEquals(all.Precision, mm.precision * 100, 1e-9);
  assertAlmostEquals(all.Recall, mm.recall * 100, 1e-9);
  const fpnLabels = reps.map((r) => REGIONS.map((n) => (r.regions.selected.includes(n) ? 1 : 0)));
  assertAlmostEquals(all.PLM, plm(fpnLabels, recs.map((r) => r.multilabel)) * 100, 1e-9);

  const cmp = await quiet(() => main(["--compare", a, b]));
  assertEquals(cmp.v, 0);
  assert(cmp.out.includes("B - A") && cmp.out.includes("+0.00"), cmp.out);
});

Deno.test("eval --ckpt --robustness and --ablate: every variant scored, paper layouts printed", async () => {
  const f = await fixture();
  const out = join(f.dir, "rep_rob.json");
  const r = await quiet(() =>
    main([
      "--ckpt",
      f.ckpt,
      "--data",
      f.data,
      "--out",
      out,
      "--limit",
      "1",
      "--greedy",
      "--max-new-tokens",
      "4",
      "--robustness",
      "--ablate",
      "full=@fpn,oracle=@gt,no-fpn=@none",
    ])
  );
  assertEquals(r.v, 0);
  const rep = JSON.parse(await Deno.readTextFile(out));
  assertEquals(Object.keys(rep.robustness), [
    "clean",
    "down_0.75",
    "down_0.5",
    "blur_k5",
    "blur_k11",
    "both_0.75_k5",
    "both_0.5_k11",
  ]);
  assertEquals(rep.ablation.map((e: { label: string }) => e.label), ["full", "oracle", "no-fpn"]);
  assertEquals(rep.ablation[0].rows, rep.rows, "the fpn ablation entry is the plain run");
  for (const name of ["down_0.5", "blur_k11", "oracle", "no-fpn", "Robustness", "Ablation"]) {
    assert(r.out.includes(name), name);
  }
});

// analyze / analyzeBatch / loadModel on an untrained tiny checkpoint: report consistency,
// input forms, batched = one by one, the resize rule, and every bad input.
import { crc32 } from "node:zlib";
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../eval/assert_helpers.ts";
import { assertClose } from "../helpers.ts";
import { fixture } from "./fixture.ts";
import {
  analyze,
  analyzeBatch,
  loadModel,
  type Report,
  reportJSON,
  resizeBilinear,
} from "../../src/infer/analyze.ts";
import { decodeImage, encodeJpeg, readImage } from "../../src/data/image_io.ts";
import { resizeBicubic } from "../../src/data/transforms.ts";
import { REGIONS } from "../../src/data/regions.ts";
import { instruction, selectedRegions } from "../../src/model/instruction.ts";
import { ForgeryTalker } from "../../src/model/forgerytalker.ts";
import { saveCheckpoint } from "../../src/train/run_checkpoint.ts";
import { saveSafetensors } from "../../src/train/checkpoint.ts";
import { tensor } from "../../src/tensor/create.ts";
import { interpolate } from "../../src/ops/resize.ts";
import { tidy } from "../../src/tensor/scope.ts";

const FAST = { greedy: true, maxNewTokens: 6 } as const;

function checkConsistent(r: Report) {
  const probs = REGIONS.map((n) => r.regions.probabilities[n]);
  assertEquals(Object.keys(r.regions.probabilities), [...REGIONS]);
  assert(probs.every((p) => p >= 0 && p <= 1));
  assertEquals(r.regions.selected, selectedRegions(probs, r.regions.threshold));
  assertEquals(r.instruction, instruction(r.regions.selected, "paper"));
  const { width: W, height: H } = r.mask;
  assertEquals([W, H], [r.image.width, r.image.height]);
  assertEquals(r.mask.probability.length, W * H);
  let forged = 0;
  for (let i = 0; i < W * H; i++) {
    assertEquals(r.mask.binary[i], r.mask.probability[i] >= r.mask.threshold ? 1 : 0);
    forged += r.mask.binary[i];
  }
  assertEquals(r.mask.forgedPixels, forged);
  assertAlmostEquals(r.mask.areaFraction, forged / (W * H), 1e-12);
  assertEquals(r.mask.modelProbability.length, r.model.imageSize ** 2);
  assert(r.explanation.length > 0, "an explanation");
  assert(r.timings.total > 0);
}

Deno.test("analyze: report consistency, model id and checksum, JSON form without pixel arrays", async () => {
  const f = await fixture();
  const r = await analyze(f.images[0], { ckpt: f.ckpt, ...FAST });
  checkConsistent(r);
  const bytes = await Deno.readFile(f.ckpt);
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assertEquals(r.model.sha256, sha);
  assertEquals(r.model.config, "tiny");
  assertEquals(r.decoding, {
    mode: "greedy",
    beams: 1,
    maxNewTokens: 6,
    minLength: 5,
    repetitionPenalty: 1.5,
    lengthPenalty: 1,
  });
  const j = JSON.parse(JSON.stringify(reportJSON(r)));
  assertEquals(j.mask.probability, undefined);
  assertEquals(j.mask.areaFraction, r.mask.areaFraction);
  assertEquals(j.instruction, r.instruction);
});

Deno.test("analyze: a path, its bytes and its pixels give the same report; the mask comes back at the input size", async () => {
  const f = await fixture();
  const m = await loadModel(f.ckpt);
  assert((await loadModel(f.ckpt)) === m, "loadModel caches");
  const bytes = await Deno.readFile(f.images[1]);
  const a = await analyze(f.images[1], { ckpt: m, ...FAST });
  const b = await analyze(bytes, { ckpt: m, ...FAST });
  const c = await analyze(decodeImage(bytes), { ckpt: m, ...FAST });
  for (const x of [b, c]) {
    assertEquals(x.explanation, a.explanation);
    assertEquals(x.regions, a.regions);
    assertEquals(Array.from(x.mask.binary), Array.from(a.mask.binary));
  }
  // a non-square input (96 x 40): mask at 96 x 40, equal to the bilinear resize of the model map
  const wide = resizeBicubic(decodeImage(bytes), 96, 40);
  const r = await analyze(wide, { ckpt: m, ...FAST });
  checkConsistent(r);
  assertEquals([r.mask.width, r.mask.height], [96, 40]);
  const S = r.model.imageSize;
  assertClose(r.mask.probability, resizeBilinear(r.mask.modelProbability, S, S, 96, 40), {
    what: "input-size map",
  });
});

Deno.test("resizeBilinear matches the engine's interpolate (align_corners = false)", () => {
  const sw = 7, sh = 5;
  const src = Float32Array.from({ length: sw * sh }, (_, i) => Math.sin(i * 1.7) * 3);
  for (const [dw, dh] of [[13, 11], [3, 2], [7, 5], [20, 4]]) {
    const ref = tidy(() => interpolate(tensor(src, [1, 1, sh, sw]), dh, dw, "bilinear").data().slice());
    assertClose(resizeBilinear(src, sw, sh, dw, dh), ref, { rtol: 1e-5, atol: 1e-5, what: `${dw}x${dh}` });
  }
});

Deno.test("analyzeBatch: batched results equal one-by-one (greedy and beam)", async () => {
  const f = await fixture();
  const m = await loadModel(f.ckpt);
  for (const dec of [FAST, { beams: 2, maxNewTokens: 5 }]) {
    const batched = await analyzeBatch(f.images, { ckpt: m, batch: 3, ...dec });
    for (let i = 0; i < f.images.length; i++) {
      const one = await analyze(f.images[i], { ckpt: m, ...dec });
      const b = batched[i] as Report;
      assert(!(b instanceof Error));
      assertEquals(b.batchSize, 3);
      assertEquals(b.explanation, one.explanation);
      assertEquals(b.instruction, one.instruction);
      assertEquals(b.regions.selected, one.regions.selected);
      assertClose(
        REGIONS.map((n) => b.regions.probabilities[n]),
        REGIONS.map((n) => one.regions.probabilities[n]),
        {
          rtol: 1e-4,
          atol: 1e-5,
          what: "region probabilities",
        },
      );
      assertClose(b.mask.probability, one.mask.probability, { rtol: 1e-4, atol: 1e-5, what: "mask" });
      assertAlmostEquals(b.explanationScore, one.explanationScore, 1e-3);
    }
  }
});

Deno.test("analyze: bad inputs are one clear error each; a batch keeps going", async () => {
  const f = await fixture();
  const m = await loadModel(f.ckpt);
  const png = await Deno.readFile(f.images[0]);
  const jpg = encodeJpeg(await readImage(f.images[0]), 90);
  const dir = join(f.dir, "bad");
  await Deno.mkdir(dir, { recursive: true });
  // a PNG header claiming 100000 x 100000 pixels (decompression bomb): refused from the header
  const bomb = png.slice(0, 33);
  new DataView(bomb.buffer).setUint32(16, 100000);
  new DataView(bomb.buffer).setUint32(20, 100000);
  // keep the header's CRC valid, so the size cap (not the corrupt-chunk check) refuses it
  new DataView(bomb.buffer).setUint32(29, crc32(bomb.subarray(12, 29)) >>> 0);
  const cases: [Uint8Array | string, RegExp][] = [
    [join(dir, "missing.png"), /missing\.png.*cannot read file/],
    [new TextEncoder().encode("hello, not an image"), /expected PNG or JPEG/],
    [png.slice(0, Math.floor(png.length / 2)), /truncated|corrupt|IEND|IDAT|end/i],
    [jpg.slice(0, Math.floor(jpg.length / 2)), /truncated|corrupt/i],
    [bomb, /100000x100000.*exceeds the limit/],
  ];
  for (const [input, re] of cases) await assertRejects(() => analyze(input, { ckpt: m, ...FAST }), re);
  const res = await analyzeBatch([cases[1][0], f.images[0], cases[0][0]], { ckpt: m, ...FAST });
  assert(res[0] instanceof Error && res[2] instanceof Error);
  checkConsistent(res[1] as Report);
  await assertRejects(() => analyze(png, { ckpt: m, ...FAST, maxPixels: 100 }), /exceeds the limit/);
});

Deno.test("loadModel: missing, corrupt, foreign and other-version checkpoints are clear errors", async () => {
  const f = await fixture();
  const dir = join(f.dir, "ckpts");
  await Deno.mkdir(dir, { recursive: true });
  await assertRejects(() => loadModel(join(dir, "nope.safetensors")), /nope\.safetensors.*cannot read file/);
  const junk = join(dir, "junk.safetensors");
  await Deno.writeFile(junk, crypto.getRandomValues(new Uint8Array(300)));
  await assertRejects(() => loadModel(junk), /junk\.safetensors/);
  const foreign = join(dir, "foreign.safetensors");
  saveSafetensors(foreign, new Map([["w", tensor([1, 2], [2])]]), {});
  await assertRejects(() => loadModel(foreign), /not a ForgeryTalker checkpoint/);
  const model = new ForgeryTalker("tiny", 1);
  const v99 = join(dir, "v99.safetensors");
  // deno-lint-ignore no-explicit-any
  saveCheckpoint(v99, model, { version: 99, config: model.cfg } as any, null);
  for (const [, t] of model.stateDict()) t.dispose();
  await assertRejects(() => loadModel(v99), /format version 99/);
  const cut = join(dir, "cut.safetensors");
  const full = await Deno.readFile(f.ckpt);
  await Deno.writeFile(cut, full.slice(0, full.length >> 1));
  await assertRejects(() => loadModel(cut), /cut\.safetensors/);
});

Deno.test("mod.ts exports analyze, analyzeBatch and loadModel (DESIGN §6)", async () => {
  const ft = await import("../../mod.ts");
  for (
    const name of [
      "analyze",
      "analyzeBatch",
      "loadModel",
      "reportJSON",
      "renderOverlay",
      "predictSplit",
    ] as const
  ) {
    assertEquals(typeof ft[name], "function", name);
  }
});

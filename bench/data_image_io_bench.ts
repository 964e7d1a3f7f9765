/**
 * Data-layer benchmarks: image codecs, face rendering and one full synthetic sample.
 * Run: deno bench --allow-read --allow-write --allow-env bench/data_image_io_bench.ts
 */
import { decodeImage, encodeJpeg, encodePng } from "../src/data/image_io.ts";
import { Rng } from "../src/data/rng.ts";
import { sampleFace } from "../src/data/synth/face_params.ts";
import { renderFace } from "../src/data/synth/face_render.ts";
import { generateSample } from "../src/data/synth/sample.ts";

const face = renderFace(sampleFace(new Rng(1)));
const img = { width: 512, height: 512, channels: 3 as const, data: face.toBytes() };
const png = encodePng(img, 1);
const jpg = encodeJpeg(img, 90);

Deno.bench("png encode 512² level 1", () => void encodePng(img, 1));
Deno.bench("png decode 512²", () => void decodeImage(png));
Deno.bench("jpeg encode 512² q90", () => void encodeJpeg(img, 90));
Deno.bench("jpeg decode 512²", () => void decodeImage(jpg));
let i = 0;
Deno.bench("render face 512²", () => void renderFace(sampleFace(Rng.derive(2, i++))));
let j = 0;
Deno.bench("synth sample 512² (no file I/O)", () => void generateSample(3, j++));

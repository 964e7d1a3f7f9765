/**
 * Feasibility probe for issue 14's photo mode, kept for reference; the pipeline's version is
 * src/data/photos/landmarks.ts (which finds the package in node_modules). It runs the face
 * detector and 68-point landmark model that ship inside the `@vladmandic/face-api` npm package
 * (MIT; weights in its `model/` folder, tfjs bundled in `dist/face-api.esm.js`) on one image,
 * in Deno, on the tfjs CPU backend, with nothing downloaded at run time.
 *
 *   npm pack @vladmandic/face-api@1.7.15 && tar xzf vladmandic-face-api-1.7.15.tgz   # gives ./package
 *   .tools/deno run --allow-read --allow-env scripts/face_landmarks_probe.ts ./package IMAGE.(png|jpg)
 *
 * Prints the face box, the 68 landmarks' bounding box and the time taken.
 */
import { resolve } from "node:path";
import { readImage, toRgb } from "../src/data/image_io.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const [pkgArg, imageArg] = Deno.args;
if (!pkgArg || !imageArg) {
  console.error(
    "usage: deno run --allow-read --allow-env scripts/face_landmarks_probe.ts FACE_API_PACKAGE_DIR IMAGE",
  );
  Deno.exit(1);
}
const pkg = resolve(pkgArg);
const g = globalThis as Any;
// tfjs picks its Node platform when it sees `process.versions.node`, and Deno's node shim lacks
// what that platform needs; with `process` hidden and window/document stubs it takes its
// browser platform (fetch, TextEncoder, performance: all present in Deno).
const saved = g.process;
Object.defineProperty(g, "process", { value: undefined, configurable: true, writable: true });
g.window = g;
g.document = {};
const faceapi: Any = await import(`file://${pkg}/dist/face-api.esm.js`);
g.process = saved;
delete g.window;
delete g.document;
const tf = faceapi.tf;
await tf.setBackend("cpu");
await tf.ready();
// face-api checks inputs against media classes; we only pass tensors, so stubs suffice
class Never {}
faceapi.env.setEnv({
  Canvas: Never,
  CanvasRenderingContext2D: Never,
  Image: Never,
  ImageData: Never,
  Video: Never,
  createCanvasElement: () => {
    throw new Error("face-api probe: no canvas in Deno");
  },
  createImageElement: () => {
    throw new Error("face-api probe: no image element in Deno");
  },
  fetch,
  readFile: (p: string) => Deno.readFile(p),
});

async function weights(name: string): Promise<unknown> {
  const manifest = JSON.parse(await Deno.readTextFile(`${pkg}/model/${name}-weights_manifest.json`));
  const specs: unknown[] = [], parts: Uint8Array[] = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(await Deno.readFile(`${pkg}/model/${p}`));
  }
  const buf = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const p of parts) (buf.set(p, o), o += p.length);
  return tf.io.decodeWeights(buf.buffer, specs);
}

await faceapi.nets.tinyFaceDetector.loadFromWeightMap(await weights("tiny_face_detector_model"));
await faceapi.nets.faceLandmark68Net.loadFromWeightMap(await weights("face_landmark_68_model"));
const img = toRgb(await readImage(imageArg));
const x = tf.tensor3d(img.data, [img.height, img.width, 3], "int32");
const t0 = performance.now();
const r = await faceapi.detectSingleFace(
  x,
  new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.2 }),
)
  .withFaceLandmarks();
const ms = performance.now() - t0;
if (!r) {
  console.log(`no face found (${ms.toFixed(0)} ms)`);
} else {
  const pts: { x: number; y: number }[] = r.landmarks.positions;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const b = r.detection.box;
  console.log(
    `face box x ${b.x.toFixed(0)} y ${b.y.toFixed(0)} w ${b.width.toFixed(0)} h ${b.height.toFixed(0)}`,
  );
  console.log(
    `${pts.length} landmarks in x ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}, y ${
      Math.min(...ys).toFixed(0)
    }–${Math.max(...ys).toFixed(0)}; ${ms.toFixed(0)} ms`,
  );
}

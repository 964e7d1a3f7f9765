/**
 * 68-point facial landmarks for real photographs, from the TinyFaceDetector and the 68-point
 * landmark net that ship inside the `@vladmandic/face-api` npm package (MIT; its weights are
 * files in the package's `model/` folder, tfjs is bundled in `dist/face-api.esm.js`), run on
 * the tfjs CPU backend. Nothing is downloaded at run time.
 *
 * Landmark order is the iBUG 300-W one: 0–16 jaw (image left to right), 17–21 and 22–26 the
 * brows, 27–30 the nose bridge, 31–35 the nostrils, 36–41 and 42–47 the eyes, 48–59 the outer
 * lip line, 60–67 the inner one. Test: tests/data/photos_test.ts.
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type { Image } from "../image_io.ts";
import { toRgb } from "../image_io.ts";

/** npm package that carries the detector, the landmark net and their weights. */
export const FACE_API_PACKAGE = "@vladmandic/face-api";

/** One detected face: 68 landmarks (x, y pairs in pixels) and the detector's box and score. */
export interface FaceLandmarks {
  /** [68 × 2] x0, y0, x1, y1, … in image pixels. */
  points: Float64Array;
  box: { x: number; y: number; width: number; height: number };
  score: number;
}

// deno-lint-ignore no-explicit-any
type Any = any;

let model: Promise<Any> | null = null;

// Folder of the installed package (found like the codecs' .wasm files, through node resolution).
function packageDir(): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(`${FACE_API_PACKAGE}/package.json`));
  } catch {
    throw new Error(
      `photos: the npm package ${FACE_API_PACKAGE} is not installed (run 'npm install' in the repo root; ` +
        "it ships the face detector and landmark weights)",
    );
  }
}

async function load(): Promise<Any> {
  const pkg = packageDir();
  const g = globalThis as Any;
  // tfjs picks its Node platform when it sees `process.versions.node`, and Deno's node shim
  // lacks what that platform needs; with `process` hidden and window/document stubs it takes
  // its browser platform (fetch, TextEncoder, performance: all present in Deno). The globals
  // are restored as soon as the bundle has been evaluated.
  const saved = g.process, hadWindow = "window" in g, hadDocument = "document" in g;
  Object.defineProperty(g, "process", { value: undefined, configurable: true, writable: true });
  if (!hadWindow) g.window = g;
  if (!hadDocument) g.document = {};
  let faceapi: Any;
  try {
    faceapi = await import(`file://${pkg}/dist/face-api.esm.js`);
  } finally {
    g.process = saved;
    if (!hadWindow) delete g.window;
    if (!hadDocument) delete g.document;
  }
  const tf = faceapi.tf;
  await tf.setBackend("cpu");
  await tf.ready();
  // face-api checks inputs against media classes; we pass tensors only, so stubs suffice
  class Never {}
  const noMedia = () => {
    throw new Error("photos: face-api has no canvas or image element in Deno (pass tensors)");
  };
  faceapi.env.setEnv({
    Canvas: Never,
    CanvasRenderingContext2D: Never,
    Image: Never,
    ImageData: Never,
    Video: Never,
    createCanvasElement: noMedia,
    createImageElement: noMedia,
    fetch,
    readFile: (p: string) => Deno.readFile(p),
  });
  const weights = async (name: string) => {
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
  };
  await faceapi.nets.tinyFaceDetector.loadFromWeightMap(await weights("tiny_face_detector_model"));
  await faceapi.nets.faceLandmark68Net.loadFromWeightMap(await weights("face_landmark_68_model"));
  return faceapi;
}

/** Load the detector and landmark net once per isolate (about 1 s; later calls reuse them). */
export function loadFaceModel(): Promise<Any> {
  if (!model) {
    model = load().catch((e) => {
      model = null;
      throw e;
    });
  }
  return model;
}

/**
 * Detect the most confident face in `img` and its 68 landmarks; null when no face is found.
 * A face that fills the frame (a tight crop) is often missed by the detector, so a second try
 * runs on the image centred in a frame twice its size (filled with its mean colour).
 * Deterministic (tfjs CPU backend). Takes ~0.3–2 s per image on one core, so callers cache it.
 */
export async function detectFace(img: Image, minScore = 0.3): Promise<FaceLandmarks | null> {
  const rgb = toRgb(img);
  const direct = await detectOnce(rgb, minScore);
  if (direct) return direct;
  const W = rgb.width, H = rgb.height, PW = 2 * W, PH = 2 * H, ox = W >> 1, oy = H >> 1;
  const mu = [0, 0, 0];
  for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) mu[c] += rgb.data[i * 3 + c];
  const data = new Uint8Array(PW * PH * 3);
  for (let i = 0; i < PW * PH; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.round(mu[c] / (W * H));
  for (let y = 0; y < H; y++) {
    data.set(rgb.data.subarray(y * W * 3, (y + 1) * W * 3), ((y + oy) * PW + ox) * 3);
  }
  const padded = await detectOnce({ width: PW, height: PH, channels: 3, data }, minScore);
  if (!padded) return null;
  for (let i = 0; i < 68; i++) (padded.points[2 * i] -= ox), (padded.points[2 * i + 1] -= oy);
  padded.box.x -= ox;
  padded.box.y -= oy;
  return padded;
}

async function detectOnce(rgb: Image, minScore: number): Promise<FaceLandmarks | null> {
  const faceapi = await loadFaceModel();
  const tf = faceapi.tf;
  const x = tf.tensor3d(rgb.data, [rgb.height, rgb.width, 3], "int32");
  try {
    const r = await faceapi.detectSingleFace(
      x,
      new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: minScore }),
    ).withFaceLandmarks();
    if (!r) return null;
    const pos: { x: number; y: number }[] = r.landmarks.positions;
    if (pos.length !== 68) throw new Error(`photos: expected 68 landmarks, the model gave ${pos.length}`);
    const points = new Float64Array(136);
    pos.forEach((p, i) => ((points[2 * i] = p.x), (points[2 * i + 1] = p.y)));
    const b = r.detection.box;
    return { points, box: { x: b.x, y: b.y, width: b.width, height: b.height }, score: r.detection.score };
  } finally {
    x.dispose();
  }
}

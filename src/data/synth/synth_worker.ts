/// <reference lib="deno.worker" />
/**
 * Worker: generates and writes the samples the main thread asks for, one at a time.
 * It announces `ready` once its imports (including the WebAssembly codecs, loaded with a
 * top-level await) are initialised and the JIT is warmed up; messages sent earlier can be lost.
 */
import { encodePng } from "../image_io.ts";
import { generateSample } from "./sample.ts";
import { writeSample } from "./write_sample.ts";

self.onmessage = async (
  e: MessageEvent<{ out: string; seed: number; index: number; size: number; realShare?: number }>,
) => {
  const { out, seed, index, size, realShare } = e.data;
  try {
    self.postMessage({ record: await writeSample(out, seed, index, size, realShare ?? 0) });
  } catch (err) {
    self.postMessage({ error: `sample ${index}: ${(err as Error).stack ?? err}` });
  }
};
// JIT warm-up: a few tiny samples (~0.2 s of CPU) get the hot loops optimised before the real
// 512² ones, which otherwise run 2-3x slower for their first ~10 samples. Generation is pure,
// so this changes no output.
for (let i = 0; i < 8; i++) {
  encodePng(generateSample(0x5eed, i, 48).image, 1, { filter: "up", strategy: "rle" });
}
self.postMessage({ ready: true });

/// <reference lib="deno.worker" />
/**
 * Worker: generates and writes the samples the main thread asks for, one at a time.
 * It announces `ready` once its imports (including the WebAssembly codecs, loaded with a
 * top-level await) are initialised; messages sent earlier can be lost.
 */
import { writeSample } from "./write_sample.ts";

self.onmessage = async (e: MessageEvent<{ out: string; seed: number; index: number; size: number }>) => {
  const { out, seed, index, size } = e.data;
  try {
    self.postMessage({ record: await writeSample(out, seed, index, size) });
  } catch (err) {
    self.postMessage({ error: `sample ${index}: ${(err as Error).stack ?? err}` });
  }
};
self.postMessage({ ready: true });

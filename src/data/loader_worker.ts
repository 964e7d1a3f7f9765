/// <reference lib="deno.worker" />
/** Loader worker: builds batches on request and transfers the arrays back (no copy). */
import { type BatchItem, buildBatch } from "./batch.ts";

self.onmessage = (e: MessageEvent<{ job: number; items: BatchItem[]; size: number; augment: boolean }>) => {
  const { job, items, size, augment } = e.data;
  try {
    const b = buildBatch(items, size, augment);
    self.postMessage({ job, batch: b }, {
      transfer: [b.images.buffer, b.masks.buffer, b.labels.buffer] as ArrayBuffer[],
    });
  } catch (err) {
    self.postMessage({ job, error: (err as Error).message });
  }
};
self.postMessage({ ready: true });

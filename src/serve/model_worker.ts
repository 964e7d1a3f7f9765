/**
 * The analyst server's model worker (see engine.ts): loads one checkpoint, then answers
 * analyze messages one at a time with `runAnalysis`, transferring the PNG buffers back.
 * @module
 */
/// <reference lib="deno.worker" />
import { type LoadedModel, loadModel } from "../infer/analyze.ts";
import { engineInfo, type FromWorker, InputError, runAnalysis, type ToWorker } from "./engine.ts";

let model: LoadedModel | null = null;

function reply(m: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(m, transfer);
}

async function onMessage(ev: MessageEvent<ToWorker>): Promise<void> {
  const m = ev.data;
  if (m.type === "load") {
    try {
      model = await loadModel(m.ckpt, { device: m.device });
      reply({ type: "loaded", info: engineInfo(model) });
    } catch (e) {
      reply({ type: "load-error", error: (e as Error).message });
    }
    return;
  }
  if (!model) return reply({ type: "failed", id: m.id, error: "no model loaded", input: false });
  try {
    const r = await runAnalysis(model, m.bytes, m.name, m.opts, m.withOverlay);
    const transfer: Transferable[] = [r.maskPng.buffer as ArrayBuffer];
    if (r.overlayPng) transfer.push(r.overlayPng.buffer as ArrayBuffer);
    reply({ type: "result", id: m.id, result: r }, transfer);
  } catch (e) {
    reply({ type: "failed", id: m.id, error: (e as Error).message, input: e instanceof InputError });
  }
}

// only inside a worker (a module scan that imports every file of src/ must not trip over it)
if (typeof (globalThis as { postMessage?: unknown }).postMessage === "function") {
  self.onmessage = onMessage;
  reply({ type: "ready" });
}

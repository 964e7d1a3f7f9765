/**
 * Packs a training checkpoint for shipping: keeps the weights and the ForgeryTalker metadata
 * (config, tokenizer, stage), drops optimizer moments and RNG state, and stores the float
 * weights as F16 (half the bytes; `readCheckpoint` widens them back to float32). Counters
 * (`num_batches_tracked`) stay float32 so they stay exact.
 *
 *   .tools/deno run -A scripts/pack_model.ts runs/tiny/finetune-best.safetensors models/default.safetensors
 *
 * Prints the size and the largest absolute weight change the rounding made.
 */
import { loadSafetensors, saveSafetensors } from "../src/train/checkpoint.ts";
import { disposeCheckpoint, readCheckpoint } from "../src/train/run_checkpoint.ts";

const [src, dst] = Deno.args;
if (!src || !dst) {
  console.error("usage: deno run -A scripts/pack_model.ts IN.safetensors OUT.safetensors");
  Deno.exit(2);
}
const { tensors, metadata } = loadSafetensors(src);
if (!metadata.forgerytalker) {
  console.error(`pack_model: '${src}' is not a ForgeryTalker checkpoint`);
  Deno.exit(1);
}
const meta = JSON.parse(metadata.forgerytalker);
const keep = new Map([...tensors].filter(([k]) => k.startsWith("model.")));
for (const [k, t] of tensors) if (!keep.has(k)) t.dispose();
// a shipped model is weights-only: not resumable, no optimizer / RNG state
const shipped = { ...meta, resumable: false, packedFrom: src.split("/").pop(), weights: "float16" };
for (const k of ["rng", "optimizer", "sampler"]) delete shipped[k];
// paths in the training options are this machine's: keep them relative to the repository
const rel = (v: unknown) => typeof v === "string" ? v.replace(/^.*?\/(runs|data|models)\//, "$1/") : v;
if (shipped.options) {
  for (const k of ["out", "init", "resume"]) shipped.options[k] = rel(shipped.options[k]);
}
await Deno.mkdir(dst.split("/").slice(0, -1).join("/") || ".", { recursive: true });
saveSafetensors(dst, keep, { ...metadata, forgerytalker: JSON.stringify(shipped) }, {
  float16: (name) => !name.endsWith("num_batches_tracked"),
});
const back = readCheckpoint(dst);
let worst = 0;
for (const [k, t] of keep) {
  const u = back.model.get(k.slice(6))!;
  const a = t.dtype === "int32" ? t.dataI32() : t.data(), b = u.dtype === "int32" ? u.dataI32() : u.data();
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  t.dispose();
}
disposeCheckpoint(back);
const mb = (p: string) => (Deno.statSync(p).size / 2 ** 20).toFixed(1);
console.log(
  `pack_model: ${src} (${mb(src)} MiB) -> ${dst} (${mb(dst)} MiB), max |Δw| ${worst.toExponential(2)}`,
);

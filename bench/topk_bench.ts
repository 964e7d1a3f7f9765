/**
 * topk / argmax benchmarks at beam-search shapes: topk(k = 8) over (16, 4·32128) rows, topk over
 * a ViT-sized (16·197, 768) middle case, argmax over (256, 32128) greedy-decoding logits.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/topk_bench.ts
 */
import { randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/tape.ts";
import { argmax, topk } from "../src/ops/topk.ts";

const rng = new Rng(1);
const scores = randn([16, 4 * 32128], rng);
Deno.bench("topk k=8 (16,128512)", { group: "topk" }, () => tidy(() => void noGrad(() => topk(scores, 8))));
const feats = randn([16 * 197, 768], rng);
Deno.bench("topk k=32 (3152,768)", { group: "topk" }, () => tidy(() => void noGrad(() => topk(feats, 32))));
const logits = randn([256, 32128], rng);
Deno.bench("argmax (256,32128)", { group: "argmax" }, () => tidy(() => void argmax(logits, -1)));

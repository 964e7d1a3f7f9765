/**
 * cast / oneHot benchmarks: float32 <-> int32 over 4M elements, oneHot of (4096) labels into 21
 * classes (region labels) and of (1024) tokens into 32128.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/cast_bench.ts
 */
import { intTensor, randn } from "../src/tensor/create.ts";
import { Rng } from "../src/tensor/rng.ts";
import { tidy } from "../src/tensor/scope.ts";
import { cast, oneHot } from "../src/ops/cast.ts";

const rng = new Rng(1);
const x = randn([4 << 20], rng, 100);
const xi = cast(x, "int32");
Deno.bench("cast float32 -> int32 (4M)", { group: "cast" }, () => tidy(() => void cast(x, "int32")));
Deno.bench("cast int32 -> float32 (4M)", { group: "cast" }, () => tidy(() => void cast(xi, "float32")));
const labels = intTensor(Array.from({ length: 4096 }, () => rng.int(21)), [4096]);
Deno.bench("oneHot (4096) x 21", { group: "oneHot" }, () => tidy(() => void oneHot(labels, 21)));
const toks = intTensor(Array.from({ length: 1024 }, () => rng.int(32128)), [1024]);
Deno.bench("oneHot (1024) x 32128", { group: "oneHot" }, () => tidy(() => void oneHot(toks, 32128)));

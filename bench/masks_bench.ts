/**
 * tril / triu benchmarks: the decoder's causal mask (512,512) and a wide (64,4096) band.
 * Run: deno bench --allow-ffi --allow-read --allow-env bench/masks_bench.ts
 */
import { tidy } from "../src/tensor/scope.ts";
import { tril, triu } from "../src/ops/masks.ts";

Deno.bench("tril (512,512)", { group: "masks" }, () => tidy(() => void tril(512, 512)));
Deno.bench("triu (64,4096) k=1", { group: "masks" }, () => tidy(() => void triu(64, 4096, 1)));

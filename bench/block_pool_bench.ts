// Host cost of the CUDA caching allocator's bookkeeping (src/tensor/block_pool.ts): one alloc +
// free per tensor of a training step, with a simulated raw allocator (no device, no FFI).
// Run: .tools/deno bench --allow-all bench/block_pool_bench.ts
import { BlockPool } from "../src/tensor/block_pool.ts";

let next = 0x10000000n;
const src = {
  alloc(bytes: number): Deno.PointerObject {
    const p = Deno.UnsafePointer.create(next)!;
    next += BigInt(bytes) + 0x100000n;
    return p;
  },
  free(_p: Deno.PointerObject) {},
  stream: () => 0n,
};
// sizes of a ViT-B step's activations and gradients at batch 16 (bytes), varied like sequence lengths
const sizes = Array.from(
  { length: 64 },
  (_, i) => [3072, 12288, 4 * 197 * 768 * 16, 4 * 197 * 3072 * 16][i % 4] + (i % 7) * 4096,
);
const pool = new BlockPool(src);

Deno.bench("block pool: 64 allocs then 64 frees (mixed sizes, steady state)", () => {
  const held = sizes.map((n) => pool.alloc(n));
  for (const b of held) pool.free(b);
});

Deno.bench("block pool: alloc + free of one 1 KiB block (the per-op fast path)", () => {
  pool.free(pool.alloc(1024));
});

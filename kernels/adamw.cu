// Fused AdamW update over many parameter tensors in one launch (native/adamw.cpp's ABI,
// PyTorch's AdamW with decoupled decay): p <- p(1 - lr wd); m <- b1 m + (1-b1) g gs;
// v <- b2 v + (1-b2)(g gs)²; p <- p - (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps), where bc1, bc2
// come from each tensor's own step (per-tensor arrays, like lr and wd).
// p, g, m, v and sizes/lr/wd/bc1/bc2 are host arrays (ntensors) of device pointers / values; they are
// copied into a device table (stream-ordered) with a chunk list (each chunk <= 16K elements of one
// tensor), and one grid of one occupancy wave walks the chunks (multi-tensor apply): no per-element
// search for the owning tensor.
// Check: tests/cuda/adamw_test.ts.
#include <vector>

#include "common.cuh"

namespace {
struct Entry {
  float* p;
  const float* g;
  float* m;
  float* v;
  int64_t n, off;  // size and start in the flat element range
  float lr, wd;
  float bc1, isb2;  // per-tensor bias corrections: 1 - b1^t and 1/sqrt(1 - b2^t)
};

struct Chunk {
  int t;                // tensor (index into the table)
  int64_t start, len;   // element range within it
};
constexpr int64_t kChunk = 16384;

__global__ void adamw_k(const Entry* __restrict__ tab, const Chunk* __restrict__ chunks, int64_t nchunks, float b1,
                        float b2, float eps, float gs) {
  for (int64_t c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const Entry& t = tab[ch.t];
    for (int64_t i = ch.start + threadIdx.x; i < ch.start + ch.len; i += blockDim.x) {
      float g = t.g[i] * gs;
      float m = b1 * t.m[i] + (1.f - b1) * g;
      float v = b2 * t.v[i] + (1.f - b2) * g * g;
      t.m[i] = m;
      t.v[i] = v;
      float p = t.p[i] * (1.f - t.lr * t.wd);
      t.p[i] = p - (t.lr / t.bc1) * m / (sqrtf(v) * t.isb2 + eps);
    }
  }
}
}  // namespace

// p, g, m, v: (ntensors) device pointers to tensors of sizes(ntensors) floats; lr, wd (ntensors);
// bc1, bc2 (ntensors): 1 - b1^t, 1 - b2^t of each tensor's own step t; gs scales the gradient
FT_API int ft_adamw_step(int ntensors, const int64_t* sizes, float* const* p, const float* const* g, float* const* m,
                         float* const* v, const float* lr, const float* wd, float b1, float b2, float eps,
                         const float* bc1, const float* bc2, float gs) {
  if (ntensors < 0 || !(eps >= 0.f)) return FT_EINVAL;
  std::vector<Entry> tab;
  tab.reserve((size_t)ntensors);
  int64_t total = 0;
  for (int i = 0; i < ntensors; i++) {
    if (sizes[i] < 0 || !(bc1[i] > 0.f) || !(bc2[i] > 0.f)) return FT_EINVAL;
    if (sizes[i] == 0) continue;
    tab.push_back({p[i], g[i], m[i], v[i], sizes[i], total, lr[i], wd[i], bc1[i], 1.f / sqrtf(bc2[i])});
    total += sizes[i];
  }
  if (total == 0) return FT_OK;
  std::vector<Chunk> chunks;
  chunks.reserve((size_t)(total / kChunk) + tab.size());
  for (int t = 0; t < (int)tab.size(); t++)
    for (int64_t b = 0; b < tab[t].n; b += kChunk) chunks.push_back({t, b, tab[t].n - b < kChunk ? tab[t].n - b : kChunk});
  cudaStream_t s = ftc::stream();
  size_t tab_bytes = (tab.size() * sizeof(Entry) + 255) / 256 * 256;
  char* ws = (char*)ftc::workspace(tab_bytes + chunks.size() * sizeof(Chunk));
  if (!ws) return FT_ENOMEM;
  Entry* dt = (Entry*)ws;
  Chunk* dc = (Chunk*)(ws + tab_bytes);
  // pageable sources: each copy is staged before cudaMemcpyAsync returns, so the vectors may go away
  int st = ftc::fail(cudaMemcpyAsync(dt, tab.data(), tab.size() * sizeof(Entry), cudaMemcpyHostToDevice, s), "adamw");
  if (!st)
    st = ftc::fail(cudaMemcpyAsync(dc, chunks.data(), chunks.size() * sizeof(Chunk), cudaMemcpyHostToDevice, s),
                   "adamw (chunks)");
  if (st) return st;
  // one block per chunk, at most one occupancy wave (blocks loop over the remaining chunks)
  int64_t cap = (int64_t)ftc::occupancy((const void*)adamw_k, 256, 0) * ftc::sm_count();
  unsigned grid = (unsigned)((int64_t)chunks.size() < cap ? (int64_t)chunks.size() : cap);
  adamw_k<<<grid, 256, 0, s>>>(dt, dc, (int64_t)chunks.size(), b1, b2, eps, gs);
  return ftc::launched("ft_adamw_step");
}

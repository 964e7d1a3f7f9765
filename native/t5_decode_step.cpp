// One incremental T5 decoder step for the whole stack in one call (CPU): the B last tokens ->
// logits (B, V), each layer's self-attention cache grown by one position in place. It runs the
// same kernels in the same order as the op-by-op path of src/nn/t5.ts (RMSNorm, GEMMs with
// (out, in) weights, fused attention with the relative-position bias, gated GELU), so its
// logits equal that path's bit for bit; what it saves is ~90 FFI calls, tensor objects and
// scope bookkeeping per token, which cost more than the arithmetic at decoding sizes.
// Layer l's pointers come from table[l*16 .. l*16+15] (see Slot). CUDA keeps the op path.
// Test: .tools/deno test --allow-all tests/ops/t5_decode_step_test.ts (fused vs op path)
// Bench: .tools/deno run --allow-all bench/infer_stages.ts (greedy / beam rows)
#include <cstring>
#include <new>
#include <vector>

#include "ft.h"

// the kernels the step is made of (defined in gemm.cpp, norm.cpp, gelu.cpp, attention.cpp)
extern "C" {
int ft_gemm_f32(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
int ft_norm_fwd(int64_t rows, int64_t D, int rms, float eps, const float* x, const float* w,
                const float* b, float* y, float* mean, float* rstd);
int ft_gelu_fwd(int64_t n, const float* x, float* y, int approx);
int ft_attention_fwd(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t D, int64_t ldk, float scale,
                     int causal, const float* q, const float* k, const float* v, const void* kmask,
                     int kmask_i32, int64_t ldm, const float* bias, int64_t bias_sb, int64_t bias_sh,
                     float* o, float* lse);
}

namespace {

// Per-layer slots of the pointer table, in HF T5 order.
enum Slot {
  LN_SELF,   // (d) layer.0.layer_norm
  W_Q,       // (HD, d) SelfAttention.q
  W_K,       // (HD, d)
  W_V,       // (HD, d)
  W_O,       // (d, HD)
  LN_CROSS,  // (d) layer.1.layer_norm
  W_CQ,      // (HD, d) EncDecAttention.q
  W_CO,      // (d, HD)
  LN_FF,     // (d) layer.2.layer_norm
  W_WI0,     // (F, d) gate
  W_WI1,     // (F, d)
  W_WO,      // (d, F)
  SELF_K,    // (B, H, cap, D) cache, position `pos` written here
  SELF_V,    // (B, H, cap, D)
  CROSS_K,   // (B, H, Te, D) encoder output through EncDecAttention.k
  CROSS_V,   // (B, H, Te, D)
  SLOTS
};

// y(M,N) = x(M,K) @ W(N,K)^T, as the Linear op computes it
inline int proj(int64_t M, int64_t N, int64_t K, const float* x, const void* w, float* y) {
  return ft_gemm_f32(0, 1, M, N, K, 1.0f, x, K, (const float*)w, K, 0.0f, y, N);
}

inline void add_into(int64_t n, float* x, const float* t) {
  for (int64_t i = 0; i < n; i++) x[i] += t[i];
}

}  // namespace

// Sizes: B rows (batch·beams), L layers, model width d, H heads of D, feed-forward F, vocab V;
// the new token sits at position `pos` (< cap, the caches' capacity); Te encoder positions.
FT_API int ft_t5_decode_step(int64_t B, int64_t L, int64_t d, int64_t H, int64_t D, int64_t F, int64_t V,
                             int64_t pos, int64_t cap, int64_t Te, int64_t nbuckets, float eps,
                             int gelu_approx,       // 1 tanh form (gelu_tanh), 0 erf form
                             int tied,              // 1: logits = (x · head_scale) @ head^T
                             float head_scale,      // d^-0.5 when tied
                             const int32_t* ids,    // (B) last tokens
                             const float* embed,    // (V, d) shared embedding
                             const float* rel_bias, // (nbuckets, H) the decoder's bias table
                             const int32_t* dist_bucket, // (cap) bucket of a key n positions before the query
                             const uint64_t* table, // (L, SLOTS) pointers, see Slot
                             const float* final_ln, // (d)
                             const float* head,     // (V, d) lm_head, or the shared embedding when tied
                             const void* mask,      // (B, Te) encoder key mask (1 keep) or null
                             int mask_i32,          // 1 when mask is int32, 0 float32
                             float* logits) {       // (B, V)
  if (B < 1 || L < 0 || d < 1 || H < 1 || D < 1 || F < 1 || V < 1 || Te < 1 || nbuckets < 1) return FT_EINVAL;
  if (pos < 0 || pos >= cap || !ids || !embed || !rel_bias || !dist_bucket || (L > 0 && !table) || !final_ln ||
      !head || !logits || (gelu_approx != 0 && gelu_approx != 1))
    return FT_EINVAL;
  for (int64_t b = 0; b < B; b++)
    if (ids[b] < 0 || ids[b] >= V) return FT_EINVAL;
  const int64_t Tk = pos + 1;
  for (int64_t n = 0; n < Tk; n++)
    if (dist_bucket[n] < 0 || dist_bucket[n] >= nbuckets) return FT_EINVAL;
  for (int64_t l = 0; l < L; l++)
    for (int s = 0; s < SLOTS; s++)
      if (!table[l * SLOTS + s]) return FT_EINVAL;
  const int64_t HD = H * D;
  // workspace, kept per thread across steps (fresh pages cost more than the step itself)
  static thread_local std::vector<float> ws;
  const size_t need = (size_t)(B * (3 * d + 2 * HD + 2 * HD + 2 * F) + H * Tk);
  try {
    if (ws.size() < need) ws.resize(need);
  } catch (const std::bad_alloc&) {
    return FT_ENOMEM;
  }
  float *x = ws.data(), *h = x + B * d, *t = h + B * d, *q = t + B * d, *k = q + B * HD, *v = k + B * HD,
        *a = v + B * HD, *g0 = a + B * HD, *g1 = g0 + B * F, *bias = g1 + B * F;
  for (int64_t b = 0; b < B; b++) std::memcpy(x + b * d, embed + (int64_t)ids[b] * d, (size_t)d * sizeof(float));
  for (int64_t hh = 0; hh < H; hh++)  // (1, H, 1, Tk): the bias of every key for the one query
    for (int64_t j = 0; j < Tk; j++) bias[hh * Tk + j] = rel_bias[(int64_t)dist_bucket[pos - j] * H + hh];
  int s = FT_OK;
#define FT_TRY(call)           \
  if ((s = (call)) != FT_OK) { \
    return s;                  \
  }
  for (int64_t l = 0; l < L; l++) {
    const uint64_t* P = table + l * SLOTS;
    auto W = [&](Slot i) { return (const float*)(uintptr_t)P[i]; };
    float* sk = (float*)(uintptr_t)P[SELF_K];
    float* sv = (float*)(uintptr_t)P[SELF_V];
    // self-attention: project, append this position's k/v to the cache, attend over 0..pos
    FT_TRY(ft_norm_fwd(B, d, 1, eps, x, W(LN_SELF), nullptr, h, nullptr, nullptr));
    FT_TRY(proj(B, HD, d, h, W(W_K), k));
    FT_TRY(proj(B, HD, d, h, W(W_V), v));
    FT_TRY(proj(B, HD, d, h, W(W_Q), q));
    for (int64_t b = 0; b < B; b++)
      for (int64_t hh = 0; hh < H; hh++) {
        const int64_t at = ((b * H + hh) * cap + pos) * D;
        std::memcpy(sk + at, k + b * HD + hh * D, (size_t)D * sizeof(float));
        std::memcpy(sv + at, v + b * HD + hh * D, (size_t)D * sizeof(float));
      }
    // (B, H, 1, D) queries are (B, HD) in memory; causal bottom-right = every cached key
    FT_TRY(ft_attention_fwd(B, H, 1, Tk, D, cap, 1.0f, 2, q, sk, sv, nullptr, 0, Tk, bias, 0, Tk, a, nullptr));
    FT_TRY(proj(B, d, HD, a, W(W_O), t));
    add_into(B * d, x, t);
    // cross-attention over the encoder output (no position bias, T5's unscaled logits)
    FT_TRY(ft_norm_fwd(B, d, 1, eps, x, W(LN_CROSS), nullptr, h, nullptr, nullptr));
    FT_TRY(proj(B, HD, d, h, W(W_CQ), q));
    FT_TRY(ft_attention_fwd(B, H, 1, Te, D, Te, 1.0f, 0, q, W(CROSS_K), W(CROSS_V), mask, mask_i32, Te,
                            nullptr, 0, 0, a, nullptr));
    FT_TRY(proj(B, d, HD, a, W(W_CO), t));
    add_into(B * d, x, t);
    // gated-GELU feed-forward: wo(gelu(wi_0 h) · wi_1 h)
    FT_TRY(ft_norm_fwd(B, d, 1, eps, x, W(LN_FF), nullptr, h, nullptr, nullptr));
    FT_TRY(proj(B, F, d, h, W(W_WI0), g0));
    FT_TRY(ft_gelu_fwd(B * F, g0, g0, gelu_approx));
    FT_TRY(proj(B, F, d, h, W(W_WI1), g1));
    for (int64_t i = 0; i < B * F; i++) g0[i] *= g1[i];
    FT_TRY(proj(B, d, F, g0, W(W_WO), t));
    add_into(B * d, x, t);
  }
  FT_TRY(ft_norm_fwd(B, d, 1, eps, x, final_ln, nullptr, h, nullptr, nullptr));
  if (tied)
    for (int64_t i = 0; i < B * d; i++) h[i] *= head_scale;
  FT_TRY(proj(B, V, d, h, head, logits));
#undef FT_TRY
  return FT_OK;
}

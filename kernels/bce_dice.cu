// Segmentation losses on logits (native/bce_dice.cpp's ABI), fused forward and backward:
//   BCE  loss_i = wp*y*softplus(-x) + wn*(1-y)*softplus(x); loss = scale * Σ loss_i
//   Dice per sample s of S (L values): 1 - (2Σσt + k)/(Σσ + Σt + k), mean over S; the forward
//   saves sums (S, 3) = (Σσt, Σσ, Σt) for the backward.
// Sums: per-thread fp32, per-block partials in fp64, then one fixed-order pass (deterministic).
// Check: tests/cuda/bce_dice_test.ts; bench: bench/gpu_timings.ts "bce_dice".
#include "common.cuh"

namespace {
constexpr int TH = 256;

struct SP {
  float lp, sig;
};
// lp = log1p(exp(-|x|)), sig = σ(x), computed once from e = exp(-|x|)
__device__ __forceinline__ SP sp(float x) {
  float e = expf(-fabsf(x));
  float inv = 1.f / (1.f + e);
  return {log1pf(e), x >= 0.f ? inv : e * inv};
}

__device__ __forceinline__ double block_sum_d(double v, double* sh) {
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x >> 5) ? sh[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void bce_fwd_k(int64_t n, float wp, float wn, const float* __restrict__ x, const float* __restrict__ y,
                          float* __restrict__ out, double* __restrict__ part) {
  __shared__ double sh[32];
  float acc = 0.f;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float xv = x[i], yv = y[i];
    SP s = sp(xv);
    float l = wp * yv * (ftc::nan_max(-xv, 0.f) + s.lp) + wn * (1.f - yv) * (ftc::nan_max(xv, 0.f) + s.lp);
    if (out) out[i] = l;
    acc += l;
  }
  double t = block_sum_d((double)acc, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = t;
}

// loss(1) = scale * Σ part(np)
__global__ void finish_sum(int np, const double* __restrict__ part, float scale, float* __restrict__ loss) {
  __shared__ double sh[32];
  double a = 0.0;
  for (int i = threadIdx.x; i < np; i += blockDim.x) a += part[i];
  a = block_sum_d(a, sh);
  if (threadIdx.x == 0) loss[0] = (float)(a * scale);
}

__global__ void bce_bwd_k(int64_t n, float wp, float wn, float scale, int gScalar, const float* __restrict__ x,
                          const float* __restrict__ y, const float* __restrict__ g, float* __restrict__ gx,
                          float* __restrict__ gy) {
  float g0 = gScalar ? g[0] * scale : 0.f;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float xv = x[i], yv = y[i];
    SP s = sp(xv);
    float gv = gScalar ? g0 : g[i] * scale;
    if (gx) gx[i] = gv * (wp * yv * (s.sig - 1.f) + wn * (1.f - yv) * s.sig);
    if (gy) gy[i] = gv * (wp * (ftc::nan_max(-xv, 0.f) + s.lp) - wn * (ftc::nan_max(xv, 0.f) + s.lp));
  }
}

// part(S, per, 3) partial (Σσt, Σσ, Σt); grid (per, S)
__global__ void dice_sums_k(int64_t L, int64_t chunk, const float* __restrict__ x, const float* __restrict__ y,
                            double* __restrict__ part) {
  __shared__ double sh[32];
  int64_t s = blockIdx.y, c = blockIdx.x;
  int64_t b = c * chunk, e = min(L, b + chunk);
  const float* xs = x + s * L;
  const float* ys = y + s * L;
  float ai = 0.f, ap = 0.f, at = 0.f;
  for (int64_t i = b + threadIdx.x; i < e; i += blockDim.x) {
    float p = sp(xs[i]).sig, t = ys[i];
    ai += p * t;
    ap += p;
    at += t;
  }
  double* o = part + (s * gridDim.x + c) * 3;
  double v0 = block_sum_d(ai, sh);
  double v1 = block_sum_d(ap, sh);
  double v2 = block_sum_d(at, sh);
  if (threadIdx.x == 0) {
    o[0] = v0;
    o[1] = v1;
    o[2] = v2;
  }
}

// sums(S, 3) and loss(1) from part(S, per, 3); one block
__global__ void dice_finish(int64_t S, int per, float smooth, const double* __restrict__ part, float* __restrict__ sums,
                            float* __restrict__ loss) {
  __shared__ double sh[32];
  double tot = 0.0;
  for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
    double I = 0, P = 0, T = 0;
    for (int c = 0; c < per; c++) {
      const double* o = part + (s * per + c) * 3;
      I += o[0];
      P += o[1];
      T += o[2];
    }
    sums[s * 3] = (float)I;
    sums[s * 3 + 1] = (float)P;
    sums[s * 3 + 2] = (float)T;
    tot += 1.0 - (2.0 * I + smooth) / (P + T + smooth);
  }
  tot = block_sum_d(tot, sh);
  if (threadIdx.x == 0) loss[0] = (float)(tot / (double)S);
}

__global__ void dice_bwd_k(int64_t S, int64_t L, float smooth, const float* __restrict__ x, const float* __restrict__ y,
                           const float* __restrict__ sums, const float* __restrict__ g, float* __restrict__ gx,
                           float* __restrict__ gy) {
  int64_t s = blockIdx.y;
  double D = (double)sums[s * 3 + 1] + sums[s * 3 + 2] + smooth, Nn = 2.0 * sums[s * 3] + smooth;
  float c1 = (float)(-(double)g[0] / ((double)S * D * D));
  float Df = (float)D, Nf = (float)Nn;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < L; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t o = s * L + i;
    float p = sp(x[o]).sig;
    if (gx) gx[o] = c1 * (2.f * Df * y[o] - Nf) * p * (1.f - p);
    if (gy) gy[o] = c1 * (2.f * Df * p - Nf);
  }
}
}  // namespace

// loss(1) = scale * Σ_i loss_i (or null); out(n) = loss_i when non-null. x logits (n), y targets (n)
FT_API int ft_bce_logits_fwd(int64_t n, float wp, float wn, float scale, const float* x, const float* y, float* out,
                             float* loss) {
  if (n < 0) return FT_EINVAL;
  cudaStream_t st = ftc::stream();
  int nb = (int)ftc::blocks_for(n, TH, (int64_t)ftc::sm_count() * 4);
  double* part = (double*)ftc::workspace((size_t)nb * 8);
  if (!part) return FT_ENOMEM;
  if (n > 0) bce_fwd_k<<<nb, TH, 0, st>>>(n, wp, wn, x, y, out, part);
  else cudaMemsetAsync(part, 0, 8, st);
  if (loss) finish_sum<<<1, 256, 0, st>>>(n > 0 ? nb : 1, part, scale, loss);
  return ftc::launched("ft_bce_logits_fwd");
}

// gx, gy (n, nullable) = g * scale * d loss_i / d(x_i, y_i); g (1) when gScalar else (n)
FT_API int ft_bce_logits_bwd(int64_t n, float wp, float wn, float scale, int gScalar, const float* x, const float* y,
                             const float* g, float* gx, float* gy) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  bce_bwd_k<<<ftc::blocks_for(n, TH, (int64_t)ftc::sm_count() * 8), TH, 0, ftc::stream()>>>(n, wp, wn, scale, gScalar,
                                                                                           x, y, g, gx, gy);
  return ftc::launched("ft_bce_logits_bwd");
}

// loss(1) = mean_s (1 - (2 I_s + k)/(P_s + T_s + k)); sums(S, 3) = (I, P, T); x, y (S, L)
FT_API int ft_soft_dice_fwd(int64_t S, int64_t L, float smooth, const float* x, const float* y, float* sums,
                            float* loss) {
  if (S < 1 || L < 0) return FT_EINVAL;
  int64_t want = ((int64_t)ftc::sm_count() * 4 + S - 1) / S;  // blocks per sample to fill the device
  int64_t per = L / 4096 < want ? L / 4096 : want;
  if (per < 1) per = 1;
  int64_t chunk = (L + per - 1) / per;
  if (chunk < 1) chunk = 1;
  cudaStream_t st = ftc::stream();
  double* part = (double*)ftc::workspace((size_t)(S * per * 3) * 8);
  if (!part) return FT_ENOMEM;
  // samples on grid y (at most 65535 per launch): launch in sample blocks with offset pointers
  for (int64_t s0 = 0; s0 < S; s0 += 65535) {
    int64_t sc = S - s0 < 65535 ? S - s0 : 65535;
    dice_sums_k<<<dim3((unsigned)per, (unsigned)sc), TH, 0, st>>>(L, chunk, x + s0 * L, y + s0 * L, part + s0 * per * 3);
  }
  dice_finish<<<1, 256, 0, st>>>(S, (int)per, smooth, part, sums, loss);
  return ftc::launched("ft_soft_dice_fwd");
}

// gx, gy (S, L, nullable) = g(1) * d loss / d(x, y) from the forward's sums(S, 3)
FT_API int ft_soft_dice_bwd(int64_t S, int64_t L, float smooth, const float* x, const float* y, const float* sums,
                            const float* g, float* gx, float* gy) {
  if (S < 1 || L < 0) return FT_EINVAL;
  if (L == 0) return FT_OK;
  int64_t per = ((int64_t)ftc::sm_count() * 8 + S - 1) / S;
  int64_t need = (L + TH - 1) / TH;
  if (per > need) per = need;
  for (int64_t s0 = 0; s0 < S; s0 += 65535) {  // grid y limit, as in the forward
    int64_t sc = S - s0 < 65535 ? S - s0 : 65535, o = s0 * L;
    dice_bwd_k<<<dim3((unsigned)per, (unsigned)sc), TH, 0, ftc::stream()>>>(
        S, L, smooth, x + o, y + o, sums + s0 * 3, g, gx ? gx + o : nullptr, gy ? gy + o : nullptr);
  }
  return ftc::launched("ft_soft_dice_bwd");
}

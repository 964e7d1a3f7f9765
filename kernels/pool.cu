// 2-D max / average pooling, forward and backward (native/pool.cpp's ABI, PyTorch floor mode):
// max keeps the first maximum (NaN wins) and its flat iy*W+ix index; average divides by kh*kw
// (countPad) or the in-bounds count. One thread per output; backward scatters with atomicAdd
// into a zeroed gx (windows overlap when stride < kernel). Check: tests/cuda/conv_test.ts.
#include "common.cuh"

namespace {
struct P {
  int64_t BC;
  int H, W, kh, kw, sh, sw, ph, pw, Ho, Wo;
};
bool geom(const P& p) {
  if (p.BC < 0 || p.H < 1 || p.W < 1 || p.kh < 1 || p.kw < 1 || p.sh < 1 || p.sw < 1 || p.ph < 0 || p.pw < 0) return false;
  if (2 * p.ph > p.kh || 2 * p.pw > p.kw) return false;
  return p.Ho == (p.H + 2 * p.ph - p.kh) / p.sh + 1 && p.Wo == (p.W + 2 * p.pw - p.kw) / p.sw + 1 && p.Ho >= 1 && p.Wo >= 1;
}

__global__ void maxpool_fwd_k(P p, const float* __restrict__ x, float* __restrict__ y, int32_t* __restrict__ idx) {
  int64_t n = p.BC * p.Ho * p.Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % p.Wo), oy = (int)((e / p.Wo) % p.Ho);
    int64_t pl = e / ((int64_t)p.Wo * p.Ho);
    const float* xp = x + pl * p.H * p.W;
    int y0 = max(0, oy * p.sh - p.ph), y1 = min(p.H, oy * p.sh - p.ph + p.kh);
    int x0 = max(0, ox * p.sw - p.pw), x1 = min(p.W, ox * p.sw - p.pw + p.kw);
    float m = -INFINITY;
    int a = y0 * p.W + x0;
    bool stop = false;
    for (int iy = y0; iy < y1 && !stop; iy++)
      for (int ix = x0; ix < x1; ix++) {
        float v = xp[iy * p.W + ix];
        if (v > m || v != v) {
          m = v;
          a = iy * p.W + ix;
          if (v != v) {
            stop = true;
            break;
          }
        }
      }
    y[e] = m;
    if (idx) idx[e] = a;
  }
}

__global__ void maxpool_bwd_k(int64_t n, int64_t HoWo, int64_t HW, const float* __restrict__ gy,
                              const int32_t* __restrict__ idx, float* __restrict__ gx, int* bad) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int64_t pl = e / HoWo;
    int32_t a = idx[e];
    if (a < 0 || a >= HW) {  // flagged: the entry point returns FT_EINVAL like the CPU
      *bad = 1;
      continue;
    }
    atomicAdd(gx + pl * HW + a, gy[e]);
  }
}

__global__ void avgpool_fwd_k(P p, int countPad, const float* __restrict__ x, float* __restrict__ y) {
  int64_t n = p.BC * p.Ho * p.Wo;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ox = (int)(e % p.Wo), oy = (int)((e / p.Wo) % p.Ho);
    int64_t pl = e / ((int64_t)p.Wo * p.Ho);
    const float* xp = x + pl * p.H * p.W;
    int y0 = max(0, oy * p.sh - p.ph), y1 = min(p.H, oy * p.sh - p.ph + p.kh);
    int x0 = max(0, ox * p.sw - p.pw), x1 = min(p.W, ox * p.sw - p.pw + p.kw);
    float s = 0.f;
    for (int iy = y0; iy < y1; iy++)
      for (int ix = x0; ix < x1; ix++) s += xp[iy * p.W + ix];
    int cnt = countPad ? p.kh * p.kw : (y1 - y0) * (x1 - x0);
    y[e] = s / (float)cnt;
  }
}

// gather form: each input element sums the windows that contain it (no atomics)
__global__ void avgpool_bwd_k(P p, int countPad, const float* __restrict__ gy, float* __restrict__ gx) {
  int64_t n = p.BC * p.H * p.W;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    int ix = (int)(e % p.W), iy = (int)((e / p.W) % p.H);
    int64_t pl = e / ((int64_t)p.W * p.H);
    float s = 0.f;
    // windows oy with oy*sh - ph <= iy < oy*sh - ph + kh
    int oy0 = max(0, (iy + p.ph - p.kh + p.sh) / p.sh), oy1 = min(p.Ho - 1, (iy + p.ph) / p.sh);
    int ox0 = max(0, (ix + p.pw - p.kw + p.sw) / p.sw), ox1 = min(p.Wo - 1, (ix + p.pw) / p.sw);
    if (iy + p.ph - p.kh + p.sh < 0) oy0 = 0;
    if (ix + p.pw - p.kw + p.sw < 0) ox0 = 0;
    for (int oy = oy0; oy <= oy1; oy++) {
      int wy0 = oy * p.sh - p.ph;
      if (iy < wy0 || iy >= wy0 + p.kh) continue;
      int y0 = max(0, wy0), y1 = min(p.H, wy0 + p.kh);
      for (int ox = ox0; ox <= ox1; ox++) {
        int wx0 = ox * p.sw - p.pw;
        if (ix < wx0 || ix >= wx0 + p.kw) continue;
        int x0 = max(0, wx0), x1 = min(p.W, wx0 + p.kw);
        int cnt = countPad ? p.kh * p.kw : (y1 - y0) * (x1 - x0);
        s += gy[(pl * p.Ho + oy) * p.Wo + ox] / (float)cnt;
      }
    }
    gx[e] = s;
  }
}
unsigned grid(int64_t n) { return ftc::blocks_for(n, 256, (int64_t)ftc::sm_count() * 16); }
}  // namespace

// y(BC, Ho, Wo) = window max of x(BC, H, W); idx(BC, Ho, Wo) = argmax iy*W + ix, or null
FT_API int ft_maxpool2d_fwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                            int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, const float* x, float* y, int32_t* idx) {
  P p{BC, (int)H, (int)W, (int)kh, (int)kw, (int)sh, (int)sw, (int)ph, (int)pw, (int)Ho, (int)Wo};
  if (!geom(p)) return FT_EINVAL;
  int64_t n = BC * Ho * Wo;
  if (n == 0) return FT_OK;
  maxpool_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(p, x, y, idx);
  return ftc::launched("ft_maxpool2d_fwd");
}

// gx(BC, H, W) = scatter-add of gy(BC, Ho, Wo) at idx
FT_API int ft_maxpool2d_bwd(int64_t BC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* gy,
                            const int32_t* idx, float* gx) {
  if (BC < 0 || H < 1 || W < 1 || Ho < 1 || Wo < 1) return FT_EINVAL;
  cudaStream_t s = ftc::stream();
  if (BC == 0) return FT_OK;
  int st = ftc::fail(cudaMemsetAsync(gx, 0, (size_t)(BC * H * W) * 4, s), "ft_maxpool2d_bwd (zero)");
  if (st) return st;
  int* flag = ftc::flag_begin();
  if (!flag) return FT_ENOMEM;
  maxpool_bwd_k<<<grid(BC * Ho * Wo), 256, 0, s>>>(BC * Ho * Wo, Ho * Wo, H * W, gy, idx, gx, flag);
  st = ftc::launched("ft_maxpool2d_bwd");
  int bad = 0;
  if (!st) st = ftc::flag_read(flag, &bad);
  if (!st && bad) return ftc::note(FT_EINVAL, "ft_maxpool2d_bwd: an index is outside [0, H*W = %lld)", (long long)(H * W));
  return st;
}

// y(BC, Ho, Wo) = window mean of x(BC, H, W)
FT_API int ft_avgpool2d_fwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                            int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, int countPad, const float* x, float* y) {
  P p{BC, (int)H, (int)W, (int)kh, (int)kw, (int)sh, (int)sw, (int)ph, (int)pw, (int)Ho, (int)Wo};
  if (!geom(p)) return FT_EINVAL;
  int64_t n = BC * Ho * Wo;
  if (n == 0) return FT_OK;
  avgpool_fwd_k<<<grid(n), 256, 0, ftc::stream()>>>(p, countPad, x, y);
  return ftc::launched("ft_avgpool2d_fwd");
}

// gx(BC, H, W) = adjoint of the window mean applied to gy(BC, Ho, Wo)
FT_API int ft_avgpool2d_bwd(int64_t BC, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                            int64_t ph, int64_t pw, int64_t Ho, int64_t Wo, int countPad, const float* gy, float* gx) {
  P p{BC, (int)H, (int)W, (int)kh, (int)kw, (int)sh, (int)sw, (int)ph, (int)pw, (int)Ho, (int)Wo};
  if (!geom(p)) return FT_EINVAL;
  int64_t n = BC * H * W;
  if (n == 0) return FT_OK;
  avgpool_bwd_k<<<grid(n), 256, 0, ftc::stream()>>>(p, countPad, gy, gx);
  return ftc::launched("ft_avgpool2d_bwd");
}

// BatchNorm2d, forward and fused backward (PyTorch semantics): x (B,C,HW) normalised per channel.
// Training: batch mean / biased variance (two passes, double accumulation), saves mean and
// invstd (C) for the backward and updates running stats in place (variance unbiased, n/(n-1)).
// Eval: running stats. y = (x - mean) * invstd * weight + bias (weight/bias may be null).
// Backward (training): gx = w*invstd/n * (n*gy - sum(gy) - xhat*sum(gy*xhat)); eval: gy*w*invstd.
// Parallel over channels. Test: deno test --allow-ffi --allow-read --allow-env tests/ops/batchnorm_test.ts
// Bench: deno bench --allow-ffi --allow-read --allow-env bench/batchnorm_bench.ts
#include <cmath>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"


FT_INLINE double plane_sum_impl(const float* x, int64_t n) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) acc[k] += x[i + k];
  double s = 0;
  for (int k = 0; k < 16; k++) s += acc[k];
  for (; i < n; i++) s += x[i];
  return s;
}
FT_MULTIVERSION(, , double, plane_sum, (const float* x, int64_t n), (x, n))

FT_INLINE double plane_sq_impl(const float* x, int64_t n, float m) {
  float acc[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) {
      float d = x[i + k] - m;
      acc[k] += d * d;
    }
  double s = 0;
  for (int k = 0; k < 16; k++) s += acc[k];
  for (; i < n; i++) s += (double)(x[i] - m) * (x[i] - m);
  return s;
}
FT_MULTIVERSION(, , double, plane_sq, (const float* x, int64_t n, float m), (x, n, m))

FT_INLINE void plane_affine_impl(const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}
FT_MULTIVERSION(, , void, plane_affine, (const float* x, float* y, int64_t n, float a, float b), (x, y, n, a, b))

// sums of gy and gy * (x - m) over one plane
FT_INLINE void plane_gsums_impl(const float* x, const float* g, int64_t n, float m, double& sg, double& sgx) {
  float a[16] = {0}, b[16] = {0};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) {
      a[k] += g[i + k];
      b[k] += g[i + k] * (x[i + k] - m);
    }
  for (int k = 0; k < 16; k++) {
    sg += a[k];
    sgx += b[k];
  }
  for (; i < n; i++) {
    sg += g[i];
    sgx += (double)g[i] * (x[i] - m);
  }
}
FT_MULTIVERSION(, , void, plane_gsums, (const float* x, const float* g, int64_t n, float m, double& sg, double& sgx), (x, g, n, m, sg, sgx))

// gx = k1 * gy - k2 * (x - m) - k3
FT_INLINE void plane_gx_impl(const float* x, const float* g, float* gx, int64_t n, float m, float k1, float k2,
                            float k3) {
  for (int64_t i = 0; i < n; i++) gx[i] = k1 * g[i] - k2 * (x[i] - m) - k3;
}
FT_MULTIVERSION(, , void, plane_gx, (const float* x, const float* g, float* gx, int64_t n, float m, float k1, float k2, float k3), (x, g, gx, n, m, k1, k2, k3))

// y = batchnorm(x); training: saveMean/saveInvstd (C) written, running stats updated if non-null
FT_API int ft_batchnorm2d_fwd(int64_t B, int64_t C, int64_t HW, int training, float momentum, float eps,
                              const float* x,       // (B, C, HW)
                              const float* weight,  // (C) or null
                              const float* bias,    // (C) or null
                              float* runMean,       // (C) or null (training only)
                              float* runVar,        // (C) or null (training only)
                              float* saveMean,      // (C)
                              float* saveInvstd,    // (C)
                              float* y) {           // (B, C, HW)
  if (B < 0 || C < 1 || HW < 0 || !(eps >= 0.f)) return FT_EINVAL;
  const int64_t n = B * HW;
  if (training && n < 1) return FT_EINVAL;
  if (!training && (!runMean || !runVar)) return FT_EINVAL;
  ft::parallel_for(C, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; c++) {
      float mean, invstd;
      if (training) {
        double s = 0;
        for (int64_t b = 0; b < B; b++) s += plane_sum(x + (b * C + c) * HW, HW);
        mean = (float)(s / n);
        double q = 0;
        for (int64_t b = 0; b < B; b++) q += plane_sq(x + (b * C + c) * HW, HW, mean);
        const double var = q / n;
        invstd = (float)(1.0 / std::sqrt(var + eps));
        if (runMean) runMean[c] = (1.f - momentum) * runMean[c] + momentum * mean;
        if (runVar) runVar[c] = (1.f - momentum) * runVar[c] + momentum * (float)(n > 1 ? q / (n - 1) : var);
      } else {
        mean = runMean[c];
        invstd = 1.f / std::sqrt(runVar[c] + eps);
      }
      saveMean[c] = mean;
      saveInvstd[c] = invstd;
      const float a = invstd * (weight ? weight[c] : 1.f);
      const float sh = (bias ? bias[c] : 0.f) - mean * a;
      for (int64_t b = 0; b < B; b++) plane_affine(x + (b * C + c) * HW, y + (b * C + c) * HW, HW, a, sh);
    }
  });
  return FT_OK;
}

// gx (nullable), gw (nullable), gb (nullable) from gy and the forward's saved mean / invstd
FT_API int ft_batchnorm2d_bwd(int64_t B, int64_t C, int64_t HW, int training,
                              const float* x,           // (B, C, HW)
                              const float* weight,      // (C) or null
                              const float* saveMean,    // (C)
                              const float* saveInvstd,  // (C)
                              const float* gy,          // (B, C, HW)
                              float* gx,                // (B, C, HW) or null
                              float* gw,                // (C) or null
                              float* gb) {              // (C) or null
  if (B < 0 || C < 1 || HW < 0) return FT_EINVAL;
  const int64_t n = B * HW;
  ft::parallel_for(C, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; c++) {
      const float m = saveMean[c], is = saveInvstd[c], w = weight ? weight[c] : 1.f;
      double sg = 0, sgx = 0;
      for (int64_t b = 0; b < B; b++) plane_gsums(x + (b * C + c) * HW, gy + (b * C + c) * HW, HW, m, sg, sgx);
      if (gw) gw[c] = (float)(sgx * is);
      if (gb) gb[c] = (float)sg;
      if (!gx) continue;
      float k1 = w * is, k2 = 0.f, k3 = 0.f;
      if (training && n > 0) {
        // gx = w*is*(gy - mean(gy) - xhat*mean(gy*xhat)), xhat = (x-m)*is
        k2 = (float)(w * (double)is * is * is * sgx / n);
        k3 = (float)(w * (double)is * sg / n);
      }
      for (int64_t b = 0; b < B; b++)
        plane_gx(x + (b * C + c) * HW, gy + (b * C + c) * HW, gx + (b * C + c) * HW, HW, m, k1, k2, k3);
    }
  });
  return FT_OK;
}

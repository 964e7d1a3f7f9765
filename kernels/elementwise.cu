// Elementwise kernels (native/elementwise.cpp's ABI): broadcasting binary ops over up to 8
// coalesced dims with per-input strides (0 = broadcast), unary ops and their backward, fill,
// axpby, int32->float32. Op codes and NaN rules are the CPU's (max/min propagate NaN from a).
// Contiguous operands take a 16-byte vector path; others index through the shape.
// Check: tests/cuda/elementwise_test.ts; bench: bench/gpu_timings.ts "gelu" (unary op 8).
#include "common.cuh"

namespace {

enum BinOp { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_EQ, B_GT, B_GE };

template <int OP>
__device__ __forceinline__ float bin(float a, float b) {
  if (OP == B_ADD) return a + b;
  if (OP == B_SUB) return a - b;
  if (OP == B_MUL) return a * b;
  if (OP == B_DIV) return a / b;
  if (OP == B_MAX) return a > b || a != a ? a : b;
  if (OP == B_MIN) return a < b || a != a ? a : b;
  if (OP == B_EQ) return a == b ? 1.f : 0.f;
  if (OP == B_GT) return a > b ? 1.f : 0.f;
  if (OP == B_GE) return a >= b ? 1.f : 0.f;
  return powf(a, b);
}

struct Dims {
  int nd;
  int64_t shape[ftc::kMaxDims], sa[ftc::kMaxDims], sb[ftc::kMaxDims];
};

// out(n) = a[...] op b[...] for a general strided broadcast (index decomposed per element)
template <int OP>
__global__ void bin_nd(Dims d, int64_t n, const float* __restrict__ a, const float* __restrict__ b,
                       float* __restrict__ out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int k = d.nd - 1; k >= 0; k--) {
      int64_t c = rem % d.shape[k];
      rem /= d.shape[k];
      oa += c * d.sa[k];
      ob += c * d.sb[k];
    }
    out[i] = bin<OP>(a[oa], b[ob]);
  }
}

// out(n) = a(n | scalar) op b(n | scalar), float4 per thread (n4 = n / 4 vectors); sa/sb:
// 1 = contiguous operand, 0 = scalar broadcast (uniform branch, one kernel per op)
template <int OP>
__global__ void bin_flat4(int64_t n4, const float* __restrict__ a, int sa, const float* __restrict__ b, int sb,
                          float4* __restrict__ out) {
  float as = a[0], bs = b[0];
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n4; i += (int64_t)gridDim.x * blockDim.x) {
    float4 x = sa ? reinterpret_cast<const float4*>(a)[i] : make_float4(as, as, as, as);
    float4 y = sb ? reinterpret_cast<const float4*>(b)[i] : make_float4(bs, bs, bs, bs);
    out[i] = make_float4(bin<OP>(x.x, y.x), bin<OP>(x.y, y.y), bin<OP>(x.z, y.z), bin<OP>(x.w, y.w));
  }
}

inline bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

template <int OP>
int launch_bin(const Dims& d, int64_t n, const float* a, const float* b, float* out) {
  cudaStream_t s = ftc::stream();
  bool flat = d.nd == 1 && (d.sa[0] == 1 || d.sa[0] == 0) && (d.sb[0] == 1 || d.sb[0] == 0);
  if (flat && n % 4 == 0 && aligned16(out) && (d.sa[0] == 0 || aligned16(a)) && (d.sb[0] == 0 || aligned16(b))) {
    int64_t n4 = n / 4;
    unsigned g = ftc::grid_for(bin_flat4<OP>, 256, n4);
    bin_flat4<OP><<<g, 256, 0, s>>>(n4, a, (int)d.sa[0], b, (int)d.sb[0], (float4*)out);
  } else {
    bin_nd<OP><<<ftc::grid_for(bin_nd<OP>, 256, n), 256, 0, s>>>(d, n, a, b, out);
  }
  return ftc::launched("ft_binary_fwd");
}

enum UnOp {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_TANH, U_SIGMOID, U_RELU, U_LEAKY, U_GELU_ERF, U_GELU_TANH,
  U_ABS, U_SCALE, U_ADDS, U_POWS, U_SQUARE, U_RSQRT, U_SIN, U_COS
};
constexpr float kSqrt2OverPi = 0.7978845608028654f, kInvSqrt2 = 0.7071067811865476f;

template <int OP>
__device__ __forceinline__ float un(float x, float p) {
  switch (OP) {
    case U_NEG: return -x;
    case U_EXP: return expf(x);
    case U_LOG: return logf(x);
    case U_SQRT: return sqrtf(x);
    case U_TANH: return tanhf(x);
    case U_SIGMOID: return 1.f / (1.f + expf(-x));
    case U_RELU: return x > 0.f ? x : (x != x ? x : 0.f);
    case U_LEAKY: return x > 0.f ? x : x * p;
    case U_GELU_ERF: return 0.5f * x * (1.f + erff(x * kInvSqrt2));
    case U_GELU_TANH: return 0.5f * x * (1.f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    case U_ABS: return fabsf(x);
    case U_SCALE: return x * p;
    case U_ADDS: return x + p;
    case U_POWS: return powf(x, p);
    case U_SQUARE: return x * x;
    case U_RSQRT: return 1.f / sqrtf(x);
    case U_SIN: return sinf(x);
    case U_COS: return cosf(x);
  }
  return x;
}

template <int OP>
__device__ __forceinline__ float dun(float x, float y, float p) {
  switch (OP) {
    case U_NEG: return -1.f;
    case U_EXP: return y;
    case U_LOG: return 1.f / x;
    case U_SQRT: return 0.5f / y;
    case U_TANH: return 1.f - y * y;
    case U_SIGMOID: return y * (1.f - y);
    case U_RELU: return x > 0.f ? 1.f : 0.f;
    case U_LEAKY: return x > 0.f ? 1.f : p;
    case U_GELU_ERF: {
      float cdf = 0.5f * (1.f + erff(x * kInvSqrt2));
      float pdf = 0.3989422804014327f * expf(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case U_GELU_TANH: {
      float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
      float t = tanhf(u);
      float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
      return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du;
    }
    case U_ABS: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U_SCALE: return p;
    case U_ADDS: return 1.f;
    case U_POWS: return p * powf(x, p - 1.f);
    case U_SQUARE: return 2.f * x;
    case U_RSQRT: return -0.5f * y * y * y;
    case U_SIN: return cosf(x);
    case U_COS: return -sinf(x);
  }
  return 1.f;
}

// y(n) = f(x(n)); vector body over n/4 float4 when aligned, scalar tail
template <int OP>
__global__ void un_fwd(int64_t n, const float* __restrict__ x, float* __restrict__ y, float p, int vec) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x, t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  int64_t n4 = vec ? n / 4 : 0;
  for (int64_t i = t; i < n4; i += stride) {
    float4 v = reinterpret_cast<const float4*>(x)[i];
    reinterpret_cast<float4*>(y)[i] = make_float4(un<OP>(v.x, p), un<OP>(v.y, p), un<OP>(v.z, p), un<OP>(v.w, p));
  }
  for (int64_t i = n4 * 4 + t; i < n; i += stride) y[i] = un<OP>(x[i], p);
}

// gx(n) (=|+=) gy(n) * f'(x(n), y(n)); y may be null for ops that do not read it
template <int OP>
__global__ void un_bwd(int64_t n, const float* __restrict__ x, const float* __restrict__ y,
                       const float* __restrict__ gy, float* __restrict__ gx, float p, int acc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    float d = gy[i] * dun<OP>(x[i], y ? y[i] : 0.f, p);
    gx[i] = acc ? gx[i] + d : d;
  }
}

__global__ void fill_k(int64_t n, float* __restrict__ x, float v) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) x[i] = v;
}
__global__ void axpby_k(int64_t n, float alpha, const float* __restrict__ x, float beta, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = beta == 0.f ? alpha * x[i] : alpha * x[i] + beta * y[i];
}
__global__ void i2f_k(int64_t n, const int32_t* __restrict__ x, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = (float)x[i];
}


}  // namespace

// out(shape) = a(shape; strides sa) op b(shape; strides sb); shape/sa/sb are host arrays(nd)
FT_API int ft_binary_fwd(int op, int nd, const int64_t* shape, const int64_t* sa, const int64_t* sb,
                         const float* a, const float* b, float* out) {
  if (nd < 1 || nd > ftc::kMaxDims) return FT_EINVAL;
  Dims d;
  d.nd = nd;
  int64_t n = 1;
  for (int k = 0; k < nd; k++) {
    if (shape[k] < 0) return FT_EINVAL;
    d.shape[k] = shape[k];
    d.sa[k] = sa[k];
    d.sb[k] = sb[k];
    n *= shape[k];
  }
  if (n == 0) return FT_OK;
  switch (op) {
    case B_ADD: return launch_bin<B_ADD>(d, n, a, b, out);
    case B_SUB: return launch_bin<B_SUB>(d, n, a, b, out);
    case B_MUL: return launch_bin<B_MUL>(d, n, a, b, out);
    case B_DIV: return launch_bin<B_DIV>(d, n, a, b, out);
    case B_MAX: return launch_bin<B_MAX>(d, n, a, b, out);
    case B_MIN: return launch_bin<B_MIN>(d, n, a, b, out);
    case B_POW: return launch_bin<B_POW>(d, n, a, b, out);
    case B_EQ: return launch_bin<B_EQ>(d, n, a, b, out);
    case B_GT: return launch_bin<B_GT>(d, n, a, b, out);
    case B_GE: return launch_bin<B_GE>(d, n, a, b, out);
  }
  return FT_EINVAL;
}

#define UN_CASES(M) \
  M(U_NEG) M(U_EXP) M(U_LOG) M(U_SQRT) M(U_TANH) M(U_SIGMOID) M(U_RELU) M(U_LEAKY) \
  M(U_GELU_ERF) M(U_GELU_TANH) M(U_ABS) M(U_SCALE) M(U_ADDS) M(U_POWS) M(U_SQUARE) \
  M(U_RSQRT) M(U_SIN) M(U_COS)

// y(n) = f(x(n); p)
FT_API int ft_unary_fwd(int op, int64_t n, const float* x, float* y, float p) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  int vec = (((uintptr_t)x | (uintptr_t)y) & 15) == 0;
  cudaStream_t s = ftc::stream();
  switch (op) {
#define M(OP) \
  case OP: un_fwd<OP><<<ftc::grid_for(un_fwd<OP>, 256, vec ? n / 4 + 1 : n), 256, 0, s>>>(n, x, y, p, vec); break;
    UN_CASES(M)
#undef M
    default: return FT_EINVAL;
  }
  return ftc::launched("ft_unary_fwd");
}

// gx(n) (=|+=) gy(n) * f'(x(n)); y(n) = f(x) (may be null for ops that don't use it)
FT_API int ft_unary_bwd(int op, int64_t n, const float* x, const float* y, const float* gy, float* gx,
                        float p, int accumulate) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  cudaStream_t s = ftc::stream();
  switch (op) {
#define M(OP) \
  case OP: un_bwd<OP><<<ftc::grid_for(un_bwd<OP>, 256, n), 256, 0, s>>>(n, x, y, gy, gx, p, accumulate); break;
    UN_CASES(M)
#undef M
    default: return FT_EINVAL;
  }
  return ftc::launched("ft_unary_bwd");
}

// x(n) = v
FT_API int ft_fill_f32(int64_t n, float* x, float v) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  fill_k<<<ftc::grid_for(fill_k, 256, n), 256, 0, ftc::stream()>>>(n, x, v);
  return ftc::launched("ft_fill_f32");
}

// y(n) = alpha * x(n) + beta * y(n)   (beta == 0 overwrites y)
FT_API int ft_axpby_f32(int64_t n, float alpha, const float* x, float beta, float* y) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  axpby_k<<<ftc::grid_for(axpby_k, 256, n), 256, 0, ftc::stream()>>>(n, alpha, x, beta, y);
  return ftc::launched("ft_axpby_f32");
}

// y(n) = (float) x(n)
FT_API int ft_i32_to_f32(int64_t n, const int32_t* x, float* y) {
  if (n < 0) return FT_EINVAL;
  if (n == 0) return FT_OK;
  i2f_k<<<ftc::grid_for(i2f_k, 256, n), 256, 0, ftc::stream()>>>(n, x, y);
  return ftc::launched("ft_i32_to_f32");
}

// Elementwise kernels: broadcasting binary ops, unary ops with their backward, fills and
// scaled accumulation. Shapes are given as the output shape plus per-input element strides
// (0 on broadcast axes), coalesced by the caller to at most FT_MAX_DIMS dims.
// Loops are compiled for AVX-512 / AVX2 / baseline (FT_MULTIVERSION, native/simd.h; picked per
// call, so FT_NO_AVX512 and ft_cpu_set_isa apply).
// Check: `cmake --build build --target check_elementwise && build/check_elementwise`.
#include <cmath>
#include <cstdint>

#include "ft.h"
#include "simd.h"
#include "threadpool.h"

#define FT_MAX_DIMS 8

enum BinOp { B_ADD = 0, B_SUB = 1, B_MUL = 2, B_DIV = 3, B_MAX = 4, B_MIN = 5, B_POW = 6, B_EQ = 7, B_GT = 8, B_GE = 9 };

template <int OP>
static inline float bin(float a, float b) {
  if (OP == B_ADD) return a + b;
  if (OP == B_SUB) return a - b;
  if (OP == B_MUL) return a * b;
  if (OP == B_DIV) return a / b;
  if (OP == B_MAX) return a > b || a != a ? a : b;
  if (OP == B_MIN) return a < b || a != a ? a : b;
  if (OP == B_EQ) return a == b ? 1.f : 0.f;
  if (OP == B_GT) return a > b ? 1.f : 0.f;
  if (OP == B_GE) return a >= b ? 1.f : 0.f;
  return std::pow(a, b);
}

// inner row: out[i] = a[i*sa] op b[i*sb]
template <int OP>
FT_INLINE void bin_row_impl(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                           float* o) {
  if (sa == 1 && sb == 1)
    for (int64_t i = 0; i < n; i++) o[i] = bin<OP>(a[i], b[i]);
  else if (sa == 1 && sb == 0) {
    float bv = b[0];
    for (int64_t i = 0; i < n; i++) o[i] = bin<OP>(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    float av = a[0];
    for (int64_t i = 0; i < n; i++) o[i] = bin<OP>(av, b[i]);
  } else
    for (int64_t i = 0; i < n; i++) o[i] = bin<OP>(a[i * sa], b[i * sb]);
}
FT_MULTIVERSION(template <int OP>, <OP>, void, bin_row, (int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* o), (n, a, sa, b, sb, o))

template <int OP>
static void bin_nd(int nd, const int64_t* shape, const int64_t* sa, const int64_t* sb,
                   const float* a, const float* b, float* out) {
  int64_t inner = shape[nd - 1], rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= shape[d];
  int64_t grain = inner >= 16384 ? 1 : 16384 / (inner > 0 ? inner : 1);
  ft::parallel_for(
      rows,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; r++) {
          int64_t oa = 0, ob = 0, rem = r;
          for (int d = nd - 2; d >= 0; d--) {
            int64_t i = rem % shape[d];
            rem /= shape[d];
            oa += i * sa[d];
            ob += i * sb[d];
          }
          bin_row<OP>(inner, a + oa, sa[nd - 1], b + ob, sb[nd - 1], out + r * inner);
        }
      },
      grain);
}

// out(shape) = a(shape; strides sa) op b(shape; strides sb); out contiguous
FT_API int ft_binary_fwd(int op, int nd, const int64_t* shape, const int64_t* sa,
                         const int64_t* sb, const float* a, const float* b, float* out) {
  if (nd < 1 || nd > FT_MAX_DIMS) return FT_EINVAL;
  for (int d = 0; d < nd; d++)
    if (shape[d] < 0) return FT_EINVAL;
  for (int d = 0; d < nd; d++)
    if (shape[d] == 0) return FT_OK;
  switch (op) {
    case B_ADD: bin_nd<B_ADD>(nd, shape, sa, sb, a, b, out); break;
    case B_SUB: bin_nd<B_SUB>(nd, shape, sa, sb, a, b, out); break;
    case B_MUL: bin_nd<B_MUL>(nd, shape, sa, sb, a, b, out); break;
    case B_DIV: bin_nd<B_DIV>(nd, shape, sa, sb, a, b, out); break;
    case B_MAX: bin_nd<B_MAX>(nd, shape, sa, sb, a, b, out); break;
    case B_MIN: bin_nd<B_MIN>(nd, shape, sa, sb, a, b, out); break;
    case B_POW: bin_nd<B_POW>(nd, shape, sa, sb, a, b, out); break;
    case B_EQ: bin_nd<B_EQ>(nd, shape, sa, sb, a, b, out); break;
    case B_GT: bin_nd<B_GT>(nd, shape, sa, sb, a, b, out); break;
    case B_GE: bin_nd<B_GE>(nd, shape, sa, sb, a, b, out); break;
    default: return FT_EINVAL;
  }
  return FT_OK;
}

enum UnOp {
  U_NEG = 0, U_EXP = 1, U_LOG = 2, U_SQRT = 3, U_TANH = 4, U_SIGMOID = 5, U_RELU = 6,
  U_LEAKY = 7, U_GELU_ERF = 8, U_GELU_TANH = 9, U_ABS = 10, U_SCALE = 11, U_ADDS = 12,
  U_POWS = 13, U_SQUARE = 14, U_RSQRT = 15, U_SIN = 16, U_COS = 17
};

static const float kSqrt2OverPi = 0.7978845608028654f, kInvSqrt2 = 0.7071067811865476f;

template <int OP>
static inline float un(float x, float p, float q) {
  switch (OP) {
    case U_NEG: return -x;
    case U_EXP: return std::exp(x);
    case U_LOG: return std::log(x);
    case U_SQRT: return std::sqrt(x);
    case U_TANH: return std::tanh(x);
    case U_SIGMOID: return 1.f / (1.f + std::exp(-x));
    case U_RELU: return x > 0.f ? x : (x != x ? x : 0.f);
    case U_LEAKY: return x > 0.f ? x : x * p;
    case U_GELU_ERF: return 0.5f * x * (1.f + std::erf(x * kInvSqrt2));
    case U_GELU_TANH: return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    case U_ABS: return std::fabs(x);
    case U_SCALE: return x * p;
    case U_ADDS: return x + p;
    case U_POWS: return std::pow(x, p);
    case U_SQUARE: return x * x;
    case U_RSQRT: return 1.f / std::sqrt(x);
    case U_SIN: return std::sin(x);
    case U_COS: return std::cos(x);
  }
  return x;
}

// d y / d x given x and y = f(x)
template <int OP>
static inline float dun(float x, float y, float p) {
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
      float cdf = 0.5f * (1.f + std::erf(x * kInvSqrt2));
      float pdf = 0.3989422804014327f * std::exp(-0.5f * x * x);
      return cdf + x * pdf;
    }
    case U_GELU_TANH: {
      float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
      float t = std::tanh(u);
      float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
      return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du;
    }
    case U_ABS: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case U_SCALE: return p;
    case U_ADDS: return 1.f;
    case U_POWS: return p * std::pow(x, p - 1.f);
    case U_SQUARE: return 2.f * x;
    case U_RSQRT: return -0.5f * y * y * y;
    case U_SIN: return std::cos(x);
    case U_COS: return -std::sin(x);
  }
  return 1.f;
}

template <int OP>
FT_INLINE void un_range_impl(int64_t n, const float* x, float* y, float p, float q) {
  for (int64_t i = 0; i < n; i++) y[i] = un<OP>(x[i], p, q);
}
FT_MULTIVERSION(template <int OP>, <OP>, void, un_range, (int64_t n, const float* x, float* y, float p, float q), (n, x, y, p, q))
template <int OP>
FT_INLINE void dun_range_impl(int64_t n, const float* x, const float* y, const float* gy,
                             float* gx, float p, int accumulate) {
  if (accumulate)
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * dun<OP>(x[i], y ? y[i] : 0.f, p);
  else
    for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * dun<OP>(x[i], y ? y[i] : 0.f, p);
}
FT_MULTIVERSION(template <int OP>, <OP>, void, dun_range, (int64_t n, const float* x, const float* y, const float* gy, float* gx, float p, int accumulate), (n, x, y, gy, gx, p, accumulate))

#define UN_CASES(M) \
  M(U_NEG) M(U_EXP) M(U_LOG) M(U_SQRT) M(U_TANH) M(U_SIGMOID) M(U_RELU) M(U_LEAKY) \
  M(U_GELU_ERF) M(U_GELU_TANH) M(U_ABS) M(U_SCALE) M(U_ADDS) M(U_POWS) M(U_SQUARE) \
  M(U_RSQRT) M(U_SIN) M(U_COS)

// y(n) = f(x(n); p)
FT_API int ft_unary_fwd(int op, int64_t n, const float* x, float* y, float p) {
  if (n < 0) return FT_EINVAL;
  int bad = 0;
  ft::parallel_for(
      n,
      [&](int64_t b, int64_t e, int) {
        switch (op) {
#define M(OP) \
  case OP: un_range<OP>(e - b, x + b, y + b, p, 0.f); break;
          UN_CASES(M)
#undef M
          default: bad = 1;
        }
      },
      32768);
  return bad ? FT_EINVAL : FT_OK;
}

// gx(n) (=|+=) gy(n) * f'(x(n)); y(n) = f(x) (may be null for ops that don't use it)
FT_API int ft_unary_bwd(int op, int64_t n, const float* x, const float* y, const float* gy,
                        float* gx, float p, int accumulate) {
  if (n < 0) return FT_EINVAL;
  int bad = 0;
  ft::parallel_for(
      n,
      [&](int64_t b, int64_t e, int) {
        switch (op) {
#define M(OP) \
  case OP: dun_range<OP>(e - b, x + b, y ? y + b : nullptr, gy + b, gx + b, p, accumulate); break;
          UN_CASES(M)
#undef M
          default: bad = 1;
        }
      },
      32768);
  return bad ? FT_EINVAL : FT_OK;
}

// x(n) = v
FT_INLINE void fill_range_impl(int64_t n, float* x, float v) {
  for (int64_t i = 0; i < n; i++) x[i] = v;
}
FT_MULTIVERSION(, , void, fill_range, (int64_t n, float* x, float v), (n, x, v))
FT_API int ft_fill_f32(int64_t n, float* x, float v) {
  if (n < 0) return FT_EINVAL;
  ft::parallel_for(n, [&](int64_t b, int64_t e, int) { fill_range(e - b, x + b, v); }, 65536);
  return FT_OK;
}

// y(n) = alpha * x(n) + beta * y(n)   (beta == 0 overwrites y)
FT_INLINE void axpby_range_impl(int64_t n, float alpha, const float* x, float beta, float* y) {
  if (beta == 0.f)
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i];
  else
    for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta * y[i];
}
FT_MULTIVERSION(, , void, axpby_range, (int64_t n, float alpha, const float* x, float beta, float* y), (n, alpha, x, beta, y))
FT_API int ft_axpby_f32(int64_t n, float alpha, const float* x, float beta, float* y) {
  if (n < 0) return FT_EINVAL;
  ft::parallel_for(n, [&](int64_t b, int64_t e, int) { axpby_range(e - b, alpha, x + b, beta, y + b); },
                   65536);
  return FT_OK;
}

// y(n) = (float) x(n) for int32 -> float32
FT_API int ft_i32_to_f32(int64_t n, const int32_t* x, float* y) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)x[i];
  return FT_OK;
}

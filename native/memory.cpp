// Host memory for tensors: 64-byte aligned blocks; blocks of 2 MiB and more are 2 MiB aligned
// and their whole 2 MiB pages advised as transparent huge pages (first touch of fresh memory
// costs ~3 ms/MiB on our VMs, so huge pages cut the page-fault count 512x). The tail past the
// last whole 2 MiB page stays on 4 KiB pages: a huge page there would make a 2.5 MiB block
// resident as 4 MiB (before, 2-4 MiB activations cost up to 60% more RSS than their size).
// Caching lives in TypeScript (src/tensor/storage.ts): it frees rarely, so these calls are off
// the hot path.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "ft.h"

// Largest block: 2^47 bytes (src/tensor/shape.ts MAX_TENSOR_BYTES). A negative or larger count
// is a size computation that wrapped somewhere; it gets null, never a small block.
constexpr int64_t kMaxBytes = (int64_t)1 << 47;

// returns a block of at least `bytes` bytes (0 <= bytes <= 2^47), or null
FT_API void* ft_mem_alloc(int64_t bytes) {
  if (bytes < 0 || bytes > kMaxBytes) return nullptr;
  if (bytes == 0) bytes = 64;
  constexpr size_t kHuge = (size_t)2 << 20;
  const bool big = (size_t)bytes >= kHuge;
  const size_t align = big ? kHuge : 64;
  const size_t size = ((size_t)bytes + 63) / 64 * 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, size) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  if (big) madvise(p, size / kHuge * kHuge, MADV_HUGEPAGE);  // whole huge pages only
#endif
  return p;
}

FT_API void ft_mem_free(void* p) { std::free(p); }

// dst(n) <- src(n) bytes
FT_API int ft_mem_copy(void* dst, const void* src, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes) std::memcpy(dst, src, (size_t)bytes);
  return FT_OK;
}

// dst(n) <- 0
FT_API int ft_mem_zero(void* dst, int64_t bytes) {
  if (bytes < 0) return FT_EINVAL;
  if (bytes) std::memset(dst, 0, (size_t)bytes);
  return FT_OK;
}

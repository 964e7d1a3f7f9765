// The one C ABI of the CPU library (libft_cpu.so), shared by kernels/ for libft_cuda.so.
// Conventions (DESIGN §3): every entry point is `extern "C" int ft_<op>_<fwd|bwd>(...)`,
// returns FT_OK or an FT_E* status, never prints or exits. Tensors are contiguous row-major
// float32 (int32 for indices); every pointer argument carries a shape comment.
#pragma once
#include <cstdint>

#define FT_OK 0
#define FT_EINVAL 1   // bad argument (shape, size, flag)
#define FT_ENOMEM 2   // allocation failed
#define FT_EUNSUP 3   // not supported on this build / CPU
#define FT_EDEVICE 4  // device (CUDA) error

#define FT_API extern "C" __attribute__((visibility("default")))

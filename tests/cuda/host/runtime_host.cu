// Host-only checks of kernels/runtime.cu's bookkeeping, linked with it and run WITHOUT a GPU
// (tests/cuda/runtime_host_test.ts builds and runs this when nvcc exists): error messages and
// codes, sticky faults, library notes, the no-device paths, occupancy-based grid sizing before
// init, the alignment helper. Prints one "FAIL ..." line per broken expectation, then "done N".
#include <cstdio>
#include <cstring>
#include <string>

#include "common.cuh"

extern "C" int ft_cuda_error_state(int* out);
extern "C" int ft_cuda_last_error(char* buf, int n);
extern "C" int ft_cuda_device_count();
extern "C" int ft_cuda_set_stream(void* s);
extern "C" int ft_cuda_stream_destroy(void* s);
extern "C" int ft_cuda_device_info(char* name, int n, int* info);

namespace {
int checks = 0, failures = 0;
void expect(bool ok, const char* what) {
  checks++;
  if (!ok) {
    failures++;
    printf("FAIL %s\n", what);
  }
}
std::string last() {
  char buf[512];
  ft_cuda_last_error(buf, sizeof buf);
  return buf;
}
__global__ void k_dummy(int64_t n, float* x) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    x[i] = 0.f;
}
}  // namespace

int main() {
  int s[2];
  // a plain error: status 4, name and place in the message, code readable once
  expect(ftc::fail(cudaErrorMemoryAllocation, "cudaMalloc") == FT_EDEVICE, "fail() returns FT_EDEVICE");
  expect(last().find("cudaMalloc: ") == 0 && last().find("cudaErrorMemoryAllocation") != std::string::npos,
         "message names the call and the error");
  expect(last().find("sticky") == std::string::npos, "out of memory is not sticky");
  ft_cuda_error_state(s);
  expect(s[0] == (int)cudaErrorMemoryAllocation && s[1] == 0, "error_state: last code, no sticky");
  ft_cuda_error_state(s);
  expect(s[0] == 0, "error_state clears the last code once read");
  expect(ftc::fail(cudaSuccess, "x") == FT_OK, "success is FT_OK");
  // a library note
  expect(ftc::note(FT_EINVAL, "op: index %d outside [0, %d)", 7, 5) == FT_EINVAL, "note returns its status");
  expect(last() == "op: index 7 outside [0, 5)", "note formats its message");
  ft_cuda_error_state(s);
  expect(s[0] == -1 && s[1] == 0, "a note reads as code -1");
  // a sticky fault stays reported, also behind later errors
  ftc::fail(cudaErrorIllegalAddress, "kernel");
  expect(last().find("[sticky") != std::string::npos, "illegal address is marked sticky");
  ftc::fail(cudaErrorInvalidValue, "later call");
  expect(last().find("later call") == 0 && last().find("[sticky") != std::string::npos,
         "later errors still say the context is unusable");
  ft_cuda_error_state(s);
  expect(s[0] == (int)cudaErrorInvalidValue && s[1] == (int)cudaErrorIllegalAddress, "sticky code kept");
  // no device here: count 0 with a reason, the rest refuse cleanly
  int n = ft_cuda_device_count();
  int devs = 0;
  bool has_device = cudaGetDeviceCount(&devs) == cudaSuccess && devs > 0;
  cudaGetLastError();
  if (!has_device) {
    expect(n == 0 && last().find("cudaGetDeviceCount") != std::string::npos, "no device: 0 and a reason");
    expect(ft_cuda_set_stream(nullptr) == FT_EDEVICE, "set_stream before init is refused");
    char name[8];
    int info[8];
    expect(ft_cuda_device_info(name, 8, info) == FT_EDEVICE, "device_info before init is refused");
    // occupancy query fails without a device: one block per SM, one SM -> 1 block, any n
    expect(ftc::grid_for(k_dummy, 256, 1LL << 40) == 1, "grid_for before init: one wave of one block");
  }
  expect(ft_cuda_stream_destroy(nullptr) == FT_EINVAL, "destroying the null stream is refused");
  expect(ftc::blocks_for(0, 256, 100) == 1 && ftc::blocks_for(1000, 256, 2) == 2 && ftc::blocks_for(257, 256) == 2,
         "blocks_for bounds");
  alignas(16) static char blk[64];
  expect(!ftc::misaligned16(blk, blk + 16, blk + 48), "aligned pointers pass");
  expect(ftc::misaligned16(blk, blk + 2), "one misaligned pointer is caught");
  printf("done %d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}

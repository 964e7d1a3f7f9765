# Times PyTorch fp32 GEMMs on CPU (2 threads) at the shapes native/gemm.cpp is benchmarked on,
# for the NN, NT and TN transposes (forward, grad-input and grad-weight GEMMs of training), and
# prints GFLOP/s per shape (median and best of several timed repeats after warm-up) for:
#   matmul  torch.matmul on (transposed) views: ATen -> BLAS (this Debian build: OpenBLAS,
#           whose auto-detected core on this CPU is the SSE3 "Prescott" kernel)
#   onednn  torch._C._nn.mkldnn_linear on mkldnn tensors: oneDNN's AVX-512 JIT GEMM, PyTorch's
#           fastest fp32 CPU path here; operands are laid out for it (op(A) as (M,K), op(B)^T
#           as (N,K)) outside the timed region, so every transpose is timed as its best case.
# Run in PyTorch's best configuration (see docs/gemm.md):
#   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
#     GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
#     OMP_WAIT_POLICY=PASSIVE ATEN_CPU_CAPABILITY=avx512 /usr/bin/python3 bench/gemm_torch.py
#   ours    (with --ours build/libft_cpu.so) ft_gemm_f32 through ctypes on the same tensors,
#           interleaved with the torch timings round by round, so that all columns see the
#           same machine load (our VMs are shared and noisy).
# Optional args: --rounds N (timed repeats; median/best taken), --only matmul|onednn|ours.
import argparse
import ctypes
import statistics
import time

import torch

SHAPES = [(3136, 192, 576), (3136, 768, 192), (512, 512, 512), (2048, 2048, 2048)]
# weight-gradient GEMMs (g^T x) of the first two shapes: TN with the long axis as K
EXTRA = [(192, 576, 3136, 1, 0, "TN"), (768, 192, 3136, 1, 0, "TN")]


def load_ours(path):
    lib = ctypes.CDLL(path)
    i, i64, f, p = ctypes.c_int, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    lib.ft_gemm_f32.argtypes = [i, i, i64, i64, i64, f, p, i64, p, i64, f, p, i64]
    lib.ft_gemm_f32.restype = i
    return lib


def bench(M, N, K, ta, tb, rounds, which, lib):
    flops = 2.0 * M * N * K
    # op(A) is (M,K), op(B) is (K,N); a transposed operand is a .t() view of a contiguous
    # tensor, which torch hands to BLAS as a transposed GEMM without copying.
    a = torch.randn(K, M).t() if ta else torch.randn(M, K)
    b = torch.randn(N, K).t() if tb else torch.randn(K, N)
    fns = {}
    if which in ("all", "ours") and lib is not None:
        c2 = torch.empty(M, N)
        args = (ta, tb, M, N, K, 1.0, a.data_ptr(), M if ta else K, b.data_ptr(), K if tb else N,
                0.0, c2.data_ptr(), N)
        fns["ours"] = lambda: lib.ft_gemm_f32(*args)
    if which in ("all", "onednn"):
        am = a.contiguous().to_mkldnn()  # (M,K)
        bm = b.t().contiguous().to_mkldnn()  # (N,K): linear computes x @ w^T
        fns["onednn"] = lambda: torch._C._nn.mkldnn_linear(am, bm, None)
    if which in ("all", "matmul"):
        c = torch.empty(M, N)
        fns["matmul"] = lambda: torch.matmul(a, b, out=c)
    # calls per repeat sized so that one repeat is ~50 ms at ~300 GFLOP/s
    n = max(1, int(0.05 * 300e9 / flops))
    times = {k: [] for k in fns}
    for r in range(rounds + 1):  # round 0 warms up threads, allocator, caches, primitives
        for k, fn in fns.items():
            if k == "matmul":
                time.sleep(0.2)  # let the previous runs' worker threads go idle
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            if r > 0:
                times[k].append((time.perf_counter() - t0) / n)
            if k == "matmul":
                time.sleep(0.2)  # OpenBLAS workers spin ~0.1 s after a call: keep them off ours
    return {k: (flops / statistics.median(t) / 1e9, flops / min(t) / 1e9) for k, t in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default="all", choices=["all", "matmul", "onednn", "ours"])
    ap.add_argument("--ours", default="", help="path to libft_cpu.so to time alongside")
    args = ap.parse_args()
    lib = load_ours(args.ours) if args.ours else None
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} (GFLOP/s)")
    print(f"{'M':>5} {'N':>5} {'K':>5} {'op':>3} {'matmul med':>10} {'matmul best':>11} "
          f"{'onednn med':>10} {'onednn best':>11} {'ours med':>8} {'ours best':>9}")
    cases = [(M, N, K, ta, tb, name) for (M, N, K) in SHAPES
             for ta, tb, name in [(0, 0, "NN"), (0, 1, "NT"), (1, 0, "TN")]] + EXTRA
    for (M, N, K, ta, tb, name) in cases:
        r = bench(M, N, K, ta, tb, args.rounds, args.only, lib)
        mm, od, us = (r.get(k, (0.0, 0.0)) for k in ("matmul", "onednn", "ours"))
        print(f"{M:5d} {N:5d} {K:5d} {name:>3} {mm[0]:10.1f} {mm[1]:11.1f} {od[0]:10.1f} "
              f"{od[1]:11.1f} {us[0]:8.1f} {us[1]:9.1f}", flush=True)


if __name__ == "__main__":
    main()

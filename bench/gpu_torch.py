# PyTorch side of the CUDA kernel benchmarks (bench/gpu_timings.ts times ours): the same cases on
# the same card, timed with CUDA events (warm-up, median of rounds of back-to-back calls).
# torch.matmul = cuBLAS, scaled_dot_product_attention = flash attention (forced), F.layer_norm,
# torch.softmax, F.gelu, BCE-with-logits + soft Dice composed from torch ops, and copy_.
# Prints one JSON line per case.   python3 bench/gpu_torch.py [--quick]
import json
import sys

import torch
import torch.nn.functional as F

quick = "--quick" in sys.argv
dev = torch.device("cuda")
torch.manual_seed(0)


def time(fn, reps, rounds=3 if quick else 7):
    for _ in range(max(2, reps // 2)):
        fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    t = []
    for _ in range(rounds):
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        b.synchronize()
        t.append(a.elapsed_time(b) / reps)
    t.sort()
    return t[len(t) // 2]


def emit(**r):
    print(json.dumps({"impl": "torch", **r}), flush=True)


n = 256 << 20
a = torch.empty(n // 4, device=dev)
b = torch.empty_like(a)
ms = time(lambda: b.copy_(a), 10)
emit(case="copy", shape="256MiB", ms=ms, gbps=2 * n / ms / 1e6)
del a, b

GEMMS = [(4096, 4096, 4096, "4096^3"), (3152, 2304, 768, "vit qkv"), (3152, 768, 768, "vit proj"),
         (3152, 3072, 768, "vit fc1"), (3152, 768, 3072, "vit fc2"), (4112, 768, 768, "qformer 16x257")]
for M, N, K, tag in (GEMMS[:2] if quick else GEMMS):
    A = torch.rand(M, K, device=dev, dtype=torch.bfloat16) * 2 - 1
    Bt = torch.rand(N, K, device=dev, dtype=torch.bfloat16) * 2 - 1  # same layout as ours: B (N, K)
    C = torch.empty(M, N, device=dev, dtype=torch.bfloat16)
    flops = 2 * M * N * K
    reps = max(3, min(200, round(2e12 / flops)))
    ms = time(lambda: torch.matmul(A, Bt.t(), out=C), reps)
    emit(case=f"gemm bf16 {tag}", variant="torch.matmul", shape=f"{M}x{N}x{K}", ms=ms, tflops=flops / ms / 1e9)

from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

for B, H, T in [(16, 12, 257), (16, 3, 197)]:
    D = 64
    q, k, v, go = (torch.rand(B, H, T, D, device=dev, dtype=torch.bfloat16) * 2 - 1 for _ in range(4))
    flops = 4 * B * H * T * T * D
    shape = f"{B}x{H}x{T}x{D}"
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        ms = time(lambda: F.scaled_dot_product_attention(q, k, v), 50)
        emit(case=f"attention fwd {shape}", shape=shape, ms=ms, tflops=flops / ms / 1e9)
        qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))

        def fb():
            o = F.scaled_dot_product_attention(qg, kg, vg)
            o.backward(go)

        ms = time(fb, 30)
        emit(case=f"attention fwd+bwd {shape}", shape=shape, ms=ms, tflops=3.5 * flops / ms / 1e9)

rows, T = 16 * 12 * 257, 257
x = torch.rand(rows, T, device=dev) * 8 - 4
ms = time(lambda: torch.softmax(x, -1), 50)
emit(case="softmax", shape=f"{rows}x{T}", ms=ms, gbps=2 * x.numel() * 4 / ms / 1e6)

rows, Dm = 16 * 257, 768
x = torch.rand(rows, Dm, device=dev) * 2 - 1
w, bb = torch.rand(Dm, device=dev), torch.rand(Dm, device=dev)
ms = time(lambda: F.layer_norm(x, (Dm,), w, bb, 1e-5), 100)
emit(case="layernorm", shape=f"{rows}x{Dm}", ms=ms, gbps=2 * x.numel() * 4 / ms / 1e6)

nn = 16 * 257 * 3072
x = torch.rand(nn, device=dev) * 8 - 4
ms = time(lambda: F.gelu(x), 50)
emit(case="gelu", shape=f"{nn}", ms=ms, gbps=2 * nn * 4 / ms / 1e6)

S, L = 16, 512 * 512
x = torch.rand(S, L, device=dev) * 8 - 4
t = torch.rand(S, L, device=dev)


def bce_dice():
    wts = torch.where(t > 0.5, 1.0, 0.2)
    bce = F.binary_cross_entropy_with_logits(x, t, weight=wts)
    p = torch.sigmoid(x)
    inter = (p * t).sum(1)
    dice = 1 - (2 * inter + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce + dice.mean()


ms = time(bce_dice, 50)
emit(case="bce+dice", shape=f"{S}x{L}", ms=ms, gbps=2 * S * L * 4 / ms / 1e6)
print(f"gpu_torch: torch {torch.__version__} on {torch.cuda.get_device_name()}", file=sys.stderr)

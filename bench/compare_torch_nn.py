"""PyTorch side of the fused-kernel comparison (docs/nn_kernels.md): times torch's best CPU
configuration at the same shapes as bench/{attention,softmax,norm,gelu,cross_entropy,
embedding}_bench.ts, float32, 2 threads, forward and forward+backward; prints median, mean
and min over many runs (ms).

Run (torch's best configuration: its own allocator settings, AVX-512 kernels):
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
    OMP_WAIT_POLICY=PASSIVE ATEN_CPU_CAPABILITY=avx512 /usr/bin/python3 bench/compare_torch_nn.py
Optional: --only attention,gelu   --runs 50
PyTorch 1.13 has no fused attention on CPU: attention is q·kᵀ·scale (+mask) -> softmax -> ·v,
which is what torch-based ViT / BERT / T5 code runs.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def timeit(fn, runs, warmup=5):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), statistics.fmean(ts), min(ts)


def fwd_bwd(make_out, inputs, grad=None):
    def fwd():
        with torch.no_grad():
            make_out()

    def both():
        for t in inputs:
            t.grad = None
        out = make_out()
        out.backward(grad if grad is not None else torch.ones_like(out))

    return fwd, both


def attention_cases():
    def attn(q, k, v, causal=False, pad=None):
        s = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        if pad is not None:
            s = s + pad
        if causal:
            tq, tk = s.shape[-2:]
            s = s.masked_fill(torch.ones(tq, tk, dtype=torch.bool).triu(1), float("-inf"))
        return torch.matmul(torch.softmax(s, -1), v)

    for name, (b, h, tq, tk, d), causal in [
        ("attention self (16,3,197,64)", (16, 3, 197, 197, 64), False),
        ("attention cross (16,3,32x197,64)", (16, 3, 32, 197, 64), False),
        ("attention causal (16,4,64,64)", (16, 4, 64, 64, 64), True),
    ]:
        q = torch.randn(b, h, tq, d, requires_grad=True)
        k = torch.randn(b, h, tk, d, requires_grad=True)
        v = torch.randn(b, h, tk, d, requires_grad=True)
        g = torch.randn(b, h, tq, d)
        yield name, fwd_bwd(lambda q=q, k=k, v=v, c=causal: attn(q, k, v, c), [q, k, v], g)


def softmax_cases():
    x = torch.randn(16, 3, 196, 196, requires_grad=True)
    g = torch.randn(16, 3, 196, 196)
    pad = torch.zeros(16, 1, 1, 196)
    for b in range(16):
        pad[b, 0, 0, 196 - 4 * (b % 5):] = float("-inf")
    yield "softmax (16,3,196,196)", fwd_bwd(lambda: torch.softmax(x, -1), [x], g)
    yield "softmax+mask (16,3,196,196)", fwd_bwd(lambda: torch.softmax(x + pad, -1), [x], g)
    yield "logSoftmax (16,3,196,196)", fwd_bwd(lambda: torch.log_softmax(x, -1), [x], g)


def norm_cases():
    x = torch.randn(16, 196, 192, requires_grad=True)
    w = torch.randn(192, requires_grad=True)
    b = torch.randn(192, requires_grad=True)
    g = torch.randn(16, 196, 192)

    def rms(x, w, eps=1e-6):  # T5LayerNorm as in HF transformers
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    yield "layerNorm (16,196,192)", fwd_bwd(lambda: F.layer_norm(x, (192,), w, b, 1e-5), [x, w, b], g)
    yield "rmsNorm (16,196,192)", fwd_bwd(lambda: rms(x, w), [x, w], g)


def gelu_cases():
    x = torch.randn(16, 196, 768, requires_grad=True)
    g = torch.randn(16, 196, 768)
    yield "gelu erf (16,196,768)", fwd_bwd(lambda: F.gelu(x), [x], g)
    yield "gelu tanh (16,196,768)", fwd_bwd(lambda: F.gelu(x, approximate="tanh"), [x], g)


def cross_entropy_cases():
    for n, c in [(256, 32128), (512, 1000)]:
        x = torch.randn(n, c, requires_grad=True)
        t = torch.randint(0, c, (n,))
        t[::7] = -100
        yield f"crossEntropy ({n},{c})", fwd_bwd(
            lambda x=x, t=t: F.cross_entropy(x, t, label_smoothing=0.1), [x])


def embedding_cases():
    w = (torch.randn(32128, 768) * 0.02).requires_grad_()
    ids = torch.randint(0, 32128, (16, 64))
    g = torch.randn(16, 64, 768)
    yield "embedding (32128,768)[16,64]", fwd_bwd(lambda: F.embedding(ids, w), [w], g)


GROUPS = {
    "attention": attention_cases,
    "softmax": softmax_cases,
    "norm": norm_cases,
    "gelu": gelu_cases,
    "cross_entropy": cross_entropy_cases,
    "embedding": embedding_cases,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(GROUPS))
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    cap = [l for l in torch.__config__.show().splitlines() if "CPU capability" in l]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; {cap[0].strip() if cap else ''}")
    print(f"{'case':40s} {'pass':8s} {'median':>8s} {'mean':>8s} {'min':>8s}  (ms)")
    for group in args.only.split(","):
        for name, (fwd, both) in GROUPS[group]():
            for label, fn in (("fwd", fwd), ("fwd+bwd", both)):
                med, mean, mn = timeit(fn, args.runs)
                print(f"{name:40s} {label:8s} {med:8.3f} {mean:8.3f} {mn:8.3f}", flush=True)


if __name__ == "__main__":
    main()

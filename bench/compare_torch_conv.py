# Times PyTorch (fp32, CPU, 2 threads) at the shapes bench/{conv2d,conv_transpose2d,bce_dice}_bench.ts
# measure, fwd and fwd+bwd, so docs/conv_kernels.md can put ours beside torch's:
#   CoordConv 3x3 (16,3,224,224)->32 stride 1 pad 1 (coordinate channels cat'ed, then conv2d),
#   conv-transpose 2x2 stride 2 (16,128,14,14)->64, BCE-with-logits (neg weight 0.2) + soft Dice
#   on (16,1,224,224). Prints the median ms of many timed calls after warm-up.
# Run in PyTorch's best configuration:
#   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
#     GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
#     OMP_WAIT_POLICY=PASSIVE ATEN_CPU_CAPABILITY=avx512 /usr/bin/python3 bench/compare_torch_conv.py
# Optional: --rounds N (timed calls per case; median taken).
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(fn, rounds, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def add_coords(x):
    # [x, xx, yy]: xx varies along H, yy along W, both in [-1, 1] (AddCoords of the CoordConv
    # paper's PyTorch port, as used by the official ForgeryTalker FPN)
    b, _, h, w = x.shape
    xx = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
    yy = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([x, xx, yy], 1)


def coordconv_cases():
    x = torch.randn(16, 3, 224, 224)
    w = torch.randn(32, 5, 3, 3) * 0.1
    b = torch.randn(32)

    def fwd():
        with torch.no_grad():
            return F.conv2d(add_coords(x), w, b, stride=1, padding=1)

    xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()

    def fwd_bwd():
        y = F.conv2d(add_coords(xg), wg, bg, stride=1, padding=1)
        y.backward(torch.ones_like(y))
        xg.grad = wg.grad = bg.grad = None

    return [("coordconv3x3 (16,3,224,224)->32", fwd, fwd_bwd)]


def convt_cases():
    x = torch.randn(16, 128, 14, 14)
    w = torch.randn(128, 64, 2, 2) * 0.1
    b = torch.randn(64)

    def fwd():
        with torch.no_grad():
            return F.conv_transpose2d(x, w, b, stride=2)

    xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), b.clone().requires_grad_()

    def fwd_bwd():
        y = F.conv_transpose2d(xg, wg, bg, stride=2)
        y.backward(torch.ones_like(y))
        xg.grad = wg.grad = bg.grad = None

    return [("convT2x2/2 (16,128,14,14)->64", fwd, fwd_bwd)]


def loss(logits, t):
    # FPN loss: BCE with weight 0.2 on negatives (mean) + soft Dice (per sample, sigmoid inside)
    wts = torch.where(t > 0.5, torch.ones_like(t), torch.full_like(t, 0.2))
    bce = F.binary_cross_entropy_with_logits(logits, t, weight=wts)
    p = torch.sigmoid(logits).flatten(1)
    tf = t.flatten(1)
    dice = 1 - (2 * (p * tf).sum(1) + 1) / (p.sum(1) + tf.sum(1) + 1)
    return bce + dice.mean()


def bce_dice_cases():
    logits = torch.randn(16, 1, 224, 224)
    t = (torch.rand(16, 1, 224, 224) > 0.7).float()

    def fwd():
        with torch.no_grad():
            return loss(logits, t)

    lg = logits.clone().requires_grad_()

    def fwd_bwd():
        loss(lg, t).backward()
        lg.grad = None

    return [("bce+dice (16,1,224,224)", fwd, fwd_bwd)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} mkldnn={torch.backends.mkldnn.is_available()}")
    print(f"{'case':<36} {'fwd ms':>9} {'fwd+bwd ms':>11}")
    for name, fwd, fwd_bwd in coordconv_cases() + convt_cases() + bce_dice_cases():
        f = median_ms(fwd, args.rounds)
        fb = median_ms(fwd_bwd, args.rounds)
        print(f"{name:<36} {f:9.3f} {fb:11.3f}", flush=True)


if __name__ == "__main__":
    main()

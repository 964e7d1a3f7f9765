"""PyTorch side of bench/compare_torch.py: the issue's cases, each as (fwd, fwd+bwd) callables
with the same semantics as bench/side_by_side.ts, and the timing rule both sides share.

Case ids (the keys of side_by_side.ts --json) and what is timed:
  gemm_MxNxK     torch.matmul (M,K)@(K,N); fwd+bwd: both inputs require grad, so backward runs
                 the NT (dA = G·Bᵀ) and TN (dB = Aᵀ·G) GEMMs. Extra (fwd only, no autograd):
                 oneDNN's GEMM (torch._C._nn.mkldnn_linear on mkldnn tensors), torch's fastest
                 fp32 CPU GEMM here; plain matmul goes to the BLAS ATen was built with.
  attn_*         q·kᵀ·scale (+causal mask) -> softmax -> ·v (torch 1.13 has no fused CPU attention)
  softmax, layernorm (x, w, b), gelu (erf form), dropout (p 0.1, training), bias_grad (column sum
  of a (rows, out) gradient: the linear bias gradient; fwd only), cross_entropy (label smoothing 0.1, every 7th
  target ignored), embedding (dense weight gradient), coordconv (cat 2 coordinate channels, then
  conv2d 3x3 pad 1), convt (conv_transpose2d 2x2 stride 2), bce_dice (BCE with weight 0.2 on
  negatives, mean, + per-sample soft Dice, smooth 1)
  dispatch       a + b on 1-element tensors (reference for ours' FFI/dispatch overhead), per op
fwd runs under no_grad; fwd+bwd clears the leaves' .grad, runs forward, then
out.backward(fixed upstream gradient) (a scalar loss: .backward()).
"""
import math
import time

import torch
import torch.nn.functional as F

# Timing rule (side_by_side.ts uses the same constants): warm up until WARMUP_CALLS calls and
# WARMUP_S seconds (one call if it takes longer than BUDGET_S); then time single calls until
# MIN_CALLS calls and BUDGET_S seconds, or MAX_CALLS calls, or 3*BUDGET_S seconds; report the
# median in ms.
WARMUP_CALLS, WARMUP_S, BUDGET_S, MIN_CALLS, MAX_CALLS = 2, 0.2, 0.5, 5, 200
DISPATCH_INNER = 1000  # 1-element ops per timed call in the dispatch case

GEMM_SHAPES = [(3136, 192, 576), (3136, 768, 192), (512, 512, 512), (2048, 2048, 2048)]

# id -> label, in table order (side_by_side.ts has the same ids)
LABELS = {f"gemm_{m}x{n}x{k}": f"GEMM ({m},{n},{k})" for m, n, k in GEMM_SHAPES}
LABELS.update({
    "attn_self": "attention self (16,3,197,64)",
    "attn_cross": "attention cross (16,3,32x197,64)",
    "attn_causal": "attention causal (16,4,64,64)",
    "attn_t5_bias": "attention T5 + bias (1,4,64,64) (16,4,64,64)",
    "attn_qf_self": "attention Q-Former self + pad mask (16,3,64,64)",
    "softmax": "softmax (16,3,196,196)",
    "layernorm": "layerNorm (16,196,192)",
    "gelu": "GELU erf (16,196,768)",
    "dropout": "dropout p=0.1 (16,196,768)",
    "bias_grad": "bias grad: column sum (3136,3072)",
    "coordconv": "CoordConv 3x3 (16,3,224,224)->32",
    "convt": "convT 2x2/2 (16,128,14,14)->64",
    "bce_dice": "BCE(neg 0.2)+Dice (16,1,224,224)",
    "cross_entropy": "crossEntropy (256,32128)",
    "embedding": "embedding (32128,768)[16,64]",
    "dispatch": "add 1-element (dispatch, per op)",
})


def gemm_flops(case_id):
    """2·M·N·K of a gemm case, else None."""
    if not case_id.startswith("gemm_"):
        return None
    m, n, k = map(int, case_id[5:].split("x"))
    return 2.0 * m * n * k


def median_ms(fn):
    """The shared timing rule; returns (median ms, timed calls)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first < BUDGET_S:
        calls = 1
        while calls < 50 and (calls < WARMUP_CALLS or time.perf_counter() - t0 < WARMUP_S):
            fn()
            calls += 1
    ts = []
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
        spent = time.perf_counter() - start
        if len(ts) >= MAX_CALLS or spent >= 3 * BUDGET_S or (len(ts) >= MIN_CALLS and spent >= BUDGET_S):
            break
    ts.sort()
    n = len(ts)
    med = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    return med * 1e3, n


def _pair(make_out, leaves, grad=None):
    """(fwd, fwd+bwd) for out = make_out() with `leaves` requiring grad."""
    def fwd():
        with torch.no_grad():
            make_out()

    def fwd_bwd():
        for t in leaves:
            t.grad = None
        out = make_out()
        if grad is None:
            out.backward()
        else:
            out.backward(grad)

    return fwd, fwd_bwd


def _leaf(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).requires_grad_()


def _gemm(m, n, k):
    a, b, g = _leaf(m, k), _leaf(k, n), torch.randn(m, n)
    return _pair(lambda: torch.matmul(a, b), [a, b], g)


def gemm_onednn(case_id):
    """Fwd-only oneDNN GEMM of a gemm case (operands pre-laid-out for it, untimed)."""
    m, n, k = map(int, case_id[5:].split("x"))
    am = torch.randn(m, k).to_mkldnn()
    bm = torch.randn(n, k).to_mkldnn()  # linear computes x·wᵀ
    return lambda: torch._C._nn.mkldnn_linear(am, bm, None)


def _attention(b, h, tq, tk, d, causal):
    q, k, v, g = _leaf(b, h, tq, d), _leaf(b, h, tk, d), _leaf(b, h, tk, d), torch.randn(b, h, tq, d)
    hide = torch.ones(tq, tk, dtype=torch.bool).triu(1) if causal else None

    def run():
        s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        if hide is not None:
            s = s.masked_fill(hide, float("-inf"))
        return torch.matmul(torch.softmax(s, -1), v)

    return _pair(run, [q, k, v], g)


def _attention_extra(b, h, tq, tk, d, bias, pad):
    """Attention with a learnable (1,h,tq,tk) bias (T5) or a (b,tk) key-padding mask (Q-Former)."""
    q, k, v, g = _leaf(b, h, tq, d), _leaf(b, h, tk, d), _leaf(b, h, tk, d), torch.randn(b, h, tq, d)
    leaves = [q, k, v]
    pb = None
    if bias:
        pb = _leaf(1, h, tq, tk)
        leaves.append(pb)
    hide = None
    if pad:  # batch row i keeps its first tk - (i % 8) keys
        keep = torch.arange(tk)[None, :] < (tk - torch.arange(b) % 8)[:, None]
        hide = ~keep[:, None, None, :]

    def run():
        s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        if pb is not None:
            s = s + pb
        if hide is not None:
            s = s.masked_fill(hide, float("-inf"))
        return torch.matmul(torch.softmax(s, -1), v)

    return _pair(run, leaves, g)


def _softmax():
    x, g = _leaf(16, 3, 196, 196), torch.randn(16, 3, 196, 196)
    return _pair(lambda: torch.softmax(x, -1), [x], g)


def _layernorm():
    x, w, b, g = _leaf(16, 196, 192), _leaf(192), _leaf(192), torch.randn(16, 196, 192)
    return _pair(lambda: F.layer_norm(x, (192,), w, b, 1e-5), [x, w, b], g)


def _gelu():
    x, g = _leaf(16, 196, 768), torch.randn(16, 196, 768)
    return _pair(lambda: F.gelu(x), [x], g)


def _dropout():
    x, g = _leaf(16, 196, 768), torch.randn(16, 196, 768)
    return _pair(lambda: F.dropout(x, 0.1, training=True), [x], g)


def _bias_grad():
    g = torch.randn(3136, 3072)

    def fwd():
        with torch.no_grad():
            g.sum(0)

    return fwd, None


def _coordconv():
    x, w, b = _leaf(16, 3, 224, 224), _leaf(32, 5, 3, 3, scale=0.2), _leaf(32)
    g = torch.randn(16, 32, 224, 224)
    # AddCoords: channel 3 varies along H, channel 4 along W, both linspace(-1, 1)
    xx = torch.linspace(-1, 1, 224).view(1, 1, 224, 1).expand(16, 1, 224, 224)
    yy = torch.linspace(-1, 1, 224).view(1, 1, 1, 224).expand(16, 1, 224, 224)
    return _pair(lambda: F.conv2d(torch.cat([x, xx, yy], 1), w, b, padding=1), [x, w, b], g)


def _convt():
    x, w, b = _leaf(16, 128, 14, 14), _leaf(128, 64, 2, 2, scale=0.1), _leaf(64)
    g = torch.randn(16, 64, 28, 28)
    return _pair(lambda: F.conv_transpose2d(x, w, b, stride=2), [x, w, b], g)


def _bce_dice():
    x = _leaf(16, 1, 224, 224)
    t = (torch.rand(16, 1, 224, 224) > 0.7).float()
    wts = torch.where(t > 0.5, 1.0, 0.2)  # a constant of the loss, built once like ours' negWeight

    def loss():
        bce = F.binary_cross_entropy_with_logits(x, t, weight=wts)
        p = torch.sigmoid(x).flatten(1)
        tf = t.flatten(1)
        dice = 1 - (2 * (p * tf).sum(1) + 1) / (p.sum(1) + tf.sum(1) + 1)
        return bce + dice.mean()

    return _pair(loss, [x])


def _cross_entropy():
    x = _leaf(256, 32128)
    t = torch.randint(0, 32128, (256,))
    t[::7] = -100
    return _pair(lambda: F.cross_entropy(x, t, label_smoothing=0.1), [x])


def _embedding():
    w, g = _leaf(32128, 768, scale=0.02), torch.randn(16, 64, 768)
    ids = torch.randint(0, 32128, (16, 64))
    return _pair(lambda: F.embedding(ids, w), [w], g)


def _dispatch():
    a, b = torch.ones(1), torch.ones(1)

    def fwd():
        for _ in range(DISPATCH_INNER):
            a + b

    return fwd, None


BUILDERS = {f"gemm_{m}x{n}x{k}": (lambda m=m, n=n, k=k: _gemm(m, n, k)) for m, n, k in GEMM_SHAPES}
BUILDERS.update({
    "attn_self": lambda: _attention(16, 3, 197, 197, 64, False),
    "attn_cross": lambda: _attention(16, 3, 32, 197, 64, False),
    "attn_causal": lambda: _attention(16, 4, 64, 64, 64, True),
    "attn_t5_bias": lambda: _attention_extra(16, 4, 64, 64, 64, True, False),
    "attn_qf_self": lambda: _attention_extra(16, 3, 64, 64, 64, False, True),
    "softmax": _softmax,
    "layernorm": _layernorm,
    "gelu": _gelu,
    "dropout": _dropout,
    "bias_grad": _bias_grad,
    "coordconv": _coordconv,
    "convt": _convt,
    "bce_dice": _bce_dice,
    "cross_entropy": _cross_entropy,
    "embedding": _embedding,
    "dispatch": _dispatch,
})
assert list(BUILDERS) == list(LABELS)


def select(only):
    """Case ids matching a comma list of ids or id prefixes ("gemm", "attn"); all if empty."""
    if not only:
        return list(LABELS)
    want = [s.strip() for s in only.split(",") if s.strip()]
    out = [c for c in LABELS if any(c == w or c.startswith(w + "_") for w in want)]
    unknown = [w for w in want if not any(c == w or c.startswith(w + "_") for c in LABELS)]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {', '.join(LABELS)}")
    return out


def run_case(case_id, onednn=True):
    """Times one case in this process: {fwd_ms, fwdbwd_ms, fwd_n, fwdbwd_n[, onednn_fwd_ms]}."""
    torch.manual_seed(0)
    fwd, fwd_bwd = BUILDERS[case_id]()
    r = {}
    r["fwd_ms"], r["fwd_n"] = median_ms(fwd)
    if case_id == "dispatch":
        r["fwd_ms"] /= DISPATCH_INNER
    if fwd_bwd is not None:
        r["fwdbwd_ms"], r["fwdbwd_n"] = median_ms(fwd_bwd)
    if onednn and case_id.startswith("gemm_"):
        r["onednn_fwd_ms"], _ = median_ms(gemm_onednn(case_id))
    return r

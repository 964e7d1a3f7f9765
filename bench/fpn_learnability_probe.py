"""Learnability probe for the FPN's task: can a plain CNN predict the 21 region labels from the image?

Trains a 5-block conv net (conv-BN-ReLU x2 + max-pool per block, global pool, linear head) with BCE on a
generated MMTT set's training split and prints the validation PLM (best of thresholds 0.2-0.5) per epoch.
Compare with the constant predictor (~0.36 on synth-2) and the forgery-family oracle (~0.50): a probe that
stays at the constant predictor says the labels are not visible in the images at this resolution, whatever
the architecture. PyTorch is only the measuring instrument here (Debian's python3-torch and python3-pil:
`apt-get install -y python3-torch python3-pil`).

    /usr/bin/python3 bench/fpn_learnability_probe.py EPOCHS SIZE [DATA_DIR]   # e.g. 4 96 data/synth5k
"""
import json
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    from PIL import Image
except ImportError as e:  # one line, not a traceback
    sys.exit(f"fpn_learnability_probe: {e}; install with: apt-get install -y python3-torch python3-pil")

torch.manual_seed(0)
torch.set_num_threads(2)
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 4
SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 96
ROOT = sys.argv[3] if len(sys.argv) > 3 else "data/synth5k"


def load(split):
    recs = json.load(open(f"{ROOT}/{split}-mutilabel.json"))
    x = np.stack([np.asarray(Image.open(f"{ROOT}/{r['img_path']}").convert("RGB").resize((SIZE, SIZE), Image.BICUBIC))
                  for r in recs])
    y = np.array([r["multilabel"] for r in recs], dtype=np.float32)
    return torch.tensor(x).permute(0, 3, 1, 2).float().div(255).sub(0.5), torch.tensor(y)


def block(i, o):  # (B, i, H, W) -> (B, o, H/2, W/2)
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                         nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))


def plm(p, g):  # DESIGN's PLM: per-sample label IoU, both empty -> 1
    p, g = p > 0.5, g > 0.5
    inter, union = (p & g).sum(1).float(), (p | g).sum(1).float()
    return torch.where(union == 0, torch.ones_like(union), inter / union.clamp(min=1)).mean().item()


t0 = time.time()
xtr, ytr = load("train")
xev, yev = load("eval")
print(f"loaded {len(xtr)} train / {len(xev)} eval at {SIZE}x{SIZE} in {time.time() - t0:.0f} s", flush=True)
freq = ytr.mean(0)
print("constant predictor (label marginals > t), eval PLM:",
      round(max(plm((freq > t).float().expand_as(yev), yev) for t in (0.2, 0.3, 0.4, 0.5)), 4), flush=True)
net = nn.Sequential(block(3, 32), block(32, 64), block(64, 96), block(96, 128), block(128, 160),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(160, 21))
opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=0.05)
for epoch in range(EPOCHS):
    net.train()
    t0 = time.time()
    perm = torch.randperm(len(xtr))
    for i in range(0, len(xtr), 32):
        idx = perm[i:i + 32]
        x = xtr[idx]
        if torch.rand(1).item() < 0.5:
            x = x.flip(3)  # region labels have no side
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        p = torch.sigmoid(torch.cat([net(xev[i:i + 100]) for i in range(0, len(xev), 100)]))
    best = max((plm((p > t).float(), yev), t) for t in (0.2, 0.3, 0.4, 0.5))
    print(f"epoch {epoch + 1}: train loss {loss.item():.4f}  eval PLM {best[0]:.4f} (threshold {best[1]})"
          f"  {time.time() - t0:.0f} s", flush=True)

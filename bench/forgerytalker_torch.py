#!/usr/bin/python3
"""PyTorch twin of ForgeryTalker (src/model), written independently from the TypeScript code.

Loads our safetensors weights (same parameter names) and a batch, and either
  * `check`: computes every loss term, the FPN / mask / LM logits, parameter gradients and
    greedy + beam decodes (a plain implementation of the HF `generate` rules documented in
    src/infer/generate.ts), writing them for tests/model/twin_test.ts to compare; or
  * `bench`: times training steps (forward + backward + AdamW) at a batch size, for
    bench/forgerytalker_bench.sh.

Usage: /usr/bin/python3 bench/forgerytalker_torch.py check DIR      (DIR holds config.json,
       model.safetensors, batch.safetensors; writes DIR/torch_out.safetensors + torch_out.json)
       /usr/bin/python3 bench/forgerytalker_torch.py bench DIR BATCH STEPS
       /usr/bin/python3 bench/forgerytalker_torch.py infer DIR REPS THREADS   (inference per image, JSON)
Needs Debian's python3-torch (CPU); never a runtime dependency of the project.
"""
import json
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F

DT = {"F32": torch.float32, "I32": torch.int32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + s : base + e]), dtype=DT[v["dtype"]]).reshape(v["shape"])
        out[k] = t.clone()
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous().to(torch.float32) if t.dtype.is_floating_point else t.detach().contiguous().to(torch.int32)
        b = t.numpy().tobytes()
        header[k] = {"dtype": "F32" if t.dtype == torch.float32 else "I32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Twin:
    """Functional model over a name -> tensor dict `p` (leaf tensors with requires_grad)."""

    def __init__(self, cfg, p):
        self.c, self.p = cfg, p

    def lin(self, x, name, bias=True):
        return F.linear(x, self.p[name + ".weight"], self.p.get(name + ".bias") if bias else None)

    def ln(self, x, name, eps):
        return F.layer_norm(x, x.shape[-1:], self.p[name + ".weight"], self.p[name + ".bias"], eps)

    def mha(self, name, q, k, v, heads, mask=None, scale=None):
        """nn.MultiheadAttention-like with our q_proj/k_proj/v_proj/out_proj; mask (B, Tk) 1 keep."""
        Q = self.lin(q, name + ".q_proj")
        K = self.lin(k, name + ".k_proj")
        V = self.lin(v, name + ".v_proj")
        B, Tq, E = Q.shape
        Tk = K.shape[1]
        hd = E // heads
        Q = Q.view(B, Tq, heads, hd).transpose(1, 2)
        K = K.view(B, Tk, heads, hd).transpose(1, 2)
        V = V.view(B, Tk, heads, hd).transpose(1, 2)
        s = (Q @ K.transpose(-1, -2)) * (scale if scale is not None else hd ** -0.5)
        if mask is not None:
            s = s.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        o = (s.softmax(-1) @ V).transpose(1, 2).reshape(B, Tq, E)
        return self.lin(o, name + ".out_proj")

    # ---- image encoder (EVA layout) ----
    def vit_embed(self, x, pre):
        p = self.p
        t = F.conv2d(x, p[pre + ".patch_embed.weight"], p[pre + ".patch_embed.bias"], stride=self.c_patch(pre))
        t = t.flatten(2).transpose(1, 2)
        cls = p[pre + ".cls_token"].expand(x.shape[0], -1, -1)
        return torch.cat([cls, t], 1) + p[pre + ".pos_embed"]

    def c_patch(self, pre):
        return self.c["vision"]["patchSize"] if pre == "visual_encoder" else self.c["fpn"]["patchSize"]

    def eva_block(self, x, pre, heads, eps):
        p = self.p
        h = F.layer_norm(x, x.shape[-1:], p[pre + ".norm1.weight"], p[pre + ".norm1.bias"], eps)
        B, T, D = h.shape
        bias = torch.cat([p[pre + ".attn.q_bias"], torch.zeros_like(p[pre + ".attn.q_bias"]), p[pre + ".attn.v_bias"]])
        qkv = F.linear(h, p[pre + ".attn.qkv.weight"], bias).view(B, T, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-1, -2)) * (D // heads) ** -0.5).softmax(-1) @ v
        x = x + self.lin(a.transpose(1, 2).reshape(B, T, D), pre + ".attn.proj")
        h = F.layer_norm(x, x.shape[-1:], p[pre + ".norm2.weight"], p[pre + ".norm2.bias"], eps)
        return x + self.lin(F.gelu(self.lin(h, pre + ".mlp.fc1")), pre + ".mlp.fc2")

    def encode_image(self, images):
        v = self.c["vision"]
        x = self.vit_embed(images, "visual_encoder")
        for i in range(v["depth"]):
            x = self.eva_block(x, f"visual_encoder.blocks.{i}", v["heads"], v["eps"])
        return self.ln(x, "ln_vision", 1e-5)

    # ---- FPN ----
    def bn(self, x, pre):
        return F.batch_norm(x, None, None, self.p[pre + ".weight"], self.p[pre + ".bias"], training=True, eps=1e-5)

    def fpn(self, images):
        f, p = self.c["fpn"], self.p
        B, _, S, _ = images.shape
        lin = torch.linspace(-1, 1, S)
        xx = lin.view(1, 1, S, 1).expand(B, 1, S, S)  # varies along H
        yy = lin.view(1, 1, 1, S).expand(B, 1, S, S)  # varies along W
        x = torch.cat([images, xx, yy], 1)
        x = torch.cat([x, xx, yy], 1)  # the CoordConv adds its own coordinates
        c1 = F.max_pool2d(F.leaky_relu(self.bn(F.conv2d(x, p["fpn.coord_conv.conv.weight"], p["fpn.coord_conv.conv.bias"], stride=2, padding=1), "fpn.bn1")), 2)
        c2 = F.max_pool2d(F.relu(self.bn(F.conv2d(c1, p["fpn.conv2.weight"], p["fpn.conv2.bias"], stride=2, padding=2), "fpn.bn2")), 2)
        t = self.vit_embed(images, "fpn.vit")
        N = t.shape[1] - 1
        conv = [F.adaptive_avg_pool1d(c.flatten(2), N).transpose(1, 2) for c in (c1, c2)][: f["convBlocks"]]
        for i in range(f["depth"]):
            if i < len(conv):
                t = torch.cat([t[:, :1], t[:, 1:] + conv[i]], 1)
            pre = f"fpn.vit.blocks.{i}"
            h = self.ln(t, pre + ".norm1", f["eps"])
            t = t + self.mha(pre + ".attn", h, h, h, f["heads"])
            h = self.ln(t, pre + ".norm2", f["eps"])
            t = t + self.lin(F.gelu(self.lin(h, pre + ".mlp.fc1")), pre + ".mlp.fc2")
        feats = self.ln(t, "fpn.vit.norm", f["eps"])
        return self.lin(feats[:, 0], "fpn.head")

    # ---- Q-Former ----
    def qformer(self, image, ids, mask):
        q, p = self.c["qformer"], self.p
        B = image.shape[0]
        Q = q["numQueries"]
        x = p["Qformer.query_tokens"].expand(B, -1, -1)
        full_mask = None
        if ids is not None:
            T = ids.shape[1]
            t = F.embedding(ids.long(), p["Qformer.word_embeddings.weight"]) + p["Qformer.position_embeddings.weight"][:T]
            x = torch.cat([x, t], 1)
            full_mask = torch.cat([torch.ones(B, Q), mask], 1)
        x = self.ln(x, "Qformer.LayerNorm", q["eps"])
        for i in range(q["depth"]):
            pre = f"Qformer.layer.{i}"
            x = self.ln(x + self.mha(pre + ".attention.attention", x, x, x, q["heads"], full_mask), pre + ".attention.LayerNorm", q["eps"])
            qs, ts = x[:, :Q], x[:, Q:]
            if i % q["crossAttentionFreq"] == 0:
                qs = self.ln(qs + self.mha(pre + ".crossattention.attention", qs, image, image, q["heads"]), pre + ".crossattention.LayerNorm", q["eps"])
            qs = self.ln(qs + self.lin(F.gelu(self.lin(qs, pre + ".ffn_query.mlp.fc1")), pre + ".ffn_query.mlp.fc2"), pre + ".ffn_query.LayerNorm", q["eps"])
            if ts.shape[1]:
                ts = self.ln(ts + self.lin(F.gelu(self.lin(ts, pre + ".ffn.mlp.fc1")), pre + ".ffn.mlp.fc2"), pre + ".ffn.LayerNorm", q["eps"])
            x = torch.cat([qs, ts], 1)
        return x[:, :Q], x[:, Q:]

    # ---- SAM mask decoder ----
    def two_way(self, pre, image, image_pe, tokens):
        m = self.c["maskDecoder"]
        H = m["heads"]
        q, k = tokens, image
        for i in range(m["depth"]):
            b = f"{pre}.layers.{i}"
            if i == 0:
                q = self.mha(b + ".self_attn", q, q, q, H)
            else:
                qq = q + tokens
                q = q + self.mha(b + ".self_attn", qq, qq, q, H)
            q = self.ln(q, b + ".norm1", 1e-5)
            q = self.ln(q + self.mha(b + ".cross_attn_token_to_image", q + tokens, k + image_pe, k, H), b + ".norm2", 1e-5)
            q = self.ln(q + self.lin(F.relu(self.lin(q, b + ".mlp.fc1")), b + ".mlp.fc2"), b + ".norm3", 1e-5)
            k = self.ln(k + self.mha(b + ".cross_attn_image_to_token", k + image_pe, q + tokens, q, H), b + ".norm4", 1e-5)
        q = self.ln(q + self.mha(pre + ".final_attn_token_to_image", q + tokens, k + image_pe, k, H), pre + ".norm_final_attn", 1e-5)
        return q, k

    def mlp3(self, x, pre, n=3):
        for i in range(n):
            x = self.lin(x, f"{pre}.layers.{i}")
            if i < n - 1:
                x = F.relu(x)
        return x

    def region_prompts(self, regions, pre):
        e, n = self.p[pre + ".region_embed"], self.p[pre + ".not_region_embed"]
        s = regions[:, :, None]
        return n + s * (e - n)

    def mask_decoder(self, image, regions, queries):
        m, p = self.c["maskDecoder"], self.p
        C = m["dim"]
        B = image.shape[0]
        g = self.c["imageSize"] // self.c["vision"]["patchSize"]
        src = self.ln(self.lin(image[:, 1:], "mask_decoder.neck"), "mask_decoder.neck_norm", 1e-6)
        G = p["mask_decoder.pe_gaussian"]
        ys, xs = torch.meshgrid(torch.arange(g, dtype=torch.float32), torch.arange(g, dtype=torch.float32), indexing="ij")
        coords = torch.stack([(xs + 0.5) / g, (ys + 0.5) / g], -1) * 2 - 1
        pe = 2 * math.pi * (coords @ G)
        pe = torch.cat([torch.sin(pe), torch.cos(pe)], -1).reshape(g * g, C).expand(B, -1, -1)
        r = self.region_prompts(regions, "mask_decoder.region_prompts")
        qp = self.lin(queries, "mask_decoder.query_proj")
        qe = self.ln(qp + self.mha("mask_decoder.prompt_attn", qp, r, r, m["heads"]), "mask_decoder.prompt_norm", 1e-5)
        tokens = torch.cat([p["mask_decoder.mask_token"].expand(B, -1, -1), r, qe], 1)
        hs, img = self.two_way("mask_decoder.transformer", src, pe, tokens)
        sp = img.transpose(1, 2).reshape(B, C, g, g)
        u = F.conv_transpose2d(sp, p["mask_decoder.output_upscaling_0.weight"], p["mask_decoder.output_upscaling_0.bias"], stride=2)
        u = u.permute(0, 2, 3, 1)
        u = F.layer_norm(u, u.shape[-1:], p["mask_decoder.output_upscaling_1.weight"], p["mask_decoder.output_upscaling_1.bias"], 1e-6).permute(0, 3, 1, 2)
        u = F.gelu(F.conv_transpose2d(F.gelu(u), p["mask_decoder.output_upscaling_3.weight"], p["mask_decoder.output_upscaling_3.bias"], stride=2))
        hyper = self.mlp3(hs[:, :1], "mask_decoder.output_hypernetwork_mlp")
        side = 4 * g
        return (hyper @ u.reshape(B, C // 8, side * side)).reshape(B, 1, side, side)

    # ---- T5 ----
    @staticmethod
    def bucket(rel, bidirectional, nb, maxd):
        ret = torch.zeros_like(rel)
        if bidirectional:
            nb //= 2
            ret += (rel > 0).to(torch.long) * nb
            n = rel.abs()
        else:
            n = -torch.min(rel, torch.zeros_like(rel))
        me = nb // 2
        small = n < me
        large = me + (torch.log(n.float() / me) / math.log(maxd / me) * (nb - me)).to(torch.long)
        large = torch.min(large, torch.full_like(large, nb - 1))
        return ret + torch.where(small, n, large)

    def t5_bias(self, stack, Tq, Tk, offset):
        t = self.c["t5"]
        ctx = torch.arange(offset, offset + Tq)[:, None]
        mem = torch.arange(Tk)[None, :]
        b = self.bucket(mem - ctx, stack == "encoder", t["relBuckets"], t["relMaxDistance"])
        w = self.p[f"t5_model.{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        return F.embedding(b, w).permute(2, 0, 1)[None]

    def rms(self, x, name):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.p[name + ".weight"] * (x * torch.rsqrt(var + self.c["t5"]["eps"]))

    def t5_attn(self, pre, x, kv, bias, mask, causal):
        t = self.c["t5"]
        H, D = t["heads"], t["dKv"]
        B, Tq, _ = x.shape
        Tk = kv.shape[1]
        q = self.lin(x, pre + ".q", False).view(B, Tq, H, D).transpose(1, 2)
        k = self.lin(kv, pre + ".k", False).view(B, Tk, H, D).transpose(1, 2)
        v = self.lin(kv, pre + ".v", False).view(B, Tk, H, D).transpose(1, 2)
        s = q @ k.transpose(-1, -2)
        if bias is not None:
            s = s + bias
        if mask is not None:
            s = s.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        if causal:
            s = s.masked_fill(torch.ones(Tq, Tk, dtype=torch.bool).triu(1 + Tk - Tq), float("-inf"))
        o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, Tq, H * D)
        return self.lin(o, pre + ".o", False)

    def t5_ff(self, pre, x):
        act = (lambda z: F.gelu(z, approximate="tanh")) if self.c["t5"]["act"] == "gelu_tanh" else F.gelu
        return self.lin(act(self.lin(x, pre + ".wi_0", False)) * self.lin(x, pre + ".wi_1", False), pre + ".wo", False)

    def t5_encode(self, embeds, mask):
        t = self.c["t5"]
        x = embeds
        bias = self.t5_bias("encoder", x.shape[1], x.shape[1], 0)
        for i in range(t["encoderLayers"]):
            pre = f"t5_model.encoder.block.{i}.layer"
            x = x + self.t5_attn(pre + ".0.SelfAttention", self.rms(x, pre + ".0.layer_norm"), self.rms(x, pre + ".0.layer_norm"), bias, mask, False)
            x = x + self.t5_ff(pre + ".1.DenseReluDense", self.rms(x, pre + ".1.layer_norm"))
        return self.rms(x, "t5_model.encoder.final_layer_norm")

    def t5_decode(self, ids, enc, enc_mask):
        """Teacher-forced (no cache): ids (B, T) -> logits (B, T, V)."""
        t = self.c["t5"]
        x = F.embedding(ids.long(), self.p["t5_model.shared.weight"])
        T = ids.shape[1]
        bias = self.t5_bias("decoder", T, T, 0)
        for i in range(t["decoderLayers"]):
            pre = f"t5_model.decoder.block.{i}.layer"
            h = self.rms(x, pre + ".0.layer_norm")
            x = x + self.t5_attn(pre + ".0.SelfAttention", h, h, bias, None, True)
            x = x + self.t5_attn(pre + ".1.EncDecAttention", self.rms(x, pre + ".1.layer_norm"), enc, None, enc_mask, False)
            x = x + self.t5_ff(pre + ".2.DenseReluDense", self.rms(x, pre + ".2.layer_norm"))
        h = self.rms(x, "t5_model.decoder.final_layer_norm")
        if t["tied"]:
            return F.linear(h * t["dModel"] ** -0.5, self.p["t5_model.shared.weight"])
        return F.linear(h, self.p["t5_model.lm_head.weight"])

    def t5_cross_kv(self, enc):
        """Every decoder layer's EncDecAttention keys/values of the encoder output: (B, H, Te, D) pairs."""
        t = self.c["t5"]
        B, Te, _ = enc.shape
        out = []
        for i in range(t["decoderLayers"]):
            pre = f"t5_model.decoder.block.{i}.layer.1.EncDecAttention"
            kv = [self.lin(enc, f"{pre}.{n}", False).view(B, Te, t["heads"], t["dKv"]).transpose(1, 2) for n in "kv"]
            out.append(tuple(kv))
        return out

    def t5_step(self, ids, cross, cache, enc_mask):
        """One cached decoder step (HF use_cache): ids (B,) last tokens -> logits (B, V); cache[i]
        (per layer: self-attention keys/values (B, H, T, D), or None) grows by one position."""
        t = self.c["t5"]
        H, D = t["heads"], t["dKv"]
        B = ids.shape[0]
        x = F.embedding(ids.long()[:, None], self.p["t5_model.shared.weight"])
        pos = 0 if cache[0] is None else cache[0][0].shape[2]
        bias = self.t5_bias("decoder", 1, pos + 1, pos)
        heads = lambda z: z.view(B, 1, H, D).transpose(1, 2)
        for i in range(t["decoderLayers"]):
            pre = f"t5_model.decoder.block.{i}.layer"
            sa, ca = pre + ".0.SelfAttention", pre + ".1.EncDecAttention"
            h = self.rms(x, pre + ".0.layer_norm")
            q, k, v = (heads(self.lin(h, f"{sa}.{n}", False)) for n in "qkv")
            if cache[i] is not None:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            cache[i] = (k, v)
            o = ((q @ k.transpose(-1, -2) + bias).softmax(-1) @ v).transpose(1, 2).reshape(B, 1, H * D)
            x = x + self.lin(o, sa + ".o", False)
            q = heads(self.lin(self.rms(x, pre + ".1.layer_norm"), ca + ".q", False))
            s = q @ cross[i][0].transpose(-1, -2)
            if enc_mask is not None:
                s = s.masked_fill(enc_mask[:, None, None, :] == 0, float("-inf"))
            o = (s.softmax(-1) @ cross[i][1]).transpose(1, 2).reshape(B, 1, H * D)
            x = x + self.lin(o, ca + ".o", False)
            x = x + self.t5_ff(pre + ".2.DenseReluDense", self.rms(x, pre + ".2.layer_norm"))
        h = self.rms(x, "t5_model.decoder.final_layer_norm")[:, 0]
        if t["tied"]:
            return F.linear(h * t["dModel"] ** -0.5, self.p["t5_model.shared.weight"])
        return F.linear(h, self.p["t5_model.lm_head.weight"])

    def report_encoder(self, queries, instr_ids, instr_mask):
        B, Q = queries.shape[:2]
        embeds = torch.cat([self.lin(queries, "t5_proj"), F.embedding(instr_ids.long(), self.p["t5_model.shared.weight"])], 1)
        mask = torch.cat([torch.ones(B, Q), instr_mask], 1)
        return self.t5_encode(embeds, mask), mask


# ---- losses ----
def bce(x, y, pos=1.0, neg=1.0):
    return (-(pos * y * F.logsigmoid(x) + neg * (1 - y) * F.logsigmoid(-x))).mean()


def dice(x, y, smooth=1.0):
    p = torch.sigmoid(x).reshape(x.shape[0], -1)
    t = y.reshape(y.shape[0], -1)
    return (1 - (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)).mean()


def ce(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), ignore_index=-100)


def info_nce(a, b, tau):
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    s = a @ b.t() / tau
    lab = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(s, lab) + F.cross_entropy(s.t(), lab))


def losses(tw, bt, stage):
    c = tw.c
    if stage == "fpn":
        lg = tw.fpn(bt["images"])
        l = 0.5 * (bce(lg, bt["labels"], neg=0.2) + dice(lg, bt["labels"]))
        return l, {"fpn": l}, {"fpn_logits": lg}
    image = tw.encode_image(bt["images"])
    queries, _ = tw.qformer(image, bt["instrIds"], bt["instrMask"])
    mlog = tw.mask_decoder(image, bt["regions"], queries)
    enc, emask = tw.report_encoder(queries, bt["instrIds"], bt["instrMask"])
    lm_logits = tw.t5_decode(bt["decoderIn"], enc, emask)
    lm = ce(lm_logits, bt["targets"])
    S = bt["masks"].shape[-1]
    up = F.interpolate(mlog, size=(S, S), mode="bilinear", align_corners=False)
    seg = bce(up, bt["masks"]) + dice(up, bt["masks"])
    outs = {"mask_logits": mlog, "lm_logits": lm_logits}
    if stage == "finetune":
        return lm + seg, {"lm": lm, "seg": seg}, outs
    _, text = tw.qformer(image, bt["mlmIds"], bt["mlmMask"])
    mlm = ce(tw.lin(text, "Qformer.mlm_head"), bt["mlmTargets"])
    pooled = tw.lin(queries, "t5_proj").mean(1)
    itc = info_nce(image[:, 0], tw.lin(pooled, "text_proj"), c["temperature"])
    total = 2 * mlm + lm + seg + itc
    return total, {"mlm": mlm, "lm": lm, "seg": seg, "contrastive": itc}, outs


# ---- decoding (HF generate rules, plain loops, no cache) ----
def process(row, seq, o):
    row = row.clone()
    if o["repetitionPenalty"] != 1:
        for t in set(seq):
            s = row[t]
            row[t] = s * o["repetitionPenalty"] if s < 0 else s / o["repetitionPenalty"]
    if len(seq) < o["minLength"]:
        row[o["eos"]] = float("-inf")
    return row


class Steps:
    """Last-position logits of every sequence. The plain loop re-runs the decoder on each whole
    prefix (the twin check's straightforward reference); cached=True keeps per-layer keys/values
    (HF use_cache), as a PyTorch user's decoder would, for the timings. src: the row each
    sequence continues (beam reorders)."""

    def __init__(self, tw, enc, emask, cached):
        self.tw, self.enc, self.emask, self.cached = tw, enc, emask, cached
        if cached:
            self.cross = tw.t5_cross_kv(enc)
            self.cache = [None] * tw.c["t5"]["decoderLayers"]

    def __call__(self, seqs, src=None):
        if not self.cached:
            return self.tw.t5_decode(torch.tensor(seqs, dtype=torch.int32), self.enc, self.emask)[:, -1]
        if src is not None and self.cache[0] is not None and src != list(range(len(src))):
            idx = torch.tensor(src)
            self.cache = [(k[idx], v[idx]) for k, v in self.cache]
        return self.tw.t5_step(torch.tensor([q[-1] for q in seqs]), self.cross, self.cache, self.emask)


def greedy(tw, enc, emask, o, cached=False):
    B = enc.shape[0]
    step = Steps(tw, enc, emask, cached)
    seqs = [[0] for _ in range(B)]
    done = [False] * B
    for _ in range(o["maxNewTokens"]):
        if all(done):
            break
        lg = step(seqs)
        for b in range(B):
            if done[b]:
                seqs[b].append(0)
                continue
            tok = int(process(lg[b], seqs[b], o).argmax())
            seqs[b].append(tok)
            done[b] = tok == o["eos"]
    out = []
    for s in seqs:
        s = s[1:]
        out.append(s[: s.index(o["eos"])] if o["eos"] in s else s)
    return out


def beam(tw, enc, emask, o, cached=False):
    B, nb, lp = enc.shape[0], o["beams"], o["lengthPenalty"]
    encB = enc.repeat_interleave(nb, 0)
    maskB = emask.repeat_interleave(nb, 0)
    step, src = Steps(tw, encB, maskB, cached), None
    seqs = [[0] for _ in range(B * nb)]
    scores = [0.0 if r % nb == 0 else -1e9 for r in range(B * nb)]
    hyps = [[] for _ in range(B)]
    done = [False] * B

    def add(b, ids, s):
        sc = s / len(ids) ** lp
        h = hyps[b]
        worst = min((x[0] for x in h), default=None)
        if len(h) < nb or sc > worst:
            h.append((sc, ids))
            if len(h) > nb:
                h.remove(min(h, key=lambda x: x[0]))

    for cur in range(1, 1 + o["maxNewTokens"]):
        lg = step(seqs, src)
        nseqs, nscores, src = [], [], []
        for b in range(B):
            if done[b]:
                for i in range(nb):
                    nseqs.append(seqs[b * nb + i] + [0])
                    nscores.append(0.0)
                    src.append(b * nb + i)
                continue
            rows = []
            for i in range(nb):
                r = b * nb + i
                lps = process(torch.log_softmax(lg[r], -1), seqs[r], o) + torch.tensor(scores[r], dtype=torch.float32)
                rows.append(lps)
            flat = torch.cat(rows)
            vals, idx = torch.topk(flat, 2 * nb)
            V = lg.shape[-1]
            taken = 0
            for rank in range(2 * nb):
                tok, bi, s = int(idx[rank]) % V, int(idx[rank]) // V, float(vals[rank])
                r = b * nb + bi
                if tok == o["eos"]:
                    if rank >= nb:
                        continue
                    add(b, list(seqs[r]), s)
                else:
                    nseqs.append(seqs[r] + [tok])
                    nscores.append(s)
                    src.append(r)
                    taken += 1
                if taken == nb:
                    break
            best = float(vals.max())
            if len(hyps[b]) >= nb and min(x[0] for x in hyps[b]) >= best / cur ** lp:
                done[b] = True
        seqs, scores = nseqs, nscores
        if all(done):
            break
    for b in range(B):
        if not done[b]:
            for i in range(nb):
                add(b, list(seqs[b * nb + i]), scores[b * nb + i])
    out = []
    for h in hyps:
        best = sorted(h, key=lambda x: x[0])[-1]
        out.append([t for t in best[1][1:] if t != o["eos"]])
    return out


def load(dirname):
    cfg = json.load(open(f"{dirname}/config.json"))
    w = read_safetensors(f"{dirname}/model.safetensors")
    p = {k: v.float().requires_grad_(True) if v.dtype == torch.float32 else v for k, v in w.items()}
    bt = read_safetensors(f"{dirname}/batch.safetensors")
    return cfg, p, bt


def check(dirname):
    torch.set_num_threads(2)
    cfg, p, bt = load(dirname)
    tw = Twin(cfg, p)
    out, grads = {}, {}
    sample = json.load(open(f"{dirname}/grad_names.json"))
    for stage in ["fpn", "finetune", "pretrain"]:
        for v in p.values():
            if v.dtype == torch.float32:
                v.grad = None
        total, terms, outs = losses(tw, bt, stage)
        total.backward()
        out[f"{stage}.loss"] = total.detach().reshape(1)
        for k, v in terms.items():
            out[f"{stage}.{k}"] = v.detach().reshape(1)
        for k, v in outs.items():
            out[f"{stage}.{k}"] = v.detach()
        for n in sample:
            g = p[n].grad
            if g is not None:
                out[f"{stage}.grad.{n}"] = g
    dec = json.load(open(f"{dirname}/decode.json"))
    with torch.no_grad():
        image = tw.encode_image(bt["images"])
        queries, _ = tw.qformer(image, bt["instrIds"], bt["instrMask"])
        enc, emask = tw.report_encoder(queries, bt["instrIds"], bt["instrMask"])
        res = {"greedy": greedy(tw, enc, emask, {**dec, "beams": 1}), "beam": beam(tw, enc, emask, dec)}
        # the cached decoder the timings use must decode the same ids
        res["greedyCached"] = greedy(tw, enc, emask, {**dec, "beams": 1}, cached=True)
        res["beamCached"] = beam(tw, enc, emask, dec, cached=True)
    write_safetensors(f"{dirname}/torch_out.safetensors", out)
    json.dump(res, open(f"{dirname}/torch_out.json", "w"))


def bench(dirname, batch, steps, threads):
    torch.set_num_threads(threads)
    cfg, p, bt = load(dirname)
    params = [v for v in p.values() if v.dtype == torch.float32 and v.requires_grad]
    tw = Twin(cfg, p)
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        total, _, _ = losses(tw, bt, "pretrain")
        total.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"times": times}))


def infer(dirname, reps, threads):
    """Per-image inference after load, batch 1: the image part (FPN, image encoder, Q-Former,
    mask decoder, T5 encoder) and the report (greedy, beam 5; 40 tokens forced by min length),
    decoded with a key/value cache (Steps(cached=True), PyTorch's best way to decode)."""
    torch.set_num_threads(threads)
    cfg, p, bt = load(dirname)
    tw = Twin(cfg, p)
    one = {k: v[:1] for k, v in bt.items()}
    dec = {"maxNewTokens": 40, "minLength": 40, "repetitionPenalty": 1.5, "lengthPenalty": 1.0, "eos": 1}
    out = {"image": [], "greedy": [], "beam": []}
    with torch.no_grad():
        for r in range(reps + 1):
            t0 = time.perf_counter()
            tw.fpn(one["images"])
            image = tw.encode_image(one["images"])
            queries, _ = tw.qformer(image, one["instrIds"], one["instrMask"])
            tw.mask_decoder(image, one["regions"], queries)
            enc, emask = tw.report_encoder(queries, one["instrIds"], one["instrMask"])
            t1 = time.perf_counter()
            greedy(tw, enc, emask, {**dec, "beams": 1}, cached=True)
            t2 = time.perf_counter()
            beam(tw, enc, emask, {**dec, "beams": 5}, cached=True)
            t3 = time.perf_counter()
            if r > 0:  # the first round: lazy init, allocations
                out["image"].append(t1 - t0)
                out["greedy"].append(t2 - t1)
                out["beam"].append(t3 - t2)
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2])
    elif sys.argv[1] == "infer":
        infer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 2)

"""Writes PyTorch checkpoints for tests/train/torch_checkpoint_test.ts with Debian's python3-torch.

usage: /usr/bin/python3 tests/train/torch_fixtures.py OUT_DIR MARKER_PATH
Writes OUT_DIR/*.pth (+ expected.json with every tensor's shape, dtype and values as torch
itself converts them: floats via .float(), integers via .long()), the malicious pickles (each
would run `touch MARKER_PATH` under pickle.loads / torch.load without weights_only), and a
sparse ZIP64 checkpoint whose second record starts past 4 GiB. Prints "ok" when done.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib

import torch

out, marker = sys.argv[1], sys.argv[2]
expected = {}


def record(fname, obj):
    flat = {}

    def walk(v, name):
        if isinstance(v, torch.Tensor):
            vals = v.detach().float() if v.is_floating_point() else v.detach().long()
            flat[name] = {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", ""),
                          "values": vals.flatten().tolist()}
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{name}.{k}" if name else str(k))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f"{name}.{i}" if name else str(i))

    walk(obj, "")
    expected[fname] = flat


def save(fname, obj, **kw):
    torch.save(obj, os.path.join(out, fname), **kw)
    record(fname, obj)


g = torch.Generator().manual_seed(0)
r = torch.randn(3, 5, generator=g, dtype=torch.float64) * 100
dtypes = {
    "f32": r.float(),
    "f64": r.clone(),
    "f16": r.half(),
    "bf16": r.bfloat16(),
    "f16_special": torch.tensor([0.0, -0.0, 65504.0, 6e-8, float("inf"), -float("inf"), 1e-5], dtype=torch.half),
    "i64": torch.tensor([[-(2**31), 2**31 - 1, 0], [7, -7, 123456789]], dtype=torch.int64),
    "i32": torch.tensor([-5, 0, 2**31 - 1], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
    "i8": torch.tensor([-128, 127, 3], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.25),
    "empty": torch.zeros(0, 4),
}
save("dtypes.pth", dtypes)
save("dtypes_legacy.pth", dtypes, _use_new_zipfile_serialization=False)

x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
w = torch.nn.Parameter(torch.randn(5, 3, generator=g))
strided = {
    "base": x,
    "t": x.t(),
    "slice": x[1:3, ::2],
    "offset": x.view(-1)[5:9],
    "expanded": x[0:1].expand(3, 6),
    "tied_a": w,
    "tied_b": w,
    "col": x[:, 2],
}
save("strided.pth", strided)
save("strided_legacy.pth", strided, _use_new_zipfile_serialization=False)
big = torch.randn(300, 1000, generator=g).half()  # several 16 MiB-chunk-free reads, f16 conversion
save("big_f16.pth", {"w": big})

nested = {
    "a": [torch.ones(2), (torch.full((2, 2), 7, dtype=torch.int64), {"b": torch.zeros(3, dtype=torch.bfloat16)})],
    "s": "text ✓",
    "i": 3,
    "f": 1.5,
    "n": None,
    "flag": True,
    "huge": 2**70,
    "neg": -(2**40),
    "blob": b"\x00\x01\xff",
    "tup": (1, "two", 3.0),
    "ints": {0: torch.tensor([1.0]), 1: torch.tensor([2.0])},
}
save("nested.pth", nested)

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Linear(3, 2))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
model(torch.randn(2, 4)).sum().backward()
opt.step()
lavis = {
    "model": model.state_dict(),
    "optimizer": opt.state_dict(),
    "config": {"run": {"lr_sched": "linear_warmup_cosine_lr", "init_lr": 1e-5, "max_epoch": 5},
               "model": {"arch": "forgerytalker", "num_query_token": 32}},
    "epoch": 3,
}
save("lavis.pth", lavis)
torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))
record("pytorch_model.bin", model.state_dict())


# ---- malicious pickles: each, under pickle.loads, would run `touch marker`
cmd = f"touch {marker}"


class Reduce:
    def __reduce__(self):
        return (os.system, (cmd,))


class Popen:
    def __reduce__(self):
        import subprocess
        return (subprocess.Popen, (["touch", marker],))


evil_src = f"__import__('os').system('{cmd}')"
payloads = {
    "reduce_os_system": pickle.dumps(Reduce(), protocol=2),  # GLOBAL posix.system + REDUCE
    "global_os_system": b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd.encode() + b"\x85R.",
    "stack_global_eval": (b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c" + bytes([len(evil_src)])
                          + evil_src.encode() + b"\x85R."),
    "inst_os_system": b"(S'" + cmd.encode() + b"'\nios\nsystem\n.",
    "obj_subprocess": b"\x80\x02(csubprocess\ncall\n]q\x00(X\x05\x00\x00\x00touchX" + struct.pack("<I", len(marker))
    + marker.encode() + b"eo.",
    "popen_p2": pickle.dumps(Popen(), protocol=2),  # Python 2 name mapping: commands.Popen
    "popen_p4": pickle.dumps(Popen(), protocol=4),  # STACK_GLOBAL subprocess.Popen + REDUCE
}
# prove the payloads are real: Python's own unpickler runs one of them (on another marker)
probe = marker + ".python"
pickle.loads(payloads["inst_os_system"].replace(marker.encode(), probe.encode()))
assert os.path.exists(probe), "payload did not run under pickle.loads"
os.remove(probe)


def torch_zip(fname, pkl):
    with zipfile.ZipFile(os.path.join(out, fname), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")


for name, p in payloads.items():
    torch_zip(f"evil_{name}.pth", p)
# a real torch.save whose state dict hides a __reduce__ payload beside a tensor
torch.save({"w": torch.ones(2), "evil": Reduce()}, os.path.join(out, "evil_in_state_dict.pth"))
torch.save({"w": torch.ones(2), "evil": Reduce()}, os.path.join(out, "evil_legacy.pth"),
           _use_new_zipfile_serialization=False)
assert not os.path.exists(marker)

# an honest checkpoint with a dtype the engine cannot hold
torch.save({"z": torch.zeros(2, dtype=torch.complex64)}, os.path.join(out, "complex.pth"))

# ---- hostile structures (no code, but they would hang or overflow a naive walker)
cyc = {"w": torch.ones(1), "l": []}
cyc["l"].append(cyc["l"])
torch.save(cyc, os.path.join(out, "hostile_cycle.pth"))
laughs = [torch.ones(1)]
for _ in range(40):
    laughs = [laughs, laughs]  # 2^40 paths through 41 lists
torch.save(laughs, os.path.join(out, "hostile_laughs.pth"))
sys.setrecursionlimit(20000)
deep = torch.ones(1)
for _ in range(1200):
    deep = [deep]
torch.save(deep, os.path.join(out, "hostile_deep.pth"))

# ---- truncated / corrupted copies of dtypes.pth
src = open(os.path.join(out, "dtypes.pth"), "rb").read()
open(os.path.join(out, "trunc_half.pth"), "wb").write(src[: len(src) // 2])
open(os.path.join(out, "trunc_tail.pth"), "wb").write(src[:-30])
leg = open(os.path.join(out, "dtypes_legacy.pth"), "rb").read()
open(os.path.join(out, "trunc_legacy.pth"), "wb").write(leg[:-40])
with zipfile.ZipFile(os.path.join(out, "dtypes.pth")) as z:
    info = {i.filename: i for i in z.infolist()}
    rec = [n for n in info if n.endswith("data.pkl")][0]
    data_rec = rec.replace("data.pkl", "data/0")


def data_start(i):
    n, e = struct.unpack("<HH", src[i.header_offset + 26: i.header_offset + 30])
    return i.header_offset + 30 + n + e


bad = bytearray(src)
bad[data_start(info[data_rec]) + 3] ^= 0x40  # one bit of tensor data
open(os.path.join(out, "corrupt_data.pth"), "wb").write(bytes(bad))
bad = bytearray(src)
bad[data_start(info[rec]) + 10] ^= 0x01  # one bit of the pickle
open(os.path.join(out, "corrupt_pickle.pth"), "wb").write(bytes(bad))
bad = bytearray(src)
cd = bad.rfind(b"PK\x01\x02")
bad[cd: cd + 4] = b"XX\x01\x02"  # break the last central-directory entry's signature
open(os.path.join(out, "corrupt_directory.pth"), "wb").write(bytes(bad))


# ---- ZIP64: a 4.5 GB sparse uint8 record, then a small float record past the 4 GiB mark
class FakeStorage:
    def __init__(self, key, typ, numel):
        self.key, self.typ, self.numel = key, typ, numel


class FakeTensor:
    def __init__(self, st, shape):
        self.st, self.shape = st, shape

    def __reduce__(self):
        stride = tuple(int(torch.tensor(self.shape[i + 1:]).prod()) for i in range(len(self.shape)))
        return (torch._utils._rebuild_tensor_v2,
                (self.st, 0, self.shape, stride, False, collections.OrderedDict()))


class P(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.typ, obj.key, "cpu", obj.numel)
        return None


BIG = 4_500_000_000
small = torch.arange(6, dtype=torch.float32) * 0.5
buf = io.BytesIO()
P(buf, protocol=2).dump({"big": FakeTensor(FakeStorage("0", torch.ByteStorage, BIG), (BIG,)),
                         "small": FakeTensor(FakeStorage("1", torch.FloatStorage, 6), (2, 3))})
crc_zero = 0
chunk = bytes(64 << 20)
left = BIG
while left:
    n = min(left, len(chunk))
    crc_zero = zlib.crc32(chunk[:n] if n < len(chunk) else chunk, crc_zero)
    left -= n
entries = [("archive/data.pkl", buf.getvalue(), None), ("archive/data/0", None, (BIG, crc_zero)),
           ("archive/data/1", small.numpy().tobytes(), None), ("archive/version", b"3\n", None)]
path = os.path.join(out, "zip64.pth")
central = b""
with open(path, "wb") as f:
    for name, data, sparse in entries:
        off = f.tell()
        size, crc = (sparse if sparse else (len(data), zlib.crc32(data)))
        nm = name.encode()
        z64 = struct.pack("<HHQQ", 1, 16, size, size)
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                            len(nm), len(z64)) + nm + z64)
        if sparse:
            f.seek(size, 1)  # a hole: nothing written, no disk used
        else:
            f.write(data)
        cz = struct.pack("<HHQQQ", 1, 24, size, size, off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(nm), len(cz), 0, 0, 0, 0, 0xFFFFFFFF) + nm + cz
    cd_off = f.tell()
    f.write(central)
    z64_off = f.tell()
    f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries),
                        len(central), cd_off))
    f.write(struct.pack("<IIQI", 0x07064B50, 0, z64_off, 1))
    f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
with zipfile.ZipFile(path) as z:  # Python's zipfile agrees (and checks the CRC of the small record)
    assert z.read("archive/data/1") == small.numpy().tobytes()
    assert z.getinfo("archive/data/1").header_offset > 2**32
record("zip64.pth", {"small": small.reshape(2, 3)})
st = os.stat(path)
expected["zip64.pth"]["_disk"] = {"apparent": st.st_size, "allocated": st.st_blocks * 512}

json.dump(expected, open(os.path.join(out, "expected.json"), "w"))
print("ok")

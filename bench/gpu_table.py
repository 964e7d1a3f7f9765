# Merges the JSON lines of bench/gpu_timings.ts (ours) and bench/gpu_torch.py (PyTorch) into a
# markdown table: per case, time and rate of each implementation and ours / reference.
# Memory-bound rows also give GB/s as a fraction of the measured copy bandwidth.
#   python3 bench/gpu_table.py ours.jsonl torch.jsonl "<card name>" > results.md
import json
import sys


def load(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


ours, torch_rows = load(sys.argv[1]), load(sys.argv[2])
card = sys.argv[3] if len(sys.argv) > 3 else "?"
ref = {r["case"]: r for r in torch_rows}
copy_bw = next((r.get("gbps") for r in torch_rows if r["case"] == "copy"), None)
our_copy = next((r.get("gbps") for r in ours if r["case"] == "copy"), None)
ceiling = max(x for x in (copy_bw, our_copy, 1e-9) if x)
print(f"Card: {card}. Times are medians of CUDA-event timed rounds; ratio = reference time / our time (>1: ours faster).\n")
print("| case | shape | ours (variant) | ours ms | ours rate | reference | ref ms | ref rate | ratio | % of copy BW |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in ours:
    t = ref.get(r["case"])
    rate = lambda x: (f"{x['tflops']:.1f} TFLOP/s" if "tflops" in x else f"{x['gbps']:.0f} GB/s" if "gbps" in x else "")
    if "error" in r:
        print(f"| {r['case']} | {r.get('shape','')} | {r.get('variant','ours')} | error: {r['error']} | | | | | | |")
        continue
    ratio = f"{t['ms'] / r['ms']:.2f}" if t and "ms" in t else ""
    bw = f"{100 * r['gbps'] / ceiling:.0f}%" if "gbps" in r and r["case"] != "copy" else ""
    print(f"| {r['case']} | {r['shape']} | {r.get('variant', 'ours')} | {r['ms']:.4f} | {rate(r)} | "
          f"{t.get('variant', 'torch') if t else ''} | {t['ms']:.4f} | {rate(t)} | {ratio} | {bw} |" if t else
          f"| {r['case']} | {r['shape']} | {r.get('variant', 'ours')} | {r['ms']:.4f} | {rate(r)} | | | | | {bw} |")

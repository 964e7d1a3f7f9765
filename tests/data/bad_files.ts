/**
 * Builders for the corpus of bad image files the safety tests generate themselves: raw PNG
 * chunks (with correct or broken CRCs), palette PNGs at any bit depth, and helpers to make a
 * FIFO (through /usr/bin/python3, the only program the test task may run) and to run a Deno
 * child that can be killed mid-write.
 */
import { crc32, deflateSync } from "node:zlib";

const SIG = [137, 80, 78, 71, 13, 10, 26, 10];

/** One PNG chunk with its CRC (`badCrc` flips the CRC's low bit). */
export function chunk(type: string, data: Uint8Array, badCrc = false): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  const crc = crc32(out.subarray(4, 8 + data.length)) >>> 0;
  dv.setUint32(8 + data.length, badCrc ? crc ^ 1 : crc);
  return out;
}

/** IHDR payload. */
export function ihdr(w: number, h: number, depth: number, colorType: number): Uint8Array {
  const d = new Uint8Array(13);
  const dv = new DataView(d.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  d.set([depth, colorType, 0, 0, 0], 8);
  return d;
}

/** Signature + chunks. */
export function png(...chunks: Uint8Array[]): Uint8Array {
  let n = 8;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  out.set(SIG);
  let o = 8;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * A palette PNG (`depth` 1/2/4/8) whose pixels are `indices` (row-major, w×h), with
 * `entries` palette colours (entry k = (k, 2k, 3k)) and optional tRNS alphas.
 */
export function palettePng(
  w: number,
  h: number,
  depth: number,
  entries: number,
  indices: number[],
  trns?: number[],
): Uint8Array {
  const stride = Math.ceil((w * depth) / 8);
  const raw = new Uint8Array((stride + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = indices[y * w + x];
      const bit = x * depth;
      const o = y * (stride + 1) + 1 + (bit >> 3);
      raw[o] |= v << (8 - depth - (bit & 7));
    }
  }
  const pal = new Uint8Array(entries * 3);
  for (let k = 0; k < entries; k++) pal.set([k, 2 * k, 3 * k], k * 3);
  const chunks = [chunk("IHDR", ihdr(w, h, depth, 3)), chunk("PLTE", pal)];
  if (trns) chunks.push(chunk("tRNS", new Uint8Array(trns)));
  chunks.push(chunk("IDAT", new Uint8Array(deflateSync(raw))), chunk("IEND", new Uint8Array(0)));
  return png(...chunks);
}

/** Make a FIFO at `path` with /usr/bin/python3 (tests may not run mkfifo). */
export async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import os, sys; os.mkfifo(sys.argv[1])", path],
  }).output();
  if (!r.success) throw new Error(`mkfifo '${path}' failed: ${new TextDecoder().decode(r.stderr)}`);
}

/**
 * Run `deno <args>` as a child of /usr/bin/python3, which SIGKILLs it as soon as `watch`
 * exists (polling every 10 ms; `minEntries` > 0: once `watch` is a folder holding that many
 * entries, searched recursively). Resolves with the killed child's pid and whether it was
 * killed (false: it finished first) — the test decides if that is a failure.
 */
export async function runAndKill(
  args: string[],
  watch: string,
  opts: { glob?: boolean; minEntries?: number; timeoutS?: number } = {},
): Promise<{ pid: number; killed: boolean; stderr: string }> {
  const py = `
import glob, os, signal, subprocess, sys, time
deno, watch, glob_mode, min_entries, timeout = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), float(sys.argv[5])
p = subprocess.Popen([deno] + sys.argv[6:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
def ready():
    paths = glob.glob(watch) if glob_mode else ([watch] if os.path.exists(watch) else [])
    if not paths: return False
    if min_entries <= 0: return True
    n = sum(len(fs) + len(ds) for root, ds, fs in os.walk(paths[0]))
    return n >= min_entries
t0 = time.time(); killed = False
while p.poll() is None and time.time() - t0 < timeout:
    if ready():
        p.send_signal(signal.SIGKILL); killed = True; break
    time.sleep(0.01)
if p.poll() is None and not killed:
    p.kill()
err = p.communicate()[1].decode(errors="replace")
print(p.pid, 1 if killed else 0)
sys.stderr.write(err)
`;
  const r = await new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      py,
      Deno.execPath(),
      watch,
      opts.glob ? "1" : "0",
      String(opts.minEntries ?? 0),
      String(opts.timeoutS ?? 120),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [pid, killed] = new TextDecoder().decode(r.stdout).trim().split(" ").map(Number);
  return { pid, killed: killed === 1, stderr: new TextDecoder().decode(r.stderr) };
}

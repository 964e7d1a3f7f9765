/**
 * Gloo backend of `ProcessGroup`: binds build/libft_dist.so (native/dist/gloo_pg.cpp, built only when
 * Debian's libgloo-dev is installed). Rendezvous is gloo's FileStore in `DistEnv.storeDir` under a
 * per-run prefix, then a full TCP mesh; collectives are gloo's allreduce/broadcast/allgather/barrier.
 * Test: .tools/deno test --allow-all tests/dist/gloo_test.ts
 * @module
 */
import { openLibrary } from "../backend/loader.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { type AsyncWork, CollectiveError, type DistEnv, type ProcessGroup } from "./process_group.ts";

/** FFI signatures of libft_dist (native/dist/gloo_pg.cpp). */
export const GLOO_SYMBOLS = {
  /** () -> const char* message of the last failure on this thread. */
  ft_pg_last_error: { parameters: [], result: "pointer" },
  /** (store_dir, prefix, rank, size, hostname, timeout_ms, out handle**) -> status. */
  ft_pg_create: {
    parameters: [
      /* store_dir */ "buffer",
      /* prefix */ "buffer",
      /* rank */ "i32",
      /* size */ "i32",
      /* hostname */ "buffer",
      /* timeout_ms */ "i64",
      /* out handle** */ "buffer",
    ],
    result: "i32",
  },
  /** (handle, data f32[n], n, timeout_ms) -> status. */
  ft_pg_allreduce_f32: {
    parameters: [/* handle */ "pointer", /* data f32[n] */ "pointer", /* n */ "i64", /* timeout_ms */ "i64"],
    result: "i32",
  },
  /** (handle, data f32[n], n, root, timeout_ms) -> status. */
  ft_pg_broadcast_f32: {
    parameters: [
      /* handle */ "pointer",
      /* data f32[n] */ "pointer",
      /* n */ "i64",
      /* root */ "i32",
      /* timeout_ms */ "i64",
    ],
    result: "i32",
  },
  /** (handle, in f32[n], out f32[size*n], n, timeout_ms) -> status. */
  ft_pg_allgather_f32: {
    parameters: [
      /* handle */ "pointer",
      /* in f32[n] */ "pointer",
      /* out f32[size*n] */ "pointer",
      /* n */ "i64",
      /* timeout_ms */ "i64",
    ],
    result: "i32",
  },
  /** (handle, data f32[n], n, timeout_ms, out work id i64[1]) -> status; runs on the group's worker thread. */
  ft_pg_allreduce_f32_async: {
    parameters: [
      /* handle */ "pointer",
      /* data f32[n] */ "pointer",
      /* n */ "i64",
      /* timeout_ms */ "i64",
      /* out work id i64[1] */ "buffer",
    ],
    result: "i32",
  },
  /** (handle, work id, out done i32[1]) -> status. */
  ft_pg_poll: {
    parameters: [/* handle */ "pointer", /* id */ "i64", /* out done i32[1] */ "buffer"],
    result: "i32",
  },
  /** (handle, work id, timeout_ms) -> the work's status (3: still running after timeout_ms > 0). */
  ft_pg_wait: { parameters: [/* handle */ "pointer", /* id */ "i64", /* timeout_ms */ "i64"], result: "i32" },
  /** (handle, timeout_ms) -> status. */
  ft_pg_barrier: { parameters: [/* handle */ "pointer", /* timeout_ms */ "i64"], result: "i32" },
  /** (handle) -> status. */
  ft_pg_destroy: { parameters: [/* handle */ "pointer"], result: "i32" },
} satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof GLOO_SYMBOLS> | null = null;
function gloo(): Deno.DynamicLibrary<typeof GLOO_SYMBOLS>["symbols"] {
  lib ??= openLibrary("ft_dist", GLOO_SYMBOLS);
  return lib.symbols;
}

function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

function lastError(): string {
  const p = gloo().ft_pg_last_error();
  return p ? new Deno.UnsafePointerView(p).getCString() : "(no message)";
}

/** Pointer to the float32 data of a host array or CPU tensor, plus a write-back for other devices. */
function hostData(data: Float32Array | Tensor): { ptr: Deno.PointerValue; n: number; done: () => void } {
  if (data instanceof Float32Array) {
    return { ptr: Deno.UnsafePointer.of(data), n: data.length, done: () => {} };
  }
  if (data.dtype !== "float32") throw new Error(`gloo: tensor must be float32, got ${data.dtype}`);
  if (data.device === "cpu") return { ptr: data.ptr, n: data.size, done: () => {} };
  const host = data.data().slice(); // GPU tensor: stage through host memory
  return { ptr: Deno.UnsafePointer.of(host), n: host.length, done: () => void data.set(host) };
}

/** This host's name, or "" without --allow-sys (the beacons are diagnostics, never a reason to fail). */
function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Whether a local process runs (a zombie, exited but not yet reaped, counts as gone). Linux /proc. */
function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A rank's progress beacon (a small JSON file beside the FileStore). */
interface Beacon {
  rank: number;
  pid: number;
  host: string;
  label: string;
  /** Progress marks so far (comparable across ranks: every rank marks the same steps). */
  seq: number;
  /** Wall-clock ms of the mark. */
  t: number;
}

/** A Gloo process group over TCP. */
export class GlooProcessGroup implements ProcessGroup {
  readonly backend = "gloo";
  private handle: Deno.PointerValue;
  private seq = 0;
  private label = "start";

  private constructor(
    handle: Deno.PointerValue,
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
    private readonly beaconBase: string,
  ) {
    this.handle = handle;
  }

  private beaconPath(rank: number): string {
    return `${this.beaconBase}.progress.${rank}.json`;
  }

  /** Writes this rank's beacon (temp + rename, so a reader never sees half a file). */
  markProgress(label: string): void {
    this.seq++;
    this.label = label;
    this.writeBeacon();
  }

  private writeBeacon(): void {
    const b: Beacon = {
      rank: this.rank,
      pid: Deno.pid,
      host: hostName(),
      label: this.label,
      seq: this.seq,
      t: Date.now(),
    };
    const path = this.beaconPath(this.rank);
    try {
      Deno.writeTextFileSync(path + ".tmp", JSON.stringify(b));
      Deno.renameSync(path + ".tmp", path);
    } catch {
      // diagnostics only: a full or read-only store must not stop training
    }
  }

  describePeers(): string {
    const lines: string[] = [];
    const all: string[] = [];
    for (let r = 0; r < this.worldSize; r++) {
      if (r === this.rank) continue;
      let b: Beacon;
      try {
        b = JSON.parse(Deno.readTextFileSync(this.beaconPath(r)));
      } catch {
        lines.push(`rank ${r} never reported progress`);
        continue;
      }
      const ago = ((Date.now() - b.t) / 1000).toFixed(1);
      let state = "";
      if (b.host && b.host === hostName()) {
        // a peer killed a moment ago may still be exiting (its sockets close first): look for 0.5 s
        let alive = processAlive(b.pid);
        for (let i = 0; i < 5 && alive; i++) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
          alive = processAlive(b.pid);
        }
        state = alive
          ? "; its process is still running (hung or stuck)"
          : "; its process is gone (killed or crashed)";
      }
      const line = `rank ${r} (pid ${b.pid} on ${b.host}) last reported ${b.label}, ${ago} s ago${state}`;
      all.push(line);
      if (b.seq < this.seq || state.includes("gone")) lines.push(line);
    }
    // this rank reached `label`; name the ranks behind it or dead, else (a peer failed after its
    // mark) every peer's state
    return (lines.length ? lines : all).join("; ") + (this.seq ? ` (this rank reached ${this.label})` : "");
  }

  /** Rendezvous with the other ranks; throws (with gloo's message) after `timeoutMs`. */
  static create(env: DistEnv, timeoutMs: number): GlooProcessGroup {
    Deno.mkdirSync(env.storeDir, { recursive: true });
    const out = new BigUint64Array(1);
    // all ranks must use the same prefix; the port names the run (torchrun: one port per job)
    const prefix = `ft_${env.masterPort}`;
    const host = env.worldSize > 1 && env.masterAddr !== "127.0.0.1" && env.masterAddr !== "localhost"
      ? (Deno.env.get("FT_DIST_HOST") ?? "")
      : "127.0.0.1";
    const st = gloo().ft_pg_create(
      cstr(env.storeDir),
      cstr(prefix),
      env.rank,
      env.worldSize,
      cstr(host),
      BigInt(timeoutMs),
      out,
    );
    if (st !== 0) {
      throw new Error(
        `gloo rendezvous failed (rank ${env.rank}/${env.worldSize}, store ${env.storeDir}): ${lastError()}`,
      );
    }
    const pg = new GlooProcessGroup(
      Deno.UnsafePointer.create(out[0]),
      env.rank,
      env.worldSize,
      timeoutMs,
      `${env.storeDir}/${prefix}`,
    );
    pg.writeBeacon(); // overwrites any stale beacon of an earlier run on the same port
    return pg;
  }

  private live(op: string): Deno.PointerValue {
    if (!this.handle) throw new Error(`gloo ${op}: process group was destroyed`);
    return this.handle;
  }

  private check(st: number, op: string): void {
    if (st !== 0) {
      throw new CollectiveError(`gloo ${op} failed on rank ${this.rank}/${this.worldSize}: ${lastError()}`);
    }
  }

  allReduceSum(data: Float32Array | Tensor, timeoutMs = this.timeoutMs): void {
    const h = hostData(data);
    this.check(
      gloo().ft_pg_allreduce_f32(this.live("allreduce"), h.ptr, BigInt(h.n), BigInt(timeoutMs)),
      "allreduce",
    );
    h.done();
  }

  /**
   * Starts summing `data` over ranks on the group's worker thread and returns at once; `data` must
   * not be read or written until `wait()` returned (the work object keeps it alive until then).
   */
  allReduceSumAsync(data: Float32Array, timeoutMs = this.timeoutMs): AsyncWork {
    const id = new BigInt64Array(1);
    const handle = this.live("allreduce");
    this.check(
      gloo().ft_pg_allreduce_f32_async(
        handle,
        Deno.UnsafePointer.of(data),
        BigInt(data.length),
        BigInt(timeoutMs),
        id,
      ),
      "allreduce (async start)",
    );
    let finished = false;
    const flag = new Int32Array(1);
    return {
      done: () => {
        if (finished) return true;
        this.check(gloo().ft_pg_poll(handle, id[0], flag), "allreduce (poll)");
        return flag[0] === 1;
      },
      wait: () => {
        if (finished) return;
        finished = true;
        // keep `data` reachable until the native side is done with it
        this.check(gloo().ft_pg_wait(handle, id[0], 0n), `allreduce of ${data.length} floats`);
      },
    };
  }

  broadcast(data: Float32Array | Tensor, root: number, timeoutMs = this.timeoutMs): void {
    const h = hostData(data);
    this.check(
      gloo().ft_pg_broadcast_f32(this.live("broadcast"), h.ptr, BigInt(h.n), root, BigInt(timeoutMs)),
      "broadcast",
    );
    h.done();
  }

  allGather(input: Float32Array, timeoutMs = this.timeoutMs): Float32Array {
    const out = new Float32Array(input.length * this.worldSize);
    this.check(
      gloo().ft_pg_allgather_f32(
        this.live("allgather"),
        Deno.UnsafePointer.of(input),
        Deno.UnsafePointer.of(out),
        BigInt(input.length),
        BigInt(timeoutMs),
      ),
      "allgather",
    );
    return out;
  }

  barrier(timeoutMs = this.timeoutMs): void {
    this.check(gloo().ft_pg_barrier(this.live("barrier"), BigInt(timeoutMs)), "barrier");
  }

  destroy(): void {
    if (this.handle) gloo().ft_pg_destroy(this.handle);
    this.handle = null;
  }
}

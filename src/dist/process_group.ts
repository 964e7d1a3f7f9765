/**
 * Process groups for data-parallel training: the `ProcessGroup` interface every backend implements
 * (Gloo between CPU processes: ./gloo.ts), and `initProcessGroup()`, which reads torchrun's
 * environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) plus FT_DIST_STORE.
 * Collectives work on host float32 buffers in place and take a timeout, so a dead peer turns
 * into an Error naming the operation instead of a hang.
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";

/** A collective that failed or timed out (a peer died, hung or closed its connection). */
export class CollectiveError extends Error {
  override name = "CollectiveError";
}

/** A collective started by `allReduceSumAsync`. */
export interface AsyncWork {
  /** Whether it has finished (without collecting its status). */
  done(): boolean;
  /** Blocks until it finishes; throws its error (a dead or hung peer) naming the operation. */
  wait(): void;
}

/** A group of `worldSize` cooperating processes; this one is `rank`. */
export interface ProcessGroup {
  /** This process's rank in [0, worldSize). */
  readonly rank: number;
  /** Number of processes. */
  readonly worldSize: number;
  /** Backend name ("gloo", ...). */
  readonly backend: string;
  /** data: [n] float32, replaced by the element-wise sum over ranks. */
  allReduceSum(data: Float32Array | Tensor, timeoutMs?: number): void;
  /**
   * Like allReduceSum but returns at once (the sum runs on a communication thread); `data` must not
   * be touched until `wait()`. Optional: backends without it are driven through allReduceSum.
   */
  allReduceSumAsync?(data: Float32Array, timeoutMs?: number): AsyncWork;
  /** data: [n] float32, replaced by rank `root`'s values. */
  broadcast(data: Float32Array | Tensor, root: number, timeoutMs?: number): void;
  /** input: [n] float32 -> [worldSize * n], row r = rank r's input. */
  allGather(input: Float32Array, timeoutMs?: number): Float32Array;
  /** Blocks until every rank arrives (or the timeout passes). */
  barrier(timeoutMs?: number): void;
  /** Closes the connections (idempotent). */
  destroy(): void;
  /**
   * Records how far this rank got (e.g. "fpn step 12") where the other ranks can read it (a small
   * file next to the rendezvous store), so a failure can name the rank that stopped.
   */
  markProgress?(label: string): void;
  /**
   * After a failed collective: one line per other rank that is behind this one or whose process
   * is gone, e.g. "rank 1 (pid 4242) last reported fpn step 2, 5.1 s ago; its process is gone
   * (killed or crashed)"; "" when nothing is known.
   */
  describePeers?(): string;
}

/** Where and how this process joins its group. */
export interface DistEnv {
  /** Global rank. */
  rank: number;
  /** Total number of processes. */
  worldSize: number;
  /** Rank on this node (picks the GPU for NCCL). */
  localRank: number;
  /** Rendezvous host (torchrun's MASTER_ADDR). */
  masterAddr: string;
  /** Rendezvous port (torchrun's MASTER_PORT); also names the run's store prefix. */
  masterPort: number;
  /** Shared directory for the file-store rendezvous (FT_DIST_STORE). */
  storeDir: string;
}

function intEnv(env: Record<string, string | undefined>, name: string, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") {
    if (fallback !== undefined) return fallback;
    throw new Error(`distributed: environment variable ${name} is not set (expected an integer)`);
  }
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) {
    throw new Error(`distributed: ${name}=${raw} is not a non-negative integer`);
  }
  return v;
}

/** Parses the torchrun-style environment; throws naming the bad variable. */
export function readDistEnv(env: Record<string, string | undefined> = Deno.env.toObject()): DistEnv {
  const worldSize = intEnv(env, "WORLD_SIZE", 1);
  if (worldSize < 1) throw new Error(`distributed: WORLD_SIZE must be >= 1, got ${worldSize}`);
  const rank = intEnv(env, "RANK", 0);
  if (rank >= worldSize) throw new Error(`distributed: RANK=${rank} must be < WORLD_SIZE=${worldSize}`);
  const masterPort = intEnv(env, "MASTER_PORT", 29500);
  return {
    rank,
    worldSize,
    localRank: intEnv(env, "LOCAL_RANK", rank),
    masterAddr: env.MASTER_ADDR || "127.0.0.1",
    masterPort,
    storeDir: env.FT_DIST_STORE || `/tmp/ft_dist_store_${masterPort}`,
  };
}

/** Options of `initProcessGroup`. */
export interface InitOptions {
  /** Backend (default "gloo"; "nccl" for CUDA tensors, bootstrapped over a Gloo group; never run here). */
  backend?: "gloo" | "nccl";
  /** Rendezvous + default collective timeout in ms (default 60 000). */
  timeoutMs?: number;
  /** Environment to read instead of the process's. */
  env?: DistEnv;
}

/** Joins the group described by the environment (torchrun conventions). */
export async function initProcessGroup(opts: InitOptions = {}): Promise<ProcessGroup> {
  const env = opts.env ?? readDistEnv();
  const backend = opts.backend ?? "gloo";
  if (backend !== "gloo" && backend !== "nccl") {
    throw new Error(`initProcessGroup: unknown backend "${backend}", expected "gloo" or "nccl"`);
  }
  const { GlooProcessGroup } = await import("./gloo.ts");
  const gloo = GlooProcessGroup.create(env, opts.timeoutMs ?? 60_000);
  if (backend === "gloo") return gloo;
  const { NcclProcessGroup } = await import("./nccl.ts");
  return NcclProcessGroup.create(gloo);
}

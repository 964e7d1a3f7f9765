/**
 * NCCL backend of `ProcessGroup` for CUDA tensors, loaded at run time: FT_NCCL_LIB, else the
 * system's libnccl.so.2, else PyTorch's bundled copy (nvidia/nccl/lib in site-packages). The
 * 128-byte ncclUniqueId is created on rank 0 and sent to the others over a Gloo group.
 * Collectives run on the default CUDA stream, then the device is synchronised.
 * NOT RUN: this machine has no GPU; only type-checked (see docs/distributed.md).
 * @module
 */
import type { Tensor } from "../tensor/tensor.ts";
import type { ProcessGroup } from "./process_group.ts";
import { cudaSynchronize } from "../backend/cuda.ts";

const UNIQUE_ID = { struct: Array(128).fill("u8") } as const;

/** NCCL C API symbols used here (nccl.h). */
export const NCCL_SYMBOLS = {
  /** (ncclUniqueId* out) -> ncclResult_t. */
  ncclGetUniqueId: { parameters: [/* out ncclUniqueId* */ "buffer"], result: "i32" },
  /** (ncclComm_t* comm, int nranks, ncclUniqueId id (by value), int rank) -> ncclResult_t. */
  ncclCommInitRank: {
    parameters: [/* comm* */ "buffer", /* nranks */ "i32", /* id (by value) */ UNIQUE_ID, /* rank */ "i32"],
    result: "i32",
  },
  /** (sendbuf, recvbuf, count, datatype, op, comm, stream) -> ncclResult_t. */
  ncclAllReduce: {
    parameters: [
      /* sendbuf */ "pointer",
      /* recvbuf */ "pointer",
      /* count */ "usize",
      /* datatype */ "i32",
      /* op */ "i32",
      /* comm */ "pointer",
      /* stream */ "pointer",
    ],
    result: "i32",
  },
  /** (sendbuf, recvbuf, count, datatype, root, comm, stream) -> ncclResult_t. */
  ncclBroadcast: {
    parameters: [
      /* sendbuf */ "pointer",
      /* recvbuf */ "pointer",
      /* count */ "usize",
      /* datatype */ "i32",
      /* root */ "i32",
      /* comm */ "pointer",
      /* stream */ "pointer",
    ],
    result: "i32",
  },
  /** (comm) -> ncclResult_t. */
  ncclCommDestroy: { parameters: [/* comm */ "pointer"], result: "i32" },
  /** (ncclResult_t) -> const char*. */
  ncclGetErrorString: { parameters: [/* ncclResult_t */ "i32"], result: "pointer" },
} satisfies Deno.ForeignLibraryInterface;

const NCCL_FLOAT32 = 7, NCCL_SUM = 0;

/** Candidate paths of libnccl, in search order. */
export function ncclCandidates(): string[] {
  const out: string[] = [];
  const env = Deno.env.get("FT_NCCL_LIB");
  if (env) out.push(env);
  out.push("libnccl.so.2", "/usr/lib/x86_64-linux-gnu/libnccl.so.2");
  for (const py of ["/usr/local/lib", "/usr/lib"]) {
    for (const v of ["python3", "python3.10", "python3.11", "python3.12", "python3.13"]) {
      out.push(
        `${py}/${v}/dist-packages/nvidia/nccl/lib/libnccl.so.2`,
        `${py}/${v}/site-packages/nvidia/nccl/lib/libnccl.so.2`,
      );
    }
  }
  return out;
}

/** Opens libnccl; throws listing every path tried when none loads. */
export function openNccl(): Deno.DynamicLibrary<typeof NCCL_SYMBOLS> {
  const errors: string[] = [];
  for (const p of ncclCandidates()) {
    try {
      return Deno.dlopen(p, NCCL_SYMBOLS);
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(
    `NCCL not found; tried:\n  ${
      errors.join("\n  ")
    }\ninstall libnccl2, or set FT_NCCL_LIB to a libnccl.so.2`,
  );
}

/** NCCL group over CUDA tensors; `bootstrap` (e.g. Gloo) carries the unique id. */
export class NcclProcessGroup implements ProcessGroup {
  readonly backend = "nccl";
  readonly rank: number;
  readonly worldSize: number;
  private comm: Deno.PointerValue;
  private readonly bootstrap: ProcessGroup;

  private constructor(
    private readonly lib: Deno.DynamicLibrary<typeof NCCL_SYMBOLS>,
    comm: Deno.PointerValue,
    bootstrap: ProcessGroup,
  ) {
    this.comm = comm;
    this.bootstrap = bootstrap;
    this.rank = bootstrap.rank;
    this.worldSize = bootstrap.worldSize;
  }

  /** Creates the communicator (the CUDA device must already be chosen, e.g. by LOCAL_RANK). */
  static create(bootstrap: ProcessGroup): NcclProcessGroup {
    const lib = openNccl();
    const id = new Uint8Array(128);
    if (bootstrap.rank === 0) NcclProcessGroup.ok(lib, lib.symbols.ncclGetUniqueId(id), "ncclGetUniqueId");
    bootstrap.broadcast(new Float32Array(id.buffer), 0); // bytes travel unchanged (a copy, no arithmetic)
    const out = new BigUint64Array(1);
    NcclProcessGroup.ok(
      lib,
      lib.symbols.ncclCommInitRank(out, bootstrap.worldSize, id, bootstrap.rank),
      "ncclCommInitRank",
    );
    return new NcclProcessGroup(lib, Deno.UnsafePointer.create(out[0]), bootstrap);
  }

  private static ok(lib: Deno.DynamicLibrary<typeof NCCL_SYMBOLS>, st: number, op: string): void {
    if (st === 0) return;
    const p = lib.symbols.ncclGetErrorString(st);
    throw new Error(`${op} failed (${st}): ${p ? new Deno.UnsafePointerView(p).getCString() : "unknown"}`);
  }

  private cudaTensor(data: Float32Array | Tensor, op: string): Tensor {
    if (data instanceof Float32Array || data.device === "cpu" || data.dtype !== "float32") {
      throw new Error(`nccl ${op}: needs a float32 CUDA tensor (use the gloo backend for host data)`);
    }
    return data;
  }

  allReduceSum(data: Float32Array | Tensor): void {
    const t = this.cudaTensor(data, "allreduce");
    NcclProcessGroup.ok(
      this.lib,
      this.lib.symbols.ncclAllReduce(t.ptr, t.ptr, BigInt(t.size), NCCL_FLOAT32, NCCL_SUM, this.comm, null),
      "ncclAllReduce",
    );
    cudaSynchronize();
  }

  broadcast(data: Float32Array | Tensor, root: number): void {
    const t = this.cudaTensor(data, "broadcast");
    NcclProcessGroup.ok(
      this.lib,
      this.lib.symbols.ncclBroadcast(t.ptr, t.ptr, BigInt(t.size), NCCL_FLOAT32, root, this.comm, null),
      "ncclBroadcast",
    );
    cudaSynchronize();
  }

  /** Host arrays go over the bootstrap (Gloo) group. */
  allGather(input: Float32Array, timeoutMs?: number): Float32Array {
    return this.bootstrap.allGather(input, timeoutMs);
  }

  /** Waits for this device's work, then for every rank (over the bootstrap group). */
  barrier(timeoutMs?: number): void {
    cudaSynchronize();
    this.bootstrap.barrier(timeoutMs);
  }

  destroy(): void {
    if (this.comm) this.lib.symbols.ncclCommDestroy(this.comm);
    this.comm = null;
  }
}

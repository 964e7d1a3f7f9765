/**
 * `--nproc N` launcher (torchrun-like): starts N worker processes of the same deno binary and entry
 * script with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT set. Rank 0's stdout is the only
 * progress output; every rank's stderr reaches the terminal. When one rank fails, the others are
 * given `graceMs` to fail on their own (their collectives time out or see the closed connection),
 * then killed; the error names the first failing rank.
 * @module
 */

/** What to launch. */
export interface LaunchOptions {
  /** Processes on this node. */
  nproc: number;
  /** Nodes in the job (default 1). */
  nnodes?: number;
  /** This node's index (default 0). */
  nodeRank?: number;
  /** Rendezvous host (default 127.0.0.1). */
  masterAddr?: string;
  /** Rendezvous port (default 29500); also names the store prefix. */
  masterPort?: number;
  /** Arguments of the entry script, without the launcher flags. */
  args: string[];
  /** Entry script (default Deno.mainModule). */
  script?: string;
  /** Time the surviving ranks get after one fails (default 30 s). */
  graceMs?: number;
}

/** Runs the workers; resolves with 0 when all succeed, else throws naming the failed rank(s). */
export async function launchWorkers(o: LaunchOptions): Promise<number> {
  const nnodes = o.nnodes ?? 1, nodeRank = o.nodeRank ?? 0;
  if (!(o.nproc >= 1) || !(nnodes >= 1) || !(nodeRank >= 0 && nodeRank < nnodes)) {
    throw new Error(
      `launch: need nproc >= 1, nnodes >= 1, 0 <= node-rank < nnodes (got ${o.nproc}, ${nnodes}, ${nodeRank})`,
    );
  }
  const world = o.nproc * nnodes;
  const port = o.masterPort ?? 29500;
  const script = o.script ?? Deno.mainModule;
  const children = Array.from({ length: o.nproc }, (_, local) => {
    const rank = nodeRank * o.nproc + local;
    return {
      rank,
      child: new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", script, ...o.args],
        env: {
          RANK: String(rank),
          WORLD_SIZE: String(world),
          LOCAL_RANK: String(local),
          MASTER_ADDR: o.masterAddr ?? "127.0.0.1",
          MASTER_PORT: String(port),
          FT_DIST_CHILD: "1",
        },
        stdout: rank === 0 ? "inherit" : "null",
        stderr: "inherit",
      }).spawn(),
    };
  });
  const failed: string[] = [];
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  await Promise.all(children.map(async ({ rank, child }) => {
    const st = await child.status;
    if (st.success) return;
    failed.push(`rank ${rank} exited with ${st.signal ? `signal ${st.signal}` : `code ${st.code}`}`);
    killTimer ??= setTimeout(() => {
      for (const c of children) {
        try {
          c.child.kill("SIGKILL");
        } catch {
          // already exited
        }
      }
    }, o.graceMs ?? 30_000);
  }));
  if (killTimer !== undefined) clearTimeout(killTimer);
  if (failed.length) throw new Error(`distributed run failed: ${failed.join("; ")}`);
  return 0;
}

/**
 * One rank of the data-parallel trainer tests (tests/dist/train_dist_test.ts starts it): the real
 * `train()` on a micro config, FPN stage, with a Gloo group when WORLD_SIZE > 1.
 * Env: RANK, WORLD_SIZE, MASTER_PORT, FT_DIST_STORE (torchrun names), FT_TEST_DATA (MMTT folder),
 * FT_TEST_OUT (run folder), FT_TEST_BATCH (per rank), FT_TEST_STEPS, FT_TEST_STOP_AFTER,
 * FT_TEST_ACCUMULATE (micro-batches per step), FT_TEST_RESUME (checkpoint), FT_TEST_TIMEOUT_MS (collective timeout), FT_TEST_BUCKET_MB, FT_TEST_BN
 * (batch | frozen BatchNorm; default batch),
 * FT_TEST_KILL_AT / FT_TEST_HANG_AT ("rank:step": that rank SIGKILLs itself / blocks for 60 s
 * right after that optimizer step).
 */
import { readMMTT, splitPath } from "../../src/data/mmtt.ts";
import { train } from "../../src/train/trainer.ts";
import { MICRO, microOptions } from "../train/micro_fixture.ts";
import { initProcessGroup, readDistEnv } from "../../src/dist/process_group.ts";

const env = readDistEnv();
const get = (k: string, d = "") => Deno.env.get(k) ?? d;
const at = (k: string): [number, number] | null => {
  const v = Deno.env.get(k);
  return v ? v.split(":").map(Number) as [number, number] : null;
};
const kill = at("FT_TEST_KILL_AT"), hang = at("FT_TEST_HANG_AT");
const dataDir = get("FT_TEST_DATA");
const data = {
  train: await readMMTT(splitPath(dataDir, "train"), dataDir),
  val: await readMMTT(splitPath(dataDir, "eval"), dataDir),
};
const dist = env.worldSize > 1
  ? await initProcessGroup({ env, timeoutMs: Number(get("FT_TEST_TIMEOUT_MS", "30000")) })
  : undefined;
const steps = Number(get("FT_TEST_STEPS", "5"));
try {
  await train(
    microOptions(get("FT_TEST_OUT"), ["fpn"], {
      config: { ...MICRO, dropout: 0 },
      steps: { fpn: steps, pretrain: steps, finetune: steps },
      batchSize: Number(get("FT_TEST_BATCH", "8")),
      accumulate: Number(get("FT_TEST_ACCUMULATE", "1")),
      resume: Deno.env.get("FT_TEST_RESUME") ?? null,
      stopAfter: Number(get("FT_TEST_STOP_AFTER", "0")),
      dist,
      bucketMb: Number(get("FT_TEST_BUCKET_MB", "25")),
      batchNorm: get("FT_TEST_BN", "batch") as "batch" | "frozen",
      onStep: (_stage, step) => {
        if (kill && kill[0] === env.rank && kill[1] === step) Deno.kill(Deno.pid, "SIGKILL");
        if (hang && hang[0] === env.rank && hang[1] === step) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); // blocks, no CPU
        }
      },
    }),
    data,
  );
} finally {
  dist?.destroy();
}

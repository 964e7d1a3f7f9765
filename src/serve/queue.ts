/**
 * A serial job queue: the model runs one forward at a time (a second forward on the same CPU
 * cores would only slow both down and double the activation memory), later jobs wait in
 * arrival order, and at most `maxWaiting` may wait (the rest are refused at once, so a flood
 * of uploads cannot pile up unbounded memory). Between jobs the queue yields to the event
 * loop so health checks and page requests are answered while uploads wait.
 * @module
 */

/** Thrown by `SerialQueue.run` when the queue is full. */
export class QueueFullError extends Error {}

/** Counters of a queue (what GET /api/health reports). */
export interface QueueStats {
  /** 1 while a job runs, else 0. */
  running: number;
  /** Jobs waiting behind it. */
  waiting: number;
  /** Jobs finished (successfully or not) since start. */
  done: number;
  /** Jobs that threw. */
  failed: number;
  /** Jobs refused because the queue was full. */
  refused: number;
}

/** Runs async jobs strictly one after another. */
export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();
  #running = 0;
  #waiting = 0;
  #done = 0;
  #failed = 0;
  #refused = 0;

  /** `maxWaiting`: jobs allowed to wait behind the running one. */
  constructor(readonly maxWaiting: number) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) {
      throw new Error(`SerialQueue: maxWaiting must be a non-negative integer, got ${maxWaiting}`);
    }
  }

  /**
   * Runs `job` once every earlier job has finished; resolves with its value and the
   * milliseconds it waited. Throws `QueueFullError` (without running it) when full.
   */
  run<T>(job: () => Promise<T> | T): Promise<{ value: T; waitedMs: number }> {
    if (this.#waiting + this.#running > this.maxWaiting) {
      this.#refused++;
      return Promise.reject(
        new QueueFullError(`the analysis queue is full (${this.#waiting} waiting); try again shortly`),
      );
    }
    const queued = performance.now();
    this.#waiting++;
    const result = this.#tail.then(async () => {
      this.#waiting--;
      this.#running = 1;
      const waitedMs = performance.now() - queued;
      try {
        return { value: await job(), waitedMs };
      } catch (e) {
        this.#failed++;
        throw e;
      } finally {
        this.#running = 0;
        this.#done++;
      }
    });
    // the next job starts after this one settles and one macrotask later, so requests that
    // arrived during the forward (health, page assets) get their turn first
    this.#tail = result.then(yieldTurn, yieldTurn);
    return result;
  }

  /** Current counters. */
  stats(): QueueStats {
    return {
      running: this.#running,
      waiting: this.#waiting,
      done: this.#done,
      failed: this.#failed,
      refused: this.#refused,
    };
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

// Persistent worker pool shared by every CPU kernel.
// ft::parallel_for(n, fn) splits [0, n) into contiguous chunks, one per thread, and runs
// fn(begin, end, thread_id) on the pool (the caller's thread takes chunk 0, then any chunk no
// worker has claimed yet, so a worker the OS keeps off the cores does not stall the op). Workers spin
// briefly then sleep on a condition variable, so back-to-back ops (the common case in a
// training step) pay no wake-up latency while an idle process burns no CPU.
// Threads: FT_NUM_THREADS, else hardware concurrency (2 on our VMs).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>

namespace ft {
int num_threads();
// fn(begin, end, tid); chunks are balanced; n <= 0 is a no-op. Small n (< min_per_thread *
// threads) runs on fewer threads to avoid wake-up cost on tiny ops. tid is the chunk's index:
// a chunk that no worker has claimed by the time the caller finishes chunk 0 is run by the
// caller (on a shared machine the worker may not be scheduled for milliseconds), so chunks
// may run one after another on one thread. Chunks that wait for each other (the GEMM team
// barrier) still meet: chunk 0 waits inside, so the workers claim the others meanwhile.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_per_thread = 1);

// Dynamic split: threads take `chunk`-sized pieces of [0, n) from a shared counter, so a thread
// that the (shared, oversubscribed) machine preempts does not hold up the whole op as a fixed
// half-and-half split would. At most n / min_per_thread threads; fn(begin, end, thread_id).
template <class F>
void run_chunked(int64_t n, int64_t chunk, int64_t min_per_thread, F&& fn) {
  if (n <= 0) return;
  int64_t nch = (n + chunk - 1) / chunk, want = n / min_per_thread;
  int64_t nt = ft::num_threads();
  if (nt > want) nt = want;
  if (nt > nch) nt = nch;
  if (nt <= 1) {
    fn(0, n, 0);
    return;
  }
  std::atomic<int64_t> next{0};
  ft::parallel_for(
      nt,
      [&](int64_t, int64_t, int tid) {
        for (;;) {
          int64_t c = next.fetch_add(1, std::memory_order_relaxed);
          if (c >= nch) break;
          int64_t b = c * chunk, e = b + chunk < n ? b + chunk : n;
          fn(b, e, tid);
        }
      },
      1);
}

}  // namespace ft

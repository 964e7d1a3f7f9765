// Persistent worker pool shared by every CPU kernel.
// ft::parallel_for(n, fn) splits [0, n) into contiguous chunks, one per thread, and runs
// fn(begin, end, thread_id) on the pool (the caller's thread takes chunk 0). Workers spin
// briefly then sleep on a condition variable, so back-to-back ops (the common case in a
// training step) pay no wake-up latency while an idle process burns no CPU.
// Threads: FT_NUM_THREADS, else hardware concurrency (2 on our VMs).
#pragma once
#include <cstdint>
#include <functional>

namespace ft {
int num_threads();
// fn(begin, end, tid); chunks are balanced; n <= 0 is a no-op. Small n (< min_per_thread *
// threads) runs on fewer threads to avoid wake-up cost on tiny ops.
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_per_thread = 1);
}  // namespace ft

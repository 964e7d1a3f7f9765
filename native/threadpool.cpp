// Implementation of ft::parallel_for (see threadpool.h). One generation counter wakes the
// workers; each worker runs its chunk and decrements `pending`; the caller waits on it.
#include "threadpool.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace ft {
namespace {

thread_local bool g_inside = false;  // true on pool workers and on a caller during its job

struct Pool {
  int nthreads = 1;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  // current job
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int active = 1;

  Pool() {
    const char* env = std::getenv("FT_NUM_THREADS");
    int hw = (int)std::thread::hardware_concurrency();
    nthreads = env ? std::atoi(env) : (hw > 0 ? hw : 1);
    if (nthreads < 1) nthreads = 1;
    if (nthreads > 64) nthreads = 64;
    for (int t = 1; t < nthreads; t++) workers.emplace_back([this, t] { loop(t); });
  }
  ~Pool() {
    stop = true;
    {
      std::lock_guard<std::mutex> lk(mu);
      generation++;
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
  }
  void run_chunk(int tid) {
    int64_t b = n * tid / active, e = n * (tid + 1) / active;
    if (b < e) (*fn)(b, e, tid);
  }
  void loop(int tid) {
    g_inside = true;  // a kernel calling parallel_for from a worker runs it inline (no deadlock)
    uint64_t seen = 0;
    for (;;) {
      // spin a little before sleeping: ops come in quick succession during training
      int spins = 0;
      while (generation.load(std::memory_order_acquire) == seen && spins < 20000) {
        spins++;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      if (generation.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return generation.load() != seen; });
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop) return;
      if (tid < active) {
        run_chunk(tid);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }
};

Pool& pool() {
  static Pool p;
  return p;
}
std::mutex g_submit;  // one parallel job at a time (nested calls run inline)

}  // namespace

int num_threads() { return pool().nthreads; }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_per_thread) {
  if (n <= 0) return;
  Pool& p = pool();
  int64_t want = min_per_thread > 0 ? n / min_per_thread : n;
  int active = (int)(want < p.nthreads ? (want < 1 ? 1 : want) : p.nthreads);
  if (active <= 1 || g_inside) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> guard(g_submit);
  g_inside = true;
  p.fn = &fn;
  p.n = n;
  p.active = active;
  p.pending.store(active - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  p.run_chunk(0);
  // spin while the workers finish; yield after a while so an oversubscribed machine (another
  // process on our cores) can run the worker we are waiting for
  for (int spins = 0; p.pending.load(std::memory_order_acquire) > 0; spins++) {
    if (spins < 4000) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
  g_inside = false;
}

}  // namespace ft

// Implementation of ft::parallel_for (see threadpool.h). One generation counter wakes the
// workers; each worker runs its chunk and decrements `pending`; the caller waits on it.
// ft_threadpool_selftest (bottom) stress-tests the hand-over: tests/native/threadpool_test.ts.
#include "threadpool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ft.h"

namespace ft {
namespace {

thread_local bool g_inside = false;  // true on pool workers and on a caller during its job

int env_threads() {
  const char* env = std::getenv("FT_NUM_THREADS");
  int hw = (int)std::thread::hardware_concurrency();
  return env ? std::atoi(env) : (hw > 0 ? hw : 1);
}

struct Pool {
  int nthreads = 1;
  // fault injection for the self-test: workers sleep briefly at the job hand-over, which widens
  // the window in which the caller can move on to the next job
  bool stress = false;
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  std::mutex submit;  // one parallel job at a time (nested calls run inline)
  // current job
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;
  int active = 1;

  Pool(int threads, bool stress_) : stress(stress_) {
    nthreads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
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
      if (stress) std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (stop) return;
      if (tid < active) {
        run_chunk(tid);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }
  void run(int64_t n_, const std::function<void(int64_t, int64_t, int)>& fn_, int64_t min_per_thread) {
    if (n_ <= 0) return;
    int64_t want = min_per_thread > 0 ? n_ / min_per_thread : n_;
    int act = (int)(want < nthreads ? (want < 1 ? 1 : want) : nthreads);
    if (act <= 1 || g_inside) {
      fn_(0, n_, 0);
      return;
    }
    std::lock_guard<std::mutex> guard(submit);
    g_inside = true;
    fn = &fn_;
    n = n_;
    active = act;
    pending.store(act - 1, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lk(mu);
      generation.fetch_add(1, std::memory_order_acq_rel);
    }
    cv.notify_all();
    run_chunk(0);
    // spin while the workers finish; yield after a while so an oversubscribed machine (another
    // process on our cores) can run the worker we are waiting for
    for (int spins = 0; pending.load(std::memory_order_acquire) > 0; spins++) {
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
};

Pool& pool() {
  static Pool p(env_threads(), false);
  return p;
}

}  // namespace

int num_threads() { return pool().nthreads; }

void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                  int64_t min_per_thread) {
  pool().run(n, fn, min_per_thread);
}

}  // namespace ft

// Stress self-test of the pool protocol on a private pool of `threads` workers (more than the
// cores is the interesting case), with the hand-over fault injection on when `stress` != 0.
// Runs `jobs` jobs whose sizes alternate between 2 and 2 .. 3*threads, so most workers sit out
// every other job and the number of active threads changes at each hand-over, and checks that
// every index of every job ran exactly once before the job returned. *bad gets the number of
// jobs where some index ran 0 or 2+ times: 0 when the pool is correct.
FT_API int ft_threadpool_selftest(int32_t threads, int32_t stress, int64_t jobs, int64_t* bad) {
  if (threads < 1 || threads > 64 || jobs < 0 || !bad) return FT_EINVAL;
  // a heap pool: a chunk that (wrongly) outlives its job must not touch a freed stack frame
  std::unique_ptr<ft::Pool> p(new ft::Pool(threads, stress != 0));
  const int64_t nmax = 3 * (int64_t)threads;
  std::unique_ptr<std::atomic<int32_t>[]> hits(new std::atomic<int32_t>[nmax]);
  int64_t nbad = 0;
  const std::function<void(int64_t, int64_t, int)> body = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; i++) hits[i].fetch_add(1, std::memory_order_relaxed);
  };
  for (int64_t j = 0; j < jobs; j++) {
    const int64_t n = j % 2 == 0 ? 2 : 2 + (j / 2) % (nmax - 1);
    for (int64_t i = 0; i < nmax; i++) hits[i].store(0, std::memory_order_relaxed);
    p->run(n, body, 1);
    bool ok = true;
    for (int64_t i = 0; i < nmax; i++) ok &= hits[i].load(std::memory_order_relaxed) == (i < n ? 1 : 0);
    nbad += !ok;
  }
  p.reset();  // joins the workers, so no chunk runs after this returns
  *bad = nbad;
  return FT_OK;
}

// Implementation of ft::parallel_for (see threadpool.h). Publishing a job bumps the generation
// in one atomic job word, which wakes the workers; each claims at most one chunk of that
// generation from the word, runs it and decrements `pending`; the caller runs chunk 0, then every
// chunk still unclaimed (same CAS), and waits for the rest.
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
  // The job word: generation (bits 16..63) | active chunks (8..15) | next unclaimed chunk (0..7).
  // A worker claims a chunk with one compare-exchange that also checks the generation, so a
  // worker that slept through a job can neither claim a chunk of a job it did not see begin
  // twice nor apply one job's chunk count to another: every chunk runs once per job.
  std::atomic<uint64_t> job{0};
  std::atomic<int> pending{0};  // chunks claimed by workers and not yet finished
  std::atomic<bool> stop{false};
  std::mutex submit;  // one parallel job at a time (nested calls run inline)
  // current job: written before the job word is published, stable until `pending` drops to 0
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0;

  static uint64_t gen_of(uint64_t w) { return w >> 16; }

  Pool(int threads, bool stress_) : stress(stress_) {
    nthreads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    for (int t = 1; t < nthreads; t++) workers.emplace_back([this] { loop(); });
  }
  ~Pool() {
    stop = true;
    {
      std::lock_guard<std::mutex> lk(mu);
      job.store((gen_of(job.load()) + 1) << 16, std::memory_order_release);  // no chunks
    }
    cv.notify_all();
    for (auto& w : workers) w.join();
  }
  void run_chunk(int64_t k, int active) {
    int64_t b = n * k / active, e = n * (k + 1) / active;
    if (b < e) (*fn)(b, e, (int)k);
  }
  // claims one chunk of generation `gen`: returns its index and the job's chunk count, or -1
  // when the job is gone or every chunk is taken
  int claim(uint64_t gen, int& active) {
    uint64_t w = job.load(std::memory_order_acquire);
    for (;;) {
      if (gen_of(w) != gen) return -1;
      active = (int)((w >> 8) & 0xff);
      const int next = (int)(w & 0xff);
      if (next >= active) return -1;
      if (job.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        return next;
    }
  }
  void loop() {
    g_inside = true;  // a kernel calling parallel_for from a worker runs it inline (no deadlock)
    uint64_t seen = 0;
    for (;;) {
      // spin a little before sleeping: ops come in quick succession during training
      int spins = 0;
      while (gen_of(job.load(std::memory_order_acquire)) == seen && spins < 20000) {
        spins++;
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      if (gen_of(job.load(std::memory_order_acquire)) == seen) {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return gen_of(job.load()) != seen; });
      }
      seen = gen_of(job.load(std::memory_order_acquire));
      if (stress) std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (stop) return;
      // at most one chunk per worker per job: chunks of a job run concurrently on distinct
      // threads, which kernels that synchronise inside a job (the GEMM team barrier) rely on
      int active = 0;
      const int k = claim(seen, active);
      if (k >= 0) {
        run_chunk(k, active);
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
    pending.store(act - 1, std::memory_order_relaxed);
    uint64_t gen;
    {
      // publish: the release store makes fn, n and pending visible to whoever claims a chunk;
      // chunk 0 is the caller's (next starts at 1)
      std::lock_guard<std::mutex> lk(mu);
      gen = gen_of(job.load(std::memory_order_relaxed)) + 1;
      job.store(gen << 16 | (uint64_t)act << 8 | 1u, std::memory_order_release);
    }
    cv.notify_all();
    run_chunk(0, act);
    // then run every chunk no worker has claimed yet: on a machine shared with other processes
    // a worker may not get a core for a whole scheduler slice (milliseconds), and waiting for it
    // made each small op cost that much. Chunks are claimed exclusively (the same CAS as the
    // workers), so each still runs once. A job whose chunks meet at a barrier (the GEMM team)
    // cannot get here before every member has claimed its chunk, so nothing is left to take.
    for (int a = 0;;) {
      const int k = claim(gen, a);
      if (k < 0) break;
      run_chunk(k, act);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
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

// Self-test of the caller's taking over of unclaimed chunks, on a private pool of `threads`
// workers with the hand-over fault injection (workers sleep 20 us before claiming). Even jobs
// (`threads` instant chunks): every chunk must run exactly once, and the caller should run
// chunks besides chunk 0 (counted in *taken). Odd jobs are teams: every chunk waits, up to 2 s,
// until all chunks of the job have started (the GEMM's barrier); a chunk that never met the
// others counts in *bad, as does any chunk that ran 0 or 2+ times.
FT_API int ft_threadpool_selftest_steal(int32_t threads, int64_t jobs, int64_t* bad, int64_t* taken) {
  if (threads < 2 || threads > 64 || jobs < 0 || !bad || !taken) return FT_EINVAL;
  std::unique_ptr<ft::Pool> p(new ft::Pool(threads, true));
  std::unique_ptr<std::atomic<int32_t>[]> hits(new std::atomic<int32_t>[threads]);
  std::atomic<int64_t> nbad{0}, ntaken{0};
  std::atomic<int32_t> started{0};
  const std::thread::id caller = std::this_thread::get_id();
  const std::function<void(int64_t, int64_t, int)> plain = [&](int64_t b, int64_t e, int k) {
    for (int64_t i = b; i < e; i++) hits[i].fetch_add(1, std::memory_order_relaxed);
    if (k != 0 && std::this_thread::get_id() == caller) ntaken.fetch_add(1, std::memory_order_relaxed);
  };
  const std::function<void(int64_t, int64_t, int)> team = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; i++) hits[i].fetch_add(1, std::memory_order_relaxed);
    started.fetch_add(1, std::memory_order_acq_rel);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (started.load(std::memory_order_acquire) < threads) {
      if (std::chrono::steady_clock::now() > until) {
        nbad.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      std::this_thread::yield();
    }
  };
  for (int64_t j = 0; j < jobs; j++) {
    const bool conc = j % 2 == 1;
    for (int i = 0; i < threads; i++) hits[i].store(0, std::memory_order_relaxed);
    started.store(0, std::memory_order_relaxed);
    p->run(threads, conc ? team : plain, 1);
    for (int i = 0; i < threads; i++) nbad += hits[i].load(std::memory_order_relaxed) != 1;
    if (nbad.load()) break;  // broken: say so now rather than time out job after job
  }
  p.reset();
  *bad = nbad.load();
  *taken = ntaken.load();
  return FT_OK;
}

// Gloo process group shim -> build/libft_dist.so (built only when libgloo is found).
// Exposes a C ABI (ft_pg_*) over gloo's rendezvous + TCP transport + collectives so Deno FFI can
// drive data-parallel training across CPU processes: all-reduce (sum, f32, in place), broadcast,
// all-gather, barrier, each with a timeout in ms. Rendezvous uses gloo's FileStore (the Debian
// 2022 gloo snapshot has no TCP store), so all ranks must see the same directory.
// Every call returns 0 on success or a nonzero status; ft_pg_last_error() gives the message.
// Asynchronous all-reduce (gradient buckets launched while backward still runs): one worker thread
// per group runs queued collectives in FIFO order; ft_pg_poll/ft_pg_wait report on a work id. A
// blocking collective first drains the queue, so every rank issues collectives in program order.
// Test: .tools/deno test --allow-all tests/dist/gloo_test.ts
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#define FT_API extern "C" __attribute__((visibility("default")))

namespace {
thread_local std::string g_error;

// One queued collective: fn runs on the worker thread; status/error are read by ft_pg_wait.
struct Work {
  std::function<void()> fn;
  bool done = false;
  int status = 0;
  std::string error;
};

struct ProcessGroup {
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  uint32_t tag = 0;  // distinct tag per collective so stray messages never match a later op
  // async machinery (started on the first async call); guarded by mu
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Work>> queue;
  std::map<int64_t, std::shared_ptr<Work>> works;
  int64_t next_id = 1;
  int running = 0;  // works popped but not finished
  bool stop = false;
  std::thread worker;

  void loop() {
    for (;;) {
      std::shared_ptr<Work> w;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;  // stop requested and nothing left
        w = queue.front();
        queue.pop_front();
        running++;
      }
      try {
        w->fn();
      } catch (const std::exception& e) {
        w->status = 2;
        w->error = e.what();
      }
      {
        std::lock_guard<std::mutex> lk(mu);
        w->done = true;
        running--;
      }
      cv.notify_all();
    }
  }

  // Blocks until every queued collective has finished (before a blocking one runs).
  void drain() {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return queue.empty() && running == 0; });
  }

  ~ProcessGroup() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    if (worker.joinable()) worker.join();
  }
};

int fail(const char* where, const std::exception& e) {
  g_error = std::string(where) + ": " + e.what();
  return 2;
}

std::chrono::milliseconds ms(int64_t timeout_ms) {
  return std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 1800000);
}

using ReduceFn = void (*)(void*, const void*, const void*, size_t);
}  // namespace

/** Last error message of this thread ("" when none). */
FT_API const char* ft_pg_last_error() { return g_error.c_str(); }

/**
 * Create a process group of `size` ranks. store_dir: shared directory for the FileStore rendezvous;
 * prefix: run id so stale keys of an earlier run are not reused; hostname: address this rank
 * listens on ("" = this host's name). out: receives an opaque handle.
 */
FT_API int ft_pg_create(const char* store_dir, const char* prefix, int rank, int size, const char* hostname,
                        int64_t timeout_ms, void** out) {
  if (!store_dir || !prefix || !out || rank < 0 || size < 1 || rank >= size) {
    g_error = "ft_pg_create: bad arguments (need store_dir, prefix, out, 0 <= rank < size)";
    return 1;
  }
  try {
    gloo::transport::tcp::attr attr;
    if (hostname && hostname[0]) attr.hostname = hostname;
    auto pg = std::make_unique<ProcessGroup>();
    pg->device = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore file_store(store_dir);
    gloo::rendezvous::PrefixStore store(prefix, file_store);
    pg->context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    pg->context->setTimeout(ms(timeout_ms));
    pg->context->connectFullMesh(store, pg->device);
    *out = pg.release();
    return 0;
  } catch (const std::exception& e) {
    return fail("ft_pg_create", e);
  }
}

/** data: [n] f32, summed in place across all ranks. */
FT_API int ft_pg_allreduce_f32(void* handle, float* data, int64_t n, int64_t timeout_ms) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || (!data && n > 0) || n < 0) { g_error = "ft_pg_allreduce_f32: bad arguments"; return 1; }
  if (n == 0) return 0;
  pg->drain();
  try {
    gloo::AllreduceOptions opts(pg->context);
    opts.setOutput(data, static_cast<size_t>(n));
    opts.setReduceFunction(static_cast<ReduceFn>(&gloo::sum<float>));
    opts.setTag(pg->tag++);
    opts.setTimeout(ms(timeout_ms));
    gloo::allreduce(opts);
    return 0;
  } catch (const std::exception& e) {
    return fail("ft_pg_allreduce_f32", e);
  }
}

/** data: [n] f32; root's values are copied to every rank in place. */
FT_API int ft_pg_broadcast_f32(void* handle, float* data, int64_t n, int root, int64_t timeout_ms) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || (!data && n > 0) || n < 0 || root < 0 || (pg && root >= pg->context->size)) {
    g_error = "ft_pg_broadcast_f32: bad arguments";
    return 1;
  }
  if (n == 0) return 0;
  pg->drain();
  try {
    gloo::BroadcastOptions opts(pg->context);
    opts.setOutput(data, static_cast<size_t>(n));
    opts.setRoot(root);
    opts.setTag(pg->tag++);
    opts.setTimeout(ms(timeout_ms));
    gloo::broadcast(opts);
    return 0;
  } catch (const std::exception& e) {
    return fail("ft_pg_broadcast_f32", e);
  }
}

/** in: [n] f32 of this rank; out: [size, n] f32, row r = rank r's input. */
FT_API int ft_pg_allgather_f32(void* handle, const float* in, float* out, int64_t n, int64_t timeout_ms) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || !in || !out || n <= 0) { g_error = "ft_pg_allgather_f32: bad arguments"; return 1; }
  pg->drain();
  try {
    gloo::AllgatherOptions opts(pg->context);
    opts.setInput(const_cast<float*>(in), static_cast<size_t>(n));
    opts.setOutput(out, static_cast<size_t>(n) * pg->context->size);
    opts.setTag(pg->tag++);
    opts.setTimeout(ms(timeout_ms));
    gloo::allgather(opts);
    return 0;
  } catch (const std::exception& e) {
    return fail("ft_pg_allgather_f32", e);
  }
}

/** Block until every rank reaches the barrier (or timeout). */
FT_API int ft_pg_barrier(void* handle, int64_t timeout_ms) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg) { g_error = "ft_pg_barrier: null handle"; return 1; }
  pg->drain();
  try {
    gloo::BarrierOptions opts(pg->context);
    opts.setTag(pg->tag++);
    opts.setTimeout(ms(timeout_ms));
    gloo::barrier(opts);
    return 0;
  } catch (const std::exception& e) {
    return fail("ft_pg_barrier", e);
  }
}

/**
 * data: [n] f32, summed in place across all ranks on the group's worker thread. Returns at once
 * with *out_id; the caller must not touch data until ft_pg_wait(out_id) returned.
 */
FT_API int ft_pg_allreduce_f32_async(void* handle, float* data, int64_t n, int64_t timeout_ms,
                                     int64_t* out_id) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || (!data && n > 0) || n < 0 || !out_id) {
    g_error = "ft_pg_allreduce_f32_async: bad arguments";
    return 1;
  }
  try {
    auto w = std::make_shared<Work>();
    const uint32_t tag = pg->tag++;  // assigned in program order on the calling thread
    auto context = pg->context;
    w->fn = [context, data, n, tag, timeout_ms] {
      if (n == 0) return;
      gloo::AllreduceOptions opts(context);
      opts.setOutput(data, static_cast<size_t>(n));
      opts.setReduceFunction(static_cast<ReduceFn>(&gloo::sum<float>));
      opts.setTag(tag);
      opts.setTimeout(ms(timeout_ms));
      gloo::allreduce(opts);
    };
    std::lock_guard<std::mutex> lk(pg->mu);
    if (!pg->worker.joinable()) pg->worker = std::thread([pg] { pg->loop(); });
    const int64_t id = pg->next_id++;
    pg->works[id] = w;
    pg->queue.push_back(w);
    *out_id = id;
  } catch (const std::exception& e) {
    return fail("ft_pg_allreduce_f32_async", e);
  }
  pg->cv.notify_all();
  return 0;
}

/** *done = 1 when async work `id` has finished (its status is then collected by ft_pg_wait). */
FT_API int ft_pg_poll(void* handle, int64_t id, int* done) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || !done) { g_error = "ft_pg_poll: bad arguments"; return 1; }
  std::lock_guard<std::mutex> lk(pg->mu);
  auto it = pg->works.find(id);
  if (it == pg->works.end()) { g_error = "ft_pg_poll: unknown work id " + std::to_string(id); return 1; }
  *done = it->second->done ? 1 : 0;
  return 0;
}

/**
 * Waits for async work `id` and forgets it; returns its status (its gloo error in
 * ft_pg_last_error). timeout_ms > 0 bounds the wait: status 3 if it is still running (id kept).
 */
FT_API int ft_pg_wait(void* handle, int64_t id, int64_t timeout_ms) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg) { g_error = "ft_pg_wait: null handle"; return 1; }
  std::unique_lock<std::mutex> lk(pg->mu);
  auto it = pg->works.find(id);
  if (it == pg->works.end()) { g_error = "ft_pg_wait: unknown work id " + std::to_string(id); return 1; }
  auto w = it->second;
  auto finished = [&] { return w->done; };
  if (timeout_ms > 0) {
    if (!pg->cv.wait_for(lk, std::chrono::milliseconds(timeout_ms), finished)) {
      g_error = "ft_pg_wait: work " + std::to_string(id) + " still running after " +
                std::to_string(timeout_ms) + " ms";
      return 3;
    }
  } else {
    pg->cv.wait(lk, finished);
  }
  pg->works.erase(it);
  if (w->status != 0) g_error = "ft_pg_allreduce_f32_async: " + w->error;
  return w->status;
}

/** Rank and world size of the group (out params). */
FT_API int ft_pg_info(void* handle, int* rank, int* size) {
  auto* pg = static_cast<ProcessGroup*>(handle);
  if (!pg || !rank || !size) { g_error = "ft_pg_info: bad arguments"; return 1; }
  *rank = pg->context->rank;
  *size = pg->context->size;
  return 0;
}

/** Free the group (closes its connections). */
FT_API int ft_pg_destroy(void* handle) {
  delete static_cast<ProcessGroup*>(handle);
  return 0;
}

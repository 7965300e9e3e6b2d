// NativeRingBuf: consumes a BPF ring buffer on its own thread and hands JavaScript one Buffer per
// batch of records, never one call per record.
//
// Batch layout (all little-endian, records 8-byte aligned):
//   repeated { u32 length; u32 reserved; u8 data[length]; pad to 8 }
//
// Wake-ups: producers may submit with BPF_RB_NO_WAKEUP (a wake-up costs ~1.2 us per event); the
// thread then relies on its poll timeout and drains everything each cycle with ring_buffer__consume.
//
// Backpressure: at most `maxPendingBatches` batches are in JavaScript's hands (delivered, not yet
// acknowledged with ack()). Beyond that the thread either waits, leaving records in the kernel ring
// (whose producers count what they could not reserve), or, with overflow "drop", discards the batch
// and counts it here.
#include "common.h"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace flowscope {

namespace {

struct Batch {
  uint8_t* data;
  size_t length;
  uint32_t records;
  int error;  // non-zero: the consumer thread stopped with this errno
};

class NativeRingBuf : public Napi::ObjectWrap<NativeRingBuf> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "NativeRingBuf",
                                    {
                                        InstanceMethod("ack", &NativeRingBuf::Ack),
                                        InstanceMethod("stats", &NativeRingBuf::Stats),
                                        InstanceMethod("flush", &NativeRingBuf::FlushJs),
                                        InstanceMethod("ref", &NativeRingBuf::Ref),
                                        InstanceMethod("unref", &NativeRingBuf::Unref),
                                        InstanceMethod("close", &NativeRingBuf::Close),
                                    });
    exports.Set("NativeRingBuf", fn);
  }

  // new NativeRingBuf(mapFd, onBatch(buffer|null, records|errno), {maxBatchBytes, maxPendingBatches,
  //                   pollTimeoutMs, dropWhenFull})
  explicit NativeRingBuf(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeRingBuf>(info) {
    Napi::Env env = info.Env();
    int fd = static_cast<int>(ArgInt(info, 0, "mapFd"));
    if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      if (o.Has("maxBatchBytes")) maxBatchBytes_ = o.Get("maxBatchBytes").As<Napi::Number>().Uint32Value();
      if (o.Has("maxPendingBatches")) maxPending_ = o.Get("maxPendingBatches").As<Napi::Number>().Uint32Value();
      if (o.Has("pollTimeoutMs")) pollTimeoutMs_ = o.Get("pollTimeoutMs").As<Napi::Number>().Int32Value();
      if (o.Has("dropWhenFull")) dropWhenFull_ = o.Get("dropWhenFull").ToBoolean().Value();
    }
    if (maxBatchBytes_ < 4096) maxBatchBytes_ = 4096;
    if (maxPending_ < 1) maxPending_ = 1;
    LogCapture capture;
    rb_ = ring_buffer__new(fd, &NativeRingBuf::OnRecord, this, nullptr);
    if (rb_ == nullptr) ThrowBpf(env, "open ring buffer", errno, capture.Text());
    NewBatch();
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "flowscope-ringbuf", 0, 1);
    thread_ = std::thread([this] { Run(); });
  }

  ~NativeRingBuf() override { Stop(); }

 private:
  static int OnRecord(void* ctx, void* data, size_t size) {
    static_cast<NativeRingBuf*>(ctx)->Append(static_cast<const uint8_t*>(data), size);
    return 0;
  }

  void NewBatch() {
    capacity_ = maxBatchBytes_;
    batch_ = static_cast<uint8_t*>(malloc(capacity_));
    used_ = 0;
    count_ = 0;
  }

  void Append(const uint8_t* data, size_t size) {
    size_t need = 8 + ((size + 7) & ~static_cast<size_t>(7));
    if (used_ + need > capacity_) {
      if (used_ > 0) Deliver();
      if (need > capacity_) {  // a record larger than a batch: give it a batch of its own size
        free(batch_);
        capacity_ = need;
        batch_ = static_cast<uint8_t*>(malloc(capacity_));
      }
    }
    uint32_t header[2] = {static_cast<uint32_t>(size), 0};
    memcpy(batch_ + used_, header, 8);
    memcpy(batch_ + used_ + 8, data, size);
    if (need > size + 8) memset(batch_ + used_ + 8 + size, 0, need - size - 8);
    used_ += need;
    count_++;
    records_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(size, std::memory_order_relaxed);
  }

  // Hands the current batch to JavaScript, waiting (or dropping) while too many are outstanding.
  void Deliver() {
    if (used_ == 0) return;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (pending_ >= maxPending_) {
        if (dropWhenFull_ || stop_) {
          if (!stop_) dropped_.fetch_add(count_, std::memory_order_relaxed);
          used_ = 0;
          count_ = 0;
          return;
        }
        waits_.fetch_add(1, std::memory_order_relaxed);
        cv_.wait(lock, [this] { return pending_ < maxPending_ || stop_; });
        if (stop_) {
          used_ = 0;
          count_ = 0;
          return;
        }
      }
      pending_++;
    }
    auto* b = new Batch{batch_, used_, count_, 0};
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (tsfn_.NonBlockingCall(b, &NativeRingBuf::CallJs) != napi_ok) {
      free(b->data);
      delete b;
    }
    NewBatch();
  }

  static void CallJs(Napi::Env env, Napi::Function callback, Batch* b) {
    uint8_t* data = b->data;
    size_t length = b->length;
    uint32_t records = b->records;
    int err = b->error;
    delete b;
    DeliverBatch(env, callback, data, length, records, err);
  }

  void Run() {
    while (!stop_.load()) {
      // A flush request read before draining covers every record submitted before flush() was called.
      bool flushing = flushRequested_.exchange(false);
      int n = flushing ? 0 : ring_buffer__poll(rb_, pollTimeoutMs_);
      if (n >= 0) n = ring_buffer__consume(rb_);
      if (n < 0 && n != -EINTR) {
        auto* b = new Batch{nullptr, 0, 0, AbsErr(n)};
        tsfn_.NonBlockingCall(b, &NativeRingBuf::CallJs);
        break;
      }
      Deliver();
      if (flushing) {
        std::lock_guard<std::mutex> lock(mu_);
        flushed_++;
        cv_.notify_all();
      }
    }
  }

  Napi::Value Ack(const Napi::CallbackInfo& info) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_ > 0) pending_--;
    }
    cv_.notify_all();
    return info.Env().Undefined();
  }

  // flush(): waits (bounded) until the thread has drained the ring once more, so that records
  // submitted before this call are on their way to JavaScript.
  Napi::Value FlushJs(const Napi::CallbackInfo& info) {
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t target = flushed_ + 1;
    flushRequested_.store(true);
    cv_.wait_for(lock, std::chrono::milliseconds(pollTimeoutMs_ * 4 + 100),
                 [&] { return flushed_ >= target || stop_ || pending_ >= maxPending_; });
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("records", Napi::Number::New(env, static_cast<double>(records_.load())));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_.load())));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_.load())));
    o.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_.load())));
    o.Set("waits", Napi::Number::New(env, static_cast<double>(waits_.load())));
    {
      std::lock_guard<std::mutex> lock(mu_);
      o.Set("pending", Napi::Number::New(env, pending_));
    }
    return o;
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (!closed_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (!closed_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  void Stop() {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    ring_buffer__free(rb_);
    rb_ = nullptr;
    free(batch_);
    batch_ = nullptr;
    tsfn_.Release();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  struct ring_buffer* rb_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> flushRequested_{false};
  uint64_t flushed_ = 0;
  bool closed_ = false;

  uint32_t maxBatchBytes_ = 256 * 1024;
  uint32_t maxPending_ = 8;
  int pollTimeoutMs_ = 10;
  bool dropWhenFull_ = false;
  uint32_t pending_ = 0;

  uint8_t* batch_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  uint32_t count_ = 0;

  std::atomic<uint64_t> records_{0}, bytes_{0}, batches_{0}, dropped_{0}, waits_{0};
};

}  // namespace

void InitRingBuf(Napi::Env env, Napi::Object exports) { NativeRingBuf::Init(env, exports); }

}  // namespace flowscope

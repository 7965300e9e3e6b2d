// NativeLinkWatcher: the link events of this process's network namespace, or of the one at option
// `netnsPath` (the socket is made there, see netns.cc) (RTM_NEWLINK and RTM_DELLINK from a
// NETLINK_ROUTE socket bound to RTMGRP_LINK), read on a thread of its own and handed to JavaScript
// as raw netlink messages, one Buffer per batch. Decoding lives in TypeScript.
//
// Batch layout: the netlink messages as the kernel wrote them (host byte order), back to back,
// each datagram padded to 4 bytes. Besides link messages, the replies to our dump requests end with
// NLMSG_DONE (or NLMSG_ERROR), which tells JavaScript a full listing is complete.
//
// Start-up: the constructor requests a link dump and reads it synchronously, so that the caller
// knows every link when it returns (takeInitial()). dump() requests another one; its replies then
// arrive through the thread, in order with the events. Only one dump may run at a time on a socket
// (the kernel answers EBUSY): the caller waits for NLMSG_DONE before asking again.
//
// Overruns: recv fails with ENOBUFS when the kernel dropped messages because the socket buffer was
// full. Counted here and reported as onBatch(null, ENOBUFS); the caller resyncs with dump(). Any
// other error stops the thread and is reported as onBatch(null, errno).
//
// Backpressure: at most `maxPendingBatches` batches in JavaScript's hands (not yet ack()ed); beyond
// that the thread stops reading, the socket buffer fills, and the kernel's drops come back as an
// overrun, which a resync repairs.
#include "common.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace flowscope {

namespace {

// Large enough for any netlink datagram: dump replies are at most 32 KiB (netlink_dump).
constexpr size_t kRecvBytes = 64 * 1024;
constexpr int kInitialDumpTimeoutMs = 5000;

struct LinkBatch {
  uint8_t* data;
  size_t length;
  int error;  // non-zero: no data; ENOBUFS (overrun) or the errno that stopped the thread
};

class NativeLinkWatcher : public Napi::ObjectWrap<NativeLinkWatcher> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(env, "NativeLinkWatcher",
                                    {
                                        InstanceMethod("takeInitial", &NativeLinkWatcher::TakeInitial),
                                        InstanceMethod("dump", &NativeLinkWatcher::Dump),
                                        InstanceMethod("ack", &NativeLinkWatcher::Ack),
                                        InstanceMethod("stats", &NativeLinkWatcher::Stats),
                                        InstanceMethod("close", &NativeLinkWatcher::Close),
                                    });
    exports.Set("NativeLinkWatcher", fn);
  }

  // new NativeLinkWatcher(onBatch(buffer|null, errno), {rcvbufBytes, maxBatchBytes, maxPendingBatches})
  explicit NativeLinkWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLinkWatcher>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
    int rcvbuf = 1 << 20;
    std::string netns;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      if (o.Has("netnsPath") && o.Get("netnsPath").IsString()) netns = o.Get("netnsPath").As<Napi::String>().Utf8Value();
      if (o.Has("rcvbufBytes")) rcvbuf = o.Get("rcvbufBytes").As<Napi::Number>().Int32Value();
      if (o.Has("maxBatchBytes")) maxBatchBytes_ = o.Get("maxBatchBytes").As<Napi::Number>().Uint32Value();
      if (o.Has("maxPendingBatches")) maxPending_ = o.Get("maxPendingBatches").As<Napi::Number>().Uint32Value();
    }
    if (maxBatchBytes_ < kRecvBytes) maxBatchBytes_ = kRecvBytes;
    if (maxPending_ < 1) maxPending_ = 1;

    // The socket belongs to the namespace it is made in, whichever thread reads it later.
    int sockErr = 0;
    std::string op;
    int nsErr = InNetns(netns, [&] {
      sock_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
      sockErr = errno;
    }, &op);
    if (nsErr != 0) ThrowBpf(env, op, nsErr);
    if (sock_ < 0) ThrowBpf(env, "netlink socket", sockErr);
    // SO_RCVBUFFORCE passes net.core.rmem_max where we may (CAP_NET_ADMIN).
    if (setsockopt(sock_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
      setsockopt(sock_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = RTMGRP_LINK;
    if (bind(sock_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) Fail(env, "netlink bind RTMGRP_LINK", errno);
    efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) Fail(env, "eventfd", errno);
    InitialDump(env);
    batch_.reserve(maxBatchBytes_);
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "flowscope-netlink", 0, 1);
    tsfn_.Unref(env);  // link events never keep the process alive on their own
    thread_ = std::thread([this] { Run(); });
  }

  ~NativeLinkWatcher() override { Stop(); }

 private:
  [[noreturn]] void Fail(Napi::Env env, const char* op, int err) {
    CloseFds();
    ThrowBpf(env, op, err);
  }

  void CloseFds() {
    if (sock_ >= 0) close(sock_);
    if (efd_ >= 0) close(efd_);
    sock_ = efd_ = -1;
  }

  int SendDump() {
    struct {
      nlmsghdr nh;
      ifinfomsg ifi;
    } req{};
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = ++seq_;
    req.ifi.ifi_family = AF_UNSPEC;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      if (sendto(sock_, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

  // Reads until our dump's NLMSG_DONE (or NLMSG_ERROR); events that arrive meanwhile are kept too,
  // in order.
  void InitialDump(Napi::Env env) {
    int err = SendDump();
    if (err != 0) Fail(env, "netlink link dump request", err);
    uint32_t seq = seq_;
    std::vector<uint8_t> buf(kRecvBytes);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kInitialDumpTimeoutMs);
    for (bool done = false; !done;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) Fail(env, "netlink link dump (no NLMSG_DONE)", ETIMEDOUT);
      pollfd p{sock_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) Fail(env, "netlink poll", errno);
      ssize_t n = recv(sock_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == ENOBUFS) {
          overruns_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        Fail(env, "netlink recv", errno);
      }
      if (static_cast<size_t>(n) > buf.size()) {  // truncated: as good as dropped
        overruns_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      Append(initial_, buf.data(), static_cast<size_t>(n));
      int left_bytes = static_cast<int>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left_bytes); h = NLMSG_NEXT(h, left_bytes))
        if (h->nlmsg_seq == seq && (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)) done = true;
    }
  }

  static void Append(std::vector<uint8_t>& to, const uint8_t* data, size_t n) {
    to.insert(to.end(), data, data + n);
    to.resize(NLMSG_ALIGN(to.size()), 0);
  }

  void Run() {
    std::vector<uint8_t> buf(kRecvBytes);
    pollfd fds[2] = {{sock_, POLLIN, 0}, {efd_, POLLIN, 0}};
    while (!stop_.load()) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        Report(errno);
        return;
      }
      if (fds[1].revents != 0) return;  // close()
      for (;;) {
        ssize_t n = recv(sock_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          int err = errno;
          Deliver();  // what came before the loss, first
          if (err == ENOBUFS) {
            overruns_.fetch_add(1, std::memory_order_relaxed);
            Report(ENOBUFS);
            continue;
          }
          Report(err);
          return;
        }
        if (static_cast<size_t>(n) > buf.size()) {
          Deliver();
          overruns_.fetch_add(1, std::memory_order_relaxed);
          Report(ENOBUFS);
          continue;
        }
        if (batch_.size() + static_cast<size_t>(n) > maxBatchBytes_) Deliver();
        Append(batch_, buf.data(), static_cast<size_t>(n));
        bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        if (stop_.load()) return;
      }
      Deliver();
    }
  }

  // Hands the current batch to JavaScript, waiting while too many are outstanding.
  void Deliver() {
    if (batch_.empty()) return;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return pending_ < maxPending_ || stop_; });
      if (stop_) {
        batch_.clear();
        return;
      }
      pending_++;
    }
    auto* data = static_cast<uint8_t*>(malloc(batch_.size()));
    memcpy(data, batch_.data(), batch_.size());
    auto* b = new LinkBatch{data, batch_.size(), 0};
    batch_.clear();
    batches_.fetch_add(1, std::memory_order_relaxed);
    if (tsfn_.NonBlockingCall(b, &NativeLinkWatcher::CallJs) != napi_ok) {
      free(b->data);
      delete b;
    }
  }

  void Report(int err) {
    auto* b = new LinkBatch{nullptr, 0, err};
    if (tsfn_.NonBlockingCall(b, &NativeLinkWatcher::CallJs) != napi_ok) delete b;
  }

  static void CallJs(Napi::Env env, Napi::Function callback, LinkBatch* b) {
    uint8_t* data = b->data;
    size_t length = b->length;
    int err = b->error;
    delete b;
    DeliverBatch(env, callback, data, length, 0, err);
  }

  // takeInitial(): the messages read during the start-up dump (once; an empty Buffer afterwards).
  Napi::Value TakeInitial(const Napi::CallbackInfo& info) {
    auto out = Napi::Buffer<uint8_t>::Copy(info.Env(), initial_.data(), initial_.size());
    std::vector<uint8_t>().swap(initial_);
    return out;
  }

  // dump(): asks the kernel for every link again; the replies come through onBatch.
  Napi::Value Dump(const Napi::CallbackInfo& info) {
    if (closed_) ThrowBpf(info.Env(), "netlink link dump request", EBADF);
    int err = SendDump();
    if (err != 0) ThrowBpf(info.Env(), "netlink link dump request", err);
    return Napi::Number::New(info.Env(), seq_);
  }

  Napi::Value Ack(const Napi::CallbackInfo& info) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_ > 0) pending_--;
    }
    cv_.notify_all();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_.load())));
    o.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_.load())));
    o.Set("overruns", Napi::Number::New(env, static_cast<double>(overruns_.load())));
    return o;
  }

  void Stop() {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    uint64_t one = 1;
    if (write(efd_, &one, sizeof one) < 0) {
      // the counter cannot overflow with one write: the thread wakes up
    }
    if (thread_.joinable()) thread_.join();
    CloseFds();
    tsfn_.Release();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  int sock_ = -1;
  int efd_ = -1;
  uint32_t seq_ = 0;
  std::vector<uint8_t> initial_;
  std::vector<uint8_t> batch_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  bool closed_ = false;
  uint32_t maxBatchBytes_ = 256 * 1024;
  uint32_t maxPending_ = 8;
  uint32_t pending_ = 0;
  std::atomic<uint64_t> batches_{0}, bytes_{0}, overruns_{0};
};

}  // namespace

void InitNetlink(Napi::Env env, Napi::Object exports) { NativeLinkWatcher::Init(env, exports); }

}  // namespace flowscope

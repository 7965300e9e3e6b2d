// BPF iterators: run one (its program does the work, or writes records) and take what it wrote.
// An iterator over a network namespace's sockets (iter/tcp) sees the namespace it is created in:
// for another namespace it is created on a short-lived thread that joins that namespace first, so
// that no other thread of the process ever changes namespace.
#include "common.h"

#include <unistd.h>

#include <vector>

namespace flowscope {

namespace {

struct IterResult {
  int err = 0;           // positive errno
  std::string op;        // what failed
  std::vector<uint8_t> out;
};

// Creates the iterator from `linkFd` and reads it to its end.
void RunIter(int linkFd, bool keep, IterResult* r) {
  int fd = bpf_iter_create(linkFd);
  if (fd < 0) {
    r->err = errno;
    r->op = "create iterator";
    return;
  }
  uint8_t buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      r->err = errno;
      r->op = "read iterator";
      break;
    }
    if (keep) r->out.insert(r->out.end(), buf, buf + n);
  }
  close(fd);
}

// iterRead(linkFd, netnsPath | null, keepOutput) -> Buffer (empty unless keepOutput)
Napi::Value IterRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int linkFd = static_cast<int>(ArgInt(info, 0, "linkFd"));
  std::string netns = HasArg(info, 1) ? ArgString(info, 1, "netnsPath") : "";
  bool keep = info[2].ToBoolean().Value();
  IterResult r;
  std::string op;
  int err = InNetns(netns, [&] { RunIter(linkFd, keep, &r); }, &op);
  if (err) ThrowBpf(env, op, err);
  if (r.err) ThrowBpf(env, r.op, r.err);
  return Napi::Buffer<uint8_t>::Copy(env, r.out.data(), r.out.size());
}

}  // namespace

void InitIter(Napi::Env env, Napi::Object exports) { exports.Set("iterRead", Napi::Function::New(env, IterRead)); }

}  // namespace flowscope

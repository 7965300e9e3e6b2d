// Shared helpers for the flowscope Node-API addon: error construction and libbpf log capture.
// The addon stays thin: libbpf calls, threads and batching. Decoding and policy live in TypeScript.
#pragma once

#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace flowscope {

// Per-environment state: the error classes handed over by the TypeScript facade.
struct AddonData {
  Napi::FunctionReference bpfError;       // (message, op, errno)
  Napi::FunctionReference verifierError;  // (message, program, log)
};

AddonData* GetData(Napi::Env env);

// libbpf prints through a callback; we capture what it says during one operation so that
// errors carry libbpf's own explanation (verifier log, CO-RE relocation failures...).
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  std::string Text() const;

 private:
  std::string* previous_;
  std::string buffer_;
};

void InstallLibbpfPrint();

// Builds and throws a BpfError(message, op, errno). `err` may be negative (libbpf style) or positive.
[[noreturn]] void ThrowBpf(Napi::Env env, const std::string& op, int err, const std::string& detail = "");
Napi::Error MakeBpfError(Napi::Env env, const std::string& op, int err, const std::string& detail = "");

inline int AbsErr(int err) { return err < 0 ? -err : err; }

// Argument helpers that throw TypeError with the argument's name.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name);
bool HasArg(const Napi::CallbackInfo& info, size_t i);

// Hands a malloc'ed batch to a thread-safe function's JavaScript callback as (Buffer, n), or
// (null, errno) when `err` is set; the Buffer frees `data`. Called from a ThreadSafeFunction's C
// callback, where no C++ exception may escape (std::terminate): making the Buffer fails while the
// environment shuts down, and what the callback throws goes back to JavaScript when it still can.
void DeliverBatch(Napi::Env env, Napi::Function callback, uint8_t* data, size_t length, double n, int err);

// Runs `fn` inside the network namespace at `netnsPath` (right here when it is empty), on a thread
// of its own that joins it: see netns.cc. `fn` must not touch N-API (it may run on that thread).
// Returns 0, or the errno of opening or entering the namespace, with `op` naming which.
int InNetns(const std::string& netnsPath, const std::function<void()>& fn, std::string* op);

void InitObject(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitRingBuf(Napi::Env env, Napi::Object exports);
void InitProbe(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitIter(Napi::Env env, Napi::Object exports);

}  // namespace flowscope

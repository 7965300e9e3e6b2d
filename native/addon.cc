// Module entry: error plumbing, libbpf print capture, registration of the other parts.
#include <malloc.h>
#include "common.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace flowscope {

namespace {

thread_local std::string* g_capture = nullptr;
int g_echo_level = -1;  // libbpf level at or below which messages are echoed to stderr

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  char line[4096];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(line, sizeof line, fmt, copy);
  va_end(copy);
  std::string text;
  if (n >= static_cast<int>(sizeof line)) {
    // Verifier logs are long: format again into a heap buffer of the right size.
    text.resize(static_cast<size_t>(n) + 1);
    vsnprintf(text.data(), text.size(), fmt, args);
    text.resize(static_cast<size_t>(n));
  } else if (n > 0) {
    text.assign(line, static_cast<size_t>(n));
  }
  if (g_capture != nullptr && level != LIBBPF_DEBUG) g_capture->append(text);
  if (static_cast<int>(level) <= g_echo_level) fputs(text.c_str(), stderr);
  return n;
}

}  // namespace

LogCapture::LogCapture() : previous_(g_capture) { g_capture = &buffer_; }
LogCapture::~LogCapture() { g_capture = previous_; }
std::string LogCapture::Text() const { return buffer_; }

void InstallLibbpfPrint() {
  // FLOWSCOPE_LIBBPF_LOG=warn|info|debug echoes libbpf's own messages to stderr.
  const char* env = getenv("FLOWSCOPE_LIBBPF_LOG");
  if (env != nullptr) {
    std::string v(env);
    if (v == "warn") g_echo_level = LIBBPF_WARN;
    if (v == "info") g_echo_level = LIBBPF_INFO;
    if (v == "debug") g_echo_level = LIBBPF_DEBUG;
  }
  libbpf_set_print(LibbpfPrint);
}

AddonData* GetData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

void DeliverBatch(Napi::Env env, Napi::Function callback, uint8_t* data, size_t length, double n, int err) {
  if (env == nullptr) {  // environment shutting down
    free(data);
    return;
  }
  try {
    Napi::Value batch = env.Null();
    if (err == 0) {
      try {
        batch = Napi::Buffer<uint8_t>::NewOrCopy(env, data, length, [](Napi::Env, uint8_t* p) { free(p); });
      } catch (...) {
        free(data);
        throw;
      }
    } else {
      free(data);
    }
    callback.Call({batch, Napi::Number::New(env, err == 0 ? n : err)});
  } catch (const Napi::Error& e) {
    try {
      e.ThrowAsJavaScriptException();
    } catch (...) {
      // nothing can run JavaScript any more
    }
  }
}

Napi::Error MakeBpfError(Napi::Env env, const std::string& op, int err, const std::string& detail) {
  int code = AbsErr(err);
  std::string message = op + ": " + (code != 0 ? strerror(code) : "failed");
  if (!detail.empty()) message += "\n" + detail;
  AddonData* data = GetData(env);
  if (data != nullptr && !data->bpfError.IsEmpty()) {
    Napi::Object e = data->bpfError.New(
        {Napi::String::New(env, message), Napi::String::New(env, op), Napi::Number::New(env, code)});
    return Napi::Error(env, e);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("op", Napi::String::New(env, op));
  e.Set("errno", Napi::Number::New(env, code));
  return e;
}

void ThrowBpf(Napi::Env env, const std::string& op, int err, const std::string& detail) {
  throw MakeBpfError(env, op, err, detail);
}

bool HasArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

namespace {

// setErrorClasses({ BpfError, VerifierError }): the facade's own error classes, so that errors
// thrown here are instances of the types TypeScript code catches.
Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "setErrorClasses expects an object");
  Napi::Object classes = info[0].As<Napi::Object>();
  AddonData* data = GetData(env);
  data->bpfError = Napi::Persistent(classes.Get("BpfError").As<Napi::Function>());
  data->verifierError = Napi::Persistent(classes.Get("VerifierError").As<Napi::Function>());
  return env.Undefined();
}

// Returns freed C heap to the system: loading objects parses the kernel's BTF (megabytes, freed by
// libbpf afterwards), which glibc otherwise keeps as resident memory.
static Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses));
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemory));
  InitObject(env, exports);
  InitMap(env, exports);
  InitRingBuf(env, exports);
  InitProbe(env, exports);
  InitNetlink(env, exports);
  InitIter(env, exports);
  return exports;
}

}  // namespace

}  // namespace flowscope

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return flowscope::Init(env, exports); }

NODE_API_MODULE(flowscope, InitModule)

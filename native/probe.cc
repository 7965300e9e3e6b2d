// Feature probes, program statistics and small syscall wrappers the facade needs.
#include "common.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace flowscope {

namespace {

Napi::Value ProbeProgType(const Napi::CallbackInfo& info) {
  int rc = libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(ArgInt(info, 0, "type")), nullptr);
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  int rc = libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(ArgInt(info, 0, "type")), nullptr);
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  int rc = libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(ArgInt(info, 0, "progType")),
                                   static_cast<enum bpf_func_id>(ArgInt(info, 1, "helper")), nullptr);
  return Napi::Number::New(info.Env(), rc);
}

// Names libbpf knows, indexed by the kernel's enum values.
template <typename Fn>
Napi::Value Names(Napi::Env env, Fn name) {
  Napi::Array out = Napi::Array::New(env);
  for (uint32_t i = 0; i < 256; i++) {
    const char* n = name(i);
    if (n == nullptr) break;
    out.Set(i, Napi::String::New(env, n));
  }
  return out;
}

Napi::Value ProgTypeNames(const Napi::CallbackInfo& info) {
  return Names(info.Env(), [](uint32_t i) { return libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(i)); });
}
Napi::Value MapTypeNames(const Napi::CallbackInfo& info) {
  return Names(info.Env(), [](uint32_t i) { return libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(i)); });
}
Napi::Value AttachTypeNames(const Napi::CallbackInfo& info) {
  return Names(info.Env(),
               [](uint32_t i) { return libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(i)); });
}

// progInfo(fd): identity and run-time statistics (run_time_ns/run_cnt advance only while kernel
// BPF stats are enabled).
Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof pi);
  __u32 len = sizeof pi;
  if (bpf_obj_get_info_by_fd(static_cast<int>(ArgInt(info, 0, "fd")), &pi, &len) != 0)
    ThrowBpf(env, "program info", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, pi.id));
  o.Set("name", Napi::String::New(env, pi.name));
  o.Set("type", Napi::Number::New(env, pi.type));
  o.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(pi.run_time_ns)));
  o.Set("runCount", Napi::Number::New(env, static_cast<double>(pi.run_cnt)));
  o.Set("recursionMisses", Napi::Number::New(env, static_cast<double>(pi.recursion_misses)));
  o.Set("verifiedInstructions", Napi::Number::New(env, pi.verified_insns));
  o.Set("xlatedBytes", Napi::Number::New(env, pi.xlated_prog_len));
  o.Set("jitedBytes", Napi::Number::New(env, pi.jited_prog_len));
  return o;
}

// enableStats(): BPF_ENABLE_STATS; statistics stay on while the returned fd is open.
Napi::Value EnableStats(const Napi::CallbackInfo& info) {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) ThrowBpf(info.Env(), "enable BPF run-time statistics", errno);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  close(static_cast<int>(ArgInt(info, 0, "fd")));
  return info.Env().Undefined();
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowBpf(info.Env(), "count possible CPUs", n);
  return Napi::Number::New(info.Env(), n);
}

// testRun(progFd, {ctx?, data?, repeat?, cpu?}): BPF_PROG_TEST_RUN, for programs that support it; with
// cpu, on that CPU (BPF_F_TEST_RUN_ON_CPU: raw_tp programs, Linux 5.10).
Napi::Value TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "progFd"));
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  Napi::Buffer<uint8_t> ctx, data;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Get("ctx").IsBuffer()) {
      ctx = o.Get("ctx").As<Napi::Buffer<uint8_t>>();
      opts.ctx_in = ctx.Data();
      opts.ctx_size_in = static_cast<__u32>(ctx.Length());
    }
    if (o.Get("data").IsBuffer()) {
      data = o.Get("data").As<Napi::Buffer<uint8_t>>();
      opts.data_in = data.Data();
      opts.data_size_in = static_cast<__u32>(data.Length());
    }
    if (o.Get("repeat").IsNumber()) opts.repeat = o.Get("repeat").As<Napi::Number>().Uint32Value();
    if (o.Get("cpu").IsNumber()) {
      opts.cpu = o.Get("cpu").As<Napi::Number>().Uint32Value();
      opts.flags = BPF_F_TEST_RUN_ON_CPU;
    }
  }
  if (bpf_prog_test_run_opts(fd, &opts) != 0) ThrowBpf(env, "program test run", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("retval", Napi::Number::New(env, opts.retval));
  out.Set("durationNs", Napi::Number::New(env, opts.duration));
  return out;
}

// bpfSyscallErrno(): 0 when the bpf(2) syscall answers; ENOSYS when the kernel lacks it, EPERM when
// this process may not use it (capabilities, seccomp, kernel.unprivileged_bpf_disabled).
Napi::Value BpfSyscallErrno(const Napi::CallbackInfo& info) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.start_id = 0;
  long rc = syscall(__NR_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr);
  int err = rc == 0 || errno == ENOENT ? 0 : errno;
  return Napi::Number::New(info.Env(), err);
}

}  // namespace

void InitProbe(Napi::Env env, Napi::Object exports) {
  exports.Set("probeProgType", Napi::Function::New(env, ProbeProgType));
  exports.Set("probeMapType", Napi::Function::New(env, ProbeMapType));
  exports.Set("probeHelper", Napi::Function::New(env, ProbeHelper));
  exports.Set("progTypeNames", Napi::Function::New(env, ProgTypeNames));
  exports.Set("mapTypeNames", Napi::Function::New(env, MapTypeNames));
  exports.Set("attachTypeNames", Napi::Function::New(env, AttachTypeNames));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
  exports.Set("enableStats", Napi::Function::New(env, EnableStats));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("testRun", Napi::Function::New(env, TestRun));
  exports.Set("bpfSyscallErrno", Napi::Function::New(env, BpfSyscallErrno));
}

}  // namespace flowscope

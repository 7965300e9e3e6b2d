// NativeObject: one BPF ELF object (open, configure, load, attach, close) and its links.
#include "common.h"

#include <bpf/btf.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <csignal>
#include <pthread.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace {
// Blocks every blockable signal in the calling thread for its lifetime (they stay pending).
class SignalsBlocked {
 public:
  SignalsBlocked() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &saved_);
  }
  ~SignalsBlocked() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t saved_;
};
}  // namespace

namespace flowscope {

namespace {

// Attach types the distro's uapi headers may predate (Linux 6.6, "bpf: Add fd-based tcx multi-prog
// infra with link support"). Values are kernel ABI and never change.
constexpr int kAttachTcxIngress = 46;
constexpr int kAttachTcxEgress = 47;
constexpr uint32_t kFlagBefore = 1U << 3;  // BPF_F_BEFORE
constexpr uint32_t kFlagAfter = 1U << 4;   // BPF_F_AFTER

enum class LinkKind { Libbpf, RawFd, LegacyTc };

std::string InNamespace(const std::string& netnsPath) { return netnsPath.empty() ? "" : " in " + netnsPath; }

struct LinkState {
  LinkKind kind;
  std::string description;
  struct bpf_link* link = nullptr;  // Libbpf
  int fd = -1;                      // RawFd
  struct bpf_tc_hook hook {};       // LegacyTc
  std::string netnsPath;            // LegacyTc: the namespace of hook.ifindex (empty: ours)
  uint32_t tcHandle = 0;
  uint32_t tcPriority = 0;
  bool destroyed = false;

  // Detaches; returns 0 or a negative errno.
  int Destroy() {
    if (destroyed) return 0;
    destroyed = true;
    switch (kind) {
      case LinkKind::Libbpf:
        return bpf_link__destroy(link);
      case LinkKind::RawFd:
        return close(fd) == 0 ? 0 : -errno;
      case LinkKind::LegacyTc: {
        LIBBPF_OPTS(bpf_tc_opts, opts, .handle = tcHandle, .priority = tcPriority);
        int err = 0;
        std::string op;
        int nsErr = InNetns(netnsPath, [&] { err = bpf_tc_detach(&hook, &opts); }, &op);
        // The namespace (and its devices) or the interface may already be gone: the filter went with it.
        if (nsErr != 0) return nsErr == ENOENT ? 0 : -nsErr;
        return (err == -ENODEV || err == -ENOENT || err == -EINVAL) ? 0 : err;
      }
    }
    return 0;
  }
};

class NativeLink : public Napi::ObjectWrap<NativeLink> {
 public:
  static Napi::FunctionReference* constructor;

  static void Init(Napi::Env env) {
    Napi::Function fn = DefineClass(env, "NativeLink",
                                    {
                                        InstanceMethod("destroy", &NativeLink::DestroyJs),
                                        InstanceAccessor("fd", &NativeLink::Fd, nullptr),
                                        InstanceAccessor("description", &NativeLink::Description, nullptr),
                                        InstanceAccessor("tcPriority", &NativeLink::TcPriority, nullptr),
                                        InstanceAccessor("tcHandle", &NativeLink::TcHandle, nullptr),
                                    });
    constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  }

  explicit NativeLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLink>(info) {}

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<LinkState> state) {
    Napi::Object obj = constructor->New({});
    Unwrap(obj)->state_ = std::move(state);
    return obj;
  }

 private:
  Napi::Value DestroyJs(const Napi::CallbackInfo& info) {
    if (state_) {
      int err = state_->Destroy();
      if (err < 0) ThrowBpf(info.Env(), "detach " + state_->description, err);
    }
    return info.Env().Undefined();
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    if (!state_ || state_->destroyed) return Napi::Number::New(info.Env(), -1);
    if (state_->kind == LinkKind::Libbpf) return Napi::Number::New(info.Env(), bpf_link__fd(state_->link));
    return Napi::Number::New(info.Env(), state_->fd);
  }
  Napi::Value Description(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), state_ ? state_->description : "");
  }
  Napi::Value TcPriority(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_ ? state_->tcPriority : 0);
  }
  Napi::Value TcHandle(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), state_ ? state_->tcHandle : 0);
  }

  std::shared_ptr<LinkState> state_;
};

Napi::FunctionReference* NativeLink::constructor = nullptr;

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function fn = DefineClass(
        env, "NativeObject",
        {
            InstanceMethod("programs", &NativeObject::Programs),
            InstanceMethod("maps", &NativeObject::Maps),
            InstanceMethod("globals", &NativeObject::Globals),
            InstanceMethod("setGlobal", &NativeObject::SetGlobal),
            InstanceMethod("setAutoload", &NativeObject::SetAutoload),
            InstanceMethod("setMaxEntries", &NativeObject::SetMaxEntries),
            InstanceMethod("load", &NativeObject::Load),
            InstanceMethod("attachAuto", &NativeObject::AttachAuto),
            InstanceMethod("attachTracepoint", &NativeObject::AttachTracepoint),
            InstanceMethod("attachRawTracepoint", &NativeObject::AttachRawTracepoint),
            InstanceMethod("attachTrace", &NativeObject::AttachTrace),
            InstanceMethod("attachKprobe", &NativeObject::AttachKprobe),
            InstanceMethod("attachUprobe", &NativeObject::AttachUprobe),
            InstanceMethod("attachCgroup", &NativeObject::AttachCgroup),
            InstanceMethod("attachTcx", &NativeObject::AttachTcx),
            InstanceMethod("attachSocketFilter", &NativeObject::AttachSocketFilter),
            InstanceMethod("attachTcLegacy", &NativeObject::AttachTcLegacy),
            InstanceMethod("attachIter", &NativeObject::AttachIter),
            InstanceMethod("reuseMap", &NativeObject::ReuseMap),
            InstanceMethod("pinMap", &NativeObject::PinMap),
            InstanceMethod("close", &NativeObject::Close),
        });
    exports.Set("NativeObject", fn);
  }

  // new NativeObject(pathOrElfBuffer, name?)
  explicit NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
    Napi::Env env = info.Env();
    std::string name = HasArg(info, 1) ? ArgString(info, 1, "name") : "";
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name.empty() ? nullptr : name.c_str());
    LogCapture capture;
    if (info.Length() > 0 && info[0].IsBuffer()) {
      // libelf reads the image in place until load: keep our own copy alive.
      auto buf = info[0].As<Napi::Buffer<uint8_t>>();
      elf_.assign(buf.Data(), buf.Data() + buf.Length());
      obj_ = bpf_object__open_mem(elf_.data(), elf_.size(), &opts);
      source_ = name.empty() ? "<memory>" : name;
    } else {
      source_ = ArgString(info, 0, "path");
      obj_ = bpf_object__open_file(source_.c_str(), &opts);
    }
    int err = libbpf_get_error(obj_);
    if (err != 0) {
      obj_ = nullptr;
      ThrowBpf(env, "open " + source_, err, capture.Text());
    }
  }

  ~NativeObject() override { CloseAll(); }

 private:
  void CloseAll() {
    for (auto& link : links_) link->Destroy();
    links_.clear();
    if (obj_ != nullptr) {
      bpf_object__close(obj_);
      obj_ = nullptr;
    }
  }

  struct bpf_object* Obj(Napi::Env env) {
    if (obj_ == nullptr) ThrowBpf(env, "use of closed object " + source_, EBADF);
    return obj_;
  }

  struct bpf_program* Prog(const Napi::CallbackInfo& info) {
    std::string name = ArgString(info, 0, "program");
    struct bpf_program* prog = bpf_object__find_program_by_name(Obj(info.Env()), name.c_str());
    if (prog == nullptr) ThrowBpf(info.Env(), "find program " + name + " in " + source_, ENOENT);
    return prog;
  }

  struct bpf_map* MapByName(const Napi::CallbackInfo& info, size_t i) {
    std::string name = ArgString(info, i, "map");
    struct bpf_map* map = bpf_object__find_map_by_name(Obj(info.Env()), name.c_str());
    if (map == nullptr) ThrowBpf(info.Env(), "find map " + name + " in " + source_, ENOENT);
    return map;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_program* prog;
    uint32_t i = 0;
    bpf_object__for_each_program(prog, Obj(env)) {
      Napi::Object p = Napi::Object::New(env);
      enum bpf_prog_type type = bpf_program__type(prog);
      enum bpf_attach_type attach = bpf_program__expected_attach_type(prog);
      const char* typeName = libbpf_bpf_prog_type_str(type);
      const char* attachName = libbpf_bpf_attach_type_str(attach);
      p.Set("name", bpf_program__name(prog));
      p.Set("section", bpf_program__section_name(prog));
      p.Set("type", Napi::Number::New(env, type));
      p.Set("typeName", typeName ? typeName : "unknown");
      p.Set("attachType", Napi::Number::New(env, attach));
      p.Set("attachTypeName", attachName ? attachName : "unknown");
      p.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(prog)));
      p.Set("fd", Napi::Number::New(env, bpf_program__fd(prog)));
      out.Set(i++, p);
    }
    return out;
  }

  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    struct bpf_map* map;
    uint32_t i = 0;
    bpf_object__for_each_map(map, Obj(env)) {
      Napi::Object m = Napi::Object::New(env);
      enum bpf_map_type type = bpf_map__type(map);
      const char* typeName = libbpf_bpf_map_type_str(type);
      m.Set("name", bpf_map__name(map));
      m.Set("type", Napi::Number::New(env, type));
      m.Set("typeName", typeName ? typeName : "unknown");
      m.Set("keySize", Napi::Number::New(env, bpf_map__key_size(map)));
      m.Set("valueSize", Napi::Number::New(env, bpf_map__value_size(map)));
      m.Set("maxEntries", Napi::Number::New(env, bpf_map__max_entries(map)));
      m.Set("flags", Napi::Number::New(env, bpf_map__map_flags(map)));
      m.Set("internal", Napi::Boolean::New(env, bpf_map__is_internal(map)));
      m.Set("btfKeyTypeId", Napi::Number::New(env, bpf_map__btf_key_type_id(map)));
      m.Set("btfValueTypeId", Napi::Number::New(env, bpf_map__btf_value_type_id(map)));
      m.Set("fd", Napi::Number::New(env, bpf_map__fd(map)));
      out.Set(i++, m);
    }
    return out;
  }

  struct GlobalVar {
    std::string name, section;
    uint32_t offset, size;
  };

  std::vector<GlobalVar> ListGlobals(Napi::Env env) {
    std::vector<GlobalVar> vars;
    struct btf* btf = bpf_object__btf(Obj(env));
    if (btf == nullptr) return vars;
    uint32_t n = btf__type_cnt(btf);
    for (uint32_t id = 1; id < n; id++) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      if (!btf_is_datasec(t)) continue;
      std::string section = btf__name_by_offset(btf, t->name_off);
      const struct btf_var_secinfo* vsi = btf_var_secinfos(t);
      for (uint16_t k = 0; k < btf_vlen(t); k++, vsi++) {
        const struct btf_type* var = btf__type_by_id(btf, vsi->type);
        if (!btf_is_var(var)) continue;
        vars.push_back({btf__name_by_offset(btf, var->name_off), section, vsi->offset, vsi->size});
      }
    }
    return vars;
  }

  Napi::Value Globals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& v : ListGlobals(env)) {
      Napi::Object g = Napi::Object::New(env);
      g.Set("name", v.name);
      g.Set("section", v.section);
      g.Set("offset", Napi::Number::New(env, v.offset));
      g.Set("size", Napi::Number::New(env, v.size));
      out.Set(i++, g);
    }
    return out;
  }

  // setGlobal(name, bytes): writes a global's initial value (for .rodata: before load only).
  Napi::Value SetGlobal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "name");
    auto bytes = ArgBuffer(info, 1, "value");
    for (const auto& v : ListGlobals(env)) {
      if (v.name != name) continue;
      if (bytes.Length() != v.size)
        ThrowBpf(env, "set global " + name, EINVAL,
                 "value is " + std::to_string(bytes.Length()) + " bytes, the variable is " + std::to_string(v.size));
      if (loaded_ && v.section.rfind(".rodata", 0) == 0)
        ThrowBpf(env, "set global " + name, EPERM, "read-only globals must be set before load()");
      struct bpf_map* map;
      bpf_object__for_each_map(map, obj_) {
        if (!bpf_map__is_internal(map)) continue;
        std::string mapName = bpf_map__name(map);
        if (mapName.size() < v.section.size() ||
            mapName.compare(mapName.size() - v.section.size(), v.section.size(), v.section) != 0)
          continue;
        size_t size = 0;
        if (loaded_) {
          // After load the kernel's map is the variable: libbpf (1.1) maps it into the process only
          // for skeletons, so its copy here would no longer reach the programs. Write through the fd.
          int fd = bpf_map__fd(map);
          std::vector<uint8_t> image(bpf_map__value_size(map));
          uint32_t zero = 0;
          if (v.offset + v.size > image.size()) ThrowBpf(env, "set global " + name, EINVAL, "variable outside its section");
          if (bpf_map_lookup_elem(fd, &zero, image.data()) != 0) ThrowBpf(env, "set global " + name + " (read section)", errno);
          memcpy(image.data() + v.offset, bytes.Data(), v.size);
          if (bpf_map_update_elem(fd, &zero, image.data(), BPF_ANY) != 0) ThrowBpf(env, "set global " + name + " (write section)", errno);
          return env.Undefined();
        }
        // Before load this is libbpf's private copy of the section image, which it asks us to fill.
        auto* data = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(map, &size)));
        if (data == nullptr || v.offset + v.size > size)
          ThrowBpf(env, "set global " + name, EINVAL, "section " + v.section + " has no writable image");
        memcpy(data + v.offset, bytes.Data(), v.size);
        return env.Undefined();
      }
      ThrowBpf(env, "set global " + name, ENOENT, "no map backs section " + v.section);
    }
    ThrowBpf(env, "set global " + name, ENOENT, "the object declares no such global variable");
  }

  Napi::Value SetAutoload(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    int err = bpf_program__set_autoload(prog, info[1].ToBoolean().Value());
    if (err) ThrowBpf(info.Env(), "set autoload", err);
    return info.Env().Undefined();
  }

  Napi::Value SetMaxEntries(const Napi::CallbackInfo& info) {
    struct bpf_map* map = MapByName(info, 0);
    int err = bpf_map__set_max_entries(map, static_cast<uint32_t>(ArgInt(info, 1, "maxEntries")));
    if (err) ThrowBpf(info.Env(), "set max_entries", err);
    return info.Env().Undefined();
  }

  // load(): on a verifier rejection throws VerifierError(message, program, log).
  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LogCapture capture;
    int err;
    {
      // The verifier gives up with EAGAIN when a signal is pending, and libbpf retries only a few
      // times: a process that gets signals often (a profiler's SIGPROF every millisecond) could
      // never load a large program. Signals wait, blocked, until the load is over.
      SignalsBlocked blocked;
      err = bpf_object__load(Obj(env));
    }
    if (err == -EAGAIN || err == -EINTR)
      ThrowBpf(env, "load " + source_ + " (the verifier was interrupted by signals again and again)", err, capture.Text());
    if (err == 0) {
      loaded_ = true;
      return env.Undefined();
    }
    std::string text = capture.Text();
    const std::string begin = "-- BEGIN PROG LOAD LOG --\n";
    const std::string end = "-- END PROG LOAD LOG --";
    size_t b = text.find(begin);
    AddonData* data = GetData(env);
    if (b != std::string::npos && data != nullptr && !data->verifierError.IsEmpty()) {
      size_t e = text.find(end, b);
      std::string log = text.substr(b + begin.size(), e == std::string::npos ? std::string::npos : e - b - begin.size());
      // libbpf prefixes the block with "libbpf: prog '<name>': "
      std::string program;
      size_t q = text.rfind("prog '", b);
      if (q != std::string::npos) {
        size_t qe = text.find('\'', q + 6);
        if (qe != std::string::npos) program = text.substr(q + 6, qe - q - 6);
      }
      Napi::Object e2 = data->verifierError.New({Napi::String::New(env, "load " + source_ + ": " + strerror(AbsErr(err))),
                                                 Napi::String::New(env, program), Napi::String::New(env, log)});
      throw Napi::Error(env, e2);
    }
    ThrowBpf(env, "load " + source_, err, text);
  }

  Napi::Value AddLink(Napi::Env env, std::shared_ptr<LinkState> state) {
    links_.push_back(state);
    return NativeLink::Wrap(env, std::move(state));
  }

  Napi::Value FromLibbpfLink(Napi::Env env, struct bpf_link* link, const std::string& what, LogCapture& capture) {
    int err = libbpf_get_error(link);
    if (err != 0) ThrowBpf(env, "attach " + what, err, capture.Text());
    auto state = std::make_shared<LinkState>();
    state->kind = LinkKind::Libbpf;
    state->link = link;
    state->description = what;
    return AddLink(env, state);
  }

  Napi::Value AttachAuto(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach(prog), bpf_program__section_name(prog), capture);
  }

  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    std::string category = ArgString(info, 1, "category"), name = ArgString(info, 2, "name");
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_tracepoint(prog, category.c_str(), name.c_str()),
                          "tracepoint " + category + ":" + name, capture);
  }

  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    std::string name = ArgString(info, 1, "name");
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_raw_tracepoint(prog, name.c_str()), "raw_tp " + name,
                          capture);
  }

  // tp_btf, fentry, fexit: the target is fixed at load time from the section name.
  Napi::Value AttachTrace(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_trace(prog), bpf_program__section_name(prog), capture);
  }

  Napi::Value AttachKprobe(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    std::string func = ArgString(info, 1, "function");
    bool retprobe = info[2].ToBoolean().Value();
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_kprobe(prog, retprobe, func.c_str()),
                          std::string(retprobe ? "kretprobe " : "kprobe ") + func, capture);
  }

  // attachUprobe(prog, binaryPath, funcName, offset, pid, retprobe)
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    std::string path = ArgString(info, 1, "binaryPath");
    std::string func = HasArg(info, 2) ? ArgString(info, 2, "functionName") : "";
    int64_t offset = ArgInt(info, 3, "offset");
    int pid = static_cast<int>(ArgInt(info, 4, "pid"));
    bool retprobe = info[5].ToBoolean().Value();
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .func_name = func.empty() ? nullptr : func.c_str());
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_uprobe_opts(prog, pid, path.c_str(), offset, &opts),
                          std::string(retprobe ? "uretprobe " : "uprobe ") + path + ":" + (func.empty() ? std::to_string(offset) : func),
                          capture);
  }

  // sockops, cgroup_skb, cgroup_sock...: a BPF link on a cgroup (v2) directory.
  Napi::Value AttachCgroup(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    std::string path = ArgString(info, 1, "cgroupPath");
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowBpf(info.Env(), "open cgroup " + path, errno);
    LogCapture capture;
    struct bpf_link* link = bpf_program__attach_cgroup(prog, fd);
    close(fd);
    return FromLibbpfLink(info.Env(), link, std::string(bpf_program__section_name(prog)) + " on cgroup " + path, capture);
  }

  // attachTcx(prog, ifindex, ingress, first, netnsPath?): a tcx link (Linux 6.6+), appended after
  // the programs already attached unless `first`; `ifindex` is one of netnsPath's network namespace
  // when given (the link is made there; it is an fd, detached by closing it from anywhere).
  Napi::Value AttachTcx(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = Prog(info);
    int ifindex = static_cast<int>(ArgInt(info, 1, "ifindex"));
    bool ingress = info[2].ToBoolean().Value();
    bool first = info[3].ToBoolean().Value();
    int progFd = bpf_program__fd(prog);
    if (progFd < 0) ThrowBpf(env, "attach tcx", EBADF, "program is not loaded");
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.link_create.prog_fd = progFd;
    attr.link_create.target_ifindex = ifindex;
    attr.link_create.attach_type = static_cast<enum bpf_attach_type>(ingress ? kAttachTcxIngress : kAttachTcxEgress);
    attr.link_create.flags = first ? kFlagBefore : kFlagAfter;
    std::string netns = HasArg(info, 4) ? ArgString(info, 4, "netnsPath") : "";
    int fd = -1, linkErr = 0;
    std::string op;
    int nsErr = InNetns(netns, [&] {
      fd = static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
      linkErr = errno;
    }, &op);
    if (nsErr != 0) ThrowBpf(env, op, nsErr);
    std::string what = std::string("tcx ") + (ingress ? "ingress" : "egress") + " ifindex " + std::to_string(ifindex) + InNamespace(netns);
    if (fd < 0) ThrowBpf(env, "attach " + what, linkErr);
    auto state = std::make_shared<LinkState>();
    state->kind = LinkKind::RawFd;
    state->fd = fd;
    state->description = what;
    return AddLink(env, state);
  }

  // attachSocketFilter(prog, ifindex): the program on a packet socket of its own, bound to one
  // interface (or all with 0), seeing packets in both directions. The socket never queues anything
  // the program does not pass (return 0 to count only); closing it detaches the program.
  Napi::Value AttachSocketFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = Prog(info);
    int ifindex = static_cast<int>(ArgInt(info, 1, "ifindex"));
    int progFd = bpf_program__fd(prog);
    if (progFd < 0) ThrowBpf(env, "attach socket filter", EBADF, "program is not loaded");
    std::string what = "socket filter on " + (ifindex ? "ifindex " + std::to_string(ifindex) : std::string("all interfaces"));
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0) ThrowBpf(env, "attach " + what, errno);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // Attach before binding, so that the socket never sees a packet without the program.
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &progFd, sizeof progFd) < 0) {
      int err = errno;
      close(fd);
      ThrowBpf(env, "attach " + what, err);
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) {
      int err = errno;
      close(fd);
      ThrowBpf(env, "attach " + what, err);
    }
    auto state = std::make_shared<LinkState>();
    state->kind = LinkKind::RawFd;
    state->fd = fd;
    state->description = what;
    return AddLink(env, state);
  }

  // attachTcLegacy(prog, ifindex, ingress, priority, handle, netnsPath?): a direct-action cls_bpf
  // filter on the clsact qdisc. Never replaces: an existing filter at that priority/handle is an
  // EEXIST error. With netnsPath, on an interface of that namespace (attached and detached there).
  Napi::Value AttachTcLegacy(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_program* prog = Prog(info);
    int ifindex = static_cast<int>(ArgInt(info, 1, "ifindex"));
    bool ingress = info[2].ToBoolean().Value();
    uint32_t priority = static_cast<uint32_t>(ArgInt(info, 3, "priority"));
    uint32_t handle = static_cast<uint32_t>(ArgInt(info, 4, "handle"));
    int progFd = bpf_program__fd(prog);
    if (progFd < 0) ThrowBpf(env, "attach tc", EBADF, "program is not loaded");
    auto state = std::make_shared<LinkState>();
    state->kind = LinkKind::LegacyTc;
    state->hook.sz = sizeof(struct bpf_tc_hook);
    state->hook.ifindex = ifindex;
    state->hook.attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
    state->netnsPath = HasArg(info, 5) ? ArgString(info, 5, "netnsPath") : "";
    std::string what = std::string("tc ") + (ingress ? "ingress" : "egress") + " ifindex " + std::to_string(ifindex) + InNamespace(state->netnsPath);
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = progFd, .flags = 0, .handle = handle, .priority = priority);
    int hookErr = 0, err = 0;
    std::string log, op;
    int nsErr = InNetns(state->netnsPath, [&] {
      LogCapture capture;  // libbpf's log is captured per thread
      hookErr = bpf_tc_hook_create(&state->hook);
      if (hookErr == 0 || hookErr == -EEXIST) err = bpf_tc_attach(&state->hook, &opts);
      log = capture.Text();
    }, &op);
    if (nsErr != 0) ThrowBpf(env, op, nsErr);
    if (hookErr != 0 && hookErr != -EEXIST) ThrowBpf(env, "create clsact qdisc for " + what, hookErr, log);
    if (err != 0) ThrowBpf(env, "attach " + what + " priority " + std::to_string(priority), err, log);
    state->tcHandle = opts.handle;
    state->tcPriority = opts.priority;
    state->description = what + " priority " + std::to_string(opts.priority);
    return AddLink(env, state);
  }

  // reuseMap(name, pinPath): before load, the map is the one pinned at pinPath (shared with another object).
  Napi::Value ReuseMap(const Napi::CallbackInfo& info) {
    struct bpf_map* map = MapByName(info, 0);
    std::string path = ArgString(info, 1, "pinPath");
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) ThrowBpf(info.Env(), "open pinned map " + path, errno);
    int err = bpf_map__reuse_fd(map, fd);
    close(fd);
    if (err) ThrowBpf(info.Env(), "reuse pinned map " + path, err);
    return info.Env().Undefined();
  }

  // pinMap(name, pinPath): pins a loaded map in bpffs (for another object to reuse).
  Napi::Value PinMap(const Napi::CallbackInfo& info) {
    struct bpf_map* map = MapByName(info, 0);
    std::string path = ArgString(info, 1, "pinPath");
    if (bpf_obj_pin(bpf_map__fd(map), path.c_str()) != 0) ThrowBpf(info.Env(), "pin map at " + path, errno);
    return info.Env().Undefined();
  }

  // attachIter(prog): a BPF iterator link (iter/...: task_file, tcp...); run it with iterRead().
  Napi::Value AttachIter(const Napi::CallbackInfo& info) {
    struct bpf_program* prog = Prog(info);
    LogCapture capture;
    return FromLibbpfLink(info.Env(), bpf_program__attach_iter(prog, nullptr), bpf_program__section_name(prog), capture);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseAll();
    return info.Env().Undefined();
  }

  struct bpf_object* obj_ = nullptr;
  std::string source_;
  std::vector<uint8_t> elf_;
  bool loaded_ = false;
  std::vector<std::shared_ptr<LinkState>> links_;
};

}  // namespace

void InitObject(Napi::Env env, Napi::Object exports) {
  NativeLink::Init(env);
  NativeObject::Init(env, exports);
}

}  // namespace flowscope

// Map operations on file descriptors. Bulk reads fill caller-provided buffers in one call so that
// a whole map crosses the native boundary at once. Fallback policy (batch -> iteration) is decided
// by the TypeScript MapReader; these are the primitives.
#include "common.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace flowscope {

namespace {

int Fd(const Napi::CallbackInfo& info) { return static_cast<int>(ArgInt(info, 0, "fd")); }

Napi::Value Lookup(const Napi::CallbackInfo& info) {
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  if (bpf_map_lookup_elem(Fd(info), key.Data(), value.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowBpf(info.Env(), "map lookup", errno);
}

Napi::Value LookupAndDelete(const Napi::CallbackInfo& info) {
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  if (bpf_map_lookup_and_delete_elem(Fd(info), key.Data(), value.Data()) == 0)
    return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowBpf(info.Env(), "map lookup-and-delete", errno);
}

Napi::Value Update(const Napi::CallbackInfo& info) {
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  uint64_t flags = HasArg(info, 3) ? static_cast<uint64_t>(ArgInt(info, 3, "flags")) : uint64_t{BPF_ANY};
  if (bpf_map_update_elem(Fd(info), key.Data(), value.Data(), flags) != 0) {
    int err = errno;
    ThrowBpf(info.Env(), "map update", err, err == E2BIG ? "the map is full (max_entries reached)" : "");
  }
  return info.Env().Undefined();
}

Napi::Value Delete(const Napi::CallbackInfo& info) {
  auto key = ArgBuffer(info, 1, "key");
  if (bpf_map_delete_elem(Fd(info), key.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowBpf(info.Env(), "map delete", errno);
}

// deleteMany(fd, keys, keySize, count): deletes `count` packed keys in one call (the kernel's batch
// delete where the map type has it, else one delete per key here); keys already gone are skipped.
// Returns how many were deleted.
Napi::Value DeleteMany(const Napi::CallbackInfo& info) {
  int fd = Fd(info);
  auto keys = ArgBuffer(info, 1, "keys");
  size_t keySize = static_cast<size_t>(ArgInt(info, 2, "keySize"));
  size_t count = static_cast<size_t>(ArgInt(info, 3, "count"));
  if (keySize == 0 || count * keySize > keys.Length()) {
    Napi::RangeError::New(info.Env(), "deleteMany: keys buffer is smaller than count * keySize").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* base = static_cast<uint8_t*>(keys.Data());
  size_t deleted = 0;
  size_t i = 0;
  bool batch = true;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  while (i < count) {
    if (batch) {
      __u32 n = static_cast<__u32>(count - i);
      int err = bpf_map_delete_batch(fd, base + i * keySize, &n, &opts);
      int e = err ? errno : 0;
      deleted += n;
      i += n;
      if (err == 0) continue;
      if (e == ENOENT) {
        i++;  // that key was gone already: go on after it
        continue;
      }
      if (n == 0 && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == 524 /* ENOTSUPP, kernel-internal */)) {
        batch = false;  // no batch operations for this map type
        continue;
      }
      ThrowBpf(info.Env(), "map delete batch", e);
    }
    if (bpf_map_delete_elem(fd, base + i * keySize) == 0) deleted++;
    else if (errno != ENOENT) ThrowBpf(info.Env(), "map delete", errno);
    i++;
  }
  return Napi::Number::New(info.Env(), static_cast<double>(deleted));
}

// nextKey(fd, key|null, out): false at the end of the map.
Napi::Value NextKey(const Napi::CallbackInfo& info) {
  auto out = ArgBuffer(info, 2, "nextKey");
  const void* key = HasArg(info, 1) ? ArgBuffer(info, 1, "key").Data() : nullptr;
  if (bpf_map_get_next_key(Fd(info), key, out.Data()) == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
  ThrowBpf(info.Env(), "map get_next_key", errno);
}

Napi::Value Result(Napi::Env env, size_t count, bool done) {
  Napi::Object r = Napi::Object::New(env);
  r.Set("count", Napi::Number::New(env, static_cast<double>(count)));
  r.Set("done", Napi::Boolean::New(env, done));
  return r;
}

// iterate(fd, keys, values, keySize, valueStride, deleteAfter) -> {count, done}
// Collects keys first: deleting while walking with get_next_key restarts a hash map walk.
// done is false when the buffers filled up before the walk reached the end.
Napi::Value Iterate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  auto keys = ArgBuffer(info, 1, "keys");
  auto values = ArgBuffer(info, 2, "values");
  size_t keySize = static_cast<size_t>(ArgInt(info, 3, "keySize"));
  size_t stride = static_cast<size_t>(ArgInt(info, 4, "valueStride"));
  bool drain = info[5].ToBoolean().Value();
  if (keySize == 0 || stride == 0) throw Napi::RangeError::New(env, "keySize and valueStride must be positive");
  size_t capacity = std::min(keys.Length() / keySize, values.Length() / stride);
  uint8_t* k = keys.Data();
  size_t n = 0;
  bool done = false;
  const void* prev = nullptr;
  std::vector<uint8_t> probe(keySize);
  for (;;) {
    uint8_t* slot = n < capacity ? k + n * keySize : probe.data();
    if (bpf_map_get_next_key(fd, prev, slot) != 0) {
      if (errno == ENOENT) {
        done = true;
        break;
      }
      ThrowBpf(env, "map get_next_key", errno);
    }
    if (n == capacity) break;  // one more key exists beyond the room we have
    prev = slot;
    n++;
  }
  size_t out = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t* key = k + i * keySize;
    uint8_t* value = values.Data() + out * stride;
    int rc = drain ? bpf_map_lookup_and_delete_elem(fd, key, value) : bpf_map_lookup_elem(fd, key, value);
    if (rc != 0 && drain && (errno == EINVAL || errno == ENOTSUP || errno == 524 /* ENOTSUPP */)) {
      // Older kernels lack lookup-and-delete for this map type.
      rc = bpf_map_lookup_elem(fd, key, value);
      if (rc == 0) bpf_map_delete_elem(fd, key);
    }
    if (rc != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile
      ThrowBpf(env, drain ? "map lookup-and-delete" : "map lookup", errno);
    }
    if (out != i) memmove(k + out * keySize, key, keySize);
    out++;
  }
  return Result(env, out, done);
}

// lookupBatch(fd, keys, values, keySize, valueStride, deleteAfter) -> {count, done}
// Throws BpfError with errno EINVAL/ENOTSUPP when the map type has no batch operations.
// done is false when the buffers filled up (or a hash bucket did not fit) before the end.
Napi::Value LookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  auto keys = ArgBuffer(info, 1, "keys");
  auto values = ArgBuffer(info, 2, "values");
  size_t keySize = static_cast<size_t>(ArgInt(info, 3, "keySize"));
  size_t stride = static_cast<size_t>(ArgInt(info, 4, "valueStride"));
  bool drain = info[5].ToBoolean().Value();
  if (keySize == 0 || stride == 0) throw Napi::RangeError::New(env, "keySize and valueStride must be positive");
  size_t capacity = std::min(keys.Length() / keySize, values.Length() / stride);
  // The batch token is a bucket index for hash maps and a key for arrays.
  std::vector<uint8_t> tokenIn(std::max<size_t>(keySize, 8)), tokenOut(std::max<size_t>(keySize, 8));
  bool first = true;
  bool done = false;
  size_t total = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  while (total < capacity) {
    __u32 count = static_cast<__u32>(capacity - total);
    int err = drain ? bpf_map_lookup_and_delete_batch(fd, first ? nullptr : tokenIn.data(), tokenOut.data(),
                                                      keys.Data() + total * keySize, values.Data() + total * stride,
                                                      &count, &opts)
                    : bpf_map_lookup_batch(fd, first ? nullptr : tokenIn.data(), tokenOut.data(),
                                           keys.Data() + total * keySize, values.Data() + total * stride, &count,
                                           &opts);
    int code = err < 0 ? errno : 0;
    if (code == 0 || code == ENOENT) total += count;
    if (code == ENOENT) {
      done = true;
      break;
    }
    if (code == ENOSPC) break;  // a hash bucket larger than the room left
    if (code != 0) ThrowBpf(env, drain ? "map lookup-and-delete batch" : "map lookup batch", code);
    std::swap(tokenIn, tokenOut);
    first = false;
  }
  return Result(env, total, done);
}

// readMapped(fd, byteOffset, into) -> bytes copied
// Copies `into.length` bytes from byte `byteOffset` of a BPF_F_MMAPABLE array's values, mapped for
// the copy only (so they never stay resident in the agent): no system call per entry. Each 8-byte
// word is read atomically (acquire), from the end of the range to its start: a record whose last
// word says it is complete (written last by the program, e.g. with a compare-and-swap) is read
// before, and so consistently with, the words in front of it. byteOffset and length: multiples of 8.
Napi::Value ReadMapped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Fd(info);
  size_t offset = static_cast<size_t>(ArgInt(info, 1, "byteOffset"));
  auto into = ArgBuffer(info, 2, "into");
  size_t length = into.Length();
  if (offset % 8 || length % 8) throw Napi::RangeError::New(env, "readMapped: byteOffset and length must be multiples of 8");
  if (length == 0) return Napi::Number::New(env, 0);
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t start = offset / page * page;
  size_t span = offset - start + length;
  void* m = mmap(nullptr, span, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
  if (m == MAP_FAILED) ThrowBpf(env, "mmap of a map", errno);
  const uint64_t* from = reinterpret_cast<const uint64_t*>(static_cast<const uint8_t*>(m) + (offset - start));
  uint8_t* to = into.Data();
  for (size_t i = length / 8; i-- > 0;) {
    uint64_t w = __atomic_load_n(from + i, __ATOMIC_ACQUIRE);
    std::memcpy(to + i * 8, &w, 8);
  }
  munmap(m, span);
  return Napi::Number::New(env, static_cast<double>(length));
}

// info(fd): what the kernel says about a map (also works for maps we did not create).
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  __u32 len = sizeof mi;
  if (bpf_obj_get_info_by_fd(Fd(info), &mi, &len) != 0) ThrowBpf(env, "map info", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, mi.id));
  o.Set("name", Napi::String::New(env, mi.name));
  o.Set("type", Napi::Number::New(env, mi.type));
  o.Set("keySize", Napi::Number::New(env, mi.key_size));
  o.Set("valueSize", Napi::Number::New(env, mi.value_size));
  o.Set("maxEntries", Napi::Number::New(env, mi.max_entries));
  o.Set("flags", Napi::Number::New(env, mi.map_flags));
  return o;
}

}  // namespace

void InitMap(Napi::Env env, Napi::Object exports) {
  Napi::Object m = Napi::Object::New(env);
  m.Set("lookup", Napi::Function::New(env, Lookup));
  m.Set("lookupAndDelete", Napi::Function::New(env, LookupAndDelete));
  m.Set("update", Napi::Function::New(env, Update));
  m.Set("delete", Napi::Function::New(env, Delete));
  m.Set("deleteMany", Napi::Function::New(env, DeleteMany));
  m.Set("nextKey", Napi::Function::New(env, NextKey));
  m.Set("iterate", Napi::Function::New(env, Iterate));
  m.Set("lookupBatch", Napi::Function::New(env, LookupBatch));
  m.Set("info", Napi::Function::New(env, Info));
  m.Set("readMapped", Napi::Function::New(env, ReadMapped));
  exports.Set("map", m);
}

}  // namespace flowscope

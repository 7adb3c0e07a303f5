// cloister_native: device I/O for Cloister and nothing else. It knows no kernel structure: TypeScript
// (src/tee/ioctl.ts) marshals every byte, computes the ioctl number and says which 8-byte fields
// hold the addresses of which other buffers; this file copies the buffers into native memory,
// writes those addresses, opens the device and runs one ioctl on a worker thread, then copies the
// buffers back (as the kernel left them, the address fields restored) and settles a Promise.
//
//   ioctl(path, request, buffers, fixups) -> Promise<{ rc }>   rejects with { errno, errnoNumber, code, syscall, path }
//   wipe(view)    explicit_bzero over the view's bytes (not its whole ArrayBuffer)
//   lock(view)    mlock the pages holding the view's bytes
//   unlock(view)  munlock them
//
// See native/README.md for the contract and the ioctls Cloister issues through it.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#if !defined(__linux__)
#error "cloister_native drives Linux guest drivers (/dev/sev-guest, /dev/tdx_guest) and builds only on Linux"
#endif
// The fixups store host-order u64 addresses, and ioctl.ts writes little-endian structs.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "cloister_native assumes a little-endian host");

namespace {

constexpr size_t kMaxBuffers = 8;
constexpr size_t kMaxFixups = 16;
constexpr size_t kMaxBufferBytes = size_t{1} << 24;  // 16 MiB: far above any guest-driver structure
constexpr size_t kFixupBytes = 8;                     // every fixup is a __u64 user pointer
// Linux _IOC layout (include/uapi/asm-generic/ioctl.h): size in bits 16..29.
constexpr uint32_t kIocSizeShift = 16;
constexpr uint32_t kIocSizeMask = 0x3fff;

std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#else
  switch (err) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTTY: return "ENOTTY";
    case EIO: return "EIO";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    default: break;
  }
#endif
  return "ERRNO_" + std::to_string(err);
}

// An Error whose `errno` is the Linux name ('ENOENT') and `errnoNumber` the value, as ioctl.ts reads them.
Napi::Value ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  const std::string name = ErrnoName(err);
  std::string message = std::string(syscall);
  if (!path.empty()) message += " " + path;
  message += ": " + name;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::String::New(env, name));
  error.Set("code", Napi::String::New(env, name));
  error.Set("errnoNumber", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error.Value();
}

// A getter or Proxy trap in the arguments may already have thrown: that exception stands.
bool Pending(Napi::Env env) { return env.IsExceptionPending(); }

void ThrowType(Napi::Env env, const std::string& message) {
  if (!Pending(env)) Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

void ThrowRange(Napi::Env env, const std::string& message) {
  if (!Pending(env)) Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
}

// An integer in [0, max], or a pending TypeError/RangeError and false.
bool ToIndex(Napi::Env env, Napi::Value value, double max, const std::string& what, size_t* out) {
  if (Pending(env)) return false;
  if (!value.IsNumber()) {
    ThrowType(env, what + " must be a number");
    return false;
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > max || std::floor(d) != d) {
    ThrowRange(env, what + " must be an integer in 0.." + std::to_string(static_cast<uint64_t>(max)));
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

// Native memory that is zeroed before it is freed: it may hold report data or evidence.
class ScrubbedBytes {
 public:
  explicit ScrubbedBytes(size_t length) : bytes_(length) {}
  ScrubbedBytes(ScrubbedBytes&&) noexcept = default;
  ScrubbedBytes& operator=(ScrubbedBytes&&) noexcept = default;
  ScrubbedBytes(const ScrubbedBytes&) = delete;
  ScrubbedBytes& operator=(const ScrubbedBytes&) = delete;
  ~ScrubbedBytes() {
    if (!bytes_.empty()) explicit_bzero(bytes_.data(), bytes_.size());
  }
  uint8_t* data() { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

struct Fixup {
  size_t buffer;  // buffer whose bytes [offset, offset + 8) receive the address
  size_t offset;
  size_t target;  // buffer whose address is written
  uint8_t original[kFixupBytes];
};

class IoctlWorker : public Napi::AsyncWorker {
 public:
  IoctlWorker(Napi::Env env, std::string path, unsigned long request, std::vector<Napi::Reference<Napi::Uint8Array>> sources,
              std::vector<ScrubbedBytes> copies, std::vector<Fixup> fixups)
      : Napi::AsyncWorker(env, "cloister:ioctl"),
        deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)),
        request_(request),
        sources_(std::move(sources)),
        copies_(std::move(copies)),
        fixups_(std::move(fixups)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // Worker thread: native memory and system calls only.
  void Execute() override {
    for (const Fixup& f : fixups_) {
      ScrubbedBytes& target = copies_[f.target];
      const uint64_t address = target.size() == 0 ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(target.data()));
      memcpy(copies_[f.buffer].data() + f.offset, &address, kFixupBytes);
    }
    const int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      errno_ = errno;
      syscall_ = "open";
      return;
    }
    const int rc = ioctl(fd, request_, copies_[0].data());
    if (rc < 0) {
      errno_ = errno;
      syscall_ = "ioctl";
    } else {
      rc_ = rc;
    }
    close(fd);
  }

  // Main thread, after Execute, whatever it found: copy back, then settle.
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    for (const Fixup& f : fixups_) memcpy(copies_[f.buffer].data() + f.offset, f.original, kFixupBytes);
    for (size_t i = 0; i < copies_.size(); i++) {
      Napi::Uint8Array source = sources_[i].Value();
      // A buffer detached or resized while the call ran gets nothing back.
      if (source.ByteLength() == copies_[i].size() && copies_[i].size() > 0) memcpy(source.Data(), copies_[i].data(), copies_[i].size());
    }
    if (errno_ != 0) {
      deferred_.Reject(ErrnoError(env, errno_, syscall_, path_));
    } else {
      Napi::Object result = Napi::Object::New(env);
      result.Set("rc", Napi::Number::New(env, rc_));
      deferred_.Resolve(result);
    }
  }

  // Execute never calls SetError; kept for completeness.
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  unsigned long request_;
  // References keep the caller's arrays alive until the Promise settles.
  std::vector<Napi::Reference<Napi::Uint8Array>> sources_;
  std::vector<ScrubbedBytes> copies_;
  std::vector<Fixup> fixups_;
  int errno_ = 0;
  const char* syscall_ = "";
  int rc_ = 0;
};

// ioctl(path: string, request: number, buffers: Uint8Array[], fixups: {buffer, offset, target}[]): Promise<{ rc }>
Napi::Value Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 4) {
    ThrowType(env, "ioctl(path, request, buffers, fixups) takes 4 arguments");
    return env.Undefined();
  }
  if (!info[0].IsString()) {
    ThrowType(env, "path must be a string");
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    ThrowType(env, "path must be a non-empty string without NUL characters");
    return env.Undefined();
  }
  size_t request = 0;
  if (!ToIndex(env, info[1], 4294967295.0, "request", &request)) return env.Undefined();

  if (!info[2].IsArray()) {
    ThrowType(env, "buffers must be an array of Uint8Array");
    return env.Undefined();
  }
  Napi::Array buffers = info[2].As<Napi::Array>();
  const uint32_t count = buffers.Length();
  if (Pending(env)) return env.Undefined();
  if (count == 0 || count > kMaxBuffers) {
    ThrowRange(env, "buffers must hold 1.." + std::to_string(kMaxBuffers) + " arrays");
    return env.Undefined();
  }
  std::vector<Napi::Reference<Napi::Uint8Array>> sources;
  std::vector<ScrubbedBytes> copies;
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value value = buffers.Get(i);
    if (Pending(env)) return env.Undefined();
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowType(env, "buffers[" + std::to_string(i) + "] must be a Uint8Array");
      return env.Undefined();
    }
    Napi::Uint8Array array = value.As<Napi::Uint8Array>();
    const size_t length = array.ByteLength();
    if (length > kMaxBufferBytes) {
      ThrowRange(env, "buffers[" + std::to_string(i) + "] is larger than " + std::to_string(kMaxBufferBytes) + " bytes");
      return env.Undefined();
    }
    ScrubbedBytes copy(length);
    if (length > 0) memcpy(copy.data(), array.Data(), length);
    copies.push_back(std::move(copy));
    sources.push_back(Napi::Persistent(array));
  }
  // The kernel copies _IOC_SIZE(request) bytes in and out of the argument: buffers[0] must hold them.
  const size_t ioc_size = (request >> kIocSizeShift) & kIocSizeMask;
  if (copies[0].size() < ioc_size) {
    ThrowRange(env, "buffers[0] has " + std::to_string(copies[0].size()) + " bytes, the ioctl number says " + std::to_string(ioc_size));
    return env.Undefined();
  }

  if (!info[3].IsArray()) {
    ThrowType(env, "fixups must be an array of { buffer, offset, target }");
    return env.Undefined();
  }
  Napi::Array fixup_array = info[3].As<Napi::Array>();
  const uint32_t fixup_count = fixup_array.Length();
  if (Pending(env)) return env.Undefined();
  if (fixup_count > kMaxFixups) {
    ThrowRange(env, "at most " + std::to_string(kMaxFixups) + " fixups");
    return env.Undefined();
  }
  std::vector<Fixup> fixups;
  for (uint32_t i = 0; i < fixup_count; i++) {
    Napi::Value value = fixup_array.Get(i);
    if (Pending(env)) return env.Undefined();
    const std::string name = "fixups[" + std::to_string(i) + "]";
    if (!value.IsObject()) {
      ThrowType(env, name + " must be an object");
      return env.Undefined();
    }
    Napi::Object object = value.As<Napi::Object>();
    Fixup f{};
    if (!ToIndex(env, object.Get("buffer"), count - 1, name + ".buffer", &f.buffer)) return env.Undefined();
    if (!ToIndex(env, object.Get("target"), count - 1, name + ".target", &f.target)) return env.Undefined();
    if (!ToIndex(env, object.Get("offset"), static_cast<double>(kMaxBufferBytes), name + ".offset", &f.offset)) return env.Undefined();
    if (f.offset + kFixupBytes > copies[f.buffer].size()) {
      ThrowRange(env, name + " writes bytes " + std::to_string(f.offset) + ".." + std::to_string(f.offset + kFixupBytes) + " of a " +
                          std::to_string(copies[f.buffer].size()) + "-byte buffer");
      return env.Undefined();
    }
    for (const Fixup& other : fixups) {
      if (other.buffer == f.buffer && f.offset < other.offset + kFixupBytes && other.offset < f.offset + kFixupBytes) {
        ThrowRange(env, name + " overlaps an earlier fixup");
        return env.Undefined();
      }
    }
    memcpy(f.original, copies[f.buffer].data() + f.offset, kFixupBytes);
    fixups.push_back(f);
  }

  auto* worker = new IoctlWorker(env, std::move(path), static_cast<unsigned long>(request), std::move(sources), std::move(copies), std::move(fixups));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return promise;
}

// The bytes a TypedArray or DataView covers (its byteOffset and byteLength, not the whole ArrayBuffer).
bool ViewBytes(const Napi::CallbackInfo& info, const char* fn, uint8_t** data, size_t* length) {
  Napi::Env env = info.Env();
  if (info.Length() != 1) {
    ThrowType(env, std::string(fn) + "(view) takes 1 argument");
    return false;
  }
  napi_value value = info[0];
  bool is_typed_array = false;
  bool is_data_view = false;
  napi_value array_buffer;
  size_t byte_offset = 0;
  void* raw = nullptr;
  if (napi_is_typedarray(env, value, &is_typed_array) == napi_ok && is_typed_array) {
    napi_typedarray_type type;
    size_t element_count = 0;
    // `raw` already points at the first element (byte_offset applied).
    if (napi_get_typedarray_info(env, value, &type, &element_count, &raw, &array_buffer, &byte_offset) != napi_ok) {
      ThrowType(env, std::string(fn) + ": cannot read the typed array");
      return false;
    }
    *length = element_count * info[0].As<Napi::TypedArray>().ElementSize();
  } else if (napi_is_dataview(env, value, &is_data_view) == napi_ok && is_data_view) {
    if (napi_get_dataview_info(env, value, length, &raw, &array_buffer, &byte_offset) != napi_ok) {
      ThrowType(env, std::string(fn) + ": cannot read the DataView");
      return false;
    }
  } else {
    ThrowType(env, std::string(fn) + "(view) takes a TypedArray or DataView");
    return false;
  }
  *data = static_cast<uint8_t*>(raw);
  return true;
}

Napi::Value Wipe(const Napi::CallbackInfo& info) {
  uint8_t* data = nullptr;
  size_t length = 0;
  if (!ViewBytes(info, "wipe", &data, &length)) return info.Env().Undefined();
  if (length > 0 && data != nullptr) explicit_bzero(data, length);
  return info.Env().Undefined();
}

Napi::Value LockOrUnlock(const Napi::CallbackInfo& info, bool lock) {
  Napi::Env env = info.Env();
  const char* fn = lock ? "mlock" : "munlock";
  uint8_t* data = nullptr;
  size_t length = 0;
  if (!ViewBytes(info, lock ? "lock" : "unlock", &data, &length)) return env.Undefined();
  if (length == 0 || data == nullptr) return env.Undefined();
  // The kernel rounds to whole pages itself.
  const int rc = lock ? mlock(data, length) : munlock(data, length);
  if (rc != 0) {
    const int err = errno;
    napi_throw(env, ErrnoError(env, err, fn, ""));
  }
  return env.Undefined();
}

Napi::Value Lock(const Napi::CallbackInfo& info) { return LockOrUnlock(info, true); }
Napi::Value Unlock(const Napi::CallbackInfo& info) { return LockOrUnlock(info, false); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctl", Napi::Function::New(env, Ioctl, "ioctl"));
  exports.Set("wipe", Napi::Function::New(env, Wipe, "wipe"));
  exports.Set("lock", Napi::Function::New(env, Lock, "lock"));
  exports.Set("unlock", Napi::Function::New(env, Unlock, "unlock"));
  return exports;
}

}  // namespace

NODE_API_MODULE(cloister_native, Init)

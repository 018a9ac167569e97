//===- CudaDriver.cpp - CUDA driver API loaded with dlopen ----------------===//

#include "infer/runtime/CudaDriver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace infer::runtime {

//===----------------------------------------------------------------------===//
// CudaDriver
//===----------------------------------------------------------------------===//

namespace {
struct LoadedDriver {
  CudaDriver *driver = nullptr;
  Status status;
};
} // namespace

Status CudaDriver::loadInto(CudaDriver &d) {
  // INFER_CUDA_LIBRARY lets tests and unusual installs point elsewhere.
  const char *override = std::getenv("INFER_CUDA_LIBRARY");
  const char *libName = override && *override ? override : "libcuda.so.1";
  d.handle = dlopen(libName, RTLD_NOW | RTLD_LOCAL);
  if (!d.handle) {
    const char *err = dlerror();
    return unavailableError(std::string(libName) +
                            " not found: no NVIDIA driver on this machine (" +
                            (err ? err : "dlopen failed") + ")");
  }

  auto resolve = [&](const char *symbol, const char *fallback) -> void * {
    void *p = dlsym(d.handle, symbol);
    if (!p && fallback)
      p = dlsym(d.handle, fallback);
    return p;
  };
  std::string missing;
#define INFER_CUDA_RESOLVE(member, symbol, fallback, ...)                      \
  {                                                                            \
    void *p = resolve(symbol, fallback);                                       \
    if (!p)                                                                    \
      missing += std::string(missing.empty() ? "" : ", ") + symbol;            \
    std::memcpy(&d.member, &p, sizeof(p));                                     \
  }
  INFER_CUDA_DRIVER_SYMBOLS(INFER_CUDA_RESOLVE)
#undef INFER_CUDA_RESOLVE
  if (!missing.empty())
    return unavailableError(std::string(libName) +
                            " is too old for this runtime: missing " + missing);

  cu::Result r = d.cuInit(0);
  if (r == cu::ERROR_STUB_LIBRARY)
    return unavailableError(
        std::string(libName) +
        " is the CUDA toolkit's stub library (CUDA_ERROR_STUB_LIBRARY): no "
        "NVIDIA driver on this machine");
  if (r == cu::ERROR_NO_DEVICE)
    return unavailableError("cuInit: no CUDA-capable device (CUDA_ERROR_NO_"
                            "DEVICE); is the GPU visible to this process?");
  if (r != cu::SUCCESS)
    return unavailableError("cuInit(0) failed: " + d.errorString(r));
  if (d.cuDriverGetVersion(&d.version) != cu::SUCCESS)
    d.version = 0;
  r = d.cuDeviceGetCount(&d.numDevices);
  if (r != cu::SUCCESS)
    return unavailableError("cuDeviceGetCount failed: " + d.errorString(r));
  return okStatus();
}

StatusOr<const CudaDriver *> CudaDriver::load() {
  static LoadedDriver loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    auto *d = new CudaDriver();
    Status st = loadInto(*d);
    if (!st.ok()) {
      if (d->handle)
        dlclose(d->handle);
      delete d;
      loaded.status = st;
      return;
    }
    loaded.driver = d;
  });
  if (!loaded.driver)
    return loaded.status;
  return static_cast<const CudaDriver *>(loaded.driver);
}

Status CudaDriver::available() {
  StatusOr<const CudaDriver *> d = load();
  if (!d.ok())
    return d.status();
  if ((*d)->deviceCount() < 1)
    return unavailableError("the CUDA driver reports no device");
  return okStatus();
}

std::string CudaDriver::errorString(cu::Result result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != cu::SUCCESS)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != cu::SUCCESS)
    text = nullptr;
  std::string s = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    s += std::string(" (") + text + ")";
  return s;
}

Status CudaDriver::check(cu::Result result, const char *what) const {
  if (result == cu::SUCCESS)
    return okStatus();
  std::string msg = std::string(what) + " failed: " + errorString(result);
  if (result == cu::ERROR_OUT_OF_MEMORY)
    return outOfMemoryError(std::move(msg));
  if (result == cu::ERROR_INVALID_VALUE)
    return invalidArgumentError(std::move(msg));
  return internalError(std::move(msg));
}

//===----------------------------------------------------------------------===//
// CudaContext
//===----------------------------------------------------------------------===//

StatusOr<CudaContext> CudaContext::create(int ordinal) {
  INFER_ASSIGN_OR_RETURN(const CudaDriver *d, CudaDriver::load());
  if (ordinal < 0 || ordinal >= d->deviceCount())
    return invalidArgumentError(
        "CUDA device " + std::to_string(ordinal) + " does not exist (" +
        std::to_string(d->deviceCount()) + " device(s))");
  CudaContext c;
  c.drv = d;
  INFER_CUDA_RETURN_IF_ERROR(*d, cuDeviceGet(&c.device, ordinal));
  INFER_CUDA_RETURN_IF_ERROR(*d, cuDevicePrimaryCtxRetain(&c.ctx, c.device));
  INFER_RETURN_IF_ERROR(c.makeCurrent());

  CudaDeviceInfo &info = c.devInfo;
  info.ordinal = ordinal;
  char name[256] = {0};
  INFER_CUDA_RETURN_IF_ERROR(*d,
                             cuDeviceGetName(name, sizeof(name) - 1, c.device));
  info.name = name;
  auto attr = [&](int attribute, int &out) {
    return d->check(d->cuDeviceGetAttribute(&out, attribute, c.device),
                    "cuDeviceGetAttribute");
  };
  INFER_RETURN_IF_ERROR(attr(cu::ATTR_COMPUTE_CAPABILITY_MAJOR, info.ccMajor));
  INFER_RETURN_IF_ERROR(attr(cu::ATTR_COMPUTE_CAPABILITY_MINOR, info.ccMinor));
  INFER_RETURN_IF_ERROR(attr(cu::ATTR_MULTIPROCESSOR_COUNT, info.numSMs));
  INFER_RETURN_IF_ERROR(attr(cu::ATTR_L2_CACHE_SIZE, info.l2Bytes));
  INFER_RETURN_IF_ERROR(attr(cu::ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                             info.maxSharedPerBlockOptin));
  INFER_CUDA_RETURN_IF_ERROR(*d, cuDeviceTotalMem(&info.totalMemory, c.device));
  return c;
}

CudaContext &CudaContext::operator=(CudaContext &&o) noexcept {
  if (this != &o) {
    if (drv && ctx)
      (void)drv->cuDevicePrimaryCtxRelease(device);
    drv = std::exchange(o.drv, nullptr);
    device = o.device;
    ctx = std::exchange(o.ctx, nullptr);
    devInfo = std::move(o.devInfo);
  }
  return *this;
}

CudaContext::~CudaContext() {
  if (drv && ctx)
    (void)drv->cuDevicePrimaryCtxRelease(device);
  ctx = nullptr;
}

Status CudaContext::makeCurrent() const {
  if (!drv || !ctx)
    return internalError("CUDA context used before creation");
  return drv->check(drv->cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
}

Status CudaContext::memoryInfo(size_t &freeBytes, size_t &totalBytes) const {
  INFER_RETURN_IF_ERROR(makeCurrent());
  return drv->check(drv->cuMemGetInfo(&freeBytes, &totalBytes), "cuMemGetInfo");
}

Status CudaContext::synchronize() const {
  INFER_RETURN_IF_ERROR(makeCurrent());
  return drv->check(drv->cuCtxSynchronize(), "cuCtxSynchronize");
}

//===----------------------------------------------------------------------===//
// RAII owners
//===----------------------------------------------------------------------===//

StatusOr<DeviceBuffer> DeviceBuffer::allocate(const CudaDriver &d, size_t bytes,
                                              const char *what) {
  DeviceBuffer b;
  b.drv = &d;
  b.bytes = bytes;
  if (bytes == 0)
    return b;
  cu::Result r = d.cuMemAlloc(&b.devPtr, bytes);
  if (r != cu::SUCCESS) {
    b.devPtr = 0;
    return d.check(
        r, ("cuMemAlloc(" + std::to_string(bytes) + " bytes for " + what + ")")
               .c_str());
  }
  return b;
}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    devPtr = std::exchange(o.devPtr, 0);
    bytes = std::exchange(o.bytes, 0);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (drv && devPtr)
    (void)drv->cuMemFree(devPtr);
  devPtr = 0;
  bytes = 0;
}

StatusOr<PinnedBuffer> PinnedBuffer::allocate(const CudaDriver &d,
                                              size_t bytes) {
  PinnedBuffer b;
  b.drv = &d;
  b.bytes = bytes;
  if (bytes == 0)
    return b;
  cu::Result r = d.cuMemHostAlloc(&b.hostPtr, bytes, cu::MEMHOSTALLOC_PORTABLE);
  if (r != cu::SUCCESS) {
    b.hostPtr = nullptr;
    return d.check(
        r, ("cuMemHostAlloc(" + std::to_string(bytes) + " bytes)").c_str());
  }
  return b;
}

PinnedBuffer &PinnedBuffer::operator=(PinnedBuffer &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    hostPtr = std::exchange(o.hostPtr, nullptr);
    bytes = std::exchange(o.bytes, 0);
  }
  return *this;
}

void PinnedBuffer::reset() {
  if (drv && hostPtr)
    (void)drv->cuMemFreeHost(hostPtr);
  hostPtr = nullptr;
  bytes = 0;
}

StatusOr<CudaStream> CudaStream::create(const CudaDriver &d) {
  CudaStream s;
  s.drv = &d;
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuStreamCreate(&s.stream, cu::STREAM_NON_BLOCKING));
  return s;
}

CudaStream &CudaStream::operator=(CudaStream &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    stream = std::exchange(o.stream, nullptr);
  }
  return *this;
}

void CudaStream::reset() {
  if (drv && stream)
    (void)drv->cuStreamDestroy(stream);
  stream = nullptr;
}

Status CudaStream::synchronize() const {
  return drv->check(drv->cuStreamSynchronize(stream), "cuStreamSynchronize");
}

StatusOr<CudaEvent> CudaEvent::create(const CudaDriver &d, bool timing) {
  CudaEvent e;
  e.drv = &d;
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuEventCreate(&e.event,
                       timing ? cu::EVENT_DEFAULT : cu::EVENT_DISABLE_TIMING));
  return e;
}

CudaEvent &CudaEvent::operator=(CudaEvent &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    event = std::exchange(o.event, nullptr);
  }
  return *this;
}

void CudaEvent::reset() {
  if (drv && event)
    (void)drv->cuEventDestroy(event);
  event = nullptr;
}

Status CudaEvent::record(cu::Stream stream) const {
  return drv->check(drv->cuEventRecord(event, stream), "cuEventRecord");
}

Status CudaEvent::synchronize() const {
  return drv->check(drv->cuEventSynchronize(event), "cuEventSynchronize");
}

StatusOr<float> CudaEvent::elapsedMs(const CudaEvent &start,
                                     const CudaEvent &end) {
  float ms = 0.0f;
  INFER_RETURN_IF_ERROR(start.drv->check(
      start.drv->cuEventElapsedTime(&ms, start.event, end.event),
      "cuEventElapsedTime"));
  return ms;
}

StatusOr<CudaModule> CudaModule::load(const CudaDriver &d, const void *image,
                                      bool isPtx, const std::string &what) {
  CudaModule m;
  m.drv = &d;
  // The JIT (PTX) and the loader (cubin) both write diagnostics here.
  constexpr size_t logSize = 16384;
  std::vector<char> errorLog(logSize, 0), infoLog(logSize, 0);
  int options[] = {cu::JIT_ERROR_LOG_BUFFER,
                   cu::JIT_ERROR_LOG_BUFFER_SIZE_BYTES, cu::JIT_INFO_LOG_BUFFER,
                   cu::JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {errorLog.data(), reinterpret_cast<void *>(logSize - 1),
                    infoLog.data(), reinterpret_cast<void *>(logSize - 1)};
  cu::Result r = d.cuModuleLoadDataEx(&m.module, image, 4, options, values);
  if (r != cu::SUCCESS) {
    m.module = nullptr;
    std::string msg = "cuModuleLoadDataEx(" + what +
                      (isPtx ? ", PTX" : ", cubin") +
                      ") failed: " + d.errorString(r);
    if (errorLog[0])
      msg += "; JIT log: " + std::string(errorLog.data());
    if (r == cu::ERROR_OUT_OF_MEMORY)
      return outOfMemoryError(std::move(msg));
    return internalError(std::move(msg));
  }
  return m;
}

CudaModule &CudaModule::operator=(CudaModule &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    module = std::exchange(o.module, nullptr);
  }
  return *this;
}

void CudaModule::reset() {
  if (drv && module)
    (void)drv->cuModuleUnload(module);
  module = nullptr;
}

StatusOr<cu::Function> CudaModule::function(const std::string &name) const {
  cu::Function f = nullptr;
  cu::Result r = drv->cuModuleGetFunction(&f, module, name.c_str());
  if (r != cu::SUCCESS)
    return notFoundError("cuModuleGetFunction(\"" + name +
                         "\") failed: " + drv->errorString(r));
  return f;
}

Status CudaGraph::beginCapture(const CudaDriver &d, cu::Stream stream) {
  return d.check(d.cuStreamBeginCapture(stream, cu::CAPTURE_MODE_THREAD_LOCAL),
                 "cuStreamBeginCapture");
}

StatusOr<CudaGraph> CudaGraph::endCapture(const CudaDriver &d,
                                          cu::Stream stream) {
  CudaGraph g;
  g.drv = &d;
  cu::Result r = d.cuStreamEndCapture(stream, &g.graph);
  if (r != cu::SUCCESS) {
    g.graph = nullptr;
    return d.check(r, "cuStreamEndCapture");
  }
  r = d.cuGraphInstantiateWithFlags(&g.exec, g.graph, 0);
  if (r != cu::SUCCESS) {
    g.exec = nullptr;
    return d.check(r, "cuGraphInstantiateWithFlags");
  }
  return g;
}

CudaGraph &CudaGraph::operator=(CudaGraph &&o) noexcept {
  if (this != &o) {
    reset();
    drv = std::exchange(o.drv, nullptr);
    graph = std::exchange(o.graph, nullptr);
    exec = std::exchange(o.exec, nullptr);
  }
  return *this;
}

void CudaGraph::reset() {
  if (drv && exec)
    (void)drv->cuGraphExecDestroy(exec);
  if (drv && graph)
    (void)drv->cuGraphDestroy(graph);
  exec = nullptr;
  graph = nullptr;
}

Status CudaGraph::launch(cu::Stream stream) const {
  return drv->check(drv->cuGraphLaunch(exec, stream), "cuGraphLaunch");
}

} // namespace infer::runtime

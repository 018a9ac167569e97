//===- CudaDriver.h - CUDA driver API loaded with dlopen --------*- C++ -*-===//
//
// The runtime never links libcuda (or cudart) at build time: a binary linked
// to the toolkit's stub fails to start on a machine without a driver. Instead
// libcuda.so.1 is opened with dlopen and the entry points the runtime uses
// are resolved into a symbol table (IREE's pattern). The few driver types and
// enum values needed are declared here (ABI-identical to cuda.h, CUDA 12/13),
// so the runtime builds without a CUDA toolkit.
//
// Every call's result goes through CudaDriver::check(), which turns a failure
// into a Status naming the call and the driver's error name and text.
//
// On top of the table: small RAII owners (context, device buffer, pinned host
// buffer, stream, event, module, graph exec) used by the CUDA backend.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_CUDADRIVER_H
#define INFER_RUNTIME_CUDADRIVER_H

#include "infer/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace infer::runtime {

//===----------------------------------------------------------------------===//
// Driver API types (the subset used; values match cuda.h)
//===----------------------------------------------------------------------===//

namespace cu {
using Result = int;
using Device = int;
using DevicePtr = unsigned long long;
struct CtxSt;
struct ModSt;
struct FuncSt;
struct StreamSt;
struct EventSt;
struct GraphSt;
struct GraphExecSt;
using Context = CtxSt *;
using Module = ModSt *;
using Function = FuncSt *;
using Stream = StreamSt *;
using Event = EventSt *;
using Graph = GraphSt *;
using GraphExec = GraphExecSt *;

enum : Result {
  SUCCESS = 0,
  ERROR_INVALID_VALUE = 1,
  ERROR_OUT_OF_MEMORY = 2,
  ERROR_NOT_INITIALIZED = 3,
  ERROR_STUB_LIBRARY = 34,
  ERROR_NO_DEVICE = 100,
  ERROR_NO_BINARY_FOR_GPU = 209,
  ERROR_NOT_READY = 600,
};

enum DeviceAttribute : int {
  ATTR_MAX_THREADS_PER_BLOCK = 1,
  ATTR_MULTIPROCESSOR_COUNT = 16,
  ATTR_L2_CACHE_SIZE = 38,
  ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
  ATTR_COMPUTE_CAPABILITY_MINOR = 76,
  ATTR_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
  ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

enum FunctionAttribute : int {
  FUNC_ATTR_MAX_THREADS_PER_BLOCK = 0,
  FUNC_ATTR_SHARED_SIZE_BYTES = 1,
  FUNC_ATTR_NUM_REGS = 4,
  FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum JitOption : int {
  JIT_INFO_LOG_BUFFER = 3,
  JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  JIT_ERROR_LOG_BUFFER = 5,
  JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  JIT_OPTIMIZATION_LEVEL = 7,
};

enum : unsigned {
  STREAM_NON_BLOCKING = 1,
  EVENT_DEFAULT = 0,
  EVENT_DISABLE_TIMING = 2,
  MEMHOSTALLOC_PORTABLE = 1,
};

enum StreamCaptureMode : int {
  CAPTURE_MODE_GLOBAL = 0,
  CAPTURE_MODE_THREAD_LOCAL = 1,
  CAPTURE_MODE_RELAXED = 2,
};
/// CUlaunchAttribute (id, padding, a 64-byte value union) and CUlaunchConfig
/// for cuLaunchKernelEx.
struct LaunchAttribute {
  int id = 0;
  char pad[4] = {};
  union {
    char raw[64];
    int programmaticStreamSerializationAllowed;
  } value = {};
};
struct LaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  Stream stream;
  LaunchAttribute *attrs;
  unsigned numAttrs;
};
constexpr int LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

/// CUtensorMap: an opaque TMA descriptor (128 bytes, 64-byte aligned).
struct alignas(64) TensorMap {
  uint64_t words[16];
};
/// CUtensorMapDataType / Swizzle / L2promotion values used by infer.
enum TensorMapEnum : int {
  TENSOR_MAP_DATA_TYPE_FLOAT16 = 6,
  TENSOR_MAP_DATA_TYPE_BFLOAT16 = 9,
  TENSOR_MAP_INTERLEAVE_NONE = 0,
  TENSOR_MAP_SWIZZLE_128B = 3,
  TENSOR_MAP_L2_PROMOTION_L2_256B = 3,
  TENSOR_MAP_FLOAT_OOB_FILL_NONE = 0,
};
} // namespace cu

//===----------------------------------------------------------------------===//
// Symbol table
//===----------------------------------------------------------------------===//

// X(member, symbol, fallback symbol or nullptr, return, parameters...)
// `member` is the name used in C++; `symbol` the exported (versioned) name.
#define INFER_CUDA_DRIVER_SYMBOLS(X)                                           \
  X(cuInit, "cuInit", nullptr, unsigned flags)                                 \
  X(cuDriverGetVersion, "cuDriverGetVersion", nullptr, int *version)           \
  X(cuGetErrorName, "cuGetErrorName", nullptr, cu::Result error,               \
    const char **str)                                                          \
  X(cuGetErrorString, "cuGetErrorString", nullptr, cu::Result error,           \
    const char **str)                                                          \
  X(cuDeviceGetCount, "cuDeviceGetCount", nullptr, int *count)                 \
  X(cuDeviceGet, "cuDeviceGet", nullptr, cu::Device *device, int ordinal)      \
  X(cuDeviceGetName, "cuDeviceGetName", nullptr, char *name, int len,          \
    cu::Device dev)                                                            \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr, int *value,         \
    int attrib, cu::Device dev)                                                \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", nullptr, size_t *bytes,           \
    cu::Device dev)                                                            \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr,             \
    cu::Context *ctx, cu::Device dev)                                          \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2",                 \
    "cuDevicePrimaryCtxRelease", cu::Device dev)                               \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", nullptr, cu::Context ctx)              \
  X(cuCtxGetCurrent, "cuCtxGetCurrent", nullptr, cu::Context *ctx)             \
  X(cuCtxSynchronize, "cuCtxSynchronize", nullptr, void)                       \
  X(cuModuleLoadData, "cuModuleLoadData", nullptr, cu::Module *module,         \
    const void *image)                                                         \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx", nullptr, cu::Module *module,     \
    const void *image, unsigned numOptions, int *options, void **optionValues) \
  X(cuModuleUnload, "cuModuleUnload", nullptr, cu::Module module)              \
  X(cuModuleGetFunction, "cuModuleGetFunction", nullptr, cu::Function *func,   \
    cu::Module module, const char *name)                                       \
  X(cuFuncSetAttribute, "cuFuncSetAttribute", nullptr, cu::Function func,      \
    int attrib, int value)                                                     \
  X(cuFuncGetAttribute, "cuFuncGetAttribute", nullptr, int *value, int attrib, \
    cu::Function func)                                                         \
  X(cuLaunchKernel, "cuLaunchKernel", nullptr, cu::Function f, unsigned gridX, \
    unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY,          \
    unsigned blockZ, unsigned sharedMemBytes, cu::Stream stream,               \
    void **kernelParams, void **extra)                                         \
  X(cuMemGetInfo, "cuMemGetInfo_v2", nullptr, size_t *freeBytes,               \
    size_t *totalBytes)                                                        \
  X(cuMemAlloc, "cuMemAlloc_v2", nullptr, cu::DevicePtr *ptr, size_t bytes)    \
  X(cuMemFree, "cuMemFree_v2", nullptr, cu::DevicePtr ptr)                     \
  X(cuMemHostAlloc, "cuMemHostAlloc", nullptr, void **ptr, size_t bytes,       \
    unsigned flags)                                                            \
  X(cuMemFreeHost, "cuMemFreeHost", nullptr, void *ptr)                        \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", nullptr, cu::DevicePtr dst,               \
    const void *src, size_t bytes)                                             \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", nullptr, void *dst, cu::DevicePtr src,    \
    size_t bytes)                                                              \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", nullptr, cu::DevicePtr dst,     \
    const void *src, size_t bytes, cu::Stream stream)                          \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", nullptr, void *dst,             \
    cu::DevicePtr src, size_t bytes, cu::Stream stream)                        \
  X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", nullptr, cu::DevicePtr dst,     \
    cu::DevicePtr src, size_t bytes, cu::Stream stream)                        \
  X(cuMemsetD8, "cuMemsetD8_v2", nullptr, cu::DevicePtr dst,                   \
    unsigned char value, size_t count)                                         \
  X(cuMemsetD8Async, "cuMemsetD8Async", nullptr, cu::DevicePtr dst,            \
    unsigned char value, size_t count, cu::Stream stream)                      \
  X(cuStreamCreate, "cuStreamCreate", nullptr, cu::Stream *stream,             \
    unsigned flags)                                                            \
  X(cuStreamDestroy, "cuStreamDestroy_v2", nullptr, cu::Stream stream)         \
  X(cuStreamSynchronize, "cuStreamSynchronize", nullptr, cu::Stream stream)    \
  X(cuStreamBeginCapture, "cuStreamBeginCapture_v2", nullptr,                  \
    cu::Stream stream, int mode)                                               \
  X(cuStreamEndCapture, "cuStreamEndCapture", nullptr, cu::Stream stream,      \
    cu::Graph *graph)                                                          \
  X(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags", nullptr,       \
    cu::GraphExec *exec, cu::Graph graph, unsigned long long flags)            \
  X(cuGraphLaunch, "cuGraphLaunch", nullptr, cu::GraphExec exec,               \
    cu::Stream stream)                                                         \
  X(cuGraphExecDestroy, "cuGraphExecDestroy", nullptr, cu::GraphExec exec)     \
  X(cuGraphDestroy, "cuGraphDestroy", nullptr, cu::Graph graph)                \
  X(cuEventCreate, "cuEventCreate", nullptr, cu::Event *event, unsigned flags) \
  X(cuEventDestroy, "cuEventDestroy_v2", nullptr, cu::Event event)             \
  X(cuEventRecord, "cuEventRecord", nullptr, cu::Event event,                  \
    cu::Stream stream)                                                         \
  X(cuEventSynchronize, "cuEventSynchronize", nullptr, cu::Event event)        \
  X(cuEventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime",         \
    float *ms, cu::Event start, cu::Event end)                                 \
  X(cuLaunchKernelEx, "cuLaunchKernelEx", nullptr,                             \
    const cu::LaunchConfig *config, cu::Function f, void **kernelParams,       \
    void **extra)                                                              \
  X(cuTensorMapEncodeTiled, "cuTensorMapEncodeTiled", nullptr,                 \
    cu::TensorMap *map, int dataType, unsigned rank, void *globalAddress,      \
    const uint64_t *globalDim, const uint64_t *globalStrides,                  \
    const unsigned *boxDim, const unsigned *elementStrides, int interleave,    \
    int swizzle, int l2Promotion, int oobFill)

/// The loaded driver: one per process, never unloaded.
class CudaDriver {
public:
  /// Opens libcuda.so.1 (once per process), resolves every symbol and calls
  /// cuInit(0). The error says why the driver is unusable, e.g.
  /// "libcuda.so.1 not found: no NVIDIA driver on this machine".
  static StatusOr<const CudaDriver *> load();

  /// Ok when the driver loads and reports at least one device; otherwise
  /// the reason (Unavailable). Cheap after the first call.
  static Status available();

  /// Ok for CUDA_SUCCESS; otherwise an error
  /// "`what` failed: CUDA_ERROR_X (driver text)". Out-of-memory errors get
  /// StatusCode::OutOfMemory.
  Status check(cu::Result result, const char *what) const;
  /// "CUDA_ERROR_X (text)" for a driver result code.
  std::string errorString(cu::Result result) const;

  int driverVersion() const { return version; }
  int deviceCount() const { return numDevices; }

#define INFER_CUDA_DECLARE_MEMBER(member, symbol, fallback, ...)               \
  cu::Result (*member)(__VA_ARGS__) = nullptr;
  INFER_CUDA_DRIVER_SYMBOLS(INFER_CUDA_DECLARE_MEMBER)
#undef INFER_CUDA_DECLARE_MEMBER

private:
  CudaDriver() = default;
  static Status loadInto(CudaDriver &driver);

  void *handle = nullptr;
  int version = 0;
  int numDevices = 0;
};

/// Returns from the enclosing function if a driver call fails:
/// `INFER_CUDA_RETURN_IF_ERROR(drv, cuMemAlloc(&ptr, n));`
#define INFER_CUDA_RETURN_IF_ERROR(driver, call)                               \
  INFER_RETURN_IF_ERROR((driver).check((driver).call, #call))

//===----------------------------------------------------------------------===//
// Device and context
//===----------------------------------------------------------------------===//

struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;
  int ccMajor = 0;
  int ccMinor = 0;
  int numSMs = 0;
  int l2Bytes = 0;
  int maxSharedPerBlockOptin = 0;
  size_t totalMemory = 0;
  /// "sm_90" style architecture name.
  std::string arch() const {
    return "sm_" + std::to_string(ccMajor) + std::to_string(ccMinor);
  }
};

/// The primary context of one device, retained for the object's life.
/// Methods that issue driver calls make it current on the calling thread.
class CudaContext {
public:
  static StatusOr<CudaContext> create(int ordinal = 0);
  CudaContext() = default;
  CudaContext(CudaContext &&other) noexcept { *this = std::move(other); }
  CudaContext &operator=(CudaContext &&other) noexcept;
  CudaContext(const CudaContext &) = delete;
  CudaContext &operator=(const CudaContext &) = delete;
  ~CudaContext();

  /// Makes the context current on this thread.
  Status makeCurrent() const;
  const CudaDriver &driver() const { return *drv; }
  const CudaDeviceInfo &info() const { return devInfo; }
  cu::Context get() const { return ctx; }
  /// Free and total device memory.
  Status memoryInfo(size_t &freeBytes, size_t &totalBytes) const;
  Status synchronize() const;

private:
  const CudaDriver *drv = nullptr;
  cu::Device device = 0;
  cu::Context ctx = nullptr;
  CudaDeviceInfo devInfo;
};

//===----------------------------------------------------------------------===//
// RAII owners. All assume the owning context is current.
//===----------------------------------------------------------------------===//

/// A device allocation.
class DeviceBuffer {
public:
  static StatusOr<DeviceBuffer> allocate(const CudaDriver &driver, size_t bytes,
                                         const char *what);
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer &&o) noexcept { *this = std::move(o); }
  DeviceBuffer &operator=(DeviceBuffer &&o) noexcept;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { reset(); }
  void reset();

  cu::DevicePtr ptr() const { return devPtr; }
  size_t size() const { return bytes; }
  explicit operator bool() const { return devPtr != 0; }

private:
  const CudaDriver *drv = nullptr;
  cu::DevicePtr devPtr = 0;
  size_t bytes = 0;
};

/// Page-locked host memory (async copies from/to it do not stage).
class PinnedBuffer {
public:
  static StatusOr<PinnedBuffer> allocate(const CudaDriver &driver,
                                         size_t bytes);
  PinnedBuffer() = default;
  PinnedBuffer(PinnedBuffer &&o) noexcept { *this = std::move(o); }
  PinnedBuffer &operator=(PinnedBuffer &&o) noexcept;
  PinnedBuffer(const PinnedBuffer &) = delete;
  PinnedBuffer &operator=(const PinnedBuffer &) = delete;
  ~PinnedBuffer() { reset(); }
  void reset();

  void *data() const { return hostPtr; }
  template <typename T> T *as() const { return static_cast<T *>(hostPtr); }
  size_t size() const { return bytes; }

private:
  const CudaDriver *drv = nullptr;
  void *hostPtr = nullptr;
  size_t bytes = 0;
};

class CudaStream {
public:
  /// A non-blocking stream (does not synchronize with the legacy stream).
  static StatusOr<CudaStream> create(const CudaDriver &driver);
  CudaStream() = default;
  CudaStream(CudaStream &&o) noexcept { *this = std::move(o); }
  CudaStream &operator=(CudaStream &&o) noexcept;
  CudaStream(const CudaStream &) = delete;
  CudaStream &operator=(const CudaStream &) = delete;
  ~CudaStream() { reset(); }
  void reset();

  cu::Stream get() const { return stream; }
  Status synchronize() const;

private:
  const CudaDriver *drv = nullptr;
  cu::Stream stream = nullptr;
};

class CudaEvent {
public:
  static StatusOr<CudaEvent> create(const CudaDriver &driver,
                                    bool timing = true);
  CudaEvent() = default;
  CudaEvent(CudaEvent &&o) noexcept { *this = std::move(o); }
  CudaEvent &operator=(CudaEvent &&o) noexcept;
  CudaEvent(const CudaEvent &) = delete;
  CudaEvent &operator=(const CudaEvent &) = delete;
  ~CudaEvent() { reset(); }
  void reset();

  cu::Event get() const { return event; }
  Status record(cu::Stream stream) const;
  Status synchronize() const;
  /// Milliseconds between two recorded, completed events.
  static StatusOr<float> elapsedMs(const CudaEvent &start,
                                   const CudaEvent &end);

private:
  const CudaDriver *drv = nullptr;
  cu::Event event = nullptr;
};

/// A loaded module (cubin, fatbin or PTX).
class CudaModule {
public:
  /// Loads `image`. PTX must be NUL-terminated (`isPtx`); the JIT error log
  /// is included in the error.
  static StatusOr<CudaModule> load(const CudaDriver &driver, const void *image,
                                   bool isPtx, const std::string &what);
  CudaModule() = default;
  CudaModule(CudaModule &&o) noexcept { *this = std::move(o); }
  CudaModule &operator=(CudaModule &&o) noexcept;
  CudaModule(const CudaModule &) = delete;
  CudaModule &operator=(const CudaModule &) = delete;
  ~CudaModule() { reset(); }
  void reset();

  StatusOr<cu::Function> function(const std::string &name) const;
  cu::Module get() const { return module; }

private:
  const CudaDriver *drv = nullptr;
  cu::Module module = nullptr;
};

/// An instantiated CUDA graph captured from a stream.
class CudaGraph {
public:
  /// Begins capturing `stream` (thread-local mode).
  static Status beginCapture(const CudaDriver &driver, cu::Stream stream);
  /// Ends the capture begun on `stream` and instantiates it. On error the
  /// capture is ended and discarded.
  static StatusOr<CudaGraph> endCapture(const CudaDriver &driver,
                                        cu::Stream stream);
  CudaGraph() = default;
  CudaGraph(CudaGraph &&o) noexcept { *this = std::move(o); }
  CudaGraph &operator=(CudaGraph &&o) noexcept;
  CudaGraph(const CudaGraph &) = delete;
  CudaGraph &operator=(const CudaGraph &) = delete;
  ~CudaGraph() { reset(); }
  void reset();

  Status launch(cu::Stream stream) const;
  explicit operator bool() const { return exec != nullptr; }

private:
  const CudaDriver *drv = nullptr;
  cu::Graph graph = nullptr;
  cu::GraphExec exec = nullptr;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_CUDADRIVER_H

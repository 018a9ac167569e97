//===- Backend.cpp - Backend selection ------------------------------------===//

#include "infer/runtime/Backend.h"
#include "infer/runtime/CpuBackend.h"

using namespace infer;
using namespace infer::runtime;

bool infer::runtime::parseDeviceKind(const std::string &name,
                                     DeviceKind &kind) {
  if (name == "cpu")
    kind = DeviceKind::Cpu;
  else if (name == "cuda")
    kind = DeviceKind::Cuda;
  else
    return false;
  return true;
}

size_t infer::runtime::kvBlockBytes(const KvCacheInfo &kv) {
  size_t elem = kv.dtype == DType::BF16 ? 2 : dtypeSize(kv.dtype);
  return static_cast<size_t>(kv.blockElements()) * elem;
}

StatusOr<std::unique_ptr<Backend>> infer::runtime::createBackend(
    DeviceKind kind, std::shared_ptr<const Artifact> artifact,
    std::shared_ptr<const SafeTensors> weights, const BackendOptions &options) {
  if (kind == DeviceKind::Cuda) {
#ifdef INFER_RUNTIME_HAS_CUDA_BACKEND
    return createCudaBackend(std::move(artifact), std::move(weights), options);
#else
    return unavailableError("CUDA backend not built/available: this runtime "
                            "was built without the CUDA backend; use "
                            "--device cpu");
#endif
  }
  INFER_ASSIGN_OR_RETURN(
      std::unique_ptr<CpuBackend> cpuBackend,
      CpuBackend::create(std::move(artifact), std::move(weights), options));
  return std::unique_ptr<Backend>(std::move(cpuBackend));
}

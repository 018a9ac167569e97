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

Status Backend::submit(const StepBatch &batch, bool tokensFromPrevious) {
  if (submittedOutputs.size() >= 2)
    return invalidArgumentError(
        "submit(): two steps are already submitted; collect() one first");
  const StepBatch *run = &batch;
  if (tokensFromPrevious) {
    if (lastSamples.size() != static_cast<size_t>(batch.numTokens()) ||
        batch.numTokens() != batch.numSeqs())
      return invalidArgumentError(
          "submit(): a step fed by the previous step's samples must decode "
          "one token for each of its rows");
    fedBatch = batch;
    fedBatch.tokenIds = lastSamples;
    run = &fedBatch;
  }
  StepOutputs out;
  INFER_RETURN_IF_ERROR(step(*run, out));
  lastSamples = out.tokens;
  submittedOutputs.push_back(std::move(out));
  return okStatus();
}

Status Backend::collect(StepOutputs &out) {
  if (submittedOutputs.empty())
    return invalidArgumentError("collect(): no step was submitted");
  out = std::move(submittedOutputs.front());
  submittedOutputs.pop_front();
  return okStatus();
}

//===- Backend.h - Executes one step of an artifact -------------*- C++ -*-===//
//
// A Backend owns the bound weights and the paged KV pool of one artifact and
// runs the step graph for a StepBatch produced by the Scheduler. The CPU
// reference backend and the CUDA backend implement it; createBackend() picks
// one by DeviceKind.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_BACKEND_H
#define INFER_RUNTIME_BACKEND_H

#include "infer/runtime/Artifact.h"
#include "infer/runtime/SafeTensors.h"
#include "infer/runtime/Scheduler.h"
#include "infer/runtime/Status.h"
#include "infer/runtime/Tensor.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace infer::runtime {

/// What a step returns.
struct StepOutputs {
  std::vector<int32_t> tokens; ///< [S] sampled tokens (graph output 'tokens').
  std::vector<float> logits;   ///< [S x vocabSize] (graph output 'logits').
  int64_t vocabSize = 0;
  /// Any other graph output by name (e.g. spec_accept's 'accepted').
  std::map<std::string, HostTensor> extra;
};

/// Graph inputs beyond the fixed signature (e.g. 'draft_tokens'), by name.
struct StepExtras {
  std::map<std::string, HostTensor> inputs;
};

/// Weight binding progress: bytes bound so far of `total`.
using ProgressFn = std::function<void(size_t done, size_t total)>;

struct BackendOptions {
  int32_t numKvBlocks = 0; ///< Blocks in the KV pool (> 0).
  int numThreads = 0;      ///< 0: std::thread::hardware_concurrency().
  /// Time each kernel (CUDA: steps run eagerly; see CudaBackend).
  bool profileKernels = false;
  ProgressFn progress;
};

class Backend {
public:
  virtual ~Backend() = default;
  virtual const char *name() const = 0;
  virtual const Artifact &artifact() const = 0;
  virtual int32_t numKvBlocks() const = 0;
  /// Applies batch.blockCopies, then runs the graph over the batch. `extras`
  /// may be null.
  virtual Status step(const StepBatch &batch, StepOutputs &out,
                      const StepExtras *extras) = 0;
  Status step(const StepBatch &batch, StepOutputs &out) {
    return step(batch, out, nullptr);
  }

  /// Run-ahead (Engine): submit() starts a step and may return before it
  /// ends; collect() waits for the oldest step not yet collected and returns
  /// its outputs. At most two steps are submitted and not collected. With
  /// `tokensFromPrevious` the step's token ids are the samples of the step
  /// submitted just before it, row for row (a decode step of the same rows;
  /// `batch.tokenIds` holds -1 there). The default runs each step inside
  /// submit() (no overlap).
  virtual Status submit(const StepBatch &batch, bool tokensFromPrevious);
  virtual Status collect(StepOutputs &out);
  /// Whether the step after `batch` may be submitted before `batch` is
  /// collected (the CUDA backend: `batch` runs as one launch plan).
  virtual bool canRunAhead(const StepBatch &batch) const {
    (void)batch;
    return true;
  }

private:
  std::deque<StepOutputs> submittedOutputs; ///< Of the default submit().
  std::vector<int32_t> lastSamples;
  StepBatch fedBatch;
};

enum class DeviceKind { Cpu, Cuda };

/// "cpu" or "cuda"; false otherwise.
bool parseDeviceKind(const std::string &name, DeviceKind &kind);

/// Bytes of one KV block of all layers.
size_t kvBlockBytes(const KvCacheInfo &kv);

/// Creates the backend for `kind`. Cuda answers Unavailable unless the
/// runtime was built with INFER_RUNTIME_HAS_CUDA_BACKEND, in which case
/// createCudaBackend (defined by the CUDA backend) is called.
StatusOr<std::unique_ptr<Backend>>
createBackend(DeviceKind kind, std::shared_ptr<const Artifact> artifact,
              std::shared_ptr<const SafeTensors> weights,
              const BackendOptions &options);

#ifdef INFER_RUNTIME_HAS_CUDA_BACKEND
StatusOr<std::unique_ptr<Backend>>
createCudaBackend(std::shared_ptr<const Artifact> artifact,
                  std::shared_ptr<const SafeTensors> weights,
                  const BackendOptions &options);
#endif

} // namespace infer::runtime

#endif // INFER_RUNTIME_BACKEND_H

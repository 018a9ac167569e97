//===- CpuBackend.h - Reference backend: the graph in plain C++ -*- C++ -*-===//
//
// Runs the artifact's op-level graph node by node (CpuKernels.h). Weights are
// bound from safetensors at creation (bf16 stays bf16; packed weights are
// concatenated by rows); the KV pool is a host bf16 array with the layout of
// docs/artifact.md. It is the numerical oracle of the GPU backend.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_CPUBACKEND_H
#define INFER_RUNTIME_CPUBACKEND_H

#include "infer/runtime/Backend.h"
#include "infer/runtime/CpuKernels.h"

namespace infer::runtime {

class CpuBackend : public Backend {
public:
  static StatusOr<std::unique_ptr<CpuBackend>>
  create(std::shared_ptr<const Artifact> artifact,
         std::shared_ptr<const SafeTensors> weights,
         const BackendOptions &options);

  const char *name() const override { return "cpu"; }
  const Artifact &artifact() const override { return *art; }
  int32_t numKvBlocks() const override { return numBlocks; }
  Status step(const StepBatch &batch, StepOutputs &out,
              const StepExtras *extras) override;
  using Backend::step;

  /// The KV pool (bf16 bits) and its layout, for tests and debugging.
  std::vector<uint16_t> &kvPool() { return pool; }
  cpu::KvPool kvPoolRef();

private:
  struct BoundWeight {
    DType dtype = DType::BF16;
    std::vector<int64_t> shape;
    const uint8_t *data = nullptr;
    std::vector<uint8_t> owned; ///< Packed or converted copy.
  };
  /// A float operand: an activation or a weight.
  struct Operand {
    const HostTensor *tensor = nullptr;
    const BoundWeight *weight = nullptr;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    cpu::MatrixRef matrix() const;
    std::vector<float> toVector() const;
  };

  CpuBackend() = default;
  Status bindWeights(const SafeTensors &st, const ProgressFn &progress);
  Status setInputs(const StepBatch &batch, const StepExtras *extras);
  Status runNode(const GraphNode &node);
  Status floatOperand(const GraphNode &node, int64_t id, Operand &op);
  Status intOperand(const GraphNode &node, int64_t id, const HostTensor *&t);
  HostTensor &result(const GraphNode &node, size_t i);

  std::shared_ptr<const Artifact> art;
  std::shared_ptr<const SafeTensors> checkpoint;
  std::vector<std::unique_ptr<BoundWeight>> weightsById;
  std::vector<HostTensor> vals;
  std::vector<int64_t> lastUse; ///< Node index of each value's last read.
  std::vector<uint16_t> pool;
  int32_t numBlocks = 0;
  int numThreads = 0;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_CPUBACKEND_H

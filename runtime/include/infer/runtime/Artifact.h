//===- Artifact.h - Reader of the .art container and graph ------*- C++ -*-===//
//
// Loads and validates an artifact (docs/artifact.md): container, JSON header,
// model and KV cache metadata, the op-level graph and kernel blob ranges.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_ARTIFACT_H
#define INFER_RUNTIME_ARTIFACT_H

#include "infer/runtime/ArtifactFormat.h"
#include "infer/runtime/Status.h"
#include "infer/runtime/Tensor.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace infer::runtime {

struct ModelInfo {
  std::string family;
  int64_t vocabSize = 0, hiddenSize = 0, numLayers = 0, numHeads = 0,
          numKvHeads = 0, headDim = 0, intermediateSize = 0, maxPosition = 0;
  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;
  bool tieWordEmbeddings = false;
};

struct KvCacheInfo {
  int64_t layers = 0, kvHeads = 0, headDim = 0, blockSize = 16;
  DType dtype = DType::BF16;
  /// Elements of one block of all layers: layers*2*kvHeads*blockSize*headDim.
  int64_t blockElements() const {
    return layers * 2 * kvHeads * blockSize * headDim;
  }
};

struct ValueInfo {
  int64_t id = -1;
  std::vector<int64_t> shape; ///< -1 for dynamic dimensions.
  DType dtype = DType::F32;
};

struct GraphNode {
  artifact::OpKind kind;
  std::string op;
  std::vector<int64_t> operands; ///< Positional operands.
  std::vector<int64_t> results;
  std::map<std::string, int64_t> roles; ///< Optional operands by name.
  nlohmann::json attrs = nlohmann::json::object();

  /// Role operand or -1.
  int64_t role(const std::string &name) const {
    auto it = roles.find(name);
    return it == roles.end() ? -1 : it->second;
  }
};

struct BlobRange {
  uint64_t offset = 0, size = 0;
};

struct KernelInfo {
  std::string name, arch;
  std::optional<BlobRange> cubin, ptx;
  /// Every blob by kind: "cubin", "ptx", "fatbin", "llvm".
  std::map<std::string, BlobRange> blobs;
  nlohmann::json raw;
};

class Artifact {
public:
  /// Reads and validates `path`.
  static StatusOr<std::shared_ptr<Artifact>> load(const std::string &path);
  /// Validates an artifact held in memory; `name` is used in errors.
  static StatusOr<std::shared_ptr<Artifact>> parse(std::vector<uint8_t> bytes,
                                                   const std::string &name);

  const ModelInfo &model() const { return modelInfo; }
  const KvCacheInfo &kvCache() const { return kvInfo; }
  const std::vector<GraphNode> &nodes() const { return graphNodes; }
  const std::map<std::string, int64_t> &inputs() const { return graphInputs; }
  const std::map<std::string, int64_t> &outputs() const { return graphOutputs; }
  /// Value by id, or null.
  const ValueInfo *value(int64_t id) const;
  int64_t maxValueId() const { return static_cast<int64_t>(values.size()) - 1; }
  const std::vector<KernelInfo> &kernels() const { return kernelInfos; }
  /// Bytes of a validated blob range.
  const uint8_t *blob(const BlobRange &r) const {
    return bytes.data() + r.offset;
  }
  const nlohmann::json &header() const { return headerJson; }
  const std::string &name() const { return sourceName; }

private:
  Status validate();
  Status parseGraph(const nlohmann::json &graph);

  std::vector<uint8_t> bytes;
  std::string sourceName;
  nlohmann::json headerJson;
  ModelInfo modelInfo;
  KvCacheInfo kvInfo;
  std::vector<std::optional<ValueInfo>> values; ///< Indexed by id.
  std::vector<GraphNode> graphNodes;
  std::map<std::string, int64_t> graphInputs, graphOutputs;
  std::vector<KernelInfo> kernelInfos;
};

/// Attribute helpers (no exceptions): false when absent or mistyped.
bool getIntAttr(const nlohmann::json &attrs, const char *name, int64_t &out);
bool getFloatAttr(const nlohmann::json &attrs, const char *name, double &out);

} // namespace infer::runtime

#endif // INFER_RUNTIME_ARTIFACT_H

//===- ModelConfig.h - Hugging Face config.json model description -*- C++
//-*-===//
//
// The subset of a Hugging Face `config.json` that defines a Llama-family
// decoder (Llama 2/3/3.1, Mistral, Qwen2), validated.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_FRONTEND_MODELCONFIG_H
#define INFER_FRONTEND_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infer {

/// RoPE frequency scaling (`rope_scaling` in config.json).
struct RopeScalingConfig {
  enum class Kind { Linear, Llama3 };
  Kind kind = Kind::Linear;
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPosition = 8192;
};

/// A validated decoder description. Every field is set by `parseModelConfig`.
struct ModelConfig {
  std::string family; // "llama", "mistral" or "qwen2" (model_type)
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t maxPosition = 0;
  double rmsNormEps = 0.0;
  double ropeTheta = 0.0;
  std::optional<RopeScalingConfig> ropeScaling;
  /// Sliding attention window per layer (std::nullopt: full attention).
  std::vector<std::optional<int64_t>> slidingWindows;
  bool qkvBias = false;
  bool outputBias = false;
  bool tieWordEmbeddings = false;
  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;
};

/// Parses and validates config.json text. `source` names the file in errors.
/// Errors name the offending field and say how to fix it.
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef json,
                                             llvm::StringRef source);

/// Reads `path` (a config.json file) and parses it.
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef path);

} // namespace infer

#endif // INFER_FRONTEND_MODELCONFIG_H

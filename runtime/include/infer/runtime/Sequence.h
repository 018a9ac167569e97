//===- Sequence.h - Generation requests and their results -------*- C++ -*-===//

#ifndef INFER_RUNTIME_SEQUENCE_H
#define INFER_RUNTIME_SEQUENCE_H

#include <cstdint>
#include <vector>

namespace infer::runtime {

/// Sampling parameters, carried through the scheduler to the sampler.
/// temperature == 0 means greedy; topK == 0 and topP == 1 disable filtering.
struct SamplingParams {
  float temperature = 0.0f;
  int32_t topK = 0;
  float topP = 1.0f;
  uint64_t seed = 0;
};

struct Request {
  uint64_t id = 0; ///< Opaque to the scheduler; echoed in batches/outputs.
  std::vector<int32_t> promptTokens;
  int32_t maxNewTokens = 16;
  std::vector<int32_t> stopTokens; ///< Any of them ends the request.
  SamplingParams sampling;
  double arrivalTime = 0.0;
};

enum class FinishReason {
  Stop,   ///< Sampled a stop token (it is the last output token).
  Length, ///< Generated maxNewTokens tokens.
};

struct FinishedRequest {
  uint64_t id = 0;
  std::vector<int32_t> outputTokens; ///< Generated tokens only.
  FinishReason reason = FinishReason::Length;
  int32_t numPromptTokens = 0;
  int32_t numCachedPromptTokens = 0; ///< Prefix cache hits at first admission.
  int32_t numPreemptions = 0;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_SEQUENCE_H

//===- Sampling.h - The sampler shared by every backend ---------*- C++ -*-===//
//
// The exact definition of `decode.sample` and `decode.spec_accept` that the
// CPU backend runs and the GPU sampler replicates (docs/runtime.md):
//
// - temperature <= 0: argmax, lowest index on ties.
// - else x = logits / temperature (f32); candidates sorted by x descending,
//   ties by lower index; top_k > 0 keeps the first k; softmax over the kept
//   ones in f32 (sequential sum in sorted order); top_p < 1 keeps the
//   smallest prefix whose cumulative probability is >= top_p.
// - draw: u = uniformFromSeed(seed_row) in [0, 1); the first kept token, in
//   sorted order, whose cumulative probability exceeds u * kept_mass (the
//   last kept token if rounding leaves none).
// - the sample op's per-row seed is sampleSeed(request_seed, position) with
//   `position` the position the new token will take in its sequence.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_SAMPLING_H
#define INFER_RUNTIME_SAMPLING_H

#include <cstdint>
#include <utility>
#include <vector>

namespace infer::runtime {

inline constexpr uint64_t kSeedStride = 0x9E3779B97F4A7C15ull;

/// SplitMix64's output function (mix of a state word).
inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Per-row seed of the sample op: the (position+1)-th SplitMix64 state of a
/// stream seeded with `seed`.
inline uint64_t sampleSeed(uint64_t seed, int64_t position) {
  return seed + kSeedStride * static_cast<uint64_t>(position + 1);
}

/// u in [0, 1): the top 24 bits of splitmix64(rowSeed), times 2^-24.
inline float uniformFromSeed(uint64_t rowSeed) {
  return static_cast<float>(splitmix64(rowSeed) >> 40) * (1.0f / 16777216.0f);
}

/// Index of the largest value (lowest index on ties; NaN never wins).
int32_t argmaxRow(const float *x, int64_t n);

/// The kept candidates of a non-greedy row with their probabilities (before
/// renormalization by the kept mass), in draw order.
void samplingCandidates(const float *logits, int64_t vocab, float temperature,
                        int32_t topK, float topP,
                        std::vector<std::pair<int32_t, float>> &kept);

/// Samples one row. `rowSeed` is the per-row seed input of the sample op.
int32_t sampleRow(const float *logits, int64_t vocab, float temperature,
                  int32_t topK, float topP, uint64_t rowSeed);

struct SpecAcceptResult {
  int32_t accepted = 0; ///< Accepted draft tokens.
  int32_t bonus = 0;    ///< The token that follows them.
};

/// Greedy: the longest prefix of `draft` [K] matching the argmax of
/// `targetLogits` [K+1, vocab]; bonus = argmax of the next row.
SpecAcceptResult specAcceptGreedy(const float *targetLogits,
                                  const int32_t *draft, int64_t k,
                                  int64_t vocab);

/// Speculative rejection sampling. p_i = softmax(targetLogits[i]) (f32),
/// q_i = draftProbs[i]. Draft i is accepted when u_i * q_i[t] < p_i[t] with
/// u_i = uniformFromSeed(sampleSeed(seed, 2i)). On the first rejection the
/// bonus is drawn from normalize(max(0, p_i - q_i)) (p_i if that is all 0),
/// else from p_K, by inverse CDF in index order with
/// u = uniformFromSeed(sampleSeed(seed, 2i + 1)).
SpecAcceptResult specAcceptRejection(const float *targetLogits,
                                     const float *draftProbs,
                                     const int32_t *draft, int64_t k,
                                     int64_t vocab, uint64_t seed);

} // namespace infer::runtime

#endif // INFER_RUNTIME_SAMPLING_H

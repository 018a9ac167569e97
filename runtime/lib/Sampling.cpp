//===- Sampling.cpp - The sampler shared by every backend -----------------===//

#include "infer/runtime/Sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace infer::runtime;

int32_t infer::runtime::argmaxRow(const float *x, int64_t n) {
  int64_t best = 0;
  float bestV = -INFINITY;
  bool found = false;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i]))
      continue;
    if (!found || x[i] > bestV) {
      best = i;
      bestV = x[i];
      found = true;
    }
  }
  return static_cast<int32_t>(best);
}

void infer::runtime::samplingCandidates(
    const float *logits, int64_t vocab, float temperature, int32_t topK,
    float topP, std::vector<std::pair<int32_t, float>> &kept) {
  kept.resize(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) {
    float x = logits[i] / temperature;
    kept[i] = {static_cast<int32_t>(i), std::isnan(x) ? -INFINITY : x};
  }
  auto before = [](const std::pair<int32_t, float> &a,
                   const std::pair<int32_t, float> &b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  if (topK > 0 && topK < vocab) {
    std::partial_sort(kept.begin(), kept.begin() + topK, kept.end(), before);
    kept.resize(topK);
  } else {
    std::sort(kept.begin(), kept.end(), before);
  }
  float maxX = kept[0].second;
  float sum = 0.0f;
  for (auto &c : kept) {
    c.second = (maxX == -INFINITY) ? 1.0f : std::exp(c.second - maxX);
    sum += c.second;
  }
  for (auto &c : kept)
    c.second /= sum;
  if (topP < 1.0f) {
    float cum = 0.0f;
    size_t n = 0;
    while (n < kept.size()) {
      cum += kept[n++].second;
      if (cum >= topP)
        break;
    }
    kept.resize(std::max<size_t>(n, 1));
  }
}

int32_t infer::runtime::sampleRow(const float *logits, int64_t vocab,
                                  float temperature, int32_t topK, float topP,
                                  uint64_t rowSeed) {
  if (!(temperature > 0.0f) || vocab <= 1)
    return argmaxRow(logits, vocab);
  thread_local std::vector<std::pair<int32_t, float>> kept;
  samplingCandidates(logits, vocab, temperature, topK, topP, kept);
  float mass = 0.0f;
  for (const auto &c : kept)
    mass += c.second;
  float target = uniformFromSeed(rowSeed) * mass;
  float cum = 0.0f;
  for (const auto &c : kept) {
    cum += c.second;
    if (cum > target)
      return c.first;
  }
  return kept.back().first;
}

SpecAcceptResult infer::runtime::specAcceptGreedy(const float *targetLogits,
                                                  const int32_t *draft,
                                                  int64_t k, int64_t vocab) {
  SpecAcceptResult r;
  int64_t i = 0;
  for (; i < k; ++i)
    if (argmaxRow(targetLogits + i * vocab, vocab) != draft[i])
      break;
  r.accepted = static_cast<int32_t>(i);
  r.bonus = argmaxRow(targetLogits + i * vocab, vocab);
  return r;
}

namespace {
void softmaxF32(const float *x, int64_t n, std::vector<float> &p) {
  p.resize(n);
  float m = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(x[i]))
      m = std::max(m, x[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    p[i] = (std::isnan(x[i]) || m == -INFINITY) ? 0.0f : std::exp(x[i] - m);
    sum += p[i];
  }
  for (float &v : p)
    v = sum > 0 ? v / sum : 0.0f;
}

int32_t drawIndexOrder(const std::vector<float> &w, float u) {
  float total = std::accumulate(w.begin(), w.end(), 0.0f);
  float target = u * total, cum = 0.0f;
  int32_t last = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] <= 0.0f)
      continue;
    last = static_cast<int32_t>(i);
    cum += w[i];
    if (cum > target)
      return last;
  }
  return last;
}
} // namespace

SpecAcceptResult infer::runtime::specAcceptRejection(const float *targetLogits,
                                                     const float *draftProbs,
                                                     const int32_t *draft,
                                                     int64_t k, int64_t vocab,
                                                     uint64_t seed) {
  std::vector<float> p, resid;
  SpecAcceptResult r;
  for (int64_t i = 0; i < k; ++i) {
    softmaxF32(targetLogits + i * vocab, vocab, p);
    int32_t t = draft[i];
    bool valid = t >= 0 && t < vocab;
    float q = valid ? draftProbs[i * vocab + t] : 0.0f;
    float pt = valid ? p[t] : 0.0f;
    float u = uniformFromSeed(sampleSeed(seed, 2 * i));
    if (valid && u * q < pt)
      continue;
    resid.resize(vocab);
    float total = 0.0f;
    for (int64_t j = 0; j < vocab; ++j) {
      resid[j] = std::max(0.0f, p[j] - draftProbs[i * vocab + j]);
      total += resid[j];
    }
    float u2 = uniformFromSeed(sampleSeed(seed, 2 * i + 1));
    r.accepted = static_cast<int32_t>(i);
    r.bonus = drawIndexOrder(total > 0 ? resid : p, u2);
    return r;
  }
  softmaxF32(targetLogits + k * vocab, vocab, p);
  r.accepted = static_cast<int32_t>(k);
  r.bonus = drawIndexOrder(p, uniformFromSeed(sampleSeed(seed, 2 * k + 1)));
  return r;
}

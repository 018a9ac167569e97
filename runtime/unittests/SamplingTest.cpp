//===- SamplingTest.cpp - Sampler tests -----------------------------------===//

#include "infer/runtime/Sampling.h"

#include "gtest/gtest.h"

#include <cmath>
#include <map>
#include <random>

using namespace infer::runtime;

namespace {

std::vector<double> softmax(const std::vector<float> &x, double t) {
  double m = -1e300, s = 0;
  for (float v : x)
    m = std::max(m, v / t);
  std::vector<double> p(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    s += p[i] = std::exp(x[i] / t - m);
  for (double &v : p)
    v /= s;
  return p;
}

TEST(SamplingTest, GreedyLowestIndexOnTies) {
  std::vector<float> x = {1, 3, 3, 2, NAN};
  EXPECT_EQ(argmaxRow(x.data(), 5), 1);
  EXPECT_EQ(sampleRow(x.data(), 5, 0.0f, 0, 1.0f, 123), 1);
  EXPECT_EQ(sampleRow(x.data(), 5, 0.0f, 2, 0.1f, 999), 1);
}

TEST(SamplingTest, UniformAndSeedDefinition) {
  // The documented construction, spelled out.
  uint64_t seed = 42;
  int64_t pos = 7;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * 8;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  EXPECT_EQ(uniformFromSeed(sampleSeed(seed, pos)),
            static_cast<float>(z >> 40) / 16777216.0f);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    float u = uniformFromSeed(sampleSeed(1, i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
}

TEST(SamplingTest, Deterministic) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d;
  std::vector<float> x(1000);
  for (float &v : x)
    v = d(rng);
  for (int i = 0; i < 50; ++i) {
    uint64_t s = sampleSeed(77, i);
    int32_t a = sampleRow(x.data(), 1000, 0.8f, 50, 0.9f, s);
    EXPECT_EQ(a, sampleRow(x.data(), 1000, 0.8f, 50, 0.9f, s));
  }
  // Different positions give different draws.
  std::map<int32_t, int> seen;
  for (int i = 0; i < 50; ++i)
    ++seen[sampleRow(x.data(), 1000, 1.0f, 0, 1.0f, sampleSeed(77, i))];
  EXPECT_GT(seen.size(), 20u);
}

TEST(SamplingTest, MatchesSoftmaxStatistically) {
  std::vector<float> x = {0.5f, 2.0f, -1.0f, 1.0f, 0.0f, 1.5f};
  const int n = 60000;
  for (float t : {1.0f, 0.5f}) {
    std::vector<double> p = softmax(x, t);
    std::vector<int> count(x.size());
    for (int i = 0; i < n; ++i)
      ++count[sampleRow(x.data(), x.size(), t, 0, 1.0f, sampleSeed(3, i))];
    for (size_t k = 0; k < x.size(); ++k)
      EXPECT_NEAR(count[k] / double(n), p[k], 0.01) << "t=" << t << " k=" << k;
  }
}

TEST(SamplingTest, TopKTopP) {
  std::vector<float> x = {0.1f, 3.0f, 2.0f, 2.0f, -5.0f, 1.0f};
  // top_k = 2: only tokens 1 and 2 (tie 2/3 broken by index).
  std::vector<int> count(x.size());
  for (int i = 0; i < 20000; ++i)
    ++count[sampleRow(x.data(), x.size(), 1.0f, 2, 1.0f, sampleSeed(9, i))];
  EXPECT_EQ(count[0] + count[3] + count[4] + count[5], 0);
  double p1 = std::exp(1.0) / (std::exp(1.0) + 1.0);
  EXPECT_NEAR(count[1] / 20000.0, p1, 0.015);
  // top_p: the nucleus of the full softmax.
  std::vector<std::pair<int32_t, float>> kept;
  samplingCandidates(x.data(), x.size(), 1.0f, 0, 0.8f, kept);
  std::vector<double> p = softmax(x, 1.0);
  ASSERT_EQ(kept.size(), 3u); // 0.53 + 0.19 < 0.8 <= + 0.19
  EXPECT_EQ(kept[0].first, 1);
  EXPECT_EQ(kept[1].first, 2);
  EXPECT_EQ(kept[2].first, 3);
  EXPECT_NEAR(kept[0].second, p[1], 1e-6);
  for (int i = 0; i < 5000; ++i) {
    int32_t t = sampleRow(x.data(), x.size(), 1.0f, 0, 0.8f, sampleSeed(4, i));
    EXPECT_TRUE(t == 1 || t == 2 || t == 3);
  }
  // A tiny top_p keeps only the most likely token.
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(sampleRow(x.data(), x.size(), 1.0f, 0, 1e-6f, sampleSeed(4, i)),
              1);
}

TEST(SamplingTest, SpecAcceptGreedy) {
  const int64_t v = 4, k = 3;
  // argmax per row: 2, 1, 3, 0
  std::vector<float> logits = {0, 0, 5, 0, 0, 5, 0, 0, 0, 0, 0, 5, 5, 0, 0, 0};
  int32_t all[3] = {2, 1, 3};
  SpecAcceptResult r = specAcceptGreedy(logits.data(), all, k, v);
  EXPECT_EQ(r.accepted, 3);
  EXPECT_EQ(r.bonus, 0);
  int32_t some[3] = {2, 0, 3};
  r = specAcceptGreedy(logits.data(), some, k, v);
  EXPECT_EQ(r.accepted, 1);
  EXPECT_EQ(r.bonus, 1);
}

TEST(SpecAcceptTest, RejectionPreservesTargetDistribution) {
  // K = 1: the first emitted token must follow the target distribution p0
  // whatever the draft distribution q0.
  const int64_t v = 4;
  std::vector<float> logits = {1.0f, 0.0f, 2.0f, -1.0f, 0, 0, 0, 0};
  std::vector<double> p = softmax({1.0f, 0.0f, 2.0f, -1.0f}, 1.0);
  std::vector<float> q = {0.1f, 0.6f, 0.1f, 0.2f};
  std::mt19937 rng(11);
  std::discrete_distribution<int> drawQ(q.begin(), q.end());
  const int n = 60000;
  std::vector<int> count(v);
  int acceptedAll = 0;
  for (int i = 0; i < n; ++i) {
    int32_t draft = drawQ(rng);
    SpecAcceptResult r =
        specAcceptRejection(logits.data(), q.data(), &draft, 1, v, 1000 + i);
    ++count[r.accepted == 1 ? draft : r.bonus];
    acceptedAll += r.accepted;
  }
  for (int k = 0; k < v; ++k)
    EXPECT_NEAR(count[k] / double(n), p[k], 0.01) << k;
  // Identical draft and target distributions accept everything.
  std::vector<float> same(p.begin(), p.end());
  for (int i = 0; i < 200; ++i) {
    int32_t draft = i % v;
    EXPECT_EQ(specAcceptRejection(logits.data(), same.data(), &draft, 1, v, i)
                  .accepted,
              1);
  }
  EXPECT_GT(acceptedAll, 0);
}

} // namespace

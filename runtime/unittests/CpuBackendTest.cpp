//===- CpuBackendTest.cpp - CPU kernels against float64 references --------===//

#include "infer/runtime/CpuBackend.h"
#include "TestUtil.h"
#include "infer/runtime/CpuKernels.h"

#include "gtest/gtest.h"

#include <cmath>
#include <numeric>
#include <thread>

using namespace infer;
using namespace infer::runtime;
using namespace infer::runtime::test;

namespace {

std::vector<float> randomBf16Values(size_t n, std::mt19937 &rng,
                                    float scale = 1.0f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = roundToBf16(d(rng));
  return v;
}

std::vector<uint16_t> toBf16Bits(const std::vector<float> &v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    b[i] = floatToBf16(v[i]);
  return b;
}

void expectClose(const std::vector<float> &got, const std::vector<double> &ref,
                 double rel, double abs, const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], abs + rel * std::fabs(ref[i]))
        << what << " at " << i;
}

TEST(CpuKernelsTest, LinearBiasResidual) {
  std::mt19937 rng(1);
  const int64_t T = 5, K = 37, N = 19;
  std::vector<float> x = randomBf16Values(T * K, rng),
                     w = randomBf16Values(N * K, rng),
                     bias = randomBf16Values(N, rng),
                     res = randomBf16Values(T * N, rng);
  std::vector<uint16_t> wb = toBf16Bits(w);
  cpu::MatrixRef m{DType::BF16, reinterpret_cast<const uint8_t *>(wb.data()), N,
                   K};
  std::vector<double> ref(T * N);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias[n] + res[t * N + n];
      for (int64_t k = 0; k < K; ++k)
        s += double(x[t * K + k]) * w[n * K + k];
      ref[t * N + n] = s;
    }
  std::vector<float> out(T * N);
  cpu::linear(x.data(), T, m, bias.data(), res.data(), DType::F32, out.data(),
              2);
  expectClose(out, ref, 1e-5, 1e-5, "f32 linear");
  cpu::linear(x.data(), T, m, bias.data(), res.data(), DType::BF16, out.data(),
              1);
  expectClose(out, ref, 1.0 / 64, 1e-2, "bf16 linear");
  for (float v : out)
    EXPECT_EQ(v, roundToBf16(v));
  // Threaded result equals the single-threaded one bit for bit.
  const int64_t N2 = 4096;
  std::vector<float> w2 = randomBf16Values(N2 * K, rng), a(T * N2), b(T * N2);
  std::vector<uint16_t> w2b = toBf16Bits(w2);
  cpu::MatrixRef m2{DType::BF16, reinterpret_cast<const uint8_t *>(w2b.data()),
                    N2, K};
  cpu::linear(x.data(), T, m2, nullptr, nullptr, DType::BF16, a.data(), 1);
  cpu::linear(x.data(), T, m2, nullptr, nullptr, DType::BF16, b.data(), 4);
  EXPECT_EQ(a, b);
}

TEST(CpuKernelsTest, RmsNormAndSiluMul) {
  std::mt19937 rng(2);
  const int64_t T = 3, H = 64;
  std::vector<float> x = randomBf16Values(T * H, rng, 3.0f),
                     w = randomBf16Values(H, rng);
  std::vector<double> ref(T * H);
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < H; ++i)
      ss += double(x[t * H + i]) * x[t * H + i];
    double inv = 1.0 / std::sqrt(ss / H + 1e-5);
    for (int64_t i = 0; i < H; ++i)
      ref[t * H + i] = x[t * H + i] * inv * w[i];
  }
  std::vector<float> out(T * H);
  cpu::rmsNorm(x.data(), T, H, w.data(), 1e-5f, DType::F32, out.data());
  expectClose(out, ref, 1e-5, 1e-6, "rms_norm f32");
  cpu::rmsNorm(x.data(), T, H, w.data(), 1e-5f, DType::BF16, out.data());
  expectClose(out, ref, 1.0 / 64, 1e-3, "rms_norm bf16");

  std::vector<float> gu = randomBf16Values(T * 2 * H, rng, 4.0f);
  std::vector<double> sref(T * H);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < H; ++i) {
      double g = gu[t * 2 * H + i], u = gu[t * 2 * H + H + i];
      sref[t * H + i] = g / (1 + std::exp(-g)) * u;
    }
  cpu::siluMul(gu.data(), 2 * H, gu.data() + H, 2 * H, T, H, DType::F32,
               out.data());
  expectClose(out, sref, 1e-5, 1e-6, "silu_mul f32");
  cpu::siluMul(gu.data(), 2 * H, gu.data() + H, 2 * H, T, H, DType::BF16,
               out.data());
  expectClose(out, sref, 1.0 / 64, 1e-2, "silu_mul bf16");
}

/// transformers' inv_freq and llama3 scaling in float64.
std::vector<double> refInvFreq(int64_t d, const cpu::RopeParams &p) {
  std::vector<double> inv(d / 2);
  for (int64_t i = 0; i < d / 2; ++i)
    inv[i] = 1.0 / std::pow(p.theta, double(2 * i) / d);
  if (p.scaling == cpu::RopeParams::Scaling::Linear)
    for (double &f : inv)
      f /= p.factor;
  if (p.scaling == cpu::RopeParams::Scaling::Llama3) {
    double lowW = p.originalMaxPosition / p.lowFreqFactor;
    double highW = p.originalMaxPosition / p.highFreqFactor;
    for (double &f : inv) {
      double wl = 2 * M_PI / f;
      if (wl < highW)
        continue;
      if (wl > lowW) {
        f /= p.factor;
        continue;
      }
      double s = (p.originalMaxPosition / wl - p.lowFreqFactor) /
                 (p.highFreqFactor - p.lowFreqFactor);
      f = (1 - s) * f / p.factor + s * f;
    }
  }
  return inv;
}

TEST(CpuKernelsTest, RopeAllScalings) {
  std::mt19937 rng(3);
  const int64_t T = 4, heads = 3, d = 128;
  std::vector<int32_t> pos = {0, 1, 17, 5000};
  for (int kind = 0; kind < 3; ++kind) {
    cpu::RopeParams p;
    p.theta = 500000.0;
    p.scaling = static_cast<cpu::RopeParams::Scaling>(kind);
    p.factor = 8.0;
    std::vector<float> inv = cpu::ropeInvFreq(d, p);
    std::vector<double> rinv = refInvFreq(d, p);
    for (int64_t i = 0; i < d / 2; ++i)
      ASSERT_NEAR(inv[i], rinv[i], 1e-6 * rinv[i]) << kind << " " << i;
    std::vector<float> x = randomBf16Values(T * heads * d, rng);
    std::vector<double> ref(x.size());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < d; ++i) {
          const float *v = &x[(t * heads + h) * d];
          int64_t f = i % (d / 2);
          // The angle as HF forms it: f32 inv_freq times f32 position.
          double ang = double(inv[f] * float(pos[t]));
          double rot = i < d / 2 ? -v[i + d / 2] : v[i - d / 2];
          ref[(t * heads + h) * d + i] =
              v[i] * std::cos(ang) + rot * std::sin(ang);
        }
    std::vector<float> out = x;
    cpu::rope(out.data(), heads * d, T, heads, d, pos.data(), inv, DType::F32);
    expectClose(out, ref, 1e-5, 1e-4, "rope f32");
    out = x;
    cpu::rope(out.data(), heads * d, T, heads, d, pos.data(), inv, DType::BF16);
    expectClose(out, ref, 1.0 / 32, 2e-2, "rope bf16");
  }
}

struct AttentionCase {
  std::vector<int32_t> ctx, qlen;
  int64_t numHeads, kvHeads, window;
};

void runAttention(const AttentionCase &c) {
  std::mt19937 rng(4);
  const int64_t d = 16, bs = 16, layers = 2, layer = 1;
  const int64_t B = c.ctx.size();
  int64_t maxBlocks = 0, numBlocks = 0;
  for (int32_t n : c.ctx) {
    maxBlocks = std::max<int64_t>(maxBlocks, (n + bs - 1) / bs);
    numBlocks += (n + bs - 1) / bs;
  }
  numBlocks += 3;
  // Scatter the blocks of all sequences over a shuffled pool.
  std::vector<int32_t> perm(numBlocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> tables(B * maxBlocks, -1);
  int64_t next = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < (c.ctx[b] + bs - 1) / bs; ++j)
      tables[b * maxBlocks + j] = perm[next++];
  std::vector<uint16_t> poolData(numBlocks * layers * 2 * c.kvHeads * bs * d);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (uint16_t &x : poolData)
    x = floatToBf16(dist(rng));
  cpu::KvPool pool{poolData.data(), numBlocks, layers, c.kvHeads, bs, d};
  std::vector<int32_t> qs(B + 1, 0);
  for (int64_t b = 0; b < B; ++b)
    qs[b + 1] = qs[b] + c.qlen[b];
  const int64_t T = qs[B], width = c.numHeads * d;
  std::vector<float> q = randomBf16Values(T * width, rng);
  cpu::AttentionArgs args;
  args.layer = layer;
  args.numHeads = c.numHeads;
  args.scale = 1.0f / std::sqrt(float(d));
  args.slidingWindow = c.window;
  args.blockTables = tables.data();
  args.numSeqs = B;
  args.tableWidth = maxBlocks;
  args.contextLens = c.ctx.data();
  args.queryStart = qs.data();
  std::vector<float> out(T * width);
  Status st =
      cpu::pagedAttention(pool, q.data(), T, args, DType::F32, out.data());
  ASSERT_TRUE(st.ok()) << st.toString();
  // Dense causal reference over logical positions, float64.
  std::vector<double> ref(T * width);
  const int64_t group = c.numHeads / c.kvHeads;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < c.qlen[b]; ++i) {
      int64_t p = c.ctx[b] - c.qlen[b] + i, t = qs[b] + i;
      for (int64_t h = 0; h < c.numHeads; ++h) {
        int64_t kh = h / group;
        auto kv = [&](int which, int64_t j, int64_t e) {
          int64_t blk = tables[b * maxBlocks + j / bs];
          return double(bf16ToFloat(
              poolData[pool.index(blk, layer, which, kh, j % bs, e)]));
        };
        std::vector<double> s;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= p; ++j) {
          if (c.window > 0 && p - j >= c.window)
            continue;
          double dot = 0;
          for (int64_t e = 0; e < d; ++e)
            dot += q[t * width + h * d + e] * kv(0, j, e);
          s.push_back(dot / std::sqrt(double(d)));
          keys.push_back(j);
        }
        double m = *std::max_element(s.begin(), s.end()), z = 0;
        for (double &v : s)
          z += v = std::exp(v - m);
        for (int64_t e = 0; e < d; ++e) {
          double acc = 0;
          for (size_t k = 0; k < keys.size(); ++k)
            acc += s[k] / z * kv(1, keys[k], e);
          ref[t * width + h * d + e] = acc;
        }
      }
    }
  expectClose(out, ref, 1e-4, 1e-5, "paged_attention");
}

TEST(CpuKernelsTest, PagedAttentionDecodeOddLengths) {
  runAttention({{1, 15, 16, 17}, {1, 1, 1, 1}, 4, 2, 0});
  runAttention({{1, 15, 16, 17, 33}, {1, 1, 1, 1, 1}, 4, 4, 0});
}

TEST(CpuKernelsTest, PagedAttentionRaggedVerifyAndPrefill) {
  // Multi-token queries (prefill chunks, K+1 verification) in one batch.
  runAttention({{17, 16, 40, 5}, {17, 4, 9, 1}, 4, 2, 0});
}

TEST(CpuKernelsTest, PagedAttentionSlidingWindow) {
  runAttention({{17, 40, 3}, {3, 20, 3}, 4, 2, 7});
  runAttention({{33}, {1}, 2, 1, 16});
}

TEST(CpuKernelsTest, PagedAttentionRejectsBadTables) {
  std::vector<uint16_t> data(2 * 2 * 16 * 4);
  cpu::KvPool pool{data.data(), 2, 1, 1, 16, 4};
  std::vector<float> q(4), out(4);
  std::vector<int32_t> table = {5}, ctx = {3}, qs = {0, 1};
  cpu::AttentionArgs a;
  a.numHeads = 1;
  a.blockTables = table.data();
  a.numSeqs = 1;
  a.tableWidth = 1;
  a.contextLens = ctx.data();
  a.queryStart = qs.data();
  Status st = cpu::pagedAttention(pool, q.data(), 1, a, DType::F32, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a block of the pool"), std::string::npos);
}

TEST(CpuKernelsTest, KvAppendLayoutAndPadding) {
  const int64_t blocks = 3, layers = 2, kvh = 2, bs = 4, d = 3;
  std::vector<uint16_t> data(blocks * layers * 2 * kvh * bs * d, 0);
  cpu::KvPool pool{data.data(), blocks, layers, kvh, bs, d};
  std::vector<float> k(3 * kvh * d), v(3 * kvh * d);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = float(i + 1);
    v[i] = -float(i + 1);
  }
  std::vector<int32_t> slots = {9, -1, 2};
  ASSERT_TRUE(cpu::kvAppend(pool, 1, k.data(), kvh * d, v.data(), kvh * d,
                            slots.data(), 3)
                  .ok());
  // Token 0 -> block 2 slot 1; token 2 -> block 0 slot 2; token 1 skipped.
  auto at = [&](int64_t b, int kv, int64_t h, int64_t s, int64_t e) {
    size_t idx = ((((b * layers + 1) * 2 + kv) * kvh + h) * bs + s) * d + e;
    EXPECT_EQ(idx, pool.index(b, 1, kv, h, s, e));
    return bf16ToFloat(data[idx]);
  };
  EXPECT_EQ(at(2, 0, 1, 1, 2), k[0 * kvh * d + 1 * d + 2]);
  EXPECT_EQ(at(2, 1, 0, 1, 0), v[0]);
  EXPECT_EQ(at(0, 0, 0, 2, 1), k[2 * kvh * d + 1]);
  int nonzero = 0;
  for (uint16_t x : data)
    nonzero += x != 0;
  EXPECT_EQ(nonzero, 2 * 2 * kvh * d);
  slots = {12};
  EXPECT_FALSE(cpu::kvAppend(pool, 0, k.data(), kvh * d, v.data(), kvh * d,
                             slots.data(), 1)
                   .ok());
}

TEST(CpuKernelsTest, RmsNormWithoutWeightIsWeightOfOnes) {
  std::mt19937 rng(5);
  const int64_t T = 3, H = 48;
  std::vector<float> x = randomBf16Values(T * H, rng, 3.0f), ones(H, 1.0f),
                     a(T * H), b(T * H);
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    cpu::rmsNorm(x.data(), T, H, ones.data(), 1e-5f, dt, a.data());
    cpu::rmsNorm(x.data(), T, H, nullptr, 1e-5f, dt, b.data());
    EXPECT_EQ(a, b) << dtypeName(dt);
  }
}

SafeTensorsEntry floatEntry(const std::string &name, DType dtype,
                            std::vector<int64_t> shape,
                            const std::vector<float> &values) {
  SafeTensorsEntry e{name, dtype, std::move(shape), {}};
  e.bytes.resize(values.size() * dtypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(e.bytes.data() + 4 * i, &values[i], 4);
    } else {
      uint16_t h =
          dtype == DType::BF16 ? floatToBf16(values[i]) : floatToF16(values[i]);
      std::memcpy(e.bytes.data() + 2 * i, &h, 2);
    }
  }
  return e;
}

/// The scaled copy equals an element-by-element reference bit for bit, on
/// however many threads it runs (1031 x 1024 is split over several).
TEST(CpuKernelsTest, ScaleColumnsRoundsOnce) {
  std::mt19937 rng(6);
  const int64_t rows = 1031, cols = 1024;
  std::vector<float> w = randomBf16Values(rows * cols, rng, 2.0f),
                     scale = randomBf16Values(cols, rng, 1.5f);
  for (DType from : {DType::BF16, DType::F16, DType::F32}) {
    SafeTensorsEntry e = floatEntry("w", from, {rows, cols}, w);
    TensorView src{from, e.shape, e.bytes.data(), e.bytes.size()};
    for (DType to : {DType::BF16, DType::F16, DType::F32}) {
      std::vector<uint8_t> got(rows * cols * dtypeSize(to)), want(got.size());
      ASSERT_TRUE(scaleColumns(src, scale, to, got.data()));
      for (int64_t i = 0; i < rows * cols; ++i) {
        float f = src.getFloat(i) * scale[i % cols];
        if (to == DType::F32) {
          std::memcpy(want.data() + 4 * i, &f, 4);
        } else {
          uint16_t h = to == DType::BF16 ? floatToBf16(f) : floatToF16(f);
          std::memcpy(want.data() + 2 * i, &h, 2);
        }
      }
      EXPECT_TRUE(got == want) << dtypeName(from) << " -> " << dtypeName(to);
    }
  }
  // Not whole rows; an integer source.
  SafeTensorsEntry e = floatEntry("w", DType::BF16, {3, 5}, w);
  TensorView odd{DType::BF16, e.shape, e.bytes.data(), e.bytes.size()};
  std::vector<uint8_t> out(64);
  EXPECT_FALSE(
      scaleColumns(odd, std::vector<float>(4, 1.0f), DType::BF16, out.data()));
  odd.dtype = DType::I16;
  EXPECT_FALSE(
      scaleColumns(odd, std::vector<float>(5, 1.0f), DType::BF16, out.data()));
}

/// A linear through the CPU backend twice: the norm weight folded into the
/// weight's columns (column_scale, norm_epsilon alone) and as the
/// norm_weight role. The packed weight mixes a bf16 and an f32 part.
struct FoldedNormCase {
  static constexpr int64_t T = 5, K = 64, N1 = 24, N2 = 16;
  std::vector<SafeTensorsEntry> entries;
  json header;
  HostTensor x;

  explicit FoldedNormCase(const std::string &scaleName = "gamma") {
    std::mt19937 rng(11);
    std::vector<float> gamma = randomBf16Values(K, rng, 0.5f);
    for (float &g : gamma)
      g = roundToBf16(1.0f + g);
    entries = {randomBf16("wa", {N1, K}, 0.3f, rng),
               floatEntry("wb", DType::F32, {N2, K},
                          randomBf16Values(N2 * K, rng, 0.3f)),
               floatEntry("gamma", DType::BF16, {K}, gamma)};
    GraphBuilder g;
    int in = g.input("x", {-1, K}, "bf16");
    int scaled = g.weight({"wa", "wb"}, {N1 + N2, K}, "bf16", scaleName);
    int plain = g.weight({"wa", "wb"}, {N1 + N2, K});
    int norm = g.weight({"gamma"}, {K});
    int y1 = g.value({-1, N1 + N2}, "bf16"),
        y2 = g.value({-1, N1 + N2}, "bf16");
    g.node("linear", {in, scaled}, {y1}, {{"norm_epsilon", 1e-5}});
    g.node("linear", {in, plain, norm}, {y2}, {{"norm_epsilon", 1e-5}},
           {{"norm_weight", norm}});
    g.outputs = {{"folded", y1}, {"reference", y2}};
    header = {{"model", {{"vocab_size", 8}}}, {"graph", g.build()}};
    x.dtype = DType::BF16;
    x.shape = {T, K};
    x.f = randomBf16Values(T * K, rng, 2.0f);
  }

  StatusOr<std::unique_ptr<CpuBackend>>
  backend(const std::vector<SafeTensorsEntry> &weights) const {
    auto art = Artifact::parse(artifactBytes(header), "folded.art");
    if (!art.ok())
      return art.status();
    INFER_ASSIGN_OR_RETURN(std::shared_ptr<const SafeTensors> st,
                           mappedSafeTensors(weights));
    BackendOptions o;
    o.numThreads = 2;
    return CpuBackend::create(*art, st, o);
  }
};

TEST(CpuBackendTest, ColumnScaledWeightMatchesNormWeight) {
  FoldedNormCase c;
  auto b = c.backend(c.entries);
  ASSERT_TRUE(b.ok()) << b.status().toString();
  StepExtras extras;
  extras.inputs["x"] = c.x;
  StepBatch batch;
  batch.queryStartLoc = {0};
  StepOutputs out;
  Status st = (*b)->step(batch, out, &extras);
  ASSERT_TRUE(st.ok()) << st.toString();
  const std::vector<float> &folded = out.extra["folded"].f,
                           &ref = out.extra["reference"].f;
  ASSERT_EQ(folded.size(), size_t(c.T * (c.N1 + c.N2)));
  ASSERT_EQ(ref.size(), folded.size());
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (folded[i] - ref[i]) * double(folded[i] - ref[i]);
    norm += double(ref[i]) * ref[i];
  }
  EXPECT_LT(std::sqrt(err / norm), 1e-2) << std::sqrt(err / norm);
  EXPECT_GT(norm, 0);
}

TEST(CpuBackendTest, ColumnScaleErrors) {
  // Absent from the checkpoint.
  FoldedNormCase missing("model.layers.0.input_layernorm.weight");
  auto b = missing.backend(missing.entries);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::NotFound);
  EXPECT_NE(
      b.status().message().find("'model.layers.0.input_layernorm.weight'"),
      std::string::npos)
      << b.status().message();
  EXPECT_NE(b.status().message().find("weight node 0"), std::string::npos)
      << b.status().message();
  // Wrong length, wrong dtype.
  FoldedNormCase c;
  std::vector<SafeTensorsEntry> w = c.entries;
  w[2].shape = {c.K / 2};
  w[2].bytes.resize(c.K);
  b = c.backend(w);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(b.status().message().find("vector of length 64"), std::string::npos)
      << b.status().message();
  w = c.entries;
  w[2].dtype = DType::I16;
  b = c.backend(w);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::InvalidArgument);
  EXPECT_NE(b.status().message().find("I16"), std::string::npos)
      << b.status().message();
}

/// linear{activation = "silu_mul"} against linear followed by the one-operand
/// silu_mul op on the same packed [gate | up] weight: bit for bit, including
/// the rounding of the intermediate [T, 2I] to bf16.
struct FusedSiluMulCase {
  static constexpr int64_t K = 64, I = 40;
  std::vector<SafeTensorsEntry> entries;
  std::mt19937 rng{12};

  FusedSiluMulCase() {
    std::vector<float> gamma = randomBf16Values(K, rng, 0.5f);
    for (float &g : gamma)
      g = roundToBf16(1.0f + g);
    entries = {randomBf16("gate", {I, K}, 0.3f, rng),
               randomBf16("up", {I, K}, 0.3f, rng),
               randomBf16("bias", {2 * I}, 0.5f, rng),
               floatEntry("gamma", DType::BF16, {K}, gamma)};
  }

  /// `attrs` and `roles` (names of "norm_weight"/"bias") go on both linears.
  json header(const json &attrs, const std::vector<std::string> &roles) const {
    GraphBuilder g;
    int in = g.input("x", {-1, K}, "bf16");
    int w = g.weight({"gate", "up"}, {2 * I, K});
    std::vector<int> ops = {in, w};
    json roleIds = json::object();
    for (const std::string &r : roles) {
      int id =
          r == "bias" ? g.weight({"bias"}, {2 * I}) : g.weight({"gamma"}, {K});
      ops.push_back(id);
      roleIds[r] = id;
    }
    json rolesOrNull = roles.empty() ? json() : roleIds;
    int fused = g.value({-1, I}, "bf16");
    json fusedAttrs = attrs;
    fusedAttrs["activation"] = "silu_mul";
    g.node("linear", ops, {fused}, fusedAttrs, rolesOrNull);
    int packed = g.value({-1, 2 * I}, "bf16"), ref = g.value({-1, I}, "bf16");
    g.node("linear", ops, {packed}, attrs, rolesOrNull);
    g.node("silu_mul", {packed}, {ref});
    g.outputs = {{"fused", fused}, {"reference", ref}};
    return {{"model", {{"vocab_size", 8}}}, {"graph", g.build()}};
  }
};

TEST(CpuBackendTest, LinearSiluMulMatchesUnfusedPair) {
  FusedSiluMulCase c;
  auto st = mappedSafeTensors(c.entries);
  ASSERT_TRUE(st.ok()) << st.status().toString();
  struct Variant {
    const char *name;
    json attrs;
    std::vector<std::string> roles;
  };
  const Variant variants[] = {
      {"plain", json::object(), {}},
      {"norm_epsilon", {{"norm_epsilon", 1e-5}}, {}},
      {"norm_weight", {{"norm_epsilon", 1e-6}}, {"norm_weight"}},
      {"bias+norm_epsilon", {{"norm_epsilon", 1e-5}}, {"bias"}},
  };
  for (const Variant &v : variants) {
    auto art =
        Artifact::parse(artifactBytes(c.header(v.attrs, v.roles)), "fused.art");
    ASSERT_TRUE(art.ok()) << v.name << ": " << art.status().toString();
    BackendOptions o;
    o.numThreads = 2;
    auto b = CpuBackend::create(*art, *st, o);
    ASSERT_TRUE(b.ok()) << v.name << ": " << b.status().toString();
    for (int64_t T : {1, 3, 17}) {
      StepExtras extras;
      HostTensor x;
      x.dtype = DType::BF16;
      x.shape = {T, c.K};
      x.f = randomBf16Values(T * c.K, c.rng, 3.0f);
      extras.inputs["x"] = x;
      StepBatch batch;
      batch.queryStartLoc = {0};
      StepOutputs out;
      Status s = (*b)->step(batch, out, &extras);
      ASSERT_TRUE(s.ok()) << v.name << " T=" << T << ": " << s.toString();
      const HostTensor &fused = out.extra["fused"],
                       &ref = out.extra["reference"];
      EXPECT_EQ(fused.shape, (std::vector<int64_t>{T, c.I})) << v.name;
      ASSERT_EQ(fused.f.size(), size_t(T * c.I)) << v.name;
      size_t nonzero = 0;
      for (size_t i = 0; i < fused.f.size(); ++i) {
        // Bit-identical, not just equal as floats.
        uint32_t fb, rb;
        std::memcpy(&fb, &fused.f[i], 4);
        std::memcpy(&rb, &ref.f[i], 4);
        ASSERT_EQ(fb, rb) << v.name << " T=" << T << " at " << i << ": "
                          << fused.f[i] << " vs " << ref.f[i];
        EXPECT_EQ(fused.f[i], roundToBf16(fused.f[i]));
        nonzero += fused.f[i] != 0;
      }
      EXPECT_GT(nonzero, fused.f.size() / 2) << v.name;
    }
  }
}

} // namespace

//===- CpuKernels.cpp - Plain C++ kernels of the CPU backend --------------===//

#include "infer/runtime/CpuKernels.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

using namespace infer;
using namespace infer::runtime;
using namespace infer::runtime::cpu;

void MatrixRef::row(int64_t r, float *dst) const {
  const uint8_t *p = data + static_cast<size_t>(r * cols) * dtypeSize(dtype);
  switch (dtype) {
  case DType::BF16:
    for (int64_t i = 0; i < cols; ++i) {
      uint16_t b;
      std::memcpy(&b, p + 2 * i, 2);
      dst[i] = bf16ToFloat(b);
    }
    break;
  case DType::F16:
    for (int64_t i = 0; i < cols; ++i) {
      uint16_t b;
      std::memcpy(&b, p + 2 * i, 2);
      dst[i] = f16ToFloat(b);
    }
    break;
  default:
    std::memcpy(dst, p, static_cast<size_t>(cols) * 4);
    break;
  }
}

void cpu::parallelFor(int64_t n, int numThreads, double work,
                      const std::function<void(int64_t, int64_t)> &fn) {
  int threads = numThreads > 0
                    ? numThreads
                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min<int>(threads, static_cast<int>(n)));
  if (threads == 1 || work < 2e5) {
    fn(0, n);
    return;
  }
  std::vector<std::thread> pool;
  int64_t chunk = (n + threads - 1) / threads;
  for (int i = 1; i < threads; ++i) {
    int64_t b = i * chunk, e = std::min(n, b + chunk);
    if (b < e)
      pool.emplace_back(fn, b, e);
  }
  fn(0, std::min(n, chunk));
  for (std::thread &t : pool)
    t.join();
}

void cpu::rmsNorm(const float *x, int64_t rows, int64_t width,
                  const float *weight, float eps, DType outType, float *out) {
  for (int64_t t = 0; t < rows; ++t) {
    const float *xr = x + t * width;
    double ss = 0.0;
    for (int64_t i = 0; i < width; ++i)
      ss += static_cast<double>(xr[i]) * xr[i];
    float var = static_cast<float>(ss / static_cast<double>(width));
    float inv = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < width; ++i) {
      float normed = roundTo(outType, xr[i] * inv);
      out[t * width + i] = weight ? roundTo(outType, weight[i] * normed)
                                  : normed; // A weight of ones.
    }
  }
}

namespace {
float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[i + j] * b[i + j];
  for (; i < n; ++i)
    acc[i & 7] += a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
         ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
} // namespace

void cpu::linear(const float *x, int64_t rows, const MatrixRef &w,
                 const float *bias, const float *residual, DType outType,
                 float *out, int numThreads) {
  const int64_t n = w.rows, k = w.cols;
  double work = static_cast<double>(rows) * n * k;
  parallelFor(n, numThreads, work, [&](int64_t n0, int64_t n1) {
    std::vector<float> wr(static_cast<size_t>(k));
    for (int64_t j = n0; j < n1; ++j) {
      w.row(j, wr.data());
      for (int64_t t = 0; t < rows; ++t) {
        float acc = dot(x + t * k, wr.data(), k);
        if (bias)
          acc += bias[j];
        float v = roundTo(outType, acc);
        if (residual)
          v = roundTo(outType, v + residual[t * n + j]);
        out[t * n + j] = v;
      }
    }
  });
}

void cpu::siluMul(const float *gate, int64_t gateStride, const float *up,
                  int64_t upStride, int64_t rows, int64_t width, DType outType,
                  float *out) {
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t i = 0; i < width; ++i) {
      float g = gate[t * gateStride + i];
      float s = roundTo(outType, g / (1.0f + std::exp(-g)));
      out[t * width + i] = roundTo(outType, s * up[t * upStride + i]);
    }
}

std::vector<float> cpu::ropeInvFreq(int64_t headDim, const RopeParams &p) {
  int64_t half = headDim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  float base = static_cast<float>(p.theta);
  for (int64_t i = 0; i < half; ++i) {
    float e = static_cast<float>(2 * i) / static_cast<float>(headDim);
    inv[i] = 1.0f / std::pow(base, e);
  }
  const float factor = static_cast<float>(p.factor);
  if (p.scaling == RopeParams::Scaling::Linear) {
    for (float &f : inv)
      f = f / factor;
  } else if (p.scaling == RopeParams::Scaling::Llama3) {
    // transformers' _compute_llama3_parameters, in f32.
    const float oldCtx = static_cast<float>(p.originalMaxPosition);
    const float lowF = static_cast<float>(p.lowFreqFactor);
    const float highF = static_cast<float>(p.highFreqFactor);
    const float lowWavelen =
        static_cast<float>(p.originalMaxPosition / p.lowFreqFactor);
    const float highWavelen =
        static_cast<float>(p.originalMaxPosition / p.highFreqFactor);
    const float twoPi = static_cast<float>(2.0 * M_PI);
    for (float &f : inv) {
      float wavelen = twoPi / f;
      float llama = wavelen > lowWavelen ? f / factor : f;
      float smooth = (oldCtx / wavelen - lowF) / (highF - lowF);
      float smoothed = (1.0f - smooth) * llama / factor + smooth * llama;
      bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
      f = medium ? smoothed : llama;
    }
  }
  return inv;
}

void cpu::rope(float *x, int64_t stride, int64_t rows, int64_t numHeads,
               int64_t headDim, const int32_t *positions,
               const std::vector<float> &invFreq, DType type) {
  const int64_t half = headDim / 2;
  std::vector<float> cs(static_cast<size_t>(half)), sn(cs.size()),
      tmp(static_cast<size_t>(headDim));
  for (int64_t t = 0; t < rows; ++t) {
    float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      float ang = invFreq[i] * pos;
      cs[i] = roundTo(type, std::cos(ang));
      sn[i] = roundTo(type, std::sin(ang));
    }
    for (int64_t h = 0; h < numHeads; ++h) {
      float *v = x + t * stride + h * headDim;
      for (int64_t i = 0; i < headDim; ++i) {
        int64_t f = i % half;
        float rot = i < half ? -v[i + half] : v[i - half];
        float a = roundTo(type, v[i] * cs[f]);
        float b = roundTo(type, rot * sn[f]);
        tmp[i] = roundTo(type, a + b);
      }
      std::copy(tmp.begin(), tmp.end(), v);
    }
  }
}

Status cpu::kvAppend(const KvPool &pool, int64_t layer, const float *k,
                     int64_t kStride, const float *v, int64_t vStride,
                     const int32_t *slots, int64_t rows) {
  const int64_t capacity = pool.numBlocks * pool.blockSize;
  for (int64_t t = 0; t < rows; ++t) {
    int64_t slot = slots[t];
    if (slot < 0)
      continue;
    if (slot >= capacity)
      return invalidArgumentError("kv_append: slot " + std::to_string(slot) +
                                  " of token " + std::to_string(t) +
                                  " is outside the KV pool of " +
                                  std::to_string(capacity) + " slots");
    int64_t b = slot / pool.blockSize, s = slot % pool.blockSize;
    for (int64_t h = 0; h < pool.kvHeads; ++h)
      for (int64_t d = 0; d < pool.headDim; ++d) {
        int64_t c = h * pool.headDim + d;
        pool.data[pool.index(b, layer, 0, h, s, d)] =
            floatToBf16(k[t * kStride + c]);
        pool.data[pool.index(b, layer, 1, h, s, d)] =
            floatToBf16(v[t * vStride + c]);
      }
  }
  return okStatus();
}

Status cpu::pagedAttention(const KvPool &pool, const float *q,
                           int64_t numTokens, const AttentionArgs &a,
                           DType outType, float *out) {
  const int64_t hd = pool.headDim, width = a.numHeads * hd;
  if (a.numHeads % pool.kvHeads != 0)
    return invalidArgumentError(
        "paged_attention: num_heads " + std::to_string(a.numHeads) +
        " is not a multiple of kv_heads " + std::to_string(pool.kvHeads));
  const int64_t group = a.numHeads / pool.kvHeads;
  if (a.queryStart[0] != 0 || a.queryStart[a.numSeqs] != numTokens)
    return invalidArgumentError(
        "paged_attention: query_start must run from 0 to the token count " +
        std::to_string(numTokens));
  std::vector<float> scores, acc(static_cast<size_t>(hd));
  for (int64_t b = 0; b < a.numSeqs; ++b) {
    const int64_t q0 = a.queryStart[b], q1 = a.queryStart[b + 1];
    const int64_t qLen = q1 - q0, ctx = a.contextLens[b];
    std::string seq = "paged_attention: sequence " + std::to_string(b);
    if (qLen < 0 || ctx < qLen)
      return invalidArgumentError(seq + " has " + std::to_string(qLen) +
                                  " queries but context length " +
                                  std::to_string(ctx));
    if ((ctx + pool.blockSize - 1) / pool.blockSize > a.tableWidth)
      return invalidArgumentError(seq + ": block table too short for " +
                                  std::to_string(ctx) + " tokens");
    const int32_t *table = a.blockTables + b * a.tableWidth;
    for (int64_t j = 0; j < (ctx + pool.blockSize - 1) / pool.blockSize; ++j)
      if (table[j] < 0 || table[j] >= pool.numBlocks)
        return invalidArgumentError(
            seq + ": block table entry " + std::to_string(j) + " = " +
            std::to_string(table[j]) + " is not a block of the pool");
    scores.resize(static_cast<size_t>(ctx));
    for (int64_t i = 0; i < qLen; ++i) {
      const int64_t pos = ctx - qLen + i;
      const int64_t lo = a.slidingWindow > 0
                             ? std::max<int64_t>(0, pos - a.slidingWindow + 1)
                             : 0;
      for (int64_t h = 0; h < a.numHeads; ++h) {
        const float *qv = q + (q0 + i) * width + h * hd;
        const int64_t kvh = h / group;
        float m = -INFINITY;
        for (int64_t j = lo; j <= pos; ++j) {
          int64_t blk = table[j / pool.blockSize], s = j % pool.blockSize;
          const uint16_t *kp =
              pool.data + pool.index(blk, a.layer, 0, kvh, s, 0);
          float d = 0.0f;
          for (int64_t e = 0; e < hd; ++e)
            d += qv[e] * bf16ToFloat(kp[e]);
          scores[j] = d * a.scale;
          m = std::max(m, scores[j]);
        }
        float sum = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = lo; j <= pos; ++j) {
          float p = std::exp(scores[j] - m);
          sum += p;
          int64_t blk = table[j / pool.blockSize], s = j % pool.blockSize;
          const uint16_t *vp =
              pool.data + pool.index(blk, a.layer, 1, kvh, s, 0);
          for (int64_t e = 0; e < hd; ++e)
            acc[e] += p * bf16ToFloat(vp[e]);
        }
        float *o = out + (q0 + i) * width + h * hd;
        for (int64_t e = 0; e < hd; ++e)
          o[e] = roundTo(outType, acc[e] / sum);
      }
    }
  }
  return okStatus();
}

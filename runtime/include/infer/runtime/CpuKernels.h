//===- CpuKernels.h - Plain C++ kernels of the CPU backend ------*- C++ -*-===//
//
// One function per op, on row-major f32 buffers (bf16 values held exactly in
// f32). Accumulation is f32; results are rounded to `outType` (bf16 round to
// nearest even) the way Hugging Face's bf16 modules round them.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_CPUKERNELS_H
#define INFER_RUNTIME_CPUKERNELS_H

#include "infer/runtime/Status.h"
#include "infer/runtime/Tensor.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace infer::runtime::cpu {

/// A [rows, cols] matrix in bf16, f16 or f32 (weights stay in their dtype).
struct MatrixRef {
  DType dtype = DType::F32;
  const uint8_t *data = nullptr;
  int64_t rows = 0, cols = 0;
  void row(int64_t r, float *dst) const;
};

/// HF LlamaRMSNorm: out = round(w * round(x * rsqrt(mean(x^2) + eps))).
/// A null `weight` means all ones: out = round(x * rsqrt(...)).
void rmsNorm(const float *x, int64_t rows, int64_t width, const float *weight,
             float eps, DType outType, float *out);

/// out = round(round(x @ W^T + bias) + residual); bias/residual may be null.
void linear(const float *x, int64_t rows, const MatrixRef &w, const float *bias,
            const float *residual, DType outType, float *out, int numThreads);

/// out = round(round(silu(gate)) * up); strides in elements.
void siluMul(const float *gate, int64_t gateStride, const float *up,
             int64_t upStride, int64_t rows, int64_t width, DType outType,
             float *out);

struct RopeParams {
  double theta = 10000.0;
  enum class Scaling { None, Linear, Llama3 } scaling = Scaling::None;
  double factor = 1.0, lowFreqFactor = 1.0, highFreqFactor = 4.0;
  double originalMaxPosition = 8192;
};

/// inv_freq[headDim/2] exactly as HF computes it (f32), with scaling.
std::vector<float> ropeInvFreq(int64_t headDim, const RopeParams &params);

/// Rotate-half RoPE of `numHeads` heads at `x + t * stride` in place.
void rope(float *x, int64_t stride, int64_t rows, int64_t numHeads,
          int64_t headDim, const int32_t *positions,
          const std::vector<float> &invFreq, DType type);

/// The paged KV pool layout of docs/artifact.md (bf16 elements).
struct KvPool {
  uint16_t *data = nullptr;
  int64_t numBlocks = 0, layers = 0, kvHeads = 0, blockSize = 0, headDim = 0;
  size_t index(int64_t block, int64_t layer, int kv, int64_t head, int64_t slot,
               int64_t d) const {
    return static_cast<size_t>(
        ((((block * layers + layer) * 2 + kv) * kvHeads + head) * blockSize +
         slot) *
            headDim +
        d);
  }
};

/// Writes rows of K and V ([rows, kvHeads*headDim] at the given strides) to
/// their slots; negative slots are skipped.
Status kvAppend(const KvPool &pool, int64_t layer, const float *k,
                int64_t kStride, const float *v, int64_t vStride,
                const int32_t *slots, int64_t rows);

struct AttentionArgs {
  int64_t layer = 0, numHeads = 0;
  float scale = 1.0f;
  int64_t slidingWindow = 0; ///< 0: none.
  const int32_t *blockTables = nullptr;
  int64_t numSeqs = 0, tableWidth = 0;
  const int32_t *contextLens = nullptr, *queryStart = nullptr;
};

/// Causal GQA attention of ragged queries [T, numHeads*headDim] over the
/// pool; f32 scores and two-pass softmax.
Status pagedAttention(const KvPool &pool, const float *q, int64_t numTokens,
                      const AttentionArgs &args, DType outType, float *out);

/// Runs fn(begin, end) over [0, n) on up to `numThreads` threads when the
/// `work` estimate makes it worthwhile.
void parallelFor(int64_t n, int numThreads, double work,
                 const std::function<void(int64_t, int64_t)> &fn);

} // namespace infer::runtime::cpu

#endif // INFER_RUNTIME_CPUKERNELS_H

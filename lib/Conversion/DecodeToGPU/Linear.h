//===- Linear.h - decode.linear kernel families (internal) ------*- C++ -*-===//
//
// Shared by Linear.cpp (GEMV, mma.sync, the split-K reduce) and
// LinearWgmma.cpp (the sm_90a warpgroup kernel).
//
//===----------------------------------------------------------------------===//

#ifndef INFER_LIB_CONVERSION_DECODETOGPU_LINEAR_H
#define INFER_LIB_CONVERSION_DECODETOGPU_LINEAR_H

#include "KernelBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include <optional>

namespace infer::linear {

/// What the kernels of one decode.linear need to know.
struct LinearInfo {
  int64_t n = 0, k = 0;
  mlir::Type inType, outType;
  int64_t vectorWidth = 0; ///< elements per 16-byte access of x and W
  /// Operand slots; `norm` is the RMSNorm weight (absent when it was folded
  /// into W's columns, decode-fold-norm-weight).
  std::optional<unsigned> bias, residual, norm;
  /// The RMS scale rsqrt(mean(x^2) + epsilon) applies (`norm_epsilon`).
  bool rms = false;
  /// `activation = silu_mul`: rows [0, n/2) are gate, [n/2, n) up; the
  /// result has n/2 columns.
  bool gated = false;
  int64_t outColumns() const { return gated ? n / 2 : n; }
  float epsilon = 0.0f;
  StepScalar rows = StepScalar::Tokens;
};

/// K elements per pipeline stage of the wgmma kernel (K must be a multiple).
inline constexpr int64_t kWgmmaKTile = 64;

/// Workspace row of a split-K linear: `kSplit` partial rows of N f32, then
/// `kSplit` partial sums of squares of the input row.
mlir::MemRefType splitWorkspaceType(const LinearInfo &info, int64_t kSplit,
                                    mlir::Builder &b);

/// The epilogue of output element (token row `row`, column `n`), or of
/// `width` consecutive columns from `n` when `acc` is a vector<width x f32>
/// (vector accesses: N must keep them aligned): `acc` is the f32 dot
/// product, `rms` the RMSNorm scale (or null). Writes
/// `round(acc * rms + bias + residual)` to `result`.
void storeOutput(KernelBuilder &kb, const LinearInfo &info, mlir::Value acc,
                 mlir::Value rms, mlir::Value row, mlir::Value n,
                 mlir::Value result, std::optional<unsigned> biasSlot,
                 std::optional<unsigned> residualSlot);
/// The value storeOutput writes (in the output type), and the store itself:
/// kernels that finish several outputs issue all their loads first.
mlir::Value outputValue(KernelBuilder &kb, const LinearInfo &info,
                        mlir::Value acc, mlir::Value rms, mlir::Value row,
                        mlir::Value n, std::optional<unsigned> biasSlot,
                        std::optional<unsigned> residualSlot);
void storeOutputValue(KernelBuilder &kb, mlir::Value value, mlir::Value result,
                      mlir::Value row, mlir::Value n);
/// The same for a gated linear (no residual): output column `n` of
/// `silu_mul(round(gate epilogue), round(up epilogue))` from the dot
/// products of weight rows n (`gate`) and n + N/2 (`up`).
void storeGatedOutput(KernelBuilder &kb, const LinearInfo &info,
                      mlir::Value gate, mlir::Value up, mlir::Value rms,
                      mlir::Value row, mlir::Value n, mlir::Value result,
                      std::optional<unsigned> biasSlot);
/// The value storeGatedOutput writes.
mlir::Value gatedOutputValue(KernelBuilder &kb, const LinearInfo &info,
                             mlir::Value gate, mlir::Value up, mlir::Value rms,
                             mlir::Value row, mlir::Value n,
                             std::optional<unsigned> biasSlot);

/// rsqrt(sumsq / K + eps).
mlir::Value rmsScale(KernelBuilder &kb, const LinearInfo &info,
                     mlir::Value sumsq);

/// The kernel that sums split-K partials and applies the epilogue
/// (`round(acc * rsqrt(mean(x^2) + eps) + bias + residual)`): one thread
/// per output element, grid.y over the rows.
void emitSplitReduce(mlir::decode::LinearOp op, EmitContext &ctx,
                     const LinearInfo &info, int64_t maxTokens, int64_t kSplit,
                     llvm::SmallVectorImpl<KernelLaunch> &out);

/// The sm_90a tensor-core kernel of one bucket (and its split-K reduce).
void emitWgmma(mlir::decode::LinearOp op, EmitContext &ctx,
               const LinearInfo &info, int64_t maxTokens, int64_t kSplit,
               llvm::SmallVectorImpl<KernelLaunch> &out);

} // namespace infer::linear

#endif // INFER_LIB_CONVERSION_DECODETOGPU_LINEAR_H

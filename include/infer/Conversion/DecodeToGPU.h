//===- DecodeToGPU.h - decode -> gpu kernel emission ------------*- C++ -*-===//
//
// `convert-decode-to-gpu` turns every (fused) decode op of a step into one or
// more `gpu.func` kernels inside a `gpu.module`, and records on the op how to
// launch them (`decode.launches`). One emitter per op family lives in
// lib/Conversion/DecodeToGPU/<Family>.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_CONVERSION_DECODETOGPU_H
#define INFER_CONVERSION_DECODETOGPU_H

#include "infer/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace infer {

/// Target facts the emitters tune for.
struct KernelTarget {
  int64_t numSMs = 132;
  int64_t maxSharedBytesPerBlock = 227 * 1024;
};

/// Tuning knobs of the emitters: the options of convert-decode-to-gpu
/// (include/infer/Conversion/Passes.td documents each).
using EmitOptions = ConvertDecodeToGPUOptions;

/// A grid extent: `constant` times the step's runtime quantity `scale`, or
/// for the `Per*` scales `ceil(constant / quantity)` (a budget of blocks
/// shared by the step's tokens or sequences; 0 when the quantity is 0).
struct GridExtent {
  enum class Scale {
    One,
    Tokens,
    Sequences,
    SampledRows,
    PerToken,
    PerSequence
  };
  int64_t constant = 1;
  Scale scale = Scale::One;
};

/// A runtime quantity of the step or of the launching op, passed to kernels
/// as an `i32` parameter (docs/launch-plan.md, "ABI").
enum class StepScalar {
  Tokens,          ///< T: flat token count of the step
  Sequences,       ///< B: sequences in the step
  SampledRows,     ///< S: rows that produce logits
  BlockTableWidth, ///< W: columns of the block tables (max blocks/sequence)
  Layer,           ///< the op's `layer` attribute (KV cache layer)
  Launch,          ///< the launch's slot in the `timeline` buffer
};

/// One kernel parameter. A launch's parameters appear in this order:
/// operands, results, workspace, counters, scalars (docs/launch-plan.md,
/// "ABI").
struct KernelArg {
  /// TensorMap: a pointer to a TMA descriptor (CUtensorMap in global memory)
  /// of 2-D operand `index`, boxes of `boxRows` x `boxCols` elements, 128-byte
  /// swizzle; the runtime encodes it when it binds the operand.
  /// Counters: `i32` words that are zero whenever no kernel runs (the
  /// runtime zeroes them once; a kernel restores every word it changes).
  /// Timeline: `i64` pairs, one per launch slot (`timeline` option): the
  /// bitwise-not of the earliest block start and the latest block end
  /// (%globaltimer, ns), both kept by atomic max over a zeroed buffer.
  enum class Kind {
    Operand,
    TensorMap,
    Result,
    Workspace,
    Counters,
    Scalar,
    Timeline
  };
  Kind kind = Kind::Operand;
  unsigned index = 0;                     ///< operand or result number
  StepScalar scalar = StepScalar::Tokens; ///< for Kind::Scalar
  int64_t boxRows = 0, boxCols = 0;       ///< for Kind::TensorMap
};

/// How to launch one emitted kernel. Serialized into `decode.launches`.
struct KernelLaunch {
  std::string kernel;    ///< gpu.func name in the kernels module
  int64_t maxTokens = 0; ///< bucket bound; 0 means any token count
  GridExtent grid[3];
  int64_t block[3] = {1, 1, 1};
  int64_t sharedBytes = 0;            ///< dynamic shared memory
  int64_t workspaceBytes = 0;         ///< fixed scratch bytes
  int64_t workspaceBytesPerToken = 0; ///< scratch per row (e.g. partials)
  int64_t counterWordsPerToken = 0;   ///< `counters` words per row
  /// The kernel waits for the previous grid (griddepcontrol.wait) before it
  /// touches memory: it may be launched with programmatic stream
  /// serialization, overlapping its launch with the previous kernel's tail.
  bool programmatic = false;
  llvm::SmallVector<KernelArg> args; ///< parameters, in ABI order
};

/// Context handed to each family emitter.
struct EmitContext {
  mlir::gpu::GPUModuleOp kernels;
  KernelTarget target;
  EmitOptions options;
  /// Unique kernel name with the given prefix.
  std::string uniqueName(llvm::StringRef prefix);
  unsigned counter = 0;
  /// The step quantity that counts the rows (dim 0) of each activation-like
  /// value of the step being converted; filled by the driver in program order.
  llvm::DenseMap<mlir::Value, StepScalar> rows;
  /// Rows of `v` (StepScalar::Tokens when unknown).
  StepScalar rowsOf(mlir::Value v) const;
};

/// The grid scale that multiplies a grid extent by `s`. BlockTableWidth and
/// Layer have no grid scale; asking for them is a programming error.
GridExtent::Scale toGridScale(StepScalar s);

/// Family emitters. Each emits the kernels of `op` into `ctx.kernels` and
/// appends their launches; returns failure (with a diagnostic on `op`) if the
/// op is not supported.
mlir::LogicalResult emitLinearKernels(mlir::Operation *op, EmitContext &ctx,
                                      llvm::SmallVectorImpl<KernelLaunch> &out);
mlir::LogicalResult emitNormKernels(mlir::Operation *op, EmitContext &ctx,
                                    llvm::SmallVectorImpl<KernelLaunch> &out);
mlir::LogicalResult
emitElementwiseKernels(mlir::Operation *op, EmitContext &ctx,
                       llvm::SmallVectorImpl<KernelLaunch> &out);
mlir::LogicalResult
emitAttentionKernels(mlir::Operation *op, EmitContext &ctx,
                     llvm::SmallVectorImpl<KernelLaunch> &out);
mlir::LogicalResult emitRopeKernels(mlir::Operation *op, EmitContext &ctx,
                                    llvm::SmallVectorImpl<KernelLaunch> &out);
mlir::LogicalResult emitSampleKernels(mlir::Operation *op, EmitContext &ctx,
                                      llvm::SmallVectorImpl<KernelLaunch> &out);

} // namespace infer

#endif // INFER_CONVERSION_DECODETOGPU_H

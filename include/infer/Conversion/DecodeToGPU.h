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

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"

#include <string>

namespace infer {

/// Target facts the emitters tune for.
struct KernelTarget {
  int64_t numSMs = 132;
  int64_t maxSharedBytesPerBlock = 227 * 1024;
};

/// A grid extent: `constant` times the step's runtime quantity `scale`.
struct GridExtent {
  enum class Scale { One, Tokens, Sequences, SampledRows };
  int64_t constant = 1;
  Scale scale = Scale::One;
};

/// How to launch one emitted kernel. Serialized into `decode.launches`.
struct KernelLaunch {
  std::string kernel;              ///< gpu.func name in the kernels module
  int64_t maxTokens = 0;           ///< bucket bound; 0 means any token count
  GridExtent grid[3];
  int64_t block[3] = {1, 1, 1};
  int64_t sharedBytes = 0;         ///< dynamic shared memory
  int64_t workspaceBytesPerToken = 0; ///< scratch (e.g. split-KV partials)
};

/// Context handed to each family emitter.
struct EmitContext {
  mlir::gpu::GPUModuleOp kernels;
  KernelTarget target;
  /// Unique kernel name with the given prefix.
  std::string uniqueName(llvm::StringRef prefix);
  unsigned counter = 0;
};

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

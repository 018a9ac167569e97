//===- StepBuilder.h - decode IR for a model step ---------------*- C++ -*-===//
//
// Builds the unfused `func.func @step` of docs/artifact.md for a ModelConfig.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_FRONTEND_STEPBUILDER_H
#define INFER_FRONTEND_STEPBUILDER_H

#include "Decode/IR/DecodeDialect.h"
#include "infer/Frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace infer {

struct StepOptions {
  mlir::decode::StepRole role = mlir::decode::StepRole::Decode;
  /// Tokens per KV cache page; a power of two.
  int64_t blockSize = 16;
};

/// Name of the module attribute (a dictionary) holding the model metadata
/// that the artifact header records.
inline constexpr llvm::StringLiteral kModelAttrName = "infer.model";

/// Builds a module holding the step function and the model metadata. Returns
/// null after emitting a diagnostic if the IR fails to verify.
mlir::OwningOpRef<mlir::ModuleOp> buildStepModule(mlir::MLIRContext &context,
                                                  const ModelConfig &config,
                                                  const StepOptions &options);

} // namespace infer

#endif // INFER_FRONTEND_STEPBUILDER_H

//===- InitInfer.h - dialect and pass registration --------------*- C++ -*-===//
//
// One registry shared by infer-opt and infer-compile. Registration is
// selective: only what the decode -> PTX path needs.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_INITINFER_H
#define INFER_INITINFER_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace infer {
/// Dialects, ConvertToLLVM interfaces, the NVVM target and LLVM IR
/// translations used between `decode` and PTX.
void registerDialects(mlir::DialectRegistry &registry);

/// infer's passes and pipelines plus the upstream ones they build on.
void registerPasses();
} // namespace infer

#endif // INFER_INITINFER_H

//===- ArtifactWriter.h - write the .art container --------------*- C++ -*-===//
//
// Serializes a verified step function (fused or not), the model metadata and
// any `gpu.binary` kernels into the container of docs/artifact.md.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_TARGET_ARTIFACT_ARTIFACTWRITER_H
#define INFER_TARGET_ARTIFACT_ARTIFACTWRITER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/JSON.h"

#include <cstdint>

namespace infer {

/// Container constants (docs/artifact.md; the runtime's ArtifactFormat.h is
/// the reader's copy).
inline constexpr llvm::StringLiteral kArtifactMagic = "INFERART";
inline constexpr uint32_t kArtifactVersion = 1;
inline constexpr uint64_t kArtifactBlobAlignment = 256;
inline constexpr uint64_t kArtifactPreambleSize = 24;

/// The JSON form of an attribute: integers, floats, strings, arrays and
/// dictionaries map directly; decode attributes become objects; anything
/// else is its printed form.
llvm::json::Value attributeToJSON(mlir::Attribute attr);

/// Writes the artifact of the module's single step function (the
/// `func.func` carrying `decode.role`) to `os`. Emits a diagnostic and fails
/// if there is no such function or the IR is outside the format.
mlir::LogicalResult writeArtifact(mlir::ModuleOp module, llvm::raw_ostream &os);

} // namespace infer

#endif // INFER_TARGET_ARTIFACT_ARTIFACTWRITER_H

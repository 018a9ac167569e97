//===- Passes.h - decode graph passes ---------------------------*- C++ -*-===//

#ifndef DECODE_TRANSFORMS_PASSES_H
#define DECODE_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir {
namespace decode {

#define GEN_PASS_DECL
#include "Decode/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Decode/Transforms/Passes.h.inc"

} // namespace decode
} // namespace mlir

#endif // DECODE_TRANSFORMS_PASSES_H

//===- Passes.h - infer conversion passes -----------------------*- C++ -*-===//

#ifndef INFER_CONVERSION_PASSES_H
#define INFER_CONVERSION_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace infer {

#define GEN_PASS_DECL
#define GEN_PASS_REGISTRATION
#include "infer/Conversion/Passes.h.inc"

} // namespace infer

#endif // INFER_CONVERSION_PASSES_H

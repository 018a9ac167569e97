//===- DecodeOps.h - decode dialect ops -------------------------*- C++ -*-===//

#ifndef DECODE_IR_DECODEOPS_H
#define DECODE_IR_DECODEOPS_H

#include "Decode/IR/DecodeDialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Decode/IR/DecodeOps.h.inc"

namespace mlir::decode {
/// Whether `op`'s shapes fit the `mma` attention kernel (head_dim a multiple
/// of 64, block_size of 16, at most 16 query heads per kv head).
bool supportsMmaAttention(PagedAttentionOp op);
} // namespace mlir::decode

#endif // DECODE_IR_DECODEOPS_H

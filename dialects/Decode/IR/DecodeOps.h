//===- DecodeOps.h - decode dialect ops -------------------------*- C++ -*-===//

#ifndef DECODE_IR_DECODEOPS_H
#define DECODE_IR_DECODEOPS_H

#include "Decode/IR/DecodeDialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Decode/IR/DecodeOps.h.inc"

#endif // DECODE_IR_DECODEOPS_H

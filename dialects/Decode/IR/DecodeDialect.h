//===- DecodeDialect.h - decode dialect -------------------------*- C++ -*-===//

#ifndef DECODE_IR_DECODEDIALECT_H
#define DECODE_IR_DECODEDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "Decode/IR/DecodeOpsDialect.h.inc"

#include "Decode/IR/DecodeEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "Decode/IR/DecodeAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "Decode/IR/DecodeTypes.h.inc"

#endif // DECODE_IR_DECODEDIALECT_H

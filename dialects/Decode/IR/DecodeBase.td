//===- DecodeBase.td - decode dialect definition -----------*- tablegen -*-===//
//
// The `decode` dialect describes one transformer decode step over a ragged
// batch of tokens: decode (1 token per sequence), chunked prefill (C tokens)
// and speculative verification (K+1 tokens) share one shape.
//
//===----------------------------------------------------------------------===//

#ifndef DECODE_BASE
#define DECODE_BASE

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Decode_Dialect : Dialect {
  let name = "decode";
  let cppNamespace = "::mlir::decode";
  let summary = "One transformer decode step over a ragged token batch";
  let description = [{
    Ops of this dialect take activations as `tensor<?xNxT>` where the leading
    dynamic dimension is the flat token count of the step (the sum of the
    per-sequence query lengths). The paged KV cache is an SSA value of type
    `!decode.kv_cache`; `decode.kv_append` yields the updated cache.
    Weights are bound by name at load time through `decode.weight`.
    A step is a `func.func` carrying `decode.role`.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let extraClassDeclaration = [{
    /// Name of the discardable attribute that marks a step function's role.
    static constexpr ::llvm::StringLiteral getRoleAttrName() {
      return ::llvm::StringLiteral("decode.role");
    }
  }];
}

class Decode_Op<string mnemonic, list<Trait> traits = []>
    : Op<Decode_Dialect, mnemonic, traits>;

#endif // DECODE_BASE

//===- DecodeTypes.td - decode dialect types ---------------*- tablegen -*-===//

#ifndef DECODE_TYPES
#define DECODE_TYPES

include "DecodeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Decode_KVCacheType : TypeDef<Decode_Dialect, "KVCache"> {
  let mnemonic = "kv_cache";
  let summary = "Paged key/value cache of all layers";
  let description = [{
    Keys and values live in fixed-size pages of `block_size` tokens. A page of
    one layer holds `[2][kv_heads][block_size][head_dim]` elements. Sequences
    address pages through block tables (`tensor<?x?xi32>`). With an `i8`
    element type, each (token, kv head) row also has one f32 scale.

    Example: `!decode.kv_cache<layers = 32, kv_heads = 8, head_dim = 128,
    block_size = 16, dtype = bf16>`
  }];
  let parameters = (ins
    "int64_t":$layers,
    "int64_t":$kv_heads,
    "int64_t":$head_dim,
    "int64_t":$block_size,
    "::mlir::Type":$dtype
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Elements of one K or V row (all kv heads of one token).
    int64_t getRowSize() const { return getKvHeads() * getHeadDim(); }
    bool hasScales() const { return getDtype().isInteger(8); }
  }];
}

#endif // DECODE_TYPES

//===- DecodeAttrs.td - decode dialect attributes ----------*- tablegen -*-===//

#ifndef DECODE_ATTRS
#define DECODE_ATTRS

include "DecodeBase.td"

class Decode_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Decode_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Decode_StepRole : I32EnumAttr<"StepRole", "role of a step function", [
  I32EnumAttrCase<"Prefill", 0, "prefill">,
  I32EnumAttrCase<"Decode", 1, "decode">,
  I32EnumAttrCase<"Verify", 2, "verify">,
  I32EnumAttrCase<"Draft", 3, "draft">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}
def Decode_RoleAttr : EnumAttr<Decode_Dialect, Decode_StepRole, "role"> {
  let assemblyFormat = "`<` $value `>`";
}

def Decode_RopeScalingKind : I32EnumAttr<"RopeScalingKind",
    "rotary embedding frequency scaling", [
  I32EnumAttrCase<"Linear", 0, "linear">,
  I32EnumAttrCase<"Llama3", 1, "llama3">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}

// A floating-point parameter written as a plain number (`factor = 8.0`).
class Decode_FloatParam<string default>
    : AttrOrTypeParameter<"::llvm::APFloat", "a floating-point number"> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double value;
    if ($_parser.parseFloat(value))
      return ::mlir::failure();
    return ::llvm::APFloat(value);
  }() }];
  let printer = "$_printer << $_self.convertToDouble()";
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
  let defaultValue = !if(!empty(default), "", "::llvm::APFloat(" # default # ")");
}

def Decode_RopeScalingAttr : Decode_Attr<"RopeScaling", "rope_scaling"> {
  let summary = "RoPE frequency scaling (linear or Llama 3 style)";
  let parameters = (ins
    EnumParameter<Decode_RopeScalingKind>:$kind,
    Decode_FloatParam<"">:$factor,
    Decode_FloatParam<"1.0">:$low_freq_factor,
    Decode_FloatParam<"4.0">:$high_freq_factor,
    DefaultValuedParameter<"int64_t", "8192">:$original_max_position
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Decode_SpecAcceptMode : I32EnumAttr<"SpecAcceptMode",
    "how drafted tokens are accepted", [
  I32EnumAttrCase<"Greedy", 0, "greedy">,
  I32EnumAttrCase<"Rejection", 1, "rejection">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}
def Decode_SpecAcceptModeAttr
    : EnumAttr<Decode_Dialect, Decode_SpecAcceptMode, "accept_mode"> {
  let assemblyFormat = "`<` $value `>`";
}

def Decode_KernelKind : I32EnumAttr<"KernelKind", "kernel family", [
  I32EnumAttrCase<"Gemv", 0, "gemv">,
  I32EnumAttrCase<"Mma", 1, "mma">,
  I32EnumAttrCase<"Wgmma", 2, "wgmma">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}

def Decode_ActivationKind : I32EnumAttr<"Activation",
    "activation fused into a linear's epilogue", [
  I32EnumAttrCase<"SiluMul", 0, "silu_mul">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}
def Decode_ActivationAttr
    : EnumAttr<Decode_Dialect, Decode_ActivationKind, "activation"> {
  let summary = "Activation applied by a linear's epilogue";
  let description = [{
    Set by `decode-fuse-silu-mul`: `silu_mul` on a linear whose weight rows
    are `[gate | up]` halves produces `silu_mul(gate, up)`, half as wide.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Decode_AttentionKernel : I32EnumAttr<"AttentionKernel",
    "paged attention kernel family", [
  I32EnumAttrCase<"Simt", 0, "simt">,
  I32EnumAttrCase<"Mma", 1, "mma">
]> {
  let cppNamespace = "::mlir::decode";
  let genSpecializedAttr = 0;
}
def Decode_AttentionKernelAttr
    : EnumAttr<Decode_Dialect, Decode_AttentionKernel, "attention_kernel"> {
  let summary = "Kernel family of a paged attention op";
  let description = [{
    Selected by `decode-select-kernels`: `simt` computes scores and the value
    sum with FMAs on CUDA cores; `mma` with `mma.sync` m16n8k16 tensor-core
    tiles (the query heads of a kv head are the M rows, a 16-token slice of a
    page the K/N extent).
  }];
  let assemblyFormat = "`<` $value `>`";
}

def Decode_KernelVariantAttr : Decode_Attr<"KernelVariant", "variant"> {
  let summary = "Kernel chosen for a token-count bucket";
  let description = [{
    Selected by `decode-select-kernels`: the kernel used when the step's token
    count is at most `max_tokens`. `k_split` splits the reduction dimension
    over that many thread blocks.
  }];
  let parameters = (ins
    "int64_t":$max_tokens,
    EnumParameter<Decode_KernelKind>:$kind,
    DefaultValuedParameter<"int64_t", "1">:$k_split
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // DECODE_ATTRS

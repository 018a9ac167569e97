//===- Passes.td - decode graph passes ---------------------*- tablegen -*-===//
//
// Graph passes on `decode` step functions. Each pass leaves its decision in
// the IR (packed weights, prologues, epilogues, split_kv, variants) so that
// the lowering only reads attributes.
//
//===----------------------------------------------------------------------===//

#ifndef DECODE_TRANSFORMS_PASSES
#define DECODE_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def FuseProjectionsPass
    : Pass<"decode-fuse-projections", "::mlir::func::FuncOp"> {
  let summary = "Pack projections of one input into a single linear";
  let description = [{
    Plain `decode.linear` ops (no norm, residual or variants) that read the
    same input, whose weights are single-name `decode.weight` ops of the same
    K and element type, and that carry no bias, become one linear
    on a packed `decode.weight [names...]` (rows concatenated in program
    order), followed by one `decode.slice` per original result.

    `decode.silu_mul %gate, %up` of two such linears (used only there) becomes
    one packed `[gate | up]` linear feeding a single-operand `decode.silu_mul`,
    without slices.

    Biased projections are left alone for now: `decode.weight` only accepts
    several names for rank-2 tensors, so a packed bias cannot be expressed.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def FoldRMSNormPass : Pass<"decode-fold-rms-norm", "::mlir::func::FuncOp"> {
  let summary = "Fold an RMSNorm into the prologue of the linears it feeds";
  let description = [{
    A `decode.rms_norm` whose every user is a `decode.linear` taking it as
    input (and having no norm yet) is erased; each linear reads the norm's
    input and gets `norm(%weight)` with `norm_epsilon`. The normalized
    activation then never goes through HBM.

    Because the norm is row-wise, a single-use norm feeding
    `decode.gather_tokens` is first moved below the gather (exact), so the
    final norm before the logits gather folds into lm_head.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def FoldNormWeightPass : Pass<"decode-fold-norm-weight",
                              "::mlir::func::FuncOp"> {
  let summary = "Move a folded RMSNorm's weight into the linear's columns";
  let description = [{
    A `decode.linear` with `norm(%g)`, where `%g` and the linear's weight are
    checkpoint tensors (`decode.weight`, the weight bf16/f16/f32 and not yet
    scaled), gets the weight `scaled_by` the norm weight's name and keeps
    only `norm_epsilon` (the RMS scale):
    `rms(x) * g @ W^T == rms(x) * (x @ (W diag(g))^T)`. The loader scales
    the columns once (rounding each product once); the kernels no longer
    multiply the staged activations by `g`. A weight value with other users
    (a tied embedding) is left to them; the linear gets its own scaled op.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def FuseRopeKVPass : Pass<"decode-fuse-rope-kv", "::mlir::func::FuncOp"> {
  let summary = "Fuse the q/k RoPE and the KV append of a packed [q | k | v]";
  let description = [{
    Rewrites
    `kv_append(cache, rope(slice(x, Q)), slice(x, Q + KV), slots)` together
    with the query `rope(slice(x, 0))` of the same packed `x = [q | k | v]`
    (same positions, theta, scaling and head_dim) into one
    `decode.rope_append`. The layout is checked against the cache type:
    `Q = num_heads * head_dim`, `KV = kv_heads * head_dim`,
    `width(x) = Q + 2 * KV`.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def FuseResidualPass : Pass<"decode-fuse-residual", "::mlir::func::FuncOp"> {
  let summary = "Fuse a residual add into the epilogue of a linear";
  let description = [{
    `decode.add(linear(...), r)` (either operand order), where the linear has
    no other use and no residual yet and `r` dominates it, becomes the linear
    with `residual(r)`.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def FuseSiluMulPass : Pass<"decode-fuse-silu-mul", "::mlir::func::FuncOp"> {
  let summary = "Fuse the packed silu_mul into the gate/up linear's epilogue";
  let description = [{
    A one-operand `decode.silu_mul` whose input is a `decode.linear` used
    only there (no residual) becomes that linear with
    `activation = #decode.activation<silu_mul>` and the activation's result
    type: its epilogue pairs gate column j with up column j + N/2, and the
    [gate | up] output never goes through memory.
  }];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def PlanSplitKVPass : Pass<"decode-plan-split-kv", "::mlir::func::FuncOp"> {
  let summary = "Choose the flash-decoding split of every paged attention";
  let description = [{
    Sets `split_kv` on every `decode.paged_attention`, planned for batch 1:
    one thread block per KV head (GQA), so
    `split = clamp(bit_floor(ceil(2 * num-sms / kv_heads)), 1, 64)` fills
    about two waves. With a sliding window W the split is also capped by
    `ceil(W / min-chunk)`. `split_kv` is an upper bound: at run time the
    attention kernel caps it by each sequence's keys (`ceil(context / 256)`,
    256 being min-chunk's default) and by the batch (fewer splits as B
    grows, since B sequences already give `B * kv_heads` blocks).
  }];
  let options = [
    Option<"numSms", "num-sms", "int64_t", /*default=*/"132",
           "Streaming multiprocessors of the target GPU">,
    Option<"minChunk", "min-chunk", "int64_t", /*default=*/"256",
           "Fewest KV tokens one split should process">,
  ];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def SelectKernelsPass
    : Pass<"decode-select-kernels", "::mlir::func::FuncOp"> {
  let summary = "Choose the kernel of every linear per token-count bucket";
  let description = [{
    Sets `variants` on every `decode.linear`, one per bucket. Buckets of at
    most `gemv-max-tokens` tokens use `gemv` (by default 1 token where the
    op takes `wgmma`, whose 8-token tiles stream W as fast as the 1-token
    GEMV, else 4); its `k_split` is the smallest power of two with
    `ceil(N / 8) * k_split >= num-sms` (8 rows per thread block) that divides
    K and leaves at least 512 columns per split, else 1. Larger buckets use
    a tensor-core kernel with `k_split = 1` (the lowering fills the SMs):
    `wgmma` (sm_90a warpgroup MMA fed by a cp.async ring) with `wgmma`, when
    K is a multiple of 64, else `mma` (mma.sync).

    Sets `kernel` on every `decode.paged_attention` without one: `mma`
    (tensor cores) where the shapes allow it and a kv head serves at least 2
    query heads (with `attention-mma`), else `simt`.
  }];
  let options = [
    ListOption<"buckets", "buckets", "int64_t",
               "Token-count buckets (default: 1,4,16,64,128,256)">,
    Option<"numSms", "num-sms", "int64_t", /*default=*/"132",
           "Streaming multiprocessors of the target GPU">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "Target has sm_90a warpgroup MMA: use `wgmma` for tensor-core "
           "buckets">,
    Option<"gemvMaxTokens", "gemv-max-tokens", "int64_t", /*default=*/"-1",
           "Largest bucket that uses the GEMV (-1: 1 where the op takes "
           "`wgmma`, else 4)">,
    Option<"attentionMma", "attention-mma", "bool", /*default=*/"true",
           "Use the tensor-core (mma.sync) attention kernel where it fits">,
  ];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

def OptimizePass : Pass<"decode-optimize", "::mlir::func::FuncOp"> {
  let summary = "The decode graph pipeline";
  let description = [{
    Runs, on each step function: decode-fuse-projections,
    decode-fold-rms-norm, decode-fold-norm-weight (with
    `fold-norm-weights`), decode-fuse-rope-kv, decode-fuse-residual,
    decode-fuse-silu-mul (with `fuse-silu-mul`), canonicalize, cse,
    decode-plan-split-kv and decode-select-kernels.
    Its other options are forwarded to the last two.
  }];
  let options = [
    Option<"foldNormWeights", "fold-norm-weights", "bool", /*default=*/"true",
           "Move folded RMSNorm weights into the linear weights' columns">,
    Option<"fuseSiluMul", "fuse-silu-mul", "bool", /*default=*/"true",
           "Fuse the packed silu_mul into the gate/up linear">,
    Option<"numSms", "num-sms", "int64_t", /*default=*/"132",
           "Streaming multiprocessors of the target GPU">,
    Option<"minChunk", "min-chunk", "int64_t", /*default=*/"256",
           "Fewest KV tokens one attention split should process">,
    ListOption<"buckets", "buckets", "int64_t",
               "Token-count buckets (default: 1,4,16,64,128,256)">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "Target has sm_90a warpgroup MMA (forwarded)">,
    Option<"gemvMaxTokens", "gemv-max-tokens", "int64_t", /*default=*/"-1",
           "Largest bucket that uses the GEMV (forwarded)">,
    Option<"attentionMma", "attention-mma", "bool", /*default=*/"true",
           "Tensor-core attention where it fits (forwarded)">,
  ];
  let dependentDialects = ["::mlir::decode::DecodeDialect"];
}

#endif // DECODE_TRANSFORMS_PASSES

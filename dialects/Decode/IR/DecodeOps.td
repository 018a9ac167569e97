//===- DecodeOps.td - decode dialect ops -------------------*- tablegen -*-===//

#ifndef DECODE_OPS
#define DECODE_OPS

include "DecodeBase.td"
include "DecodeAttrs.td"
include "DecodeTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpAsmInterface.td"

// Activations are token-major: `tensor<?xNxT>`, the leading dimension being
// the flat token count of the step.
def Decode_Activation : TensorRankOf<[BF16, F16, F32], [2]>;
def Decode_Vector : TensorRankOf<[BF16, F16, F32], [1]>;
def Decode_I32Vector : TensorRankOf<[I32], [1]>;
def Decode_BlockTables : TensorRankOf<[I32], [2]>;
def Decode_I32Matrix : TensorRankOf<[I32], [2]>;
def Decode_WeightTensor
    : TensorRankOf<[BF16, F16, F32, F8E4M3FN, I8], [1, 2]>;

//===----------------------------------------------------------------------===//
// Weights and embedding
//===----------------------------------------------------------------------===//

def Decode_WeightOp : Decode_Op<"weight", [Pure]> {
  let summary = "A checkpoint tensor bound by name at load time";
  let description = [{
    Names one tensor of the checkpoint. Several names mean the tensors are
    packed by concatenating their rows (dim 0) in order, as done by
    `decode-fuse-projections`; the loader performs the packing.
    `column_scale` (set by `decode-fold-norm-weight`, rank 2 only) names a
    vector of the checkpoint that the loader multiplies into every row, in
    f32 and rounded once: `result[r][c] = packed[r][c] * scale[c]`.

    ```mlir
    %w = decode.weight ["model.layers.0.mlp.down_proj.weight"]
        : tensor<4096x14336xbf16>
    %g = decode.weight ["l0.q_proj.weight"]
        scaled_by "l0.input_layernorm.weight" : tensor<4096x4096xbf16>
    ```
  }];
  let arguments = (ins StrArrayAttr:$names,
                       OptionalAttr<StrAttr>:$column_scale);
  let results = (outs Decode_WeightTensor:$result);
  let assemblyFormat = [{
    $names (`scaled_by` $column_scale^)? attr-dict `:` type($result)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::mlir::ArrayAttr":$names), [{
      build($_builder, $_state, type, names, ::mlir::StringAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def Decode_EmbedOp : Decode_Op<"embed", [Pure]> {
  let summary = "Gather embedding rows for token ids";
  let arguments = (ins Decode_I32Vector:$tokens,
                       TensorRankOf<[BF16, F16, F32], [2]>:$table);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` `(` type($tokens) `,` type($table) `)`
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise and normalization
//===----------------------------------------------------------------------===//

def Decode_RMSNormOp : Decode_Op<"rms_norm", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `result = input * rsqrt(mean(input^2) + epsilon) * weight`, computed in f32.
  }];
  let arguments = (ins Decode_Activation:$input, Decode_Vector:$weight,
                       F32Attr:$epsilon);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def Decode_AddOp : Decode_Op<"add", [Pure, Commutative,
    AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "Elementwise add (residual connections)";
  let arguments = (ins Decode_Activation:$lhs, Decode_Activation:$rhs);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Decode_SiluMulOp : Decode_Op<"silu_mul", [Pure]> {
  let summary = "SwiGLU activation: silu(gate) * up";
  let description = [{
    With two operands computes `silu(gate) * up`. With one operand of width
    `2 * I` (gate and up projections packed by `decode-fuse-projections`), the
    first half is the gate and the second half is up.
  }];
  let arguments = (ins Variadic<Decode_Activation>:$inputs);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` type($inputs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Decode_SliceOp : Decode_Op<"slice", [Pure]> {
  let summary = "Columns [offset, offset + size) of an activation";
  let arguments = (ins Decode_Activation:$input,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$offset);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $input `[` $offset `]` attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Decode_GatherTokensOp : Decode_Op<"gather_tokens", [Pure]> {
  let summary = "Select token rows (e.g. the last token of each sequence)";
  let arguments = (ins Decode_Activation:$input, Decode_I32Vector:$indices);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $input `[` $indices `]` attr-dict `:` type($input) `,` type($indices)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Projections
//===----------------------------------------------------------------------===//

def Decode_LinearOp : Decode_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "x @ W^T with optional bias, RMSNorm prologue, residual epilogue";
  let description = [{
    `result = norm(input) @ weight^T + bias + residual`, with `weight` laid out
    `[N, K]` as in Hugging Face checkpoints. `norm` (set by
    `decode-fold-rms-norm`) applies an RMSNorm with `norm_weight` and
    `norm_epsilon` to each input row first; `norm_epsilon` alone (after
    `decode-fold-norm-weight` moved the norm weight into the weight's
    columns) applies only the RMS scale, `rsqrt(mean(x^2) + eps)`; `residual` (set by
    `decode-fuse-residual`) is added in the epilogue. `activation =
    #decode.activation<silu_mul>` (set by `decode-fuse-silu-mul`, no
    residual) treats the N rows as `[gate | up]` halves and returns
    `silu_mul(y[:, :N/2], y[:, N/2:])` of the rounded output `y`, N/2 wide. `variants`, set by
    `decode-select-kernels`, lists the kernel per token-count bucket.
  }];
  let arguments = (ins
    Decode_Activation:$input,
    TensorRankOf<[BF16, F16, F32, F8E4M3FN, I8], [2]>:$weight,
    Optional<Decode_Vector>:$bias,
    Optional<Decode_Activation>:$residual,
    Optional<Decode_Vector>:$norm_weight,
    OptionalAttr<F32Attr>:$norm_epsilon,
    OptionalAttr<Decode_ActivationAttr>:$activation,
    OptionalAttr<TypedArrayAttrBase<Decode_KernelVariantAttr,
                                    "kernel variants">>:$variants);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    (`norm` `(` $norm_weight^ `:` type($norm_weight) `)`)?
    attr-dict `:` `(` type($input) `,` type($weight) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Rotary embedding and the paged KV cache
//===----------------------------------------------------------------------===//

def Decode_RopeOp : Decode_Op<"rope", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding (rotate-half form) per head";
  let arguments = (ins Decode_Activation:$input, Decode_I32Vector:$positions,
                       ConfinedAttr<I64Attr, [IntPositive]>:$head_dim,
                       F32Attr:$theta,
                       OptionalAttr<Decode_RopeScalingAttr>:$scaling);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Decode_KVAppendOp : Decode_Op<"kv_append", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "Write the step's keys and values into their cache slots";
  let description = [{
    Token `t` goes to slot `slots[t]` = `block * block_size + offset` of
    layer `layer`. A negative slot skips the token (padding).
  }];
  let arguments = (ins Decode_KVCacheType:$cache, Decode_Activation:$key,
                       Decode_Activation:$value, Decode_I32Vector:$slots,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer);
  let results = (outs Decode_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `[` $slots `]` `,` $key `,` $value attr-dict `:` qualified(type($cache)) `,`
    type($slots) `,` type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

def Decode_RopeAppendOp : Decode_Op<"rope_append", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "Fused RoPE of packed QKV plus KV append into pages";
  let description = [{
    Produced by `decode-fuse-rope-kv`. `qkv` holds `[q | k | v]` per token, as
    emitted by a packed projection. Rotates q and k, writes k and v into the
    cache at `slots`, and returns the rotated q.
  }];
  let arguments = (ins Decode_KVCacheType:$cache, Decode_Activation:$qkv,
                       Decode_I32Vector:$positions, Decode_I32Vector:$slots,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       F32Attr:$theta,
                       OptionalAttr<Decode_RopeScalingAttr>:$scaling);
  let results = (outs Decode_Activation:$query, Decode_KVCacheType:$result);
  let assemblyFormat = [{
    $cache `[` $slots `]` `,` $qkv `,` $positions attr-dict `:` qualified(type($cache))
    `,` type($slots) `,` type($qkv) `,` type($positions) `->` type($query)
  }];
  let hasVerifier = 1;
}

def Decode_PagedAttentionOp : Decode_Op<"paged_attention", [Pure]> {
  let summary = "Causal GQA attention of ragged queries over the paged cache";
  let description = [{
    Sequence `b` owns query rows `[query_start[b], query_start[b+1])` and has
    `context_lens[b]` tokens in the cache (the new ones included). Query `i`
    of a sequence sits at position `context_lens[b] - q_len + i` and attends
    causally. `sliding_window` limits the keys to the last W positions.
    `split_kv` (set by `decode-plan-split-kv`) splits each sequence's keys
    over that many thread blocks, merged with a numerically stable reduction.
    `kernel` (set by `decode-select-kernels`) picks the kernel family; `mma`
    needs a head_dim that is a multiple of 64, a block_size that is a
    multiple of 16 and at most 16 query heads per kv head.
  }];
  let arguments = (ins Decode_Activation:$query, Decode_KVCacheType:$cache,
                       Decode_BlockTables:$block_tables,
                       Decode_I32Vector:$context_lens,
                       Decode_I32Vector:$query_start,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer,
                       ConfinedAttr<I64Attr, [IntPositive]>:$num_heads,
                       F32Attr:$scale,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:
                           $sliding_window,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:
                           $split_kv,
                       OptionalAttr<Decode_AttentionKernelAttr>:$kernel);
  let results = (outs Decode_Activation:$result);
  let assemblyFormat = [{
    $query `,` $cache `[` $block_tables `,` $context_lens `,` $query_start `]`
    attr-dict `:` type($query) `,` qualified(type($cache)) `,` type($block_tables) `,`
    type($context_lens) `,` type($query_start) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Sampling and speculation
//===----------------------------------------------------------------------===//

def Decode_SampleOp : Decode_Op<"sample", [Pure]> {
  let summary = "Per-row sampling: greedy, temperature, top-k, top-p, seeded";
  let description = [{
    Row `b` of `logits` is sampled with its own parameters. A temperature of
    0 means greedy (argmax, lowest index on ties). `top_k <= 0` and
    `top_p >= 1` disable those filters. `seeds[b]` makes the draw
    reproducible (counter-based: the same seed gives the same token).
  }];
  let arguments = (ins TensorRankOf<[BF16, F32], [2]>:$logits,
                       TensorRankOf<[F32], [1]>:$temperature,
                       Decode_I32Vector:$top_k,
                       TensorRankOf<[F32], [1]>:$top_p,
                       TensorRankOf<[I64], [1]>:$seeds);
  let results = (outs Decode_I32Vector:$tokens);
  let assemblyFormat = [{
    $logits `,` $temperature `,` $top_k `,` $top_p `,` $seeds attr-dict `:`
    type($logits) `,` type($temperature) `,` type($top_k) `,` type($top_p)
    `,` type($seeds) `->` type($tokens)
  }];
  let hasVerifier = 1;
}

def Decode_SpecAcceptOp : Decode_Op<"spec_accept", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "Accept drafted tokens against the target's K+1 predictions";
  let description = [{
    `target_logits[b, i]` is the target's prediction after draft token
    `i - 1`. Greedy mode accepts the longest prefix of `draft_tokens[b]` that
    matches the target's argmax; rejection mode runs speculative rejection
    sampling with `draft_probs` and `seeds`. Returns the number of accepted
    draft tokens and the bonus token that follows them.
  }];
  let arguments = (ins TensorRankOf<[F32], [3]>:$target_logits,
                       Decode_I32Matrix:$draft_tokens,
                       Optional<TensorRankOf<[F32], [3]>>:$draft_probs,
                       Optional<TensorRankOf<[I64], [1]>>:$seeds,
                       Decode_SpecAcceptModeAttr:$mode);
  let results = (outs Decode_I32Vector:$accepted, Decode_I32Vector:$bonus);
  let assemblyFormat = [{
    $mode $target_logits `,` $draft_tokens
    (`probs` `(` $draft_probs^ `:` type($draft_probs) `)`)?
    (`seeds` `(` $seeds^ `:` type($seeds) `)`)?
    attr-dict `:` type($target_logits) `,` type($draft_tokens) `->`
    type($accepted) `,` type($bonus)
  }];
  let hasVerifier = 1;
}

#endif // DECODE_OPS

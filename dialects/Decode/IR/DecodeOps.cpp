//===- DecodeOps.cpp - decode dialect op verifiers ------------------------===//

#include "Decode/IR/DecodeOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace mlir;
using namespace mlir::decode;

#define GET_OP_CLASSES
#include "Decode/IR/DecodeOps.cpp.inc"

namespace {
/// True when two (possibly dynamic) sizes may be equal.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

int64_t dim(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}

Type elementType(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

/// Checks that `v` has `expected` rows, i.e. one per token (or sequence).
LogicalResult verifyRows(Operation *op, Value v, StringRef what,
                         int64_t expected, StringRef expectedWhat) {
  if (!compatible(dim(v, 0), expected))
    return op->emitOpError()
           << "expects " << what << " to have one row per " << expectedWhat
           << " (" << expected << "), got " << dim(v, 0);
  return success();
}

/// Checks that dimension `i` of `v` equals `expected` when static.
LogicalResult verifyWidth(Operation *op, Value v, StringRef what, unsigned i,
                          int64_t expected, StringRef because) {
  if (!compatible(dim(v, i), expected))
    return op->emitOpError()
           << "expects " << what << " dimension " << i << " to be " << expected
           << " (" << because << "), got " << dim(v, i);
  return success();
}

LogicalResult verifyStaticWidth(Operation *op, Value v, StringRef what) {
  if (ShapedType::isDynamic(dim(v, 1)))
    return op->emitOpError()
           << "expects " << what << " to have a static feature dimension";
  return success();
}

LogicalResult verifyLayer(Operation *op, int64_t layer, KVCacheType cache) {
  if (layer >= cache.getLayers())
    return op->emitOpError() << "layer " << layer << " is out of range: the "
                             << "cache has " << cache.getLayers() << " layers";
  return success();
}

LogicalResult verifyHeads(Operation *op, int64_t numHeads, KVCacheType cache) {
  if (numHeads % cache.getKvHeads() != 0)
    return op->emitOpError()
           << "num_heads (" << numHeads << ") must be a multiple of the "
           << "cache's kv_heads (" << cache.getKvHeads() << ") for GQA";
  // Verifiers compute num_heads * head_dim + 2 * kv_heads * head_dim in
  // int64_t; a wrapped product could match a width (or the dynamic marker).
  std::optional<int64_t> qWidth =
      llvm::checkedMul<int64_t>(numHeads, cache.getHeadDim());
  if (!qWidth || !llvm::checkedAdd<int64_t>(*qWidth, 2 * cache.getRowSize()))
    return op->emitOpError() << "num_heads (" << numHeads
                             << ") is too large: its heads' width overflows";
  return success();
}

LogicalResult verifyRopeTheta(Operation *op, FloatAttr theta) {
  if (!(theta.getValueAsDouble() > 0.0))
    return op->emitOpError()
           << "expects a positive rope theta, got " << theta.getValueAsDouble();
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getNames().empty())
    return emitOpError() << "expects at least one checkpoint tensor name";
  for (Attribute name : getNames())
    if (cast<StringAttr>(name).getValue().empty())
      return emitOpError() << "expects non-empty checkpoint tensor names";
  if (!getType().hasStaticShape())
    return emitOpError() << "expects a static weight shape, got " << getType();
  if (auto scale = getColumnScale()) {
    if (scale->empty())
      return emitOpError() << "expects a non-empty column_scale tensor name";
    if (getType().getRank() != 2)
      return emitOpError() << "expects column_scale on a rank-2 weight, got "
                           << getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// EmbedOp
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  if (failed(verifyRows(*this, getResult(), "the result", dim(getTokens(), 0),
                        "token")) ||
      failed(verifyWidth(*this, getResult(), "result", 1, dim(getTable(), 1),
                         "the embedding width")))
    return failure();
  if (elementType(getResult()) != elementType(getTable()))
    return emitOpError() << "expects the result element type to match the "
                            "table's ("
                         << elementType(getTable()) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// RMSNormOp
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  if (failed(verifyWidth(*this, getInput(), "input", 1, dim(getWeight(), 0),
                         "the norm weight's length")))
    return failure();
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError() << "expects a positive epsilon";
  return success();
}

//===----------------------------------------------------------------------===//
// SiluMulOp
//===----------------------------------------------------------------------===//

LogicalResult SiluMulOp::verify() {
  auto inputs = getInputs();
  if (inputs.size() != 1 && inputs.size() != 2)
    return emitOpError() << "expects (gate, up) or one packed [gate | up] "
                            "operand, got "
                         << inputs.size() << " operands";
  for (Value in : inputs) {
    if (elementType(in) != elementType(getResult()))
      return emitOpError() << "expects operand and result element types to "
                              "match";
    if (failed(verifyRows(*this, in, "each operand", dim(getResult(), 0),
                          "result row")))
      return failure();
  }
  int64_t width = dim(getResult(), 1);
  if (inputs.size() == 2) {
    for (Value in : inputs)
      if (failed(
              verifyWidth(*this, in, "operand", 1, width, "the result width")))
        return failure();
    return success();
  }
  int64_t packed = dim(inputs[0], 1);
  if (!ShapedType::isDynamic(packed) && packed % 2 != 0)
    return emitOpError() << "expects the packed [gate | up] operand to have "
                            "an even width, got "
                         << packed;
  // Compared as packed / 2 (packed is even): 2 * width may not fit in int64_t.
  if (!ShapedType::isDynamic(width) && !ShapedType::isDynamic(packed) &&
      packed / 2 != width)
    return emitOpError() << "expects packed operand dimension 1 to be "
                         << 2 * static_cast<uint64_t>(width)
                         << " (twice the result width), got " << packed;
  return success();
}

//===----------------------------------------------------------------------===//
// SliceOp
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::verify() {
  if (failed(verifyStaticWidth(*this, getInput(), "the input")) ||
      failed(verifyStaticWidth(*this, getResult(), "the result")) ||
      failed(verifyRows(*this, getResult(), "the result", dim(getInput(), 0),
                        "input row")))
    return failure();
  if (elementType(getInput()) != elementType(getResult()))
    return emitOpError() << "expects matching element types";
  // Both terms are at most INT64_MAX, so their sum cannot wrap in uint64_t.
  uint64_t end = getOffset() + static_cast<uint64_t>(dim(getResult(), 1));
  if (end > static_cast<uint64_t>(dim(getInput(), 1)))
    return emitOpError() << "slice [" << getOffset() << ", " << end
                         << ") exceeds the input width " << dim(getInput(), 1);
  return success();
}

//===----------------------------------------------------------------------===//
// GatherTokensOp
//===----------------------------------------------------------------------===//

LogicalResult GatherTokensOp::verify() {
  if (getInput().getType().getShape()[1] != dim(getResult(), 1) ||
      elementType(getInput()) != elementType(getResult()))
    return emitOpError() << "expects the result rows to have the input's "
                            "width and element type";
  return verifyRows(*this, getResult(), "the result", dim(getIndices(), 0),
                    "index");
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  int64_t n = dim(getWeight(), 0), k = dim(getWeight(), 1);
  bool gated = getActivation().has_value();
  if (gated && !ShapedType::isDynamic(n) && n % 2 != 0)
    return emitOpError() << "expects an even weight row count N with an "
                            "activation ([gate | up] halves), got "
                         << n;
  if (gated && getResidual())
    return emitOpError() << "expects no residual with an activation";
  if (failed(verifyWidth(*this, getInput(), "input", 1, k,
                         "the weight is [N, K]")) ||
      failed(verifyRows(*this, getResult(), "the result", dim(getInput(), 0),
                        "input row")) ||
      failed(verifyWidth(*this, getResult(), "result", 1,
                         gated && !ShapedType::isDynamic(n) ? n / 2 : n,
                         gated ? "N / 2 with an activation"
                               : "the weight's row count N")))
    return failure();
  if (getBias() && !compatible(dim(getBias(), 0), n))
    return emitOpError() << "expects the bias length to be N = " << n
                         << ", got " << dim(getBias(), 0);
  if (getResidual() && getResidual().getType() != getResult().getType())
    return emitOpError() << "expects the residual to have the result type "
                         << getResult().getType() << ", got "
                         << getResidual().getType();
  if (getNormWeight() && !getNormEpsilon())
    return emitOpError() << "expects 'norm_epsilon' with a norm weight";
  if (getNormWeight() && !compatible(dim(getNormWeight(), 0), k))
    return emitOpError() << "expects the norm weight length to be K = " << k
                         << ", got " << dim(getNormWeight(), 0);
  if (getNormEpsilon() && !(getNormEpsilon()->convertToFloat() > 0.0f))
    return emitOpError() << "expects a positive norm_epsilon";
  if (auto variants = getVariants()) {
    int64_t previous = 0;
    for (auto variant : variants->getAsRange<KernelVariantAttr>()) {
      if (variant.getMaxTokens() <= previous)
        return emitOpError() << "expects kernel variants sorted by strictly "
                                "increasing max_tokens";
      previous = variant.getMaxTokens();
      if (!ShapedType::isDynamic(k) && k % variant.getKSplit() != 0)
        return emitOpError() << "k_split " << variant.getKSplit()
                             << " does not divide K = " << k;
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  int64_t headDim = getHeadDim();
  if (headDim % 2 != 0)
    return emitOpError() << "expects an even head_dim, got " << headDim;
  int64_t width = dim(getInput(), 1);
  if (!ShapedType::isDynamic(width) && width % headDim != 0)
    return emitOpError() << "input width " << width
                         << " is not a whole number of heads of head_dim "
                         << headDim;
  if (failed(verifyRows(*this, getInput(), "the input", dim(getPositions(), 0),
                        "position")))
    return failure();
  return verifyRopeTheta(*this, getThetaAttr());
}

//===----------------------------------------------------------------------===//
// KVAppendOp
//===----------------------------------------------------------------------===//

LogicalResult KVAppendOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, getLayer(), cache)))
    return failure();
  for (auto [what, v] : {std::pair<StringRef, Value>{"key", getKey()},
                         std::pair<StringRef, Value>{"value", getValue()}}) {
    if (failed(verifyWidth(*this, v, what, 1, cache.getRowSize(),
                           "kv_heads * head_dim")) ||
        failed(verifyRows(*this, v, what, dim(getSlots(), 0), "slot")))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// RopeAppendOp
//===----------------------------------------------------------------------===//

LogicalResult RopeAppendOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, getLayer(), cache)) ||
      failed(verifyHeads(*this, getNumHeads(), cache)) ||
      failed(verifyRopeTheta(*this, getThetaAttr())))
    return failure();
  int64_t qWidth = getNumHeads() * cache.getHeadDim();
  if (failed(verifyWidth(*this, getQkv(), "qkv", 1,
                         qWidth + 2 * cache.getRowSize(),
                         "[q | k | v] of num_heads and 2 * kv_heads heads")) ||
      failed(verifyWidth(*this, getQuery(), "query", 1, qWidth,
                         "num_heads * head_dim")) ||
      failed(verifyRows(*this, getQkv(), "qkv", dim(getSlots(), 0), "slot")) ||
      failed(verifyRows(*this, getQkv(), "qkv", dim(getPositions(), 0),
                        "position")) ||
      failed(
          verifyRows(*this, getQuery(), "query", dim(getQkv(), 0), "qkv row")))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// PagedAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult PagedAttentionOp::verify() {
  KVCacheType cache = getCache().getType();
  if (failed(verifyLayer(*this, getLayer(), cache)) ||
      failed(verifyHeads(*this, getNumHeads(), cache)))
    return failure();
  int64_t width = getNumHeads() * cache.getHeadDim();
  if (failed(verifyWidth(*this, getQuery(), "query", 1, width,
                         "num_heads * head_dim")))
    return failure();
  if (getQuery().getType() != getResult().getType())
    return emitOpError() << "expects the result type to match the query type "
                         << getQuery().getType();
  int64_t seqs = dim(getContextLens(), 0);
  if (failed(verifyRows(*this, getBlockTables(), "block_tables", seqs,
                        "sequence")))
    return failure();
  int64_t starts = dim(getQueryStart(), 0);
  if (!ShapedType::isDynamic(seqs) && !ShapedType::isDynamic(starts) &&
      starts != seqs + 1)
    return emitOpError() << "expects query_start to hold num_seqs + 1 = "
                         << seqs + 1 << " offsets, got " << starts;
  if (!(getScale().convertToFloat() > 0.0f))
    return emitOpError() << "expects a positive softmax scale";
  if (getKernel() == AttentionKernel::Mma && !supportsMmaAttention(*this))
    return emitOpError() << "kernel `mma` needs head_dim % 64 == 0, "
                            "block_size % 16 == 0 and at most 16 query heads "
                            "per kv head; use `simt`";
  return success();
}

bool mlir::decode::supportsMmaAttention(PagedAttentionOp op) {
  KVCacheType cache = op.getCache().getType();
  int64_t group = op.getNumHeads() / cache.getKvHeads();
  return cache.getHeadDim() % 64 == 0 && cache.getBlockSize() % 16 == 0 &&
         group <= 16;
}

//===----------------------------------------------------------------------===//
// SampleOp
//===----------------------------------------------------------------------===//

LogicalResult SampleOp::verify() {
  int64_t rows = dim(getLogits(), 0);
  for (auto [what, v] :
       {std::pair<StringRef, Value>{"temperature", getTemperature()},
        {"top_k", getTopK()},
        {"top_p", getTopP()},
        {"seeds", getSeeds()},
        {"tokens", getTokens()}})
    if (failed(verifyRows(*this, v, what, rows, "logits row")))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// SpecAcceptOp
//===----------------------------------------------------------------------===//

LogicalResult SpecAcceptOp::verify() {
  Value logits = getTargetLogits(), draft = getDraftTokens();
  int64_t seqs = dim(logits, 0);
  if (failed(verifyRows(*this, draft, "draft_tokens", seqs, "sequence")) ||
      failed(verifyRows(*this, getAccepted(), "accepted", seqs, "sequence")) ||
      failed(verifyRows(*this, getBonus(), "bonus", seqs, "sequence")))
    return failure();
  int64_t k = dim(draft, 1);
  if (!ShapedType::isDynamic(k))
    if (failed(verifyWidth(*this, logits, "target_logits", 1, k + 1,
                           "K + 1 target predictions for K drafts")))
      return failure();
  bool rejection = getMode() == SpecAcceptMode::Rejection;
  if (rejection && (!getDraftProbs() || !getSeeds()))
    return emitOpError() << "rejection mode needs draft probs and seeds";
  if (!rejection && (getDraftProbs() || getSeeds()))
    return emitOpError() << "greedy mode takes no draft probs or seeds";
  if (Value probs = getDraftProbs()) {
    auto probsType = cast<ShapedType>(probs.getType());
    if (!compatible(probsType.getDimSize(0), seqs) ||
        !compatible(probsType.getDimSize(1), k) ||
        !compatible(probsType.getDimSize(2), dim(logits, 2)))
      return emitOpError() << "expects draft probs of shape [num_seqs, K, "
                              "vocab] matching the drafts and logits";
    if (failed(verifyRows(*this, getSeeds(), "seeds", seqs, "sequence")))
      return failure();
  }
  return success();
}

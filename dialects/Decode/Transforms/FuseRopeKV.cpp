//===- FuseRopeKV.cpp - fuse q/k RoPE with the KV append ------------------===//
//
// After decode-fuse-projections, x = [q | k | v] comes from one linear. One
// kernel can rotate q and k and write k and v into their pages, instead of
// two RoPE kernels and an append that each re-read their slice.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"
#include "PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_FUSEROPEKVPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

int64_t width(Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); }

/// Whether `a` and `b` rotate with the same positions and frequencies.
bool sameRotation(RopeOp a, RopeOp b) {
  return a.getPositions() == b.getPositions() &&
         a.getHeadDim() == b.getHeadDim() &&
         a.getThetaAttr() == b.getThetaAttr() &&
         a.getScalingAttr() == b.getScalingAttr();
}

/// kv_append(c, rope(slice(x, Q)), slice(x, Q + KV)) + rope(slice(x, 0))
///   -> rope_append(c, x).
struct FuseRopeAppend : OpRewritePattern<KVAppendOp> {
  FuseRopeAppend(MLIRContext *context, DominanceInfo &domInfo)
      : OpRewritePattern(context), domInfo(domInfo) {}

  LogicalResult matchAndRewrite(KVAppendOp append,
                                PatternRewriter &rewriter) const override {
    KVCacheType cache = append.getCache().getType();
    auto keyRope = append.getKey().getDefiningOp<RopeOp>();
    if (!keyRope || !keyRope->hasOneUse())
      return rewriter.notifyMatchFailure(append,
                                         "key is not a single-use rope");
    auto keySlice = keyRope.getInput().getDefiningOp<SliceOp>();
    auto valueSlice = append.getValue().getDefiningOp<SliceOp>();
    if (!keySlice || !valueSlice ||
        keySlice.getInput() != valueSlice.getInput())
      return rewriter.notifyMatchFailure(
          append, "key and value are not slices of one packed activation");
    Value qkv = keySlice.getInput();

    int64_t headDim = cache.getHeadDim(), kvWidth = cache.getRowSize();
    if (keyRope.getHeadDim() != static_cast<uint64_t>(headDim))
      return rewriter.notifyMatchFailure(append,
                                         "key rope head_dim differs from the "
                                         "cache's");
    int64_t qWidth = static_cast<int64_t>(keySlice.getOffset());
    if (qWidth <= 0 || qWidth % headDim != 0 ||
        (qWidth / headDim) % cache.getKvHeads() != 0)
      return rewriter.notifyMatchFailure(
          append, "key offset is not a GQA multiple of kv_heads heads");
    if (static_cast<int64_t>(valueSlice.getOffset()) != qWidth + kvWidth ||
        width(qkv) != qWidth + 2 * kvWidth)
      return rewriter.notifyMatchFailure(
          append, "packed activation is not [q | k | v] for this cache");

    // The query: rope(slice(x, 0)) of width Q with the key's rotation.
    RopeOp queryRope;
    for (Operation *user : qkv.getUsers()) {
      auto slice = dyn_cast<SliceOp>(user);
      if (!slice || slice.getOffset() != 0 || width(slice) != qWidth)
        continue;
      for (Operation *sliceUser : slice->getUsers()) {
        auto rope = dyn_cast<RopeOp>(sliceUser);
        if (rope && sameRotation(rope, keyRope) &&
            (!queryRope ||
             domInfo.properlyDominates(rope.getOperation(), queryRope)))
          queryRope = rope;
      }
    }
    if (!queryRope)
      return rewriter.notifyMatchFailure(
          append, "no query rope of the packed activation with the same "
                  "positions, theta and scaling");

    // Place the fused op where its operands exist and before both results'
    // users.
    Operation *insertionPoint = nullptr;
    if (llvm::all_of(queryRope->getUsers(), [&](Operation *user) {
          return domInfo.properlyDominates(append.getOperation(), user);
        }))
      insertionPoint = append;
    else if (domInfo.properlyDominates(append.getCache(), queryRope) &&
             domInfo.properlyDominates(append.getSlots(), queryRope))
      insertionPoint = queryRope;
    else
      return rewriter.notifyMatchFailure(
          append, "no point dominates both results' users");

    rewriter.setInsertionPoint(insertionPoint);
    auto fused = RopeAppendOp::create(
        rewriter, rewriter.getFusedLoc({queryRope.getLoc(), append.getLoc()}),
        queryRope.getType(), cache, append.getCache(), qkv,
        keyRope.getPositions(), append.getSlots(), append.getLayerAttr(),
        rewriter.getI64IntegerAttr(qWidth / headDim), keyRope.getThetaAttr(),
        keyRope.getScalingAttr());
    rewriter.replaceOp(queryRope, fused.getQuery());
    rewriter.replaceOp(append, fused.getResult());
    return success();
  }

  DominanceInfo &domInfo;
};

struct FuseRopeKVPass : decode::impl::FuseRopeKVPassBase<FuseRopeKVPass> {
  void runOnOperation() override {
    if (failed(applyDominanceAwarePattern<FuseRopeAppend>(
            getOperation(), getAnalysis<DominanceInfo>())))
      signalPassFailure();
  }
};

} // namespace

//===- FoldRMSNorm.cpp - fold RMSNorm into linear prologues ---------------===//
//
// The normalized activation is only read by projections; computing the norm
// in their prologue saves a kernel and a round trip through HBM.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_FOLDRMSNORMPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

/// linear(rms_norm(x, w)) -> linear(x) norm(w), for every user of the norm.
struct FoldNormIntoLinears : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RMSNormOp norm,
                                PatternRewriter &rewriter) const override {
    if (norm->use_empty())
      return rewriter.notifyMatchFailure(norm, "no users");
    for (OpOperand &use : norm->getUses()) {
      auto linear = dyn_cast<LinearOp>(use.getOwner());
      if (!linear)
        return rewriter.notifyMatchFailure(norm, "a user is not a linear");
      if (&use != &linear.getInputMutable())
        return rewriter.notifyMatchFailure(
            norm, "a linear uses the norm other than as its input");
      if (linear.getNormWeight())
        return rewriter.notifyMatchFailure(norm, "a linear already has a norm");
    }
    for (Operation *user : llvm::make_early_inc_range(norm->getUsers())) {
      auto linear = cast<LinearOp>(user);
      rewriter.modifyOpInPlace(linear, [&] {
        linear.getInputMutable().assign(norm.getInput());
        linear.getNormWeightMutable().assign(norm.getWeight());
        linear.setNormEpsilonAttr(norm.getEpsilonAttr());
      });
    }
    rewriter.eraseOp(norm);
    return success();
  }
};

/// gather_tokens(rms_norm(x, w)) -> rms_norm(gather_tokens(x), w). The norm
/// is row-wise, so this is exact; it normalizes only the gathered rows and
/// lets the final norm fold into lm_head.
struct SinkNormBelowGather : OpRewritePattern<GatherTokensOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatherTokensOp gather,
                                PatternRewriter &rewriter) const override {
    auto norm = gather.getInput().getDefiningOp<RMSNormOp>();
    if (!norm || !norm->hasOneUse())
      return rewriter.notifyMatchFailure(gather,
                                         "input is not a single-use rms_norm");
    auto rows =
        GatherTokensOp::create(rewriter, gather.getLoc(), gather.getType(),
                               norm.getInput(), gather.getIndices());
    rewriter.replaceOpWithNewOp<RMSNormOp>(gather, gather.getType(), rows,
                                           norm.getWeight(),
                                           norm.getEpsilonAttr());
    rewriter.eraseOp(norm);
    return success();
  }
};

struct FoldRMSNormPass : decode::impl::FoldRMSNormPassBase<FoldRMSNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldNormIntoLinears, SinkNormBelowGather>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

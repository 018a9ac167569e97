//===- FoldNormWeight.cpp - move RMSNorm weights into linear weights ------===//
//
// x * r * g @ W^T == r * (x @ (W diag(g))^T) for the row scale r of an
// RMSNorm: the loader scales W's columns by g once, and the linear's
// prologue no longer multiplies every staged activation by g (work that each
// thread block of a tensor-core linear repeats for the whole token tile).
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_FOLDNORMWEIGHTPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

/// linear(x, weight[w]) norm(weight[g]) -> linear(x, weight[w] scaled_by g)
/// with the RMS scale (`norm_epsilon`) alone.
struct FoldNormWeightIntoColumns : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp linear,
                                PatternRewriter &rewriter) const override {
    Value normWeight = linear.getNormWeight();
    if (!normWeight)
      return rewriter.notifyMatchFailure(linear, "no norm weight");
    auto scale = normWeight.getDefiningOp<WeightOp>();
    if (!scale || scale.getNames().size() != 1)
      return rewriter.notifyMatchFailure(
          linear, "norm weight is not one checkpoint tensor");
    auto weight = linear.getWeight().getDefiningOp<WeightOp>();
    if (!weight || weight.getColumnScale())
      return rewriter.notifyMatchFailure(
          linear, "weight is not an unscaled checkpoint weight");
    // Quantized weights would need their scales, not their values, changed.
    if (!isa<FloatType>(weight.getType().getElementType()) ||
        weight.getType().getElementType().getIntOrFloatBitWidth() < 16)
      return rewriter.notifyMatchFailure(linear, "weight is not bf16/f16/f32");

    // A weight value shared with other users (a tied embedding, another
    // linear) keeps its own op; this linear gets a scaled one.
    rewriter.setInsertionPoint(weight);
    auto scaled = WeightOp::create(rewriter, weight.getLoc(), weight.getType(),
                                   weight.getNamesAttr(),
                                   cast<StringAttr>(scale.getNames()[0]));
    rewriter.modifyOpInPlace(linear, [&] {
      linear.getWeightMutable().assign(scaled);
      linear.getNormWeightMutable().clear();
    });
    if (weight->use_empty())
      rewriter.eraseOp(weight);
    if (scale->use_empty())
      rewriter.eraseOp(scale);
    return success();
  }
};

struct FoldNormWeightPass
    : decode::impl::FoldNormWeightPassBase<FoldNormWeightPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldNormWeightIntoColumns>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

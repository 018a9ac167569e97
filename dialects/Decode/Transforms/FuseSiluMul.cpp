//===- FuseSiluMul.cpp - fuse silu_mul into the gate/up linear ------------===//
//
// The packed [gate | up] linear writes 2 I columns that only silu_mul reads;
// in the linear's epilogue the activation costs no launch and the linear
// writes I columns.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_FUSESILUMULPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

/// silu_mul(linear(x)) with one operand -> linear(x) {activation = silu_mul}.
struct FuseSiluMulIntoLinear : OpRewritePattern<SiluMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SiluMulOp act,
                                PatternRewriter &rewriter) const override {
    if (act.getInputs().size() != 1)
      return rewriter.notifyMatchFailure(act, "not the packed form");
    auto linear = act.getInputs()[0].getDefiningOp<LinearOp>();
    if (!linear || !linear->hasOneUse())
      return rewriter.notifyMatchFailure(
          act, "input is not a linear used only here");
    if (linear.getResidual() || linear.getActivation())
      return rewriter.notifyMatchFailure(
          act, "the linear has a residual or an activation");
    if (linear.getType().getElementType() != act.getType().getElementType())
      return rewriter.notifyMatchFailure(act, "element types differ");
    rewriter.modifyOpInPlace(linear, [&] {
      linear.setActivationAttr(
          ActivationAttr::get(rewriter.getContext(), Activation::SiluMul));
      linear.getResult().setType(act.getType());
    });
    rewriter.replaceOp(act, linear.getResult());
    return success();
  }
};

struct FuseSiluMulPass : decode::impl::FuseSiluMulPassBase<FuseSiluMulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseSiluMulIntoLinear>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

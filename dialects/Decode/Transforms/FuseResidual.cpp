//===- FuseResidual.cpp - fuse residual adds into linear epilogues --------===//
//
// o_proj and down_proj feed a residual add; adding in the GEMV epilogue
// saves a kernel and a round trip through HBM.
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
#define GEN_PASS_DEF_FUSERESIDUALPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

/// add(linear(...), r) -> linear(...) residual(r), either operand order.
struct FuseAddIntoLinear : OpRewritePattern<AddOp> {
  FuseAddIntoLinear(MLIRContext *context, DominanceInfo &domInfo)
      : OpRewritePattern(context), domInfo(domInfo) {}

  LogicalResult matchAndRewrite(AddOp add,
                                PatternRewriter &rewriter) const override {
    for (auto operands : {std::pair(add.getLhs(), add.getRhs()),
                          std::pair(add.getRhs(), add.getLhs())}) {
      Value product = operands.first, residual = operands.second;
      auto linear = product.getDefiningOp<LinearOp>();
      if (!linear || !linear->hasOneUse() || linear.getResidual())
        continue;
      if (!domInfo.properlyDominates(residual, linear))
        continue;
      rewriter.modifyOpInPlace(
          linear, [&] { linear.getResidualMutable().assign(residual); });
      rewriter.replaceOp(add, linear.getResult());
      return success();
    }
    return rewriter.notifyMatchFailure(
        add, "no operand is a single-use linear without residual that the "
             "other operand dominates");
  }

  DominanceInfo &domInfo;
};

struct FuseResidualPass : decode::impl::FuseResidualPassBase<FuseResidualPass> {
  void runOnOperation() override {
    if (failed(applyDominanceAwarePattern<FuseAddIntoLinear>(
            getOperation(), getAnalysis<DominanceInfo>())))
      signalPassFailure();
  }
};

} // namespace

//===- FuseProjections.cpp - pack projections of one input ----------------===//
//
// Q/K/V (and gate/up) projections read the same activation. Packing their
// weights by rows turns several GEMVs into one launch that reads the input
// once.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_FUSEPROJECTIONSPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

/// The weight op of `v` if it names exactly one checkpoint tensor.
WeightOp getSingleNameWeight(Value v) {
  auto weight = v ? v.getDefiningOp<WeightOp>() : WeightOp();
  if (!weight || weight.getNames().size() != 1)
    return {};
  return weight;
}

/// A plain projection on a named weight, free to be packed.
bool isPackable(LinearOp op) {
  return !op.getResidual() && !op.getNormWeight() && !op.getVariants() &&
         getSingleNameWeight(op.getWeight()) &&
         (!op.getBias() || getSingleNameWeight(op.getBias()));
}

/// Whether `a` and `b` can share one packed weight and result.
bool packsWith(LinearOp a, LinearOp b) {
  auto wa = a.getWeight().getType(), wb = b.getWeight().getType();
  return a.getInput() == b.getInput() && a->getBlock() == b->getBlock() &&
         wa.getElementType() == wb.getElementType() &&
         wa.getDimSize(1) == wb.getDimSize(1) &&
         a.getType().getElementType() == b.getType().getElementType() &&
         static_cast<bool>(a.getBias()) == static_cast<bool>(b.getBias()) &&
         (!a.getBias() || a.getBias().getType().getElementType() ==
                              b.getBias().getType().getElementType());
}

/// Packable linears that read `op`'s input and pack with it, in program order.
SmallVector<LinearOp> findGroup(LinearOp op) {
  llvm::SetVector<Operation *> users;
  for (Operation *user : op.getInput().getUsers())
    if (auto other = dyn_cast<LinearOp>(user))
      if (isPackable(other) && packsWith(op, other))
        users.insert(other);
  SmallVector<LinearOp> group = llvm::map_to_vector(
      users, [](Operation *o) { return cast<LinearOp>(o); });
  llvm::sort(group,
             [](LinearOp a, LinearOp b) { return a->isBeforeInBlock(b); });
  return group;
}

/// Builds `decode.weight [names...]` and the linear over it, before the first
/// of `group` (which dominates every use of the group's results).
LinearOp createPackedLinear(PatternRewriter &rewriter,
                            ArrayRef<LinearOp> group) {
  SmallVector<StringRef> names, biasNames;
  SmallVector<Location> locs;
  int64_t rows = 0;
  for (LinearOp op : group) {
    WeightOp weight = getSingleNameWeight(op.getWeight());
    names.push_back(cast<StringAttr>(weight.getNames()[0]).getValue());
    if (WeightOp bias = getSingleNameWeight(op.getBias()))
      biasNames.push_back(cast<StringAttr>(bias.getNames()[0]).getValue());
    locs.push_back(op.getLoc());
    rows += op.getWeight().getType().getDimSize(0);
  }
  LinearOp first = group.front();
  for (LinearOp op : group)
    if (op->isBeforeInBlock(first))
      first = op;
  RankedTensorType weightType = first.getWeight().getType();
  RankedTensorType resultType = first.getType();
  Location loc = rewriter.getFusedLoc(locs);

  rewriter.setInsertionPoint(first);
  auto packedWeight = WeightOp::create(
      rewriter, loc, weightType.clone({rows, weightType.getDimSize(1)}),
      rewriter.getStrArrayAttr(names));
  Value packedBias;
  if (Value bias = first.getBias())
    packedBias = WeightOp::create(
        rewriter, loc, cast<RankedTensorType>(bias.getType()).clone({rows}),
        rewriter.getStrArrayAttr(biasNames));
  return LinearOp::create(
      rewriter, loc, resultType.clone({resultType.getDimSize(0), rows}),
      first.getInput(), packedWeight, packedBias, /*residual=*/Value(),
      /*norm_weight=*/Value(), /*norm_epsilon=*/FloatAttr(),
      /*activation=*/decode::ActivationAttr(), /*variants=*/ArrayAttr());
}

/// Whether `group` is exactly the (gate, up) operands of one silu_mul, which
/// PackGateUp handles without slices.
bool isGateUpPair(ArrayRef<LinearOp> group) {
  if (group.size() != 2 || !group[0]->hasOneUse())
    return false;
  auto silu = dyn_cast<SiluMulOp>(*group[0]->user_begin());
  return silu && silu.getInputs().size() == 2 &&
         llvm::all_of(group, [&](LinearOp op) {
           return op->hasOneUse() && *op->user_begin() == silu.getOperation();
         });
}

/// linear(x, W0), linear(x, W1), ... -> slices of linear(x, [W0; W1; ...]).
struct PackSiblings : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    if (!isPackable(op))
      return rewriter.notifyMatchFailure(
          op, "not a plain linear on a single-name weight");
    SmallVector<LinearOp> group = findGroup(op);
    if (group.size() < 2)
      return rewriter.notifyMatchFailure(op, "no sibling projection to pack");
    if (isGateUpPair(group))
      return rewriter.notifyMatchFailure(op, "gate/up pair of a silu_mul");

    LinearOp packed = createPackedLinear(rewriter, group);
    int64_t offset = 0;
    for (LinearOp member : group) {
      rewriter.setInsertionPoint(member);
      auto slice = SliceOp::create(rewriter, member.getLoc(), member.getType(),
                                   packed.getResult(), offset);
      offset += member.getType().getDimSize(1);
      rewriter.replaceOp(member, slice);
    }
    return success();
  }
};

/// silu_mul(linear(x, Wg), linear(x, Wu)) -> silu_mul(linear(x, [Wg; Wu])).
struct PackGateUp : OpRewritePattern<SiluMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SiluMulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getInputs().size() != 2)
      return rewriter.notifyMatchFailure(op, "already packed");
    auto gate = op.getInputs()[0].getDefiningOp<LinearOp>();
    auto up = op.getInputs()[1].getDefiningOp<LinearOp>();
    if (!gate || !up || gate == up)
      return rewriter.notifyMatchFailure(op, "operands are not two linears");
    if (!isPackable(gate) || !isPackable(up) || !packsWith(gate, up))
      return rewriter.notifyMatchFailure(
          op, "gate and up do not read one input with compatible weights");
    if (!gate->hasOneUse() || !up->hasOneUse())
      return rewriter.notifyMatchFailure(op, "gate or up has other users");

    LinearOp packed = createPackedLinear(rewriter, {gate, up});
    rewriter.setInsertionPoint(op);
    rewriter.replaceOpWithNewOp<SiluMulOp>(op, op.getType(),
                                           ValueRange{packed.getResult()});
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }
};

struct FuseProjectionsPass
    : decode::impl::FuseProjectionsPassBase<FuseProjectionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<PackSiblings, PackGateUp>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

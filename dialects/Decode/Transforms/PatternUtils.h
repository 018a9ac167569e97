//===- PatternUtils.h - shared pass plumbing ---------------------*- C++
//-*-===//

#ifndef DECODE_TRANSFORMS_PATTERNUTILS_H
#define DECODE_TRANSFORMS_PATTERNUTILS_H

#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace decode {

/// Applies `PatternT(context, dominance)` greedily. Neither such a pattern nor
/// the driver (region simplification off) changes the block structure, so the
/// dominance info stays valid throughout.
template <typename PatternT>
LogicalResult applyDominanceAwarePattern(Operation *root,
                                         DominanceInfo &dominance) {
  RewritePatternSet patterns(root->getContext());
  patterns.add<PatternT>(root->getContext(), dominance);
  GreedyRewriteConfig config;
  config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
  return applyPatternsGreedily(root, std::move(patterns), config);
}

} // namespace decode
} // namespace mlir

#endif // DECODE_TRANSFORMS_PATTERNUTILS_H

//===- DecodeFolds.cpp - decode dialect folders ---------------------------===//
//
// Only exact folds live here: each rewrite preserves every bit of the result.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"

#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::decode;

/// x + (-0.0) == x for every x, including -0.0 and NaN payloads. Adding +0.0
/// is not an identity (-0.0 + 0.0 == +0.0), so it is not folded.
OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (matchPattern(adaptor.getRhs(), m_NegZeroFloat()))
    return getLhs();
  if (matchPattern(adaptor.getLhs(), m_NegZeroFloat()))
    return getRhs();
  return {};
}

/// A slice of the whole width is the input; a slice of a slice is one slice.
OpFoldResult SliceOp::fold(FoldAdaptor) {
  if (getOffset() == 0 && getInput().getType() == getType())
    return getInput();
  if (auto inner = getInput().getDefiningOp<SliceOp>()) {
    getInputMutable().assign(inner.getInput());
    setOffset(getOffset() + inner.getOffset());
    return getResult();
  }
  return {};
}

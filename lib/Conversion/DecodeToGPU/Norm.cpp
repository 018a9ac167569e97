//===- Norm.cpp - decode.rms_norm kernels ---------------------------------===//
//
// One block per row. Each thread loads its 16-byte groups of the row once
// into registers, the block reduces sum(x^2), and the same registers are
// scaled and written: one read and one write of the row.
//
// Numerics follow Hugging Face's LlamaRMSNorm:
//   y = round(w * round(x * rsqrt(mean(x^2) + eps)))  (f32 arithmetic).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace infer;

namespace {
constexpr int64_t kMaxNormThreads = 256;
} // namespace

LogicalResult infer::emitNormKernels(Operation *op, EmitContext &ctx,
                                     SmallVectorImpl<KernelLaunch> &out) {
  auto norm = cast<decode::RMSNormOp>(op);
  auto type = cast<RankedTensorType>(norm.getInput().getType());
  Type elementType = type.getElementType();
  Type weightType =
      cast<RankedTensorType>(norm.getWeight().getType()).getElementType();
  int64_t n = type.getDimSize(1);
  int64_t vw = vectorWidthFor(elementType, {n});
  if (weightType.getIntOrFloatBitWidth() != elementType.getIntOrFloatBitWidth())
    vw = std::min(vw, vectorWidthFor(weightType, {n}));
  int64_t groups = n / vw;
  int64_t threads =
      std::min<int64_t>(kMaxNormThreads, llvm::alignTo(groups, kWarpSize));
  int64_t perThread = llvm::divideCeil(groups, threads);
  StepScalar rows = ctx.rowsOf(norm.getInput());

  KernelBuilder kb(ctx, op, "rms_norm", /*maxTokens=*/0);
  unsigned inSlot = kb.addOperand(0);
  unsigned weightSlot = kb.addOperand(1);
  unsigned outSlot = kb.addResult(0);
  kb.create({threads, 1, 1}, {{1, toGridScale(rows)}});
  ImplicitLocOpBuilder &b = kb.b();
  Value scratch = kb.addShared({kb.numWarps()}, b.getF32Type());

  Value row = kb.blockId();
  Value tid = kb.threadId();
  auto wideType = VectorType::get({vw}, b.getF32Type());
  bool exact = groups % threads == 0;

  // Load this thread's groups (those past the row end read as zeros).
  SmallVector<Value> cols, valid, values;
  Value sumsq = kb.f32(0.0);
  for (int64_t i = 0; i < perThread; ++i) {
    Value group = kb.add(tid, kb.index(i * threads));
    Value col = kb.mul(group, kb.index(vw));
    Value inside =
        exact ? Value() : kb.cmp(arith::CmpIPredicate::ult, col, kb.index(n));
    Value loadCol = exact ? col : kb.minIndex(col, kb.index(n - vw));
    Value v = kb.toF32(kb.loadVector(kb.param(inSlot), {row, loadCol}, vw));
    if (inside)
      v = arith::SelectOp::create(b, inside, v, kb.floatConst(wideType, 0.0));
    sumsq = kb.add(sumsq, kb.reduceVector(kb.mul(v, v), ReduceKind::Add));
    cols.push_back(col);
    valid.push_back(inside);
    values.push_back(v);
  }
  Value total = kb.blockReduce(sumsq, ReduceKind::Add, scratch);
  Value mean = arith::DivFOp::create(b, total, kb.f32(double(n)));
  float epsilon = norm.getEpsilon().convertToFloat();
  Value scale = math::RsqrtOp::create(b, kb.add(mean, kb.f32(double(epsilon))));
  Value scaleVec = vector::BroadcastOp::create(b, wideType, scale);

  for (int64_t i = 0; i < perThread; ++i) {
    auto write = [&] {
      Value normed =
          kb.toF32(kb.fromF32(kb.mul(values[i], scaleVec), elementType));
      Value g = kb.toF32(kb.loadVector(kb.param(weightSlot), cols[i], vw));
      kb.storeVector(kb.fromF32(kb.mul(normed, g), elementType),
                     kb.param(outSlot), {row, cols[i]});
    };
    if (valid[i])
      kb.ifThen(valid[i], write);
    else
      write();
  }
  out.push_back(kb.finish());
  return success();
}

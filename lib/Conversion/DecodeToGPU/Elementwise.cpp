//===- Elementwise.cpp - add, silu_mul, embed, slice, gather_tokens -------===//
//
// Row-wise kernels: grid (column blocks, rows), one 16-byte group of a row per
// thread (emitRowwiseBody). The source row of a gather (embed, gather_tokens)
// is read once per thread from the index vector.
//
// Numerics match torch on 16-bit inputs: every op computes in f32 and rounds
// the result once, except silu_mul, which rounds silu(gate) first like
// `F.silu(gate) * up`.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace infer;

namespace {

int64_t columnsOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getDimSize(1);
}

Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// Declares `operands`, result 0 and creates a rowwise kernel over
/// `rows` x `columns`, then calls `body(kb, slots, row, col)`; slots are the
/// operands' parameter slots followed by the result's.
using RowwiseBody =
    function_ref<void(KernelBuilder &, ArrayRef<unsigned>, Value, Value)>;
void emitRowwise(Operation *op, EmitContext &ctx, StringRef name,
                 ArrayRef<unsigned> operands, StepScalar rows, int64_t columns,
                 int64_t vectorWidth, RowwiseBody body,
                 SmallVectorImpl<KernelLaunch> &out) {
  KernelBuilder kb(ctx, op, name, /*maxTokens=*/0);
  SmallVector<unsigned> slots;
  for (unsigned i : operands)
    slots.push_back(kb.addOperand(i));
  slots.push_back(kb.addResult(0));
  kb.create({kRowwiseBlock, 1, 1}, {rowwiseColumnBlocks(columns, vectorWidth),
                                    {1, toGridScale(rows)}});
  emitRowwiseBody(kb, columns, vectorWidth,
                  [&](Value row, Value col) { body(kb, slots, row, col); });
  out.push_back(kb.finish());
}

/// Loads one index of a gather as `index`.
Value loadRowIndex(KernelBuilder &kb, Value indices, Value row) {
  return arith::IndexCastOp::create(kb.b(), kb.b().getIndexType(),
                                    kb.load(indices, row));
}

/// result[row] = source[indices[row]], row by row (embed, gather_tokens).
void emitRowGather(Operation *op, EmitContext &ctx, StringRef name,
                   unsigned indices, unsigned source, StepScalar rows,
                   int64_t columns, Type elementType,
                   SmallVectorImpl<KernelLaunch> &out) {
  int64_t vw = vectorWidthFor(elementType, {columns});
  emitRowwise(
      op, ctx, name, {0, 1}, rows, columns, vw,
      [&](KernelBuilder &kb, ArrayRef<unsigned> s, Value row, Value col) {
        Value from = loadRowIndex(kb, kb.param(s[indices]), row);
        Value v = kb.loadVector(kb.param(s[source]), {from, col}, vw);
        kb.storeVector(v, kb.param(s[2]), {row, col});
      },
      out);
}

} // namespace

LogicalResult
infer::emitElementwiseKernels(Operation *op, EmitContext &ctx,
                              SmallVectorImpl<KernelLaunch> &out) {
  Value result = op->getResult(0);
  int64_t columns = columnsOf(result);
  Type elementType = elementTypeOf(result);
  StepScalar rows = ctx.rowsOf(result);

  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](decode::AddOp) {
        int64_t vw = vectorWidthFor(elementType, {columns});
        emitRowwise(
            op, ctx, "add", {0, 1}, rows, columns, vw,
            [&](KernelBuilder &kb, ArrayRef<unsigned> s, Value row, Value col) {
              Value lhs =
                  kb.toF32(kb.loadVector(kb.param(s[0]), {row, col}, vw));
              Value rhs =
                  kb.toF32(kb.loadVector(kb.param(s[1]), {row, col}, vw));
              kb.storeVector(kb.fromF32(kb.add(lhs, rhs), elementType),
                             kb.param(s[2]), {row, col});
            },
            out);
        return success();
      })
      .Case([&](decode::SiluMulOp siluMul) {
        bool packed = siluMul.getInputs().size() == 1;
        int64_t vw = vectorWidthFor(elementType, {columns});
        SmallVector<unsigned> operands =
            packed ? SmallVector<unsigned>{0} : SmallVector<unsigned>{0, 1};
        emitRowwise(
            op, ctx, "silu_mul", operands, rows, columns, vw,
            [&](KernelBuilder &kb, ArrayRef<unsigned> s, Value row, Value col) {
              Value gateBuf = kb.param(s[0]);
              Value upBuf = packed ? gateBuf : kb.param(s[1]);
              Value upCol = packed ? kb.add(col, kb.index(columns)) : col;
              Value gate = kb.toF32(kb.loadVector(gateBuf, {row, col}, vw));
              Value up = kb.toF32(kb.loadVector(upBuf, {row, upCol}, vw));
              kb.storeVector(kb.siluMul(gate, up, elementType),
                             kb.param(s.back()), {row, col});
            },
            out);
        return success();
      })
      .Case([&](decode::EmbedOp) {
        // Operands: (tokens, table).
        emitRowGather(op, ctx, "embed", /*indices=*/0, /*source=*/1, rows,
                      columns, elementType, out);
        return success();
      })
      .Case([&](decode::SliceOp slice) {
        int64_t offset = slice.getOffset();
        int64_t vw = vectorWidthFor(
            elementType, {columns, offset, columnsOf(slice.getInput())});
        emitRowwise(
            op, ctx, "slice", {0}, rows, columns, vw,
            [&](KernelBuilder &kb, ArrayRef<unsigned> s, Value row, Value col) {
              Value v = kb.loadVector(kb.param(s[0]),
                                      {row, kb.add(col, kb.index(offset))}, vw);
              kb.storeVector(v, kb.param(s[1]), {row, col});
            },
            out);
        return success();
      })
      .Case([&](decode::GatherTokensOp) {
        // Operands: (input, indices).
        emitRowGather(op, ctx, "gather_tokens", /*indices=*/1, /*source=*/0,
                      rows, columns, elementType, out);
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitOpError("is not an elementwise op");
      });
}

//===- Rope.cpp - decode.rope / kv_append / rope_append kernels -----------===//
//
// One block of 128 threads per token (grid = T). The token's position,
// cos/sin and cache slot (step inputs) come before the wait for the previous
// kernel (programmatic launch), the rows after it.
//
//  * `rope`: rotates every head of the row (rotate-half form).
//  * `kv_append`: copies the token's K and V rows into cache slot
//    `slots[t]` of layer `layer` (a negative slot skips the token).
//
// The cache layer is the `layer` scalar parameter, not a constant, so that the
// kernels of all layers are identical and deduplicated; so is the inverse
// frequency table (one `memref.global` per distinct table).
//  * `rope_append`: the fused form on a packed `[q | k | v]` row; rotated q
//    goes to the query result, rotated k and plain v to the cache slot.
//
// Rotation matches Hugging Face Llama: `inv_freq` is computed at compile time
// like transformers' `_compute_default_rope_parameters` (and the linear and
// llama3 variants) in f32 and stored as a constant table; each token's
// `cos`/`sin` of `position * inv_freq` are computed in f32 once per block
// into shared memory and, like HF's `cos.to(x.dtype)`, rounded to the
// activation type; `q * cos + rotate_half(q) * sin` then rounds after every
// operation, as the bf16 tensor ops in HF do. Every access is a 16-byte
// vector (the two halves of a head are read as two vectors).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;

namespace infer {
namespace {

constexpr int64_t kRopeThreads = 128;

/// HF's inverse frequencies, in f32 with the order of operations of
/// transformers' rope initialization functions.
SmallVector<float> computeInvFreq(int64_t headDim, float theta,
                                  decode::RopeScalingAttr scaling) {
  SmallVector<float> invFreq;
  for (int64_t i = 0; i < headDim; i += 2) {
    float exponent = float(i) / float(headDim);
    float base = float(std::pow(double(theta), double(exponent)));
    invFreq.push_back(1.0f / base);
  }
  if (!scaling)
    return invFreq;
  float factor = scaling.getFactor().convertToDouble();
  if (scaling.getKind() == decode::RopeScalingKind::Linear) {
    for (float &f : invFreq)
      f /= factor;
    return invFreq;
  }
  // _compute_llama3_parameters (python scalars meet f32 tensors in f32).
  double low = scaling.getLowFreqFactor().convertToDouble();
  double high = scaling.getHighFreqFactor().convertToDouble();
  double oldContext = double(scaling.getOriginalMaxPosition());
  float lowWavelen = float(oldContext / low);
  float highWavelen = float(oldContext / high);
  float twoPi = float(2 * M_PI);
  for (float &f : invFreq) {
    float wavelen = (1.0f / f) * twoPi;
    float llama = wavelen > lowWavelen ? f / factor : f;
    float smooth =
        ((1.0f / wavelen) * float(oldContext) - float(low)) / float(high - low);
    float smoothed = (1.0f - smooth) * llama / factor + smooth * llama;
    bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
    f = medium ? smoothed : llama;
  }
  return invFreq;
}

/// A per-token rotation: `cos`/`sin` tables of the token in shared memory.
struct RopeContext {
  int64_t headDim, width;
  Type elementType;
  Value cosTable, sinTable;
};

/// Fills shared `cos`/`sin` of position `positions[token]` (rounded to the
/// activation type) and waits for them.
RopeContext emitRopeTables(KernelBuilder &kb, Operation *op, int64_t headDim,
                           ArrayRef<float> invFreq, Type elementType,
                           Value positions, Value token) {
  ImplicitLocOpBuilder &b = kb.b();
  int64_t half = headDim / 2;
  auto tableType = MemRefType::get({half}, b.getF32Type());
  auto values = DenseElementsAttr::get(
      RankedTensorType::get({half}, b.getF32Type()), invFreq);
  // Kernels with the same table refer to the same global, so that the kernel
  // deduplicator sees them as identical.
  auto module = cast<gpu::GPUModuleOp>(kb.func()->getParentOp());
  memref::GlobalOp global;
  for (auto existing : module.getOps<memref::GlobalOp>())
    if (existing.getType() == tableType &&
        existing.getInitialValueAttr() == values) {
      global = existing;
      break;
    }
  if (!global) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(kb.func());
    std::string name = (kb.func().getName() + "_inv_freq").str();
    global = memref::GlobalOp::create(b, name, b.getStringAttr("private"),
                                      tableType, values, /*constant=*/true,
                                      /*alignment=*/b.getI64IntegerAttr(16));
  }
  Value invTable =
      memref::GetGlobalOp::create(b, tableType, global.getSymName());

  RopeContext rc;
  rc.headDim = headDim;
  rc.width = vectorWidthFor(elementType, {half});
  rc.elementType = elementType;
  rc.cosTable = kb.addShared({half}, b.getF32Type());
  rc.sinTable = kb.addShared({half}, b.getF32Type());
  Value position =
      arith::SIToFPOp::create(b, b.getF32Type(), kb.load(positions, token));
  kb.forEachThread(half, [&](Value i) {
    Value angle = kb.mul(position, kb.load(invTable, i));
    auto rounded = [&](Value v) {
      return kb.toF32(kb.fromF32(v, elementType));
    };
    kb.store(rounded(math::CosOp::create(b, angle)), rc.cosTable, i);
    kb.store(rounded(math::SinOp::create(b, angle)), rc.sinTable, i);
  });
  kb.barrier();
  return rc;
}

/// Rotates `heads` heads of `src` row `token` starting at column `srcCol`;
/// `store(head, col, value)` writes `width` rotated elements at column `col`
/// (< head_dim) of head `head`.
void emitRotateHeads(KernelBuilder &kb, const RopeContext &rc, Value src,
                     Value token, int64_t srcCol, int64_t heads,
                     llvm::function_ref<void(Value, Value, Value)> store) {
  int64_t half = rc.headDim / 2;
  int64_t chunks = half / rc.width;
  kb.forEachThread(heads * chunks, [&](Value i) {
    Value head = kb.divIndex(i, kb.index(chunks));
    Value c = kb.mul(kb.remIndex(i, kb.index(chunks)), kb.index(rc.width));
    Value col = kb.add(kb.index(srcCol), kb.mul(head, kb.index(rc.headDim)));
    Value lo = kb.toF32(kb.loadVector(src, {token, kb.add(col, c)}, rc.width));
    Value hi = kb.toF32(kb.loadVector(
        src, {token, kb.add(col, kb.add(c, kb.index(half)))}, rc.width));
    Value cs = kb.loadVector(rc.cosTable, {c}, rc.width);
    Value sn = kb.loadVector(rc.sinTable, {c}, rc.width);
    // Each product and sum rounds to the activation type, as in HF.
    auto op = [&](Value v) { return kb.toF32(kb.fromF32(v, rc.elementType)); };
    Value newLo = op(kb.sub(op(kb.mul(lo, cs)), op(kb.mul(hi, sn))));
    Value newHi = op(kb.add(op(kb.mul(hi, cs)), op(kb.mul(lo, sn))));
    store(head, c, kb.fromF32(newLo, rc.elementType));
    store(head, kb.add(c, kb.index(half)), kb.fromF32(newHi, rc.elementType));
  });
}

/// Where a token's K and V rows go; `valid` is false for negative slots.
struct CacheSlot {
  Value valid, block, offset;
};

CacheSlot emitSlot(KernelBuilder &kb, Value slots, Value token,
                   int64_t blockSize) {
  Value raw = kb.load(slots, token);
  Value valid =
      arith::CmpIOp::create(kb.b(), arith::CmpIPredicate::sge, raw, kb.i32(0));
  // Negative slots are never dereferenced; clamp them for the arithmetic.
  Value index = kb.toIndex(arith::MaxSIOp::create(kb.b(), raw, kb.i32(0)));
  return {valid, kb.divIndex(index, kb.index(blockSize)),
          kb.remIndex(index, kb.index(blockSize))};
}

/// Copies `heads` heads of `src` row `token` from column `srcCol` into the
/// cache's K (`kv` = 0) or V (1) rows at (block, offset).
void emitCopyToCache(KernelBuilder &kb, decode::KVCacheType cacheType,
                     Value cache, Value layer, int64_t kv, Value block,
                     Value offset, Value src, Value token, int64_t srcCol,
                     int64_t heads) {
  int64_t headDim = cacheType.getHeadDim();
  int64_t width = vectorWidthFor(cacheType.getDtype(), {headDim});
  int64_t chunks = headDim / width;
  kb.forEachThread(heads * chunks, [&](Value i) {
    Value head = kb.divIndex(i, kb.index(chunks));
    Value c = kb.mul(kb.remIndex(i, kb.index(chunks)), kb.index(width));
    Value col =
        kb.add(kb.index(srcCol), kb.add(kb.mul(head, kb.index(headDim)), c));
    Value v = kb.loadVector(src, {token, col}, width);
    kb.storeVector(v, cache, {block, layer, kb.index(kv), head, offset, c});
  });
}

LogicalResult checkCache(Operation *op, decode::KVCacheType cache,
                         Type elementType) {
  if (cache.getDtype() != elementType)
    return op->emitOpError("GPU lowering needs activations in the cache's "
                           "element type ")
           << cache.getDtype();
  return success();
}

LogicalResult checkHeadDim(Operation *op, int64_t headDim) {
  if (headDim % 2 != 0)
    return op->emitOpError("rotary head_dim must be even, got ") << headDim;
  return success();
}

LogicalResult emitRope(decode::RopeOp op, EmitContext &ctx,
                       SmallVectorImpl<KernelLaunch> &out) {
  auto type = cast<RankedTensorType>(op.getInput().getType());
  int64_t headDim = op.getHeadDim();
  if (failed(checkHeadDim(op, headDim)))
    return failure();
  int64_t heads = type.getDimSize(1) / headDim;
  KernelBuilder kb(ctx, op, "rope", /*maxTokens=*/0);
  unsigned input = kb.addOperand(0), positions = kb.addOperand(1);
  unsigned result = kb.addResult(0);
  kb.deferDependencyWait(/*dependentsFirst=*/false);
  kb.create({kRopeThreads, 1, 1},
            {GridExtent{1, toGridScale(ctx.rowsOf(op.getInput()))}});
  Value token = kb.blockId();
  RopeContext rc =
      emitRopeTables(kb, op, headDim,
                     computeInvFreq(headDim, op.getTheta().convertToFloat(),
                                    op.getScalingAttr()),
                     type.getElementType(), kb.param(positions), token);
  kb.waitForDependencies();
  emitRotateHeads(kb, rc, kb.param(input), token, 0, heads,
                  [&](Value head, Value col, Value v) {
                    Value c = kb.add(kb.mul(head, kb.index(headDim)), col);
                    kb.storeVector(v, kb.param(result), {token, c});
                  });
  out.push_back(kb.finish());
  return success();
}

LogicalResult emitKVAppend(decode::KVAppendOp op, EmitContext &ctx,
                           SmallVectorImpl<KernelLaunch> &out) {
  auto cacheType = cast<decode::KVCacheType>(op.getCache().getType());
  auto keyType = cast<RankedTensorType>(op.getKey().getType());
  if (failed(checkCache(op, cacheType, keyType.getElementType())))
    return failure();
  KernelBuilder kb(ctx, op, "kv_append", /*maxTokens=*/0);
  unsigned cache = kb.addOperand(0), key = kb.addOperand(1),
           value = kb.addOperand(2), slots = kb.addOperand(3);
  unsigned layer = kb.addScalar(StepScalar::Layer);
  kb.deferDependencyWait(/*dependentsFirst=*/false);
  kb.create({kRopeThreads, 1, 1},
            {GridExtent{1, toGridScale(ctx.rowsOf(op.getKey()))}});
  Value token = kb.blockId();
  CacheSlot slot =
      emitSlot(kb, kb.param(slots), token, cacheType.getBlockSize());
  kb.waitForDependencies();
  kb.ifThen(slot.valid, [&] {
    for (auto [kv, src] : {std::pair{0, key}, std::pair{1, value}})
      emitCopyToCache(kb, cacheType, kb.param(cache), kb.scalarIndex(layer), kv,
                      slot.block, slot.offset, kb.param(src), token, 0,
                      cacheType.getKvHeads());
  });
  out.push_back(kb.finish());
  return success();
}

LogicalResult emitRopeAppend(decode::RopeAppendOp op, EmitContext &ctx,
                             SmallVectorImpl<KernelLaunch> &out) {
  auto cacheType = cast<decode::KVCacheType>(op.getCache().getType());
  auto qkvType = cast<RankedTensorType>(op.getQkv().getType());
  Type elementType = qkvType.getElementType();
  int64_t headDim = cacheType.getHeadDim();
  int64_t qHeads = op.getNumHeads(), kvHeads = cacheType.getKvHeads();
  if (failed(checkCache(op, cacheType, elementType)) ||
      failed(checkHeadDim(op, headDim)))
    return failure();
  KernelBuilder kb(ctx, op, "rope_append", /*maxTokens=*/0);
  unsigned cache = kb.addOperand(0), qkv = kb.addOperand(1),
           positions = kb.addOperand(2), slots = kb.addOperand(3);
  unsigned query = kb.addResult(0);
  unsigned layerParam = kb.addScalar(StepScalar::Layer);
  kb.deferDependencyWait(/*dependentsFirst=*/false);
  kb.create({kRopeThreads, 1, 1},
            {GridExtent{1, toGridScale(ctx.rowsOf(op.getQkv()))}});
  Value token = kb.blockId();
  RopeContext rc =
      emitRopeTables(kb, op, headDim,
                     computeInvFreq(headDim, op.getTheta().convertToFloat(),
                                    op.getScalingAttr()),
                     elementType, kb.param(positions), token);
  CacheSlot slot =
      emitSlot(kb, kb.param(slots), token, cacheType.getBlockSize());
  kb.waitForDependencies();
  emitRotateHeads(kb, rc, kb.param(qkv), token, 0, qHeads,
                  [&](Value head, Value col, Value v) {
                    Value c = kb.add(kb.mul(head, kb.index(headDim)), col);
                    kb.storeVector(v, kb.param(query), {token, c});
                  });
  kb.ifThen(slot.valid, [&] {
    Value layer = kb.scalarIndex(layerParam);
    emitRotateHeads(kb, rc, kb.param(qkv), token, qHeads * headDim, kvHeads,
                    [&](Value head, Value col, Value v) {
                      kb.storeVector(v, kb.param(cache),
                                     {slot.block, layer, kb.index(0), head,
                                      slot.offset, col});
                    });
    emitCopyToCache(kb, cacheType, kb.param(cache), layer, /*kv=*/1, slot.block,
                    slot.offset, kb.param(qkv), token,
                    (qHeads + kvHeads) * headDim, kvHeads);
  });
  out.push_back(kb.finish());
  return success();
}

} // namespace

LogicalResult emitRopeKernels(Operation *op, EmitContext &ctx,
                              SmallVectorImpl<KernelLaunch> &out) {
  if (auto rope = dyn_cast<decode::RopeOp>(op))
    return emitRope(rope, ctx, out);
  if (auto append = dyn_cast<decode::KVAppendOp>(op))
    return emitKVAppend(append, ctx, out);
  if (auto fused = dyn_cast<decode::RopeAppendOp>(op))
    return emitRopeAppend(fused, ctx, out);
  return op->emitOpError("is not a rope or kv_append op");
}

} // namespace infer

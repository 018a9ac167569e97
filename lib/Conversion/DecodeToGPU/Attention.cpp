//===- Attention.cpp - decode.paged_attention kernels ---------------------===//
//
// `decode.paged_attention` becomes one split-KV ("flash decoding") kernel:
// `paged_attention_*` (CUDA cores, `kernel = simt`, described here) or
// `paged_attention_mma_*` (tensor cores, `kernel = mma`, AttentionMma.cpp);
// both share the grid, the splits and the merge defined here. The mma
// kernel has a second form with a shared-memory ring of K/V chunks,
// `paged_attention_mma_ring_*`, for steps of 65-128 tokens (its own launch
// group; `attention-stages`, `attention-ring-{min,max}-tokens`).
//
// Grid (splits, kv_heads, items), `attention-warps` (4) warps per block.
// An item is a sequence in draft steps (one query per sequence) and a query
// token otherwise (decode, verify and prefill rows: the token's sequence is
// guessed as the token itself, right while decode rows come first, or found by
// a binary search of `query_start`; its keys end at its causal position). The
// item's range and its first block ids (step inputs, written by the host) are
// loaded before the wait for the previous kernel (programmatic launch). One
// block serves all `G = num_heads / kv_heads` query heads of its kv head, so
// every K/V page is read once per kv head.
//
//  * Lanes: a token row of `head_dim` elements is read by `head_dim / 8`
//    lanes, 16 bytes each; a warp covers `32 / (head_dim / 8)` tokens per
//    access and a whole page with `block_size` 16-byte K and V loads per
//    lane, all issued before the first use. Lane (group t, chunk c) keeps the
//    G query vectors of chunk c in registers, pre-scaled by scale * log2(e).
//  * Scores: an 8-element FMA chain per (token, head), then a butterfly over
//    the token's lanes. Every lane group runs its own online softmax
//    (running max m, sum l, f32 accumulator of its chunk) in the log2 domain
//    with `exp2`; keys outside [window begin, causal end) get -inf scores and
//    zero values, so stale or NaN pool slots never leak into the result.
//  * Pages: the split's pages go round-robin to the warps. At the end the
//    lane groups merge by shuffles and the warps through shared memory.
//  * Splits: the grid's x extent is ceil(budget / items), budget =
//    min(split_kv, ceil(8 * SMs / (warps * kv_heads))) (8: the resident
//    warps of either kernel, 240-248 registers), so large batches launch one
//    split per item; an item uses min(that, max(ceil(keys / (64 warps)),
//    min(ceil(keys / (16 warps)), ceil(SMs / blocks)))) splits (blocks =
//    items * kv_heads): splits of at least 64 keys per warp, or down to 16
//    where that fills one wave (batch 1 at short contexts). With one split the
//    block writes the normalized output itself; otherwise it writes (o, m, l)
//    partials (unnormalized o, log2-domain max, sum) to the workspace, counts
//    its arrival in the item's `counters` word (after a GPU-scope fence), and
//    the last split to arrive resets the word and combines the partials with
//    a stable log-sum-exp (no merge launch).
//
// Workspace: `[items][num_heads][split_kv][head_dim + 4]` f32 (o, then m and
// l, padded to 16 bytes); counters: one `i32` per (item, kv head).
//
//===----------------------------------------------------------------------===//

#include "Attention.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/Support/MathExtras.h"

#include <limits>

using namespace mlir;
using namespace infer;
using namespace infer::attention;

namespace {

/// A split gets at least this many keys per warp, or kShortSplitKeysPerWarp
/// where fewer splits would leave SMs without a block (short contexts at
/// batch 1).
constexpr int64_t kMinKeysPerWarp = 64;
constexpr int64_t kShortSplitKeysPerWarp = 16;
/// Scores kept live per lane between two online-softmax updates.
constexpr int64_t kScoresPerUpdate = 32;
constexpr double kLog2e = 1.4426950408889634;

/// Operand numbers of decode.paged_attention (ODS order).
enum AttentionOperand : unsigned {
  kQuery = 0,
  kCache = 1,
  kBlockTables = 2,
  kContextLens = 3,
  kQueryStart = 4,
};

FailureOr<AttentionPlan> planAttention(decode::PagedAttentionOp op,
                                       const EmitContext &ctx) {
  auto cache = cast<decode::KVCacheType>(op.getCache().getType());
  AttentionPlan plan;
  plan.warps = ctx.options.attentionWarps;
  plan.splitWarpsPerSM = ctx.options.attentionSplitWarpsPerSM;
  plan.l2Prefetch = ctx.options.attentionL2Prefetch;
  plan.numHeads = op.getNumHeads();
  plan.kvHeads = cache.getKvHeads();
  plan.group = plan.numHeads / plan.kvHeads;
  plan.headDim = cache.getHeadDim();
  plan.blockSize = cache.getBlockSize();
  plan.scaleLog2 = op.getScale().convertToFloat() * kLog2e;
  if (std::optional<uint64_t> window = op.getSlidingWindow())
    plan.window = *window;
  plan.maxSplits = op.getSplitKv().value_or(1);
  plan.mma = op.getKernel() == decode::AttentionKernel::Mma;

  Type elementType = cache.getDtype();
  auto queryType = cast<RankedTensorType>(op.getQuery().getType());
  if (!elementType.isBF16() && !elementType.isF16())
    return op.emitOpError("GPU lowering supports bf16 and f16 caches, not ")
           << elementType;
  if (queryType.getElementType() != elementType)
    return op.emitOpError("GPU lowering needs the query in the cache's "
                          "element type");
  plan.elementType = elementType;
  plan.vec = kVectorBytes * 8 / elementType.getIntOrFloatBitWidth();
  if (!llvm::isPowerOf2_64(plan.headDim) || plan.headDim < plan.vec ||
      plan.headDim > kWarpSize * plan.vec)
    return op.emitOpError("GPU lowering supports power-of-two head_dim in [")
           << plan.vec << ", " << kWarpSize * plan.vec << "], got "
           << plan.headDim;
  plan.lanesPerToken = plan.headDim / plan.vec;
  plan.tokensPerStep = kWarpSize / plan.lanesPerToken;
  if (!llvm::isPowerOf2_64(plan.blockSize) ||
      plan.blockSize < plan.tokensPerStep)
    return op.emitOpError("GPU lowering needs a power-of-two block_size of at "
                          "least ")
           << plan.tokensPerStep << " for head_dim " << plan.headDim;
  plan.stepsPerPage = plan.blockSize / plan.tokensPerStep;
  plan.stepsPerUpdate =
      std::clamp<int64_t>(kScoresPerUpdate / plan.group, 1, plan.stepsPerPage);
  while (plan.stepsPerPage % plan.stepsPerUpdate != 0)
    --plan.stepsPerUpdate;
  int64_t sharedBytes = 4 * plan.warps * plan.group * (plan.headDim + 2);
  if (sharedBytes > 48 * 1024)
    return op.emitOpError("GPU lowering supports group * head_dim up to ")
           << 48 * 1024 / (4 * plan.warps) << ", got "
           << plan.group * plan.headDim;

  // A continuous-batching step mixes decodes with prefill chunks whatever its
  // role, so only a draft step (one token per sequence by construction) may
  // index queries by sequence.
  auto step = op->getParentOfType<func::FuncOp>();
  auto role = step ? step->getAttrOfType<decode::StepRoleAttr>("decode.role")
                   : decode::StepRoleAttr();
  plan.perSequence = role && role.getValue() == decode::StepRole::Draft;
  return plan;
}

/// The sequence holding query token `token`: the largest `s < seqs` with
/// `query_start[s] <= token` (binary search; query_start[seqs] = T > token).
Value findSequence(KernelBuilder &kb, Value queryStart, Value token,
                   Value seqs) {
  ImplicitLocOpBuilder &b = kb.b();
  Type indexType = b.getIndexType();
  auto loop = scf::WhileOp::create(
      b, TypeRange{indexType, indexType}, ValueRange{kb.index(0), seqs},
      [&](OpBuilder &, Location, ValueRange args) {
        Value open = kb.cmp(arith::CmpIPredicate::ugt, kb.sub(args[1], args[0]),
                            kb.index(1));
        scf::ConditionOp::create(b, open, args);
      },
      [&](OpBuilder &, Location, ValueRange args) {
        Value mid = kb.divIndex(kb.add(args[0], args[1]), kb.index(2));
        Value start = kb.toIndex(kb.load(queryStart, mid));
        Value le = kb.cmp(arith::CmpIPredicate::ule, start, token);
        scf::YieldOp::create(b, ValueRange{kb.select(le, mid, args[0]),
                                           kb.select(le, args[1], mid)});
      });
  return loop.getResult(0);
}

/// Splits an item uses at run time (see the file comment).
Value numSplits(KernelBuilder &kb, const AttentionPlan &plan, Value keys,
                Value items, int64_t numSMs) {
  if (plan.maxSplits == 1)
    return kb.index(1);
  Value blocksPerSplit = kb.mul(items, kb.index(plan.kvHeads));
  Value oneWave = kb.ceilDivIndex(kb.index(numSMs), blocksPerSplit);
  Value byLength = kb.maxIndex(
      kb.ceilDivIndex(keys, kb.index(kMinKeysPerWarp * plan.warps)),
      kb.minIndex(
          kb.ceilDivIndex(keys, kb.index(kShortSplitKeysPerWarp * plan.warps)),
          oneWave));
  Value byOccupancy =
      kb.ceilDivIndex(kb.index(splitBudget(plan, numSMs)), items);
  return kb.maxIndex(kb.minIndex(byLength, byOccupancy), kb.index(1));
}

/// Stores `o / l` (0 where l = 0, a query without keys) as the op's element
/// type at column `col` of query row `token`.
void storeNormalized(KernelBuilder &kb, Value result, Value token, Value col,
                     Value o, Value l) {
  Value positive =
      arith::CmpFOp::create(kb.b(), arith::CmpFPredicate::OGT, l, kb.f32(0));
  Value inv = kb.select(positive, arith::DivFOp::create(kb.b(), kb.f32(1.0), l),
                        kb.f32(0.0));
  int64_t width = cast<VectorType>(o.getType()).getNumElements();
  Value scaled = kb.mul(o, kb.splat(inv, width));
  Type elementType = cast<MemRefType>(result.getType()).getElementType();
  kb.storeVector(kb.fromF32(scaled, elementType), result, {token, col});
}

/// Folds the state `(mo, lo, ao)` of another lane group into head `g`.
void mergeInto(KernelBuilder &kb, SoftmaxState &s, int64_t g, Value mo,
               Value lo, Value ao) {
  int64_t width = cast<VectorType>(ao.getType()).getNumElements();
  Value mNew = arith::MaximumFOp::create(kb.b(), s.m[g], mo);
  Value base = safeMax(kb, mNew);
  Value a = kb.exp2(kb.sub(s.m[g], base));
  Value c = kb.exp2(kb.sub(mo, base));
  s.l[g] = kb.add(kb.mul(s.l[g], a), kb.mul(lo, c));
  s.acc[g] =
      kb.fma(ao, kb.splat(c, width), kb.mul(s.acc[g], kb.splat(a, width)));
  s.m[g] = mNew;
}

/// One online-softmax update of every head with the keys of `steps`
/// accesses of page `page` (block id `blockId`) of layer `layer`.
void emitPageUpdate(KernelBuilder &kb, const AttentionPlan &plan,
                    SoftmaxState &s, ArrayRef<Value> queries, Value cache,
                    Value layer, Value kvHead, Value page, Value blockId,
                    Value tokenGroup, Value col, const QueryRange &r,
                    int64_t firstStep, int64_t steps) {
  SmallVector<Value> keys, values;
  SmallVector<Value> valid;
  // Issue every load of the update first.
  for (int64_t j = firstStep; j < firstStep + steps; ++j) {
    Value slot = kb.add(kb.index(j * plan.tokensPerStep), tokenGroup);
    keys.push_back(kb.loadVector(
        cache, {blockId, layer, kb.index(0), kvHead, slot, col}, plan.vec));
    values.push_back(kb.loadVector(
        cache, {blockId, layer, kb.index(1), kvHead, slot, col}, plan.vec));
    Value key = kb.add(kb.mul(page, kb.index(plan.blockSize)), slot);
    valid.push_back(arith::AndIOp::create(
        kb.b(), kb.cmp(arith::CmpIPredicate::uge, key, r.kvBegin),
        kb.cmp(arith::CmpIPredicate::ult, key, r.kvEnd)));
  }
  Value zero =
      kb.floatConst(VectorType::get({plan.vec}, kb.b().getF32Type()), 0.0);
  SmallVector<SmallVector<Value>> scores(plan.group);
  SmallVector<Value> valuesF32;
  for (int64_t j = 0; j < steps; ++j) {
    Value k = kb.toF32(keys[j]);
    for (int64_t g = 0; g < plan.group; ++g) {
      Value dot = kb.reduceVector(kb.mul(k, queries[g]), ReduceKind::Add);
      dot = kb.groupReduce(dot, ReduceKind::Add, plan.lanesPerToken);
      scores[g].push_back(kb.select(valid[j], dot, negInf(kb)));
    }
    valuesF32.push_back(kb.select(valid[j], kb.toF32(values[j]), zero));
  }
  for (int64_t g = 0; g < plan.group; ++g) {
    Value mNew = s.m[g];
    for (Value score : scores[g])
      mNew = arith::MaximumFOp::create(kb.b(), mNew, score);
    Value base = safeMax(kb, mNew);
    Value alpha = kb.exp2(kb.sub(s.m[g], base));
    Value l = kb.mul(s.l[g], alpha);
    Value acc = kb.mul(s.acc[g], kb.splat(alpha, plan.vec));
    for (int64_t j = 0; j < steps; ++j) {
      Value p = kb.exp2(kb.sub(scores[g][j], base));
      l = kb.add(l, p);
      acc = kb.fma(kb.splat(p, plan.vec), valuesF32[j], acc);
    }
    s.m[g] = mNew;
    s.l[g] = l;
    s.acc[g] = acc;
  }
}

/// Combines the split partials of item `item` and every head of kv head
/// `kvHead` with a log-sum-exp and writes the normalized output.
void emitSplitMerge(KernelBuilder &kb, const AttentionPlan &plan,
                    const AttentionParams &p, const QueryRange &r, Value item,
                    Value kvHead) {
  constexpr int64_t width = 4;
  int64_t perHead = plan.headDim / width;
  Type f32 = kb.b().getF32Type();
  Value ws = kb.param(p.workspace);
  kb.forEachThread(plan.group * perHead, [&](Value i) {
    Value g = kb.divIndex(i, kb.index(perHead));
    Value d = kb.mul(kb.remIndex(i, kb.index(perHead)), kb.index(width));
    Value head = kb.add(kb.mul(kvHead, kb.index(plan.group)), g);
    Value mIndex = kb.index(plan.headDim);
    Value lIndex = kb.index(plan.headDim + 1);
    Value m =
        kb.forLoop(kb.index(0), r.numSplits, kb.index(1), {negInf(kb)},
                   [&](Value s, ValueRange args) -> SmallVector<Value> {
                     Value ms = kb.load(ws, {item, head, s, mIndex});
                     return {arith::MaximumFOp::create(kb.b(), args[0], ms)};
                   })[0];
    Value base = safeMax(kb, m);
    Value zero = kb.floatConst(VectorType::get({width}, f32), 0.0);
    SmallVector<Value> sums = kb.forLoop(
        kb.index(0), r.numSplits, kb.index(1), {kb.f32(0.0), zero},
        [&](Value s, ValueRange args) -> SmallVector<Value> {
          Value e = kb.exp2(kb.sub(kb.load(ws, {item, head, s, mIndex}), base));
          Value l =
              kb.add(args[0], kb.mul(kb.load(ws, {item, head, s, lIndex}), e));
          Value o = kb.fma(kb.loadVector(ws, {item, head, s, d}, width),
                           kb.splat(e, width), args[1]);
          return {l, o};
        });
    Value outCol = kb.add(kb.mul(head, kb.index(plan.headDim)), d);
    storeNormalized(kb, kb.param(p.result), r.token, outCol, sums[1], sums[0]);
  });
}

LogicalResult emitAttentionKernel(KernelBuilder &kb, const AttentionPlan &plan,
                                  int64_t numSMs) {
  AttentionBlock block = beginAttentionKernel(kb, plan, numSMs);
  const AttentionParams &p = block.params;
  const QueryRange &r = block.range;
  Value split = block.split, kvHead = block.kvHead;
  Type f32 = kb.b().getF32Type();

  kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, split, r.numSplits), [&] {
    auto [myBegin, myEnd] = splitPages(kb, plan, r, split);

    Value lane = kb.laneId(), warp = kb.warpId();
    Value tokenGroup = kb.divIndex(lane, kb.index(plan.lanesPerToken));
    Value chunk = kb.remIndex(lane, kb.index(plan.lanesPerToken));
    Value col = kb.mul(chunk, kb.index(plan.vec));
    kb.waitForDependencies();

    // The group's queries, scaled into the log2 domain.
    SmallVector<Value> queries;
    Value scale =
        kb.floatConst(VectorType::get({plan.vec}, f32), plan.scaleLog2);
    for (int64_t g = 0; g < plan.group; ++g) {
      Value head = kb.add(kb.mul(kvHead, kb.index(plan.group)), kb.index(g));
      Value qCol = kb.add(kb.mul(head, kb.index(plan.headDim)), col);
      queries.push_back(kb.mul(
          kb.toF32(kb.loadVector(kb.param(p.query), {r.token, qCol}, plan.vec)),
          scale));
    }

    SoftmaxState init;
    Value zeroAcc = kb.floatConst(VectorType::get({plan.vec}, f32), 0.0);
    for (int64_t g = 0; g < plan.group; ++g) {
      init.m.push_back(negInf(kb));
      init.l.push_back(kb.f32(0.0));
      init.acc.push_back(zeroAcc);
    }
    Value tableRow = kb.mul(r.seq, kb.scalarIndex(p.tableWidth));
    Value layer = kb.scalarIndex(p.layer);
    SmallVector<Value> final = kb.forLoop(
        kb.add(myBegin, warp), myEnd, kb.index(plan.warps), init.flatten(),
        [&](Value page, ValueRange args) {
          SoftmaxState s = SoftmaxState::unflatten(args, plan.group);
          Value blockId = kb.toIndex(
              kb.load(kb.param(p.blockTables), kb.add(tableRow, page)));
          for (int64_t j = 0; j < plan.stepsPerPage; j += plan.stepsPerUpdate)
            emitPageUpdate(kb, plan, s, queries, kb.param(p.cache), layer,
                           kvHead, page, blockId, tokenGroup, col, r, j,
                           plan.stepsPerUpdate);
          return s.flatten();
        });
    SoftmaxState s = SoftmaxState::unflatten(final, plan.group);

    // Merge the lane groups of the warp (same chunk, other tokens).
    for (int64_t offset = plan.lanesPerToken; offset < kWarpSize; offset *= 2)
      for (int64_t g = 0; g < plan.group; ++g)
        mergeInto(kb, s, g, kb.shuffleXor(s.m[g], offset),
                  kb.shuffleXor(s.l[g], offset),
                  kb.shuffleXor(s.acc[g], offset));

    // Then the warps, through shared memory.
    kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, tokenGroup, kb.index(0)), [&] {
      for (int64_t g = 0; g < plan.group; ++g) {
        kb.storeVector(s.acc[g], block.sharedO, {warp, kb.index(g), col});
        kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, chunk, kb.index(0)), [&] {
          kb.store(s.m[g], block.sharedML, {warp, kb.index(g), kb.index(0)});
          kb.store(s.l[g], block.sharedML, {warp, kb.index(g), kb.index(1)});
        });
      }
    });
    emitBlockCombine(kb, plan, block);
  });
  return success();
}

} // namespace

Value infer::attention::negInf(KernelBuilder &kb) {
  return kb.f32(-std::numeric_limits<double>::infinity());
}

Value infer::attention::safeMax(KernelBuilder &kb, Value m) {
  Value empty =
      arith::CmpFOp::create(kb.b(), arith::CmpFPredicate::OEQ, m, negInf(kb));
  return kb.select(empty, kb.f32(0.0), m);
}

int64_t infer::attention::splitBudget(const AttentionPlan &plan,
                                      int64_t numSMs) {
  return std::min<int64_t>(plan.maxSplits,
                           llvm::divideCeil(plan.splitWarpsPerSM * numSMs,
                                            plan.warps * plan.kvHeads));
}

AttentionParams infer::attention::declareParams(KernelBuilder &kb,
                                                const AttentionPlan &plan) {
  AttentionParams p;
  p.query = kb.addOperand(kQuery);
  p.cache = kb.addOperand(kCache);
  p.blockTables = kb.addOperand(kBlockTables);
  p.contextLens = kb.addOperand(kContextLens);
  p.queryStart = kb.addOperand(kQueryStart);
  p.result = kb.addResult(0);
  if (plan.maxSplits > 1) {
    auto type = MemRefType::get({kDynamicExtentBound, plan.numHeads,
                                 plan.maxSplits, plan.entryStride()},
                                kb.b().getF32Type());
    // Items are at most the step's tokens.
    p.workspace = kb.addWorkspace(type, 0, plan.workspaceBytesPerItem());
    // One arrival counter per (item, kv head).
    p.counters = kb.addCounters(plan.kvHeads);
  }
  if (!plan.perSequence)
    p.tokens = kb.addScalar(StepScalar::Tokens);
  p.seqs = kb.addScalar(StepScalar::Sequences);
  p.tableWidth = kb.addScalar(StepScalar::BlockTableWidth);
  // The layer is a parameter so that every layer shares one kernel.
  p.layer = kb.addScalar(StepScalar::Layer);
  return p;
}

std::array<GridExtent, 3>
infer::attention::attentionGrid(const AttentionPlan &plan,
                                std::optional<int64_t> budget) {
  GridExtent items{1, plan.perSequence ? GridExtent::Scale::Sequences
                                       : GridExtent::Scale::Tokens};
  GridExtent splits{1, GridExtent::Scale::One};
  if (budget && *budget > 1)
    splits = {*budget, plan.perSequence ? GridExtent::Scale::PerSequence
                                        : GridExtent::Scale::PerToken};
  return {splits, GridExtent{plan.kvHeads, GridExtent::Scale::One}, items};
}

QueryRange infer::attention::emitQueryRange(KernelBuilder &kb,
                                            const AttentionPlan &plan,
                                            const AttentionParams &p,
                                            int64_t numSMs) {
  QueryRange r;
  Value item = kb.blockId(gpu::Dimension::z);
  Value queryStart = kb.param(p.queryStart);
  Value seqs = kb.scalarIndex(p.seqs);
  Value items = plan.perSequence ? seqs : kb.scalarIndex(p.tokens);
  Value contextLens = kb.param(p.contextLens);
  Value queryBegin, queryEnd, contextLen;
  if (plan.perSequence) {
    // One query per sequence: its last (only) row.
    r.seq = item;
    queryBegin = kb.toIndex(kb.load(queryStart, item));
    queryEnd = kb.toIndex(kb.load(queryStart, kb.add(item, kb.index(1))));
    r.token = kb.sub(queryEnd, kb.index(1));
    contextLen = kb.toIndex(kb.load(contextLens, r.seq));
  } else {
    // Guess that every sequence before the token's has one query (decode
    // rows first): token t is then sequence t. The guess and its context
    // length load together, one round trip instead of the search's log2(seqs)
    // dependent ones; a miss searches.
    r.token = item;
    Value guess = kb.minIndex(item, kb.sub(seqs, kb.index(1)));
    Value guessBegin = kb.toIndex(kb.load(queryStart, guess));
    Value guessEnd =
        kb.toIndex(kb.load(queryStart, kb.add(guess, kb.index(1))));
    Value guessLen = kb.toIndex(kb.load(contextLens, guess));
    Value hit = arith::AndIOp::create(
        kb.b(), kb.cmp(arith::CmpIPredicate::ule, guessBegin, item),
        kb.cmp(arith::CmpIPredicate::ult, item, guessEnd));
    Type indexType = kb.b().getIndexType();
    SmallVector<Value> found = kb.ifThenElse(
        hit, {indexType, indexType, indexType, indexType},
        [&]() -> SmallVector<Value> {
          return {guess, guessBegin, guessEnd, guessLen};
        },
        [&]() -> SmallVector<Value> {
          Value seq = findSequence(kb, queryStart, item, seqs);
          return {seq, kb.toIndex(kb.load(queryStart, seq)),
                  kb.toIndex(kb.load(queryStart, kb.add(seq, kb.index(1)))),
                  kb.toIndex(kb.load(contextLens, seq))};
        });
    r.seq = found[0];
    queryBegin = found[1];
    queryEnd = found[2];
    contextLen = found[3];
  }
  Value rows = kb.sub(queryEnd, queryBegin);
  r.earlierKeys = kb.sub(contextLen, kb.minIndex(rows, contextLen));
  // Query `token` sits at position context_len - (queryEnd - token) and sees
  // keys [kvBegin, kvEnd).
  r.kvEnd = kb.sub(contextLen, kb.sub(kb.sub(queryEnd, r.token), kb.index(1)));
  r.kvBegin = kb.index(0);
  if (plan.window) {
    Value w = kb.index(*plan.window);
    Value clipped = kb.cmp(arith::CmpIPredicate::ugt, r.kvEnd, w);
    r.kvBegin = kb.select(clipped, kb.sub(r.kvEnd, w), kb.index(0));
  }
  r.numSplits = numSplits(kb, plan, kb.sub(r.kvEnd, r.kvBegin), items, numSMs);
  return r;
}

std::pair<Value, Value> infer::attention::splitPages(KernelBuilder &kb,
                                                     const AttentionPlan &plan,
                                                     const QueryRange &r,
                                                     Value split) {
  Value bs = kb.index(plan.blockSize);
  Value pageBegin = kb.divIndex(r.kvBegin, bs);
  Value pageEnd = kb.ceilDivIndex(r.kvEnd, bs);
  Value perSplit = kb.ceilDivIndex(kb.sub(pageEnd, pageBegin), r.numSplits);
  Value begin = kb.add(pageBegin, kb.mul(split, perSplit));
  return {begin, kb.minIndex(kb.add(begin, perSplit), pageEnd)};
}

AttentionBlock infer::attention::beginAttentionKernel(KernelBuilder &kb,
                                                      const AttentionPlan &plan,
                                                      int64_t numSMs,
                                                      int64_t blocksPerSM) {
  AttentionBlock block;
  block.params = declareParams(kb, plan);
  // The item's range and first block ids (host-written step inputs) load
  // before waiting for the previous kernel (the query, the cache).
  kb.deferDependencyWait();
  kb.create({plan.warps * kWarpSize, 1, 1},
            attentionGrid(plan, splitBudget(plan, numSMs)));
  if (blocksPerSM)
    kb.setMinBlocksPerSM(blocksPerSM);
  Type f32 = kb.b().getF32Type();
  block.sharedO = kb.addShared({plan.warps, plan.group, plan.headDim}, f32);
  block.sharedML = kb.addShared({plan.warps, plan.group, 2}, f32);
  block.split = kb.blockId(gpu::Dimension::x);
  block.kvHead = kb.blockId(gpu::Dimension::y);
  block.range = emitQueryRange(kb, plan, block.params, numSMs);
  return block;
}

void infer::attention::emitBlockCombine(KernelBuilder &kb,
                                        const AttentionPlan &plan,
                                        const AttentionBlock &block) {
  Type f32 = kb.b().getF32Type();
  const AttentionParams &p = block.params;
  const QueryRange &r = block.range;
  Value sharedO = block.sharedO, sharedML = block.sharedML;
  Value split = block.split, kvHead = block.kvHead;
  Value item = kb.blockId(gpu::Dimension::z);
  // Blocks past the item's splits reach the combine without waiting.
  kb.waitForDependencies();
  kb.barrier();

  constexpr int64_t width = 4;
  int64_t perHead = plan.headDim / width;
  kb.forEachThread(plan.group * perHead, [&](Value i) {
    Value g = kb.divIndex(i, kb.index(perHead));
    Value d = kb.mul(kb.remIndex(i, kb.index(perHead)), kb.index(width));
    SmallVector<Value> ms, ls;
    Value m = negInf(kb);
    for (int64_t w = 0; w < plan.warps; ++w) {
      ms.push_back(kb.load(sharedML, {kb.index(w), g, kb.index(0)}));
      ls.push_back(kb.load(sharedML, {kb.index(w), g, kb.index(1)}));
      m = arith::MaximumFOp::create(kb.b(), m, ms.back());
    }
    Value base = safeMax(kb, m);
    Value l = kb.f32(0.0);
    Value o = kb.floatConst(VectorType::get({width}, f32), 0.0);
    for (int64_t w = 0; w < plan.warps; ++w) {
      Value e = kb.exp2(kb.sub(ms[w], base));
      l = kb.add(l, kb.mul(ls[w], e));
      o = kb.fma(kb.loadVector(sharedO, {kb.index(w), g, d}, width),
                 kb.splat(e, width), o);
    }
    Value head = kb.add(kb.mul(kvHead, kb.index(plan.group)), g);
    Value outCol = kb.add(kb.mul(head, kb.index(plan.headDim)), d);
    auto writeOutput = [&] {
      storeNormalized(kb, kb.param(p.result), r.token, outCol, o, l);
    };
    if (plan.maxSplits == 1) {
      writeOutput();
      return;
    }
    Value single = kb.cmp(arith::CmpIPredicate::eq, r.numSplits, kb.index(1));
    auto ifOp = scf::IfOp::create(kb.b(), single, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(kb.b());
    kb.b().setInsertionPoint(ifOp.thenYield());
    writeOutput();
    kb.b().setInsertionPoint(ifOp.elseYield());
    Value ws = kb.param(p.workspace);
    kb.storeVector(o, ws, {item, head, split, d});
    kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, d, kb.index(0)), [&] {
      kb.store(m, ws, {item, head, split, kb.index(plan.headDim)});
      kb.store(l, ws, {item, head, split, kb.index(plan.headDim + 1)});
    });
  });
  if (plan.maxSplits == 1)
    return;

  // The item's last split to arrive merges the partials (the counter goes
  // back to zero for the next launch).
  Value flag = kb.addShared({1}, kb.b().getI32Type());
  Value counters = kb.param(p.counters);
  kb.ifThen(kb.cmp(arith::CmpIPredicate::ugt, r.numSplits, kb.index(1)), [&] {
    kb.fenceGpu();
    kb.barrier();
    kb.ifThen(
        kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)), [&] {
          Value counter = kb.add(kb.mul(item, kb.index(plan.kvHeads)), kvHead);
          Value arrived =
              kb.toIndex(kb.atomicAdd(counters, counter, kb.i32(1)));
          Value last = kb.cmp(arith::CmpIPredicate::eq, arrived,
                              kb.sub(r.numSplits, kb.index(1)));
          kb.ifThen(last, [&] { kb.store(kb.i32(0), counters, counter); });
          kb.store(kb.select(last, kb.i32(1), kb.i32(0)), flag, kb.index(0));
        });
    kb.barrier();
    Value last = kb.cmp(arith::CmpIPredicate::ne,
                        kb.toIndex(kb.load(flag, kb.index(0))), kb.index(0));
    kb.ifThen(last, [&] {
      kb.fenceGpu();
      emitSplitMerge(kb, plan, p, r, item, kvHead);
    });
  });
}

LogicalResult infer::emitAttentionKernels(Operation *op, EmitContext &ctx,
                                          SmallVectorImpl<KernelLaunch> &out) {
  auto attention = dyn_cast<decode::PagedAttentionOp>(op);
  if (!attention)
    return op->emitOpError("is not an attention op");
  FailureOr<AttentionPlan> plan = planAttention(attention, ctx);
  if (failed(plan))
    return failure();

  // The tensor-core kernel comes in two forms: a shared-memory ring of
  // `attention-stages` K/V chunks per warp for steps of
  // attention-ring-{min,max}-tokens tokens, and the next chunk in registers
  // for the others; each is a launch group of its own (`max_tokens`).
  const int64_t stages = plan->mma ? ctx.options.attentionStages : 0;
  const int64_t ringFrom = ctx.options.attentionRingMinTokens;
  const int64_t ringTo = ctx.options.attentionRingMaxTokens;
  std::optional<KernelLaunch> registers;
  if (!stages || ringFrom > 1 || ringTo) {
    KernelBuilder main(ctx, op,
                       plan->mma ? "paged_attention_mma" : "paged_attention",
                       /*maxTokens=*/stages && ringFrom > 1 ? ringFrom - 1 : 0);
    if (failed(plan->mma
                   ? emitMmaAttentionKernel(main, *plan, ctx.target.numSMs,
                                            ctx.options.attentionBlocksPerSM)
                   : emitAttentionKernel(main, *plan, ctx.target.numSMs)))
      return failure();
    registers = main.finish();
  }
  if (!stages) {
    out.push_back(*registers);
    return success();
  }
  if (ringFrom > 1)
    out.push_back(*registers);
  AttentionPlan ringPlan = *plan;
  ringPlan.stages = stages;
  KernelBuilder ring(ctx, op, "paged_attention_mma_ring", /*maxTokens=*/ringTo);
  if (failed(emitMmaAttentionKernel(ring, ringPlan, ctx.target.numSMs,
                                    ctx.options.attentionBlocksPerSM)))
    return failure();
  out.push_back(ring.finish());
  // Past the ring's range, the registers kernel again.
  if (ringTo) {
    registers->maxTokens = 0;
    out.push_back(*registers);
  }
  return success();
}

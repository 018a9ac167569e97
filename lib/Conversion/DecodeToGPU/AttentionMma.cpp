//===- AttentionMma.cpp - tensor-core paged attention kernel -------------===//
//
// `decode.paged_attention` with `kernel = mma`: the grid, splits, block
// combine and merge of Attention.cpp. Each warp walks
// 16-token chunks of its split's pages (round-robin over the warps) with
// `mma.sync.m16n8k16` (f32 accumulators); lane = 4 g + q.
//  * S = Q K^T: M = the group's query heads (rows g and g + 8, zero past
//    the group), N = 8 tokens (tile t: chunk tokens 8t + n), K = head_dim.
//    The lane loads 16 bytes of K row 8t + g at dims 32c + 8q, which feed
//    two mmas (the contraction order is free; Q is loaded the same way).
//  * Online softmax on the C fragments (S[g][8t + 2q + e], log2 domain):
//    the row max takes two shuffles over the quad, the row sum stays
//    per-lane until the end. P, rounded to the cache type, is the A
//    fragment of P V as it stands (the two S tiles are its two K halves).
//  * O = P V: K = the chunk's 16 tokens, N = 8 dims per tile. The lane loads
//    V rows 2q, 2q + 1, 2q + 8 and 2q + 9 at dims 64s + 8g and pairs equal
//    dims of two rows into a B register: column n of tile (s, i) is dim
//    64s + 8n + i, so the lane ends with dims 64s + 16q + [0, 16) of row g.
//  * Masked keys get -inf scores and zero values (stale or NaN slots never
//    reach O). The next chunk's 16 loads are issued before the current
//    chunk's math, the block id of the chunk after it before them. They
//    ask L2 for whole 256-byte rows (`attention-l2-prefetch`): a K load
//    reads 64 bytes of each of 8 rows.
//  * A warp's first chunk loads before griddepcontrol.wait when earlier
//    steps wrote all of its keys (QueryRange::earlierKeys); the query, and
//    a chunk holding this step's new keys, after it.
//  * The ring form (`paged_attention_mma_ring`, plan.stages slots per warp,
//    for steps of attention-ring-{min,max}-tokens): chunks go to shared
//    memory instead, K rows then V rows as in the cache, each by one
//    cp.async.bulk from lane 0 on the slot's mbarrier; chunk i + S - 1 is
//    copied into the slot that chunk i - 1 was read from, and every lane
//    reads its fragments from the slot once its phase completes.
//
//===----------------------------------------------------------------------===//

#include "Attention.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace infer;
using namespace infer::attention;

namespace {

constexpr int64_t kMmaChunk = 16;

/// f32 scalars `a`, `c` rounded to `elementType` and packed in one register.
Value packPair(KernelBuilder &kb, Value a, Value c, Type elementType) {
  auto pairType = VectorType::get({2}, kb.b().getF32Type());
  Value pair =
      vector::FromElementsOp::create(kb.b(), pairType, ValueRange{a, c});
  return kb.packedRegisters(kb.fromF32(pair, elementType))[0];
}

/// {x[i], y[i]} of two 8-element rows as one register.
Value pairColumn(KernelBuilder &kb, Value x, Value y, int64_t i) {
  Value pair =
      vector::ShuffleOp::create(kb.b(), x, y, ArrayRef<int64_t>{i, 8 + i});
  return kb.packedRegisters(pair)[0];
}

} // namespace

LogicalResult
infer::attention::emitMmaAttentionKernel(KernelBuilder &kb,
                                         const AttentionPlan &plan,
                                         int64_t numSMs, int64_t blocksPerSM) {
  AttentionBlock block = beginAttentionKernel(kb, plan, numSMs, blocksPerSM);
  const AttentionParams &p = block.params;
  const QueryRange &r = block.range;
  Value split = block.split, kvHead = block.kvHead;
  ImplicitLocOpBuilder &b = kb.b();
  Type f32 = b.getF32Type(), elt = plan.elementType;

  const int64_t rows = plan.group > 8 ? 2 : 1;
  const int64_t colGroups = plan.headDim / 32, valueSets = plan.headDim / 64;
  const int64_t chunksPerPage = plan.blockSize / kMmaChunk;
  const int64_t kLoads = 2 * colGroups, numLoads = kLoads + 4 * valueSets;
  auto rowType = VectorType::get({8}, elt);
  auto accType = VectorType::get({4}, f32);

  kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, split, r.numSplits), [&] {
    auto [myBegin, myEnd] = splitPages(kb, plan, r, split);
    Value lane = kb.laneId(), warp = kb.warpId();
    Value g = kb.divIndex(lane, kb.index(4));
    Value q = kb.remIndex(lane, kb.index(4));
    Value cache = kb.param(p.cache), layer = kb.scalarIndex(p.layer);
    Value table = kb.param(p.blockTables);
    Value tableRow = kb.mul(r.seq, kb.scalarIndex(p.tableWidth));
    Value zeroRow = kb.floatConst(rowType, 0.0);
    Value zeroReg = arith::ConstantOp::create(b, b.getI32IntegerAttr(0));

    auto blockIdOf = [&](Value chunk) {
      Value page = kb.divIndex(chunk, kb.index(chunksPerPage));
      return kb.toIndex(kb.load(table, kb.add(tableRow, page)));
    };
    Value chBegin = kb.mul(myBegin, kb.index(chunksPerPage));
    Value chEnd = kb.mul(myEnd, kb.index(chunksPerPage));
    Value step = kb.index(plan.warps);
    Value first = kb.add(chBegin, warp);
    Value hasChunks = kb.cmp(arith::CmpIPredicate::ult, first, chEnd);
    auto clampChunk = [&](Value chunk) {
      return kb.minIndex(chunk, kb.sub(chEnd, kb.index(1)));
    };
    // The block ids of this warp's first two chunks (step inputs) load
    // before the wait.
    Type indexType = b.getIndexType();
    SmallVector<Value> firstIds = kb.ifThenElse(
        hasChunks, {indexType, indexType},
        [&]() -> SmallVector<Value> {
          return {blockIdOf(first), blockIdOf(clampChunk(kb.add(first, step)))};
        },
        [&]() -> SmallVector<Value> { return {kb.index(0), kb.index(0)}; });

    // The lane's 16-byte pieces of a chunk, (K or V, row in the chunk, dim):
    // K rows 8t + g at dims 32c + 8q, then V rows 2q + {0, 1, 8, 9} at dims
    // 64s + 8g.
    struct Piece {
      int64_t kv;
      Value row, dim;
    };
    // Built where they are used (hoisted out of the chunk loop they would
    // hold registers across it).
    auto lanePieces = [&] {
      Value kCol = kb.mul(q, kb.index(8)), vCol = kb.mul(g, kb.index(8));
      SmallVector<Piece> pieces;
      for (int64_t t = 0; t < 2; ++t)
        for (int64_t c = 0; c < colGroups; ++c)
          pieces.push_back(
              {0, kb.add(g, kb.index(8 * t)), kb.add(kCol, kb.index(32 * c))});
      for (int64_t s = 0; s < valueSets; ++s)
        for (int64_t j : {0, 1, 8, 9})
          pieces.push_back({1, kb.add(kb.mul(q, kb.index(2)), kb.index(j)),
                            kb.add(vCol, kb.index(64 * s))});
      return pieces;
    };
    // The chunk's first row within its page.
    auto pageRow = [&](Value chunk) {
      return kb.mul(kb.remIndex(chunk, kb.index(chunksPerPage)),
                    kb.index(kMmaChunk));
    };
    auto loadChunk = [&](Value chunk, Value blockId) {
      Value base = pageRow(chunk);
      SmallVector<SmallVector<Value>> indices;
      for (const Piece &piece : lanePieces())
        indices.push_back({blockId, layer, kb.index(piece.kv), kvHead,
                           kb.add(base, piece.row), piece.dim});
      SmallVector<Value> loads;
      for (ArrayRef<Value> at : indices)
        loads.push_back(kb.loadVectorL2Prefetch(cache, at, 8, plan.l2Prefetch));
      return loads;
    };
    // The ring (plan.stages): slot s of warp w holds a chunk's K rows, then
    // its V rows, as in the cache, each copied by one cp.async.bulk (lane 0)
    // that completes on the slot's mbarrier.
    const int64_t stages = plan.stages;
    const int64_t chunkElements = kMmaChunk * plan.headDim;
    const int64_t chunkBytes = chunkElements * elt.getIntOrFloatBitWidth() / 8;
    Value ring, slotBarriers;
    if (stages) {
      ring =
          kb.addDynamicShared({plan.warps * stages * 2 * chunkElements}, elt);
      slotBarriers = kb.addShared({plan.warps * stages}, b.getI64Type());
    }
    // Slot `slot` of this warp: warp * S + slot.
    auto warpSlot = [&](Value slot) {
      return kb.add(kb.mul(warp, kb.index(stages)), slot);
    };
    // The first element of the K (kv = 0) or V rows in `slot`.
    auto slotRows = [&](Value slot, int64_t kv) {
      return kb.add(kb.mul(warpSlot(slot), kb.index(2 * chunkElements)),
                    kb.index(kv * chunkElements));
    };
    auto slotBarrier = [&](Value slot) {
      return kb.elementAddress(slotBarriers, warpSlot(slot));
    };
    auto copyChunk = [&](Value chunk, Value blockId, Value slot) {
      kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, lane, kb.index(0)), [&] {
        Value base = pageRow(chunk);
        Value barrier = slotBarrier(slot);
        kb.arriveExpectTx(barrier, 2 * chunkBytes);
        for (int64_t kv = 0; kv < 2; ++kv)
          kb.bulkCopyToShared(
              kb.elementAddress(ring, slotRows(slot, kv)),
              kb.elementAddress(cache, {blockId, layer, kb.index(kv), kvHead,
                                        base, kb.index(0)}),
              chunkBytes, barrier);
      });
    };
    // Chunk i of the warp is in slot i % S, use i / S of its barrier.
    auto readChunk = [&](Value i) {
      Value slot = kb.remIndex(i, kb.index(stages));
      Value parity = arith::IndexCastUIOp::create(
          b, b.getI32Type(),
          kb.remIndex(kb.divIndex(i, kb.index(stages)), kb.index(2)));
      kb.waitBarrierPhase(slotBarrier(slot), parity);
      SmallVector<Value> loads;
      for (const Piece &piece : lanePieces()) {
        Value at = kb.add(kb.mul(piece.row, kb.index(plan.headDim)), piece.dim);
        loads.push_back(
            kb.loadVector(ring, kb.add(slotRows(slot, piece.kv), at), 8));
      }
      return loads;
    };

    // The first chunk's K/V load (or copy) before the wait when earlier
    // steps wrote all of its keys (PDL: they stream during the previous
    // kernels' tails), else after it.
    SmallVector<Type> loadTypes(numLoads, rowType);
    auto firstChunkIf =
        [&](Value cond, llvm::function_ref<SmallVector<Value>()> otherwise) {
          return kb.ifThenElse(
              cond, loadTypes, [&] { return loadChunk(first, firstIds[0]); },
              otherwise);
        };
    Value firstEnd = kb.mul(kb.add(first, kb.index(1)), kb.index(kMmaChunk));
    Value early = arith::AndIOp::create(
        b, hasChunks,
        kb.cmp(arith::CmpIPredicate::ule, firstEnd, r.earlierKeys));
    auto isLate = [&] {
      return arith::AndIOp::create(
          b, hasChunks,
          arith::XOrIOp::create(
              b, early, arith::ConstantOp::create(b, b.getBoolAttr(true))));
    };
    SmallVector<Value> prologue;
    if (stages) {
      // Lane 0 of each warp initializes its slots' barriers; then chunks
      // 0 .. S - 2 of the warp, and the block id of chunk S - 1.
      kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, lane, kb.index(0)), [&] {
        for (int64_t s = 0; s < stages; ++s)
          NVVM::MBarrierInitOp::create(
              b, kb.sharedPointer(slotBarrier(kb.index(s))), kb.i32(1),
              /*predicate=*/Value());
        NVVM::FenceMbarrierInitOp::create(b);
      });
      kb.barrier();
      kb.ifThen(early, [&] { copyChunk(first, firstIds[0], kb.index(0)); });
      kb.waitForDependencies();
      kb.ifThen(isLate(), [&] { copyChunk(first, firstIds[0], kb.index(0)); });
      for (int64_t j = 1; j + 1 < stages; ++j) {
        Value chunk = kb.add(first, kb.index(j * plan.warps));
        kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, chunk, chEnd), [&] {
          copyChunk(chunk, j == 1 ? firstIds[1] : blockIdOf(chunk),
                    kb.index(j));
        });
      }
      prologue = kb.ifThenElse(
          hasChunks, {indexType},
          [&]() -> SmallVector<Value> {
            return {blockIdOf(clampChunk(
                kb.add(first, kb.index((stages - 1) * plan.warps))))};
          },
          [&]() -> SmallVector<Value> { return {kb.index(0)}; });
    } else {
      SmallVector<Value> earlyLoads = firstChunkIf(
          early, [&] { return SmallVector<Value>(numLoads, zeroRow); });
      kb.waitForDependencies();
      prologue = firstChunkIf(isLate(), [&] { return earlyLoads; });
      prologue.push_back(firstIds[1]);
    }

    // Q fragments of row g + offset (zero past the group), 4 per 32 dims.
    auto queryRow = [&](int64_t offset) {
      Value h = kb.add(g, kb.index(offset));
      Value inGroup =
          kb.cmp(arith::CmpIPredicate::ult, h, kb.index(plan.group));
      Value head = kb.add(kb.mul(kvHead, kb.index(plan.group)),
                          kb.minIndex(h, kb.index(plan.group - 1)));
      SmallVector<Value> regs;
      for (int64_t c = 0; c < colGroups; ++c) {
        Value col = kb.add(kb.mul(head, kb.index(plan.headDim)),
                           kb.add(kb.index(32 * c), kb.mul(q, kb.index(8))));
        Value v = kb.loadVector(kb.param(p.query), {r.token, col}, 8);
        llvm::append_range(regs,
                           kb.packedRegisters(kb.select(inGroup, v, zeroRow)));
      }
      return regs;
    };
    SmallVector<Value> qLo = queryRow(0);
    SmallVector<Value> qHi =
        rows == 2 ? queryRow(8) : SmallVector<Value>(4 * colGroups, zeroReg);

    auto update = [&](Value chunk, ArrayRef<Value> loads, SoftmaxState &st) {
      Value sTile[2];
      for (int64_t t = 0; t < 2; ++t) {
        Value acc = kb.floatConst(accType, 0.0);
        for (int64_t c = 0; c < colGroups; ++c) {
          SmallVector<Value> kr = kb.packedRegisters(loads[t * colGroups + c]);
          for (int64_t h = 0; h < 2; ++h) {
            int64_t i = 4 * c + 2 * h;
            Value a[] = {qLo[i], qHi[i], qLo[i + 1], qHi[i + 1]};
            Value bReg[] = {kr[2 * h], kr[2 * h + 1]};
            acc = kb.mmaSync(a, bReg, acc, elt);
          }
        }
        sTile[t] = acc;
      }
      // Key of column 8t + 2q + e: chunk * 16 + 8t + 2q + e.
      Value first =
          kb.add(kb.mul(chunk, kb.index(kMmaChunk)), kb.mul(q, kb.index(2)));
      Value valid[2][2];
      for (int64_t t = 0; t < 2; ++t)
        for (int64_t e = 0; e < 2; ++e) {
          Value key = kb.add(first, kb.index(8 * t + e));
          valid[t][e] = arith::AndIOp::create(
              b, kb.cmp(arith::CmpIPredicate::uge, key, r.kvBegin),
              kb.cmp(arith::CmpIPredicate::ult, key, r.kvEnd));
        }
      Value probs[2][2][2]; // [row][t][e]
      Value alpha[2] = {kb.f32(1.0), kb.f32(1.0)};
      for (int64_t row = 0; row < rows; ++row) {
        Value x[2][2];
        Value mNew = st.m[row];
        for (int64_t t = 0; t < 2; ++t)
          for (int64_t e = 0; e < 2; ++e) {
            Value s = vector::ExtractOp::create(b, sTile[t], 2 * row + e);
            x[t][e] = kb.select(valid[t][e], kb.mul(s, kb.f32(plan.scaleLog2)),
                                negInf(kb));
            mNew = arith::MaximumFOp::create(b, mNew, x[t][e]);
          }
        for (int64_t offset : {1, 2})
          mNew =
              arith::MaximumFOp::create(b, mNew, kb.shuffleXor(mNew, offset));
        Value base = safeMax(kb, mNew);
        alpha[row] = kb.exp2(kb.sub(st.m[row], base));
        Value l = kb.mul(st.l[row], alpha[row]);
        for (int64_t t = 0; t < 2; ++t)
          for (int64_t e = 0; e < 2; ++e) {
            probs[row][t][e] = kb.exp2(kb.sub(x[t][e], base));
            l = kb.add(l, probs[row][t][e]);
          }
        st.m[row] = mNew;
        st.l[row] = l;
      }
      Value scale = vector::FromElementsOp::create(
          b, accType, ValueRange{alpha[0], alpha[0], alpha[1], alpha[1]});
      for (Value &o : st.acc)
        o = kb.mul(o, scale);
      auto pReg = [&](int64_t row, int64_t t) {
        return row < rows
                   ? packPair(kb, probs[row][t][0], probs[row][t][1], elt)
                   : zeroReg;
      };
      Value pa[] = {pReg(0, 0), pReg(1, 0), pReg(0, 1), pReg(1, 1)};
      for (int64_t s = 0; s < valueSets; ++s) {
        Value v[4];
        for (int64_t j = 0; j < 4; ++j)
          v[j] = kb.select(valid[j / 2][j % 2], loads[kLoads + 4 * s + j],
                           zeroRow);
        for (int64_t i = 0; i < 8; ++i) {
          Value bReg[] = {pairColumn(kb, v[0], v[1], i),
                          pairColumn(kb, v[2], v[3], i)};
          st.acc[8 * s + i] = kb.mmaSync(pa, bReg, st.acc[8 * s + i], elt);
        }
      }
    };

    SoftmaxState init;
    for (int64_t row = 0; row < rows; ++row) {
      init.m.push_back(negInf(kb));
      init.l.push_back(kb.f32(0.0));
    }
    init.acc.assign(8 * valueSets, kb.floatConst(accType, 0.0));
    SmallVector<Value> carried = init.flatten();
    llvm::append_range(carried, prologue);
    const size_t stateSize = carried.size() - prologue.size();
    SmallVector<Value> final = kb.forLoop(
        first, chEnd, step, carried, [&](Value chunk, ValueRange args) {
          SoftmaxState st =
              SoftmaxState::unflatten(args.take_front(stateSize), rows);
          SmallVector<Value> out;
          if (stages) {
            // Copy chunk i + S - 1 into the slot chunk i - 1 was read from
            // (its reads fed that chunk's mmas), then wait for chunk i.
            Value i = kb.divIndex(kb.sub(chunk, first), step);
            Value ahead = kb.add(chunk, kb.mul(step, kb.index(stages - 1)));
            Value afterAhead = blockIdOf(clampChunk(kb.add(ahead, step)));
            kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, ahead, chEnd), [&] {
              copyChunk(ahead, args.back(),
                        kb.remIndex(kb.add(i, kb.index(stages - 1)),
                                    kb.index(stages)));
            });
            update(chunk, readChunk(i), st);
            out = st.flatten();
            out.push_back(afterAhead);
            return out;
          }
          SmallVector<Value> loads(args.slice(stateSize, numLoads));
          Value nextBlock = args.back();
          Value afterNext =
              blockIdOf(clampChunk(kb.add(chunk, kb.mul(step, kb.index(2)))));
          SmallVector<Value> next =
              loadChunk(clampChunk(kb.add(chunk, step)), nextBlock);
          update(chunk, loads, st);
          out = st.flatten();
          llvm::append_range(out, next);
          out.push_back(afterNext);
          return out;
        });
    SoftmaxState st = SoftmaxState::unflatten(
        ArrayRef<Value>(final).take_front(stateSize), rows);

    // Row sums over the quad, then every warp's (o, m, l) to shared memory.
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t offset : {1, 2})
        st.l[row] = kb.add(st.l[row], kb.shuffleXor(st.l[row], offset));
    for (int64_t row = 0; row < rows; ++row) {
      Value h = kb.add(g, kb.index(8 * row));
      kb.ifThen(
          kb.cmp(arith::CmpIPredicate::ult, h, kb.index(plan.group)), [&] {
            for (int64_t s = 0; s < valueSets; ++s)
              for (int64_t k = 0; k < 4; ++k) {
                SmallVector<Value> elems;
                for (int64_t d = 4 * k; d < 4 * k + 4; ++d)
                  elems.push_back(vector::ExtractOp::create(
                      b, st.acc[8 * s + d % 8], 2 * row + d / 8));
                Value col =
                    kb.add(kb.mul(q, kb.index(16)), kb.index(64 * s + 4 * k));
                kb.storeVector(vector::FromElementsOp::create(
                                   b, VectorType::get({4}, f32), elems),
                               block.sharedO, {warp, h, col});
              }
            kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, q, kb.index(0)), [&] {
              kb.store(st.m[row], block.sharedML, {warp, h, kb.index(0)});
              kb.store(st.l[row], block.sharedML, {warp, h, kb.index(1)});
            });
          });
    }
    emitBlockCombine(kb, plan, block);
  });
  return success();
}

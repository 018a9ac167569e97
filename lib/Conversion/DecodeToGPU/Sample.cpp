//===- Sample.cpp - decode.sample kernels ---------------------------------===//
//
// One block of 1024 threads per sampled row, replicating the sampler of
// runtime/include/infer/runtime/Sampling.h:
//
// - temperature <= 0 (or a vocabulary of 1): argmax of the raw logits, lowest
//   index on ties, NaN never wins (index 0 if every logit is NaN).
// - 0 < top_k <= kMaxCandidates: the top k = min(top_k, V) candidates of
//   x = logits / temperature (NaN as -inf), in the exact sort order of the
//   CPU sampler (x descending, lower index first). Each thread finds the
//   best element of its share and each warp sorts its 32 by shuffles; the
//   least of the warps' m-th best (m = ceil(k / 32)) is a threshold that
//   every candidate reaches, since at least 32 m >= k distinct elements do.
//   A second pass collects the elements at or above it (a few hundred on
//   real logits) and a bitonic sort in shared memory, sized to the next
//   power of two, orders them. Where more than kMaxCollected reach it
//   (ties, -inf) the kernel instead runs k block argmax passes, each
//   restricted to the elements that sort after the previous pick. One
//   thread then runs the CPU sampler's sequential f32 softmax, top-p prefix
//   and inverse-CDF draw with u = uniformFromSeed(seeds[row]) (SplitMix64).
// - Any other row (top_k <= 0 or > kMaxCandidates with temperature > 0)
//   yields token -1: the runtime samples that row on the host
//   (docs/launch-plan.md, "Kernels per op").
//
// The only expected difference from the CPU sampler is expf's last-ulp
// rounding (libdevice's __nv_expf against the host libm).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <limits>

using namespace mlir;
using namespace infer;

namespace {

constexpr int64_t kSampleThreads = 1024;
constexpr int64_t kMaxCandidates = 64;
/// Candidates a top-k row collects above its threshold before it falls back
/// to one pass per pick.
constexpr int64_t kMaxCollected = 2048;
/// 16-byte loads of a row a thread issues per pass iteration, all before
/// the first compare (the row pass is bound by their latency, not by
/// bandwidth: one 1024-thread block per row).
constexpr int64_t kRowLoadsInFlight = 4;

/// A (value, index) pair; `better` orders pairs like the CPU sampler: larger
/// value first, then lower index.
struct Candidate {
  Value value, index; // f32, i32
};

Value better(KernelBuilder &kb, Candidate a, Candidate c) {
  ImplicitLocOpBuilder &b = kb.b();
  Value greater =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, c.value, a.value);
  Value equal =
      arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, c.value, a.value);
  Value lower = kb.cmp(arith::CmpIPredicate::slt, c.index, a.index);
  return arith::OrIOp::create(b, greater,
                              arith::AndIOp::create(b, equal, lower));
}

/// `c` where `takeC`, else `a`.
Candidate choose(KernelBuilder &kb, Value takeC, Candidate a, Candidate c) {
  return {arith::SelectOp::create(kb.b(), takeC, c.value, a.value),
          arith::SelectOp::create(kb.b(), takeC, c.index, a.index)};
}

Candidate pick(KernelBuilder &kb, Candidate a, Candidate c) {
  return choose(kb, better(kb, a, c), a, c);
}

/// The best candidate of the whole block; every thread gets it.
Candidate blockArgmax(KernelBuilder &kb, Candidate c, Value scratchValues,
                      Value scratchIndices, Candidate none) {
  SmallVector<Value> best = kb.blockReduce(
      ValueRange{c.value, c.index},
      [&](ValueRange a, ValueRange other) {
        Candidate picked = pick(kb, {a[0], a[1]}, {other[0], other[1]});
        return SmallVector<Value>{picked.value, picked.index};
      },
      ValueRange{none.value, none.index},
      ValueRange{scratchValues, scratchIndices});
  return {best[0], best[1]};
}

/// One pass of every thread over its share of row `row` of `logits`: calls
/// `visit(key, index, inRow, carried)` for each element (f32 key
/// `key(logit)`, i32 index; `inRow` is false for the reloads past the row's
/// end) and returns the final carried values. Each thread issues
/// kRowLoadsInFlight 16-byte loads (vectors of the row; single elements
/// where the vocabulary is not a multiple of the vector) per iteration.
SmallVector<Value> rowPass(
    KernelBuilder &kb, Value logits, Value row, int64_t vocab,
    function_ref<Value(Value)> key, ValueRange init,
    function_ref<SmallVector<Value>(Value, Value, Value, ValueRange)> visit) {
  ImplicitLocOpBuilder &b = kb.b();
  Type elementType = cast<MemRefType>(logits.getType()).getElementType();
  int64_t width = 128 / elementType.getIntOrFloatBitWidth();
  if (vocab % width != 0)
    width = 1;
  const int64_t vectors = vocab / width;
  const int64_t stride = kSampleThreads * kRowLoadsInFlight;
  return kb.forLoop(
      kb.threadId(), kb.index(vectors), kb.index(stride), init,
      [&](Value first, ValueRange carried) -> SmallVector<Value> {
        // Past the row the last vector is read again (not in the row).
        SmallVector<Value> at, loaded, inRow;
        for (int64_t u = 0; u < kRowLoadsInFlight; ++u) {
          Value v = kb.add(first, kb.index(u * kSampleThreads));
          inRow.push_back(
              kb.cmp(arith::CmpIPredicate::ult, v, kb.index(vectors)));
          at.push_back(kb.minIndex(v, kb.index(vectors - 1)));
          Value col = kb.mul(at.back(), kb.index(width));
          loaded.push_back(width > 1 ? kb.loadVector(logits, {row, col}, width)
                                     : kb.load(logits, {row, col}));
        }
        SmallVector<Value> current(carried);
        for (int64_t u = 0; u < kRowLoadsInFlight; ++u) {
          Value xs = kb.toF32(loaded[u]);
          for (int64_t e = 0; e < width; ++e) {
            Value x = width > 1
                          ? vector::ExtractOp::create(b, xs, e).getResult()
                          : xs;
            Value i = arith::IndexCastOp::create(
                b, b.getI32Type(),
                kb.add(kb.mul(at[u], kb.index(width)), kb.index(e)));
            current = visit(key(x), i, inRow[u], current);
          }
        }
        return current;
      });
}

/// This thread's best element of its share of the row among those
/// `eligible` accepts.
Candidate threadArgmax(KernelBuilder &kb, Value logits, Value row,
                       int64_t vocab, Candidate none,
                       function_ref<Value(Value)> key,
                       function_ref<Value(Value, Value)> eligible) {
  ImplicitLocOpBuilder &b = kb.b();
  SmallVector<Value> best =
      rowPass(kb, logits, row, vocab, key, {none.value, none.index},
              [&](Value v, Value i, Value inRow,
                  ValueRange carried) -> SmallVector<Value> {
                Candidate current{carried[0], carried[1]};
                Value take = arith::AndIOp::create(
                    b, inRow,
                    arith::AndIOp::create(b, eligible(v, i),
                                          better(kb, current, {v, i})));
                Candidate next = choose(kb, take, current, {v, i});
                return {next.value, next.index};
              });
  return {best[0], best[1]};
}

/// The best element of the row among those `eligible` accepts.
Candidate rowArgmax(KernelBuilder &kb, Value logits, Value row, int64_t vocab,
                    Candidate none, function_ref<Value(Value)> key,
                    function_ref<Value(Value, Value)> eligible,
                    Value scratchValues, Value scratchIndices) {
  return blockArgmax(kb,
                     threadArgmax(kb, logits, row, vocab, none, key, eligible),
                     scratchValues, scratchIndices, none);
}

/// Bitonic sort of the warp's 32 (value, index) pairs, one per lane, into
/// `better` order: lane r ends with the warp's r-th best.
Candidate warpSort(KernelBuilder &kb, Candidate c) {
  ImplicitLocOpBuilder &b = kb.b();
  Value lane = kb.laneId();
  auto bitClear = [&](int64_t bit) {
    return kb.cmp(arith::CmpIPredicate::eq,
                  arith::AndIOp::create(b, lane, kb.index(bit)), kb.index(0));
  };
  for (int64_t k = 2; k <= kWarpSize; k *= 2)
    for (int64_t j = k / 2; j >= 1; j /= 2) {
      Candidate other{kb.shuffleXor(c.value, j), kb.shuffleXor(c.index, j)};
      // The lower lane of a pair keeps the better element where its block of
      // k runs best first (the last, k = 32, does), the worse one elsewhere.
      Value keepBetter =
          kb.cmp(arith::CmpIPredicate::eq, bitClear(j), bitClear(k));
      c = choose(
          kb,
          kb.cmp(arith::CmpIPredicate::eq, better(kb, c, other), keepBetter), c,
          other);
    }
  return c;
}

/// Bitonic sort of the first 2^logN (logN >= 1, run-time) (value, index)
/// pairs of shared buffers `values` / `indices` into `better` order, best
/// first. Contains barriers.
void sortShared(KernelBuilder &kb, Value values, Value indices, Value logN) {
  ImplicitLocOpBuilder &b = kb.b();
  Value one = kb.index(1);
  Value half = arith::ShLIOp::create(b, one, kb.sub(logN, one));
  kb.forLoop(one, kb.add(logN, one), one, [&](Value kLog) {
    Value k = arith::ShLIOp::create(b, one, kLog);
    kb.forLoop(kb.index(0), kLog, one, [&](Value step) {
      Value jLog = kb.sub(kb.sub(kLog, one), step);
      Value j = arith::ShLIOp::create(b, one, jLog);
      kb.forLoop(kb.threadId(), half, kb.index(kSampleThreads), [&](Value p) {
        // Pair (i, i + j); blocks of k alternate direction, the last merge
        // (k = n) puts the better element first.
        Value i =
            kb.add(arith::ShLIOp::create(b, arith::ShRUIOp::create(b, p, jLog),
                                         kb.add(jLog, one)),
                   arith::AndIOp::create(b, p, kb.sub(j, one)));
        Value partner = kb.add(i, j);
        Candidate a{kb.load(values, i), kb.load(indices, i)};
        Candidate c{kb.load(values, partner), kb.load(indices, partner)};
        Value bestFirst = kb.cmp(arith::CmpIPredicate::eq,
                                 arith::AndIOp::create(b, i, k), kb.index(0));
        Value swap =
            kb.cmp(arith::CmpIPredicate::eq, better(kb, a, c), bestFirst);
        kb.ifThen(swap, [&] {
          kb.store(c.value, values, i);
          kb.store(c.index, indices, i);
          kb.store(a.value, values, partner);
          kb.store(a.index, indices, partner);
        });
      });
      kb.barrier();
    });
  });
}

/// uniformFromSeed(seed): the top 24 bits of splitmix64(seed) times 2^-24.
Value uniformFromSeed(KernelBuilder &kb, Value seed) {
  ImplicitLocOpBuilder &b = kb.b();
  auto c64 = [&](uint64_t v) {
    return arith::ConstantIntOp::create(b, b.getI64Type(), int64_t(v));
  };
  auto mix = [&](Value z, uint64_t shift, uint64_t mult) {
    Value x =
        arith::XOrIOp::create(b, z, arith::ShRUIOp::create(b, z, c64(shift)));
    return arith::MulIOp::create(b, x, c64(mult));
  };
  Value z = mix(seed, 30, 0xBF58476D1CE4E5B9ull);
  z = mix(z, 27, 0x94D049BB133111EBull);
  z = arith::XOrIOp::create(b, z, arith::ShRUIOp::create(b, z, c64(31)));
  Value top = arith::ShRUIOp::create(b, z, c64(40));
  Value f = arith::UIToFPOp::create(b, b.getF32Type(), top);
  return kb.mul(f, kb.f32(1.0 / 16777216.0));
}

} // namespace

LogicalResult infer::emitSampleKernels(Operation *op, EmitContext &ctx,
                                       SmallVectorImpl<KernelLaunch> &out) {
  auto sample = cast<decode::SampleOp>(op);
  auto logitsType = cast<RankedTensorType>(sample.getLogits().getType());
  int64_t vocab = logitsType.getDimSize(1);
  if (ShapedType::isDynamic(vocab))
    return op->emitOpError("GPU lowering needs a static vocabulary size");
  StepScalar rows = ctx.rowsOf(sample.getLogits());

  KernelBuilder kb(ctx, op, "sample", /*maxTokens=*/0);
  unsigned logitsSlot = kb.addOperand(0);
  unsigned temperatureSlot = kb.addOperand(1);
  unsigned topKSlot = kb.addOperand(2);
  unsigned topPSlot = kb.addOperand(3);
  unsigned seedSlot = kb.addOperand(4);
  unsigned tokenSlot = kb.addResult(0);
  kb.create({kSampleThreads, 1, 1}, {{1, toGridScale(rows)}});
  ImplicitLocOpBuilder &b = kb.b();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Value scratchValues = kb.addShared({kb.numWarps()}, f32);
  Value scratchIndices = kb.addShared({kb.numWarps()}, i32);
  Value candValues = kb.addShared({kMaxCandidates}, f32);
  Value candIndices = kb.addShared({kMaxCandidates}, i32);
  Value warpThresholds = kb.addShared({kb.numWarps()}, f32);
  Value collectedValues = kb.addShared({kMaxCollected}, f32);
  Value collectedIndices = kb.addShared({kMaxCollected}, i32);
  Value collectedCount = kb.addShared({1}, i32);

  Value row = kb.blockId();
  Value logits = kb.param(logitsSlot);
  Value temperature = kb.load(kb.param(temperatureSlot), row);
  Value topK = kb.load(kb.param(topKSlot), row);
  Value isThread0 =
      kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0));
  Value negInf = kb.f32(-std::numeric_limits<float>::infinity());
  Candidate none{negInf, kb.i32(vocab)};
  auto isNaN = [&](Value v) {
    return arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, v, v);
  };
  auto writeToken = [&](Value token) {
    kb.ifThen(isThread0, [&] { kb.store(token, kb.param(tokenSlot), row); });
  };

  Value positive = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                         temperature, kb.f32(0.0));
  Value trueValue = arith::ConstantIntOp::create(b, b.getI1Type(), 1);
  Value greedy =
      vocab > 1 ? arith::XOrIOp::create(b, positive, trueValue) : trueValue;
  Value numCandidates = arith::MinSIOp::create(b, topK, kb.i32(vocab));
  Value inCandidateRange = arith::AndIOp::create(
      b, kb.cmp(arith::CmpIPredicate::sgt, topK, kb.i32(0)),
      kb.cmp(arith::CmpIPredicate::sle, numCandidates, kb.i32(kMaxCandidates)));

  // Greedy rows.
  kb.ifThen(greedy, [&] {
    Candidate best = rowArgmax(
        kb, logits, row, vocab, none, [](Value x) { return x; },
        [&](Value v, Value) {
          return arith::XOrIOp::create(b, isNaN(v), trueValue);
        },
        scratchValues, scratchIndices);
    Value found = kb.cmp(arith::CmpIPredicate::slt, best.index, kb.i32(vocab));
    writeToken(arith::SelectOp::create(b, found, best.index, kb.i32(0)));
  });

  // Sampled rows with a top-k the GPU handles.
  Value notGreedy = arith::XOrIOp::create(b, greedy, trueValue);
  kb.ifThen(arith::AndIOp::create(b, notGreedy, inCandidateRange), [&] {
    auto scaled = [&](Value logit) {
      Value x = arith::DivFOp::create(b, logit, temperature);
      return arith::SelectOp::create(b, isNaN(x), negInf, x);
    };
    Value count =
        arith::IndexCastOp::create(b, b.getIndexType(), numCandidates);
    kb.ifThen(isThread0,
              [&] { kb.store(kb.i32(0), collectedCount, kb.index(0)); });
    // The threshold: each warp sorts its threads' best elements, and the
    // least of the warps' m-th best (m = ceil(count / 32)) is reached by at
    // least 32 m >= count distinct elements, so every candidate reaches it.
    Candidate mine = threadArgmax(kb, logits, row, vocab, none, scaled,
                                  [&](Value, Value) { return trueValue; });
    Candidate ranked = warpSort(kb, mine);
    Value m = kb.ceilDivIndex(count, kb.index(kWarpSize));
    kb.ifThen(
        kb.cmp(arith::CmpIPredicate::eq, kb.laneId(), kb.sub(m, kb.index(1))),
        [&] { kb.store(ranked.value, warpThresholds, kb.warpId()); });
    kb.barrier();
    Value threshold = kb.load(warpThresholds, kb.index(0));
    for (int64_t w = 1; w < kb.numWarps(); ++w)
      threshold = arith::MinimumFOp::create(
          b, threshold, kb.load(warpThresholds, kb.index(w)));
    // One pass collects every element at least as large.
    rowPass(
        kb, logits, row, vocab, scaled, {},
        [&](Value v, Value i, Value inRow, ValueRange) -> SmallVector<Value> {
          Value above =
              arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, v, threshold);
          kb.ifThen(arith::AndIOp::create(b, inRow, above), [&] {
            Value slot = arith::IndexCastOp::create(
                b, b.getIndexType(),
                kb.atomicAdd(collectedCount, kb.index(0), kb.i32(1)));
            kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, slot,
                             kb.index(kMaxCollected)),
                      [&] {
                        kb.store(v, collectedValues, slot);
                        kb.store(i, collectedIndices, slot);
                      });
          });
          return {};
        });
    kb.barrier();
    Value collected = arith::IndexCastOp::create(
        b, b.getIndexType(), kb.load(collectedCount, kb.index(0)));
    Value fits =
        kb.cmp(arith::CmpIPredicate::ule, collected, kb.index(kMaxCollected));
    kb.ifThen(fits, [&] {
      // Sort the collected elements, padded with `none` to n = 2^logN,
      // and keep the first count.
      // logN = 1 + #{t in [1, log2 kMaxCollected) : collected > 2^t}.
      Value logN = kb.index(1);
      for (int64_t t = 1; (int64_t(1) << t) < kMaxCollected; ++t)
        logN = kb.select(kb.cmp(arith::CmpIPredicate::ugt, collected,
                                kb.index(int64_t(1) << t)),
                         kb.add(logN, kb.index(1)), logN);
      Value n = arith::ShLIOp::create(b, kb.index(1), logN);
      kb.forLoop(kb.add(collected, kb.threadId()), n, kb.index(kSampleThreads),
                 [&](Value j) {
                   kb.store(none.value, collectedValues, j);
                   kb.store(none.index, collectedIndices, j);
                 });
      kb.barrier();
      sortShared(kb, collectedValues, collectedIndices, logN);
      kb.forEachThread(kMaxCandidates, [&](Value j) {
        kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, j, count), [&] {
          kb.store(kb.load(collectedValues, j), candValues, j);
          kb.store(kb.load(collectedIndices, j), candIndices, j);
        });
      });
    });
    kb.ifThen(arith::XOrIOp::create(b, fits, trueValue), [&] {
      // Too many ties or -inf keys at the threshold: pick j is the best
      // element that sorts after pick j - 1, one pass each.
      kb.forLoop(kb.index(0), count, kb.index(1),
                 {kb.f32(std::numeric_limits<float>::infinity()), kb.i32(-1)},
                 [&](Value j, ValueRange last) -> SmallVector<Value> {
                   Candidate best = rowArgmax(
                       kb, logits, row, vocab, none, scaled,
                       [&](Value v, Value i) {
                         Value below = arith::CmpFOp::create(
                             b, arith::CmpFPredicate::OLT, v, last[0]);
                         Value tie = arith::AndIOp::create(
                             b,
                             arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ,
                                                   v, last[0]),
                             kb.cmp(arith::CmpIPredicate::sgt, i, last[1]));
                         // The first pick starts after (+inf, -1): everything.
                         return arith::OrIOp::create(b, below, tie);
                       },
                       scratchValues, scratchIndices);
                   kb.ifThen(isThread0, [&] {
                     kb.store(best.value, candValues, j);
                     kb.store(best.index, candIndices, j);
                   });
                   return {best.value, best.index};
                 });
    });
    kb.barrier();

    // The CPU sampler's sequential part, on thread 0.
    kb.ifThen(isThread0, [&] {
      Value topP = kb.load(kb.param(topPSlot), row);
      Value seed = kb.load(kb.param(seedSlot), row);
      Value maxX = kb.load(candValues, kb.index(0));
      Value maxIsNegInf =
          arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, maxX, negInf);
      auto weight = [&](Value j) {
        Value e = math::ExpOp::create(
            b, arith::SubFOp::create(b, kb.load(candValues, j), maxX));
        return arith::SelectOp::create(b, maxIsNegInf, kb.f32(1.0), e);
      };
      Value sum =
          kb.forLoop(kb.index(0), count, kb.index(1), {kb.f32(0.0)},
                     [&](Value j, ValueRange acc) -> SmallVector<Value> {
                       return {kb.add(acc[0], weight(j))};
                     })[0];
      auto prob = [&](Value j) {
        return arith::DivFOp::create(b, weight(j), sum);
      };
      // Top-p: the smallest prefix with cumulative probability >= top_p.
      Value usesTopP = arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, topP,
                                             kb.f32(1.0));
      SmallVector<Value> prefix = kb.forLoop(
          kb.index(0), count, kb.index(1), {kb.f32(0.0), count},
          [&](Value j, ValueRange acc) -> SmallVector<Value> {
            Value cum = kb.add(acc[0], prob(j));
            Value open = kb.cmp(arith::CmpIPredicate::eq, acc[1], count);
            Value reached =
                arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, cum, topP);
            Value closeHere = arith::AndIOp::create(
                b, arith::AndIOp::create(b, open, reached), usesTopP);
            Value kept = arith::SelectOp::create(
                b, closeHere, kb.add(j, kb.index(1)), acc[1]);
            return {cum, kept};
          });
      Value kept = prefix[1];
      Value mass =
          kb.forLoop(kb.index(0), kept, kb.index(1), {kb.f32(0.0)},
                     [&](Value j, ValueRange acc) -> SmallVector<Value> {
                       return {kb.add(acc[0], prob(j))};
                     })[0];
      Value target = kb.mul(uniformFromSeed(kb, seed), mass);
      Value lastKept = arith::SubIOp::create(b, kept, kb.index(1));
      Value lastIndex = kb.load(candIndices, lastKept);
      // The first kept candidate whose cumulative probability exceeds the
      // target (the last kept one if rounding leaves none).
      SmallVector<Value> drawn = kb.forLoop(
          kb.index(0), kept, kb.index(1), {kb.f32(0.0), kb.i32(-1)},
          [&](Value j, ValueRange acc) -> SmallVector<Value> {
            Value cum = kb.add(acc[0], prob(j));
            Value open = kb.cmp(arith::CmpIPredicate::eq, acc[1], kb.i32(-1));
            Value exceeds = arith::CmpFOp::create(b, arith::CmpFPredicate::OGT,
                                                  cum, target);
            Value take = arith::AndIOp::create(b, open, exceeds);
            return {cum, arith::SelectOp::create(
                             b, take, kb.load(candIndices, j), acc[1])};
          });
      Value none = kb.cmp(arith::CmpIPredicate::eq, drawn[1], kb.i32(-1));
      kb.store(arith::SelectOp::create(b, none, lastIndex, drawn[1]),
               kb.param(tokenSlot), row);
    });
  });

  // Rows left to the host sampler.
  kb.ifThen(
      arith::AndIOp::create(
          b, notGreedy, arith::XOrIOp::create(b, inCandidateRange, trueValue)),
      [&] { writeToken(kb.i32(-1)); });
  out.push_back(kb.finish());
  return success();
}

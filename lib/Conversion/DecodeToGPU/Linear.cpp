//===- Linear.cpp - decode.linear kernels ---------------------------------===//
//
// `y = norm(x) @ W^T + bias + residual`, one kernel (plus a split-K reduce)
// per token-count bucket of `variants`:
//
// - `gemv` (1-8 tokens, and ops without variants): a weight-streaming GEMV
//   that reads every weight byte once for all tokens of the bucket. Block: 4
//   warps; each warp owns 1 or 2 consecutive output rows. Every lane loads
//   16-byte vectors of W (8 bf16), 4-8 slabs of 256 columns in flight per
//   row, converts them to f32 and multiplies them with the bucket's tokens of
//   x, which the block first stages in shared memory (applying the RMSNorm
//   weight, and accumulating sum(x^2), on the way); the first group of
//   weight loads is issued before the staging (`gemv-early-slabs`), and
//   before the wait for the previous kernel (programmatic launch), so its
//   latency overlaps both. The 8-wide products fold into f32 accumulators;
//   a `vector.reduction` and 5 `gpu.shuffle xor` steps finish each dot
//   product.
// - `mma` (16-256 tokens): tensor cores, see "Tensor-core kernel" below.
//
// With a K split (`k_split = s > 1`, always for `mma`) the grid's y dimension
// splits K: the kernel writes f32 partials to the workspace and a second
// kernel sums them and applies the epilogue, so the epilogue is the same
// either way: round(acc * rsqrt(mean(x^2) + eps) + bias + residual), rounded
// once. With `activation = silu_mul` the GEMV always writes partials, so
// that the reduce pairs gate column n with up column n + N/2.
// docs/launch-plan.md describes the launches, docs/performance.md the
// measurements behind the tuning constants.
//
//===----------------------------------------------------------------------===//

#include "Linear.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace infer;
using namespace infer::linear;

namespace {

constexpr int64_t kGemvWarps = 4;
/// Warps of a 1-token GEMV block that stages long rows or sums x^2.
constexpr int64_t kGemvWideWarps = 8;
/// Row length up to which a 1-token GEMV gives each warp a single row.
constexpr int64_t kShortRowElements = 8192;
/// Largest token tile one GEMV pass handles; larger buckets loop over tiles.
constexpr int64_t kMaxTokenTile = 8;
/// Token tile of the bucket-less (any T) kernel.
constexpr int64_t kDefaultTokenTile = 4;
/// Shared memory for staged x per block.
constexpr int64_t kStagingBytes = 32 * 1024;
constexpr int64_t kReduceThreads = 256;

FailureOr<LinearInfo> analyze(decode::LinearOp op, EmitContext &ctx) {
  LinearInfo info;
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  info.n = weightType.getDimSize(0);
  info.k = weightType.getDimSize(1);
  info.inType = inputType.getElementType();
  info.outType = cast<RankedTensorType>(op.getType()).getElementType();
  if (weightType.getElementType() != info.inType ||
      !(info.inType.isBF16() || info.inType.isF16()))
    return op.emitOpError()
           << "GPU lowering supports bf16/f16 weights with inputs of the same "
              "type, got "
           << weightType.getElementType() << " weights and " << info.inType
           << " inputs";
  info.vectorWidth = vectorWidthFor(info.inType, {});
  if (info.k % info.vectorWidth != 0)
    return op.emitOpError() << "GPU lowering needs K (" << info.k
                            << ") to be a multiple of " << info.vectorWidth;
  auto segment = [&](unsigned ods) -> std::optional<unsigned> {
    auto [start, length] = op.getODSOperandIndexAndLength(ods);
    if (length == 0)
      return std::nullopt;
    return start;
  };
  info.bias = segment(2);
  info.residual = segment(3);
  info.norm = segment(4);
  info.rms = op.getNormEpsilon().has_value();
  info.gated = op.getActivation().has_value();
  if (info.rms)
    info.epsilon = op.getNormEpsilon()->convertToFloat();
  info.rows = ctx.rowsOf(op.getInput());
  return info;
}

/// Elements of the per-block x staging chunk.
int64_t stagingChunk(int64_t tokenTile, int64_t splitLength, int64_t unroll) {
  int64_t slab = unroll * infer::kWarpSize * 8;
  int64_t chunk = kStagingBytes / (2 * tokenTile) / slab * slab;
  chunk = std::max(chunk, slab);
  return std::min<int64_t>(chunk, llvm::alignTo(splitLength, 8));
}

/// Accumulates `w * x` (vector<8xf32> each) into `acc` (vector<W x f32>,
/// W dividing 8): 8 FMAs whatever W is.
Value accumulate(KernelBuilder &kb, Value w, Value x, Value acc) {
  int64_t width = cast<VectorType>(acc.getType()).getNumElements();
  int64_t full = cast<VectorType>(w.getType()).getNumElements();
  if (width == full)
    return kb.fma(w, x, acc);
  // `vector.shuffle` (not extract_strided_slice) lowers directly to LLVM.
  for (int64_t s = 0; s < full; s += width) {
    SmallVector<int64_t> mask = llvm::to_vector(llvm::seq(s, s + width));
    Value ws = vector::ShuffleOp::create(kb.b(), w, w, mask);
    Value xs = vector::ShuffleOp::create(kb.b(), x, x, mask);
    acc = kb.fma(ws, xs, acc);
  }
  return acc;
}

/// Emits the GEMV kernel of one bucket (and its split-K reduce kernel).
void emitGemv(decode::LinearOp op, EmitContext &ctx, const LinearInfo &info,
              int64_t maxTokens, int64_t kSplit,
              SmallVectorImpl<KernelLaunch> &out) {
  const int64_t tile =
      maxTokens > 0 ? std::min(maxTokens, kMaxTokenTile) : kDefaultTokenTile;
  // Output rows per warp and 16-byte loads in flight per row and lane. By
  // default (0), 1-token kernels keep 8 loads in flight per row, with one row
  // per warp when rows are short (K <= 8192: finer blocks, +3 points on
  // 6144x4096 and 28672x4096 on an H100) and two otherwise (-5 points for one
  // row on 4096x14336); buckets of several tokens use 2 rows x 4 loads.
  // docs/performance.md, "Linear kernels".
  const bool single = tile == 1;
  const int64_t rowsPerWarp =
      ctx.options.gemvRowsPerWarp
          ? ctx.options.gemvRowsPerWarp
          : (single && info.k <= kShortRowElements ? 1 : 2);
  const int64_t unroll =
      ctx.options.gemvUnroll ? ctx.options.gemvUnroll : (single ? 8 : 4);
  const int64_t early = std::min(ctx.options.gemvEarlySlabs, unroll);
  // Every block stages x (and sums its squares for the RMS scale): 1-token
  // blocks of 8 warps halve that where it is large (4096x14336: 88.6 ->
  // 90.2% of copy; 6144x4096 with the RMS scale: 78.1 -> 81.4%; without
  // either, 28672x4096 loses 1 point).
  const int64_t warps = single && (info.k > kShortRowElements || info.rms)
                            ? kGemvWideWarps
                            : kGemvWarps;
  const int64_t threads = warps * infer::kWarpSize;
  const int64_t rowsPerBlock = warps * rowsPerWarp;
  const int64_t vw = info.vectorWidth;
  const int64_t slab = infer::kWarpSize * vw;
  const int64_t splitLength =
      llvm::alignTo(llvm::divideCeil(info.k, kSplit), vw);
  const int64_t chunk = stagingChunk(tile, splitLength, unroll);
  const int64_t accWidth = std::clamp<int64_t>(
      llvm::bit_floor(uint64_t(16 / (rowsPerWarp * tile))), 1, vw);
  // A gated linear's pairs of rows sit in different warps: its partials go
  // through the workspace and the reduce launch applies the activation.
  const bool split = kSplit > 1 || info.gated;

  KernelBuilder kb(ctx, op, split ? "linear_gemv_split" : "linear_gemv",
                   maxTokens);
  unsigned xSlot = kb.addOperand(0);
  unsigned wSlot = kb.addOperand(1);
  std::optional<unsigned> biasSlot, residualSlot, normSlot, outSlot, wsSlot;
  if (!split && info.bias)
    biasSlot = kb.addOperand(*info.bias);
  if (!split && info.residual)
    residualSlot = kb.addOperand(*info.residual);
  if (info.norm)
    normSlot = kb.addOperand(*info.norm);
  if (!split)
    outSlot = kb.addResult(0);
  else
    wsSlot = kb.addWorkspace(splitWorkspaceType(info, kSplit, kb.b()), 0,
                             4 * kSplit * (info.n + 1));
  unsigned rowsSlot = kb.addScalar(info.rows);
  // The first weight loads are issued before waiting for the previous
  // kernel (x), so that they stream during its tail.
  kb.deferDependencyWait();
  kb.create({threads, 1, 1}, {{int64_t(llvm::divideCeil(info.n, rowsPerBlock)),
                               GridExtent::Scale::One},
                              {kSplit, GridExtent::Scale::One}});

  ImplicitLocOpBuilder &b = kb.b();
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({accWidth}, f32);
  auto wideType = VectorType::get({vw}, f32);
  Value xs = kb.addShared({tile, chunk}, info.inType);
  SmallVector<Value> scratch;
  if (info.rms)
    for (int64_t t = 0; t < tile; ++t)
      scratch.push_back(kb.addShared({warps}, f32));

  Value x = kb.param(xSlot), w = kb.param(wSlot);
  Value numRows = kb.scalarIndex(rowsSlot);
  Value tid = kb.threadId(), lane = kb.laneId(), warp = kb.warpId();
  Value splitId = kb.blockId(gpu::Dimension::y);
  Value kStart = kb.mul(splitId, kb.index(splitLength));
  Value kEnd =
      kb.minIndex(kb.add(kStart, kb.index(splitLength)), kb.index(info.k));
  Value laneCol = kb.mul(lane, kb.index(vw));

  // Output rows of this warp; loads of rows past N are clamped to N - 1 and
  // their results dropped.
  SmallVector<Value> outRow, loadRow;
  Value firstRow = kb.add(kb.mul(kb.blockId(), kb.index(rowsPerBlock)),
                          kb.mul(warp, kb.index(rowsPerWarp)));
  for (int64_t r = 0; r < rowsPerWarp; ++r) {
    outRow.push_back(kb.add(firstRow, kb.index(r)));
    loadRow.push_back(info.n % rowsPerBlock == 0
                          ? outRow.back()
                          : kb.minIndex(outRow.back(), kb.index(info.n - 1)));
  }

  // One step of the dot product: the columns [col, col + vw) of every row
  // against the staged tokens, `colInChunk` being col - chunk start.
  auto loadWeights = [&](Value col) {
    SmallVector<Value> values;
    for (int64_t r = 0; r < rowsPerWarp; ++r)
      values.push_back(kb.loadVector(w, {loadRow[r], col}, vw));
    return values;
  };
  auto step = [&](ArrayRef<Value> weights, Value colInChunk,
                  SmallVector<Value> &accs) {
    SmallVector<Value> wf;
    for (Value v : weights)
      wf.push_back(kb.toF32(v));
    for (int64_t t = 0; t < tile; ++t) {
      Value xv = kb.toF32(kb.loadVector(xs, {kb.index(t), colInChunk}, vw));
      for (int64_t r = 0; r < rowsPerWarp; ++r)
        accs[r * tile + t] = accumulate(kb, wf[r], xv, accs[r * tile + t]);
    }
  };

  // Token tiles (a single iteration for buckets up to kMaxTokenTile).
  Value tileStep = kb.index(tile);
  kb.forLoop(kb.index(0), numRows, tileStep, [&](Value t0) {
    SmallVector<Value> init;
    for (int64_t i = 0; i < rowsPerWarp * tile; ++i)
      init.push_back(kb.floatConst(accType, 0.0));
    if (info.rms)
      for (int64_t t = 0; t < tile; ++t)
        init.push_back(kb.f32(0.0));

    SmallVector<Value> loop = kb.forLoop(
        kStart, kEnd, kb.index(chunk), init,
        [&](Value c0, ValueRange carried) -> SmallVector<Value> {
          SmallVector<Value> accs(carried.take_front(rowsPerWarp * tile));
          SmallVector<Value> sumsq(carried.drop_front(rowsPerWarp * tile));
          Value cEnd = kb.minIndex(kb.add(c0, kb.index(chunk)), kEnd);
          Value cLen = arith::SubIOp::create(b, cEnd, c0);

          // `early` slabs of the first group load before x is staged, so
          // that the staging and its barriers overlap their latency (columns
          // clamped into the chunk; used only if it has a full group).
          SmallVector<Value> firstCols;
          SmallVector<SmallVector<Value>> firstWeights;
          Value lastCol = kb.sub(cEnd, kb.index(vw));
          for (int64_t u = 0; u < unroll; ++u) {
            firstCols.push_back(kb.add(kb.index(u * slab), laneCol));
            if (u < early)
              firstWeights.push_back(loadWeights(
                  kb.minIndex(kb.add(c0, firstCols.back()), lastCol)));
          }

          // Stage x[t0 + t][c0 : cEnd) (times the norm weight).
          kb.waitForDependencies();
          kb.barrier();
          for (int64_t t = 0; t < tile; ++t) {
            Value row = kb.add(t0, kb.index(t));
            Value rowValid = kb.cmp(arith::CmpIPredicate::ult, row, numRows);
            Value clampedRow = kb.minIndex(
                row, arith::SubIOp::create(b, numRows, kb.index(1)));
            SmallVector<Value> staged = kb.forLoop(
                kb.mul(tid, kb.index(vw)), cLen, kb.index(threads * vw),
                info.rms ? ValueRange{sumsq[t]} : ValueRange{},
                [&](Value col, ValueRange partial) -> SmallVector<Value> {
                  Value gcol = kb.add(c0, col);
                  Value v = kb.toF32(kb.loadVector(x, {clampedRow, gcol}, vw));
                  v = arith::SelectOp::create(b, rowValid, v,
                                              kb.floatConst(wideType, 0.0));
                  SmallVector<Value> next;
                  if (info.rms) {
                    Value sq = kb.reduceVector(kb.mul(v, v), ReduceKind::Add);
                    next.push_back(kb.add(partial[0], sq));
                  }
                  if (info.norm) {
                    Value g =
                        kb.toF32(kb.loadVector(kb.param(*normSlot), gcol, vw));
                    v = kb.mul(v, g);
                  }
                  kb.storeVector(kb.fromF32(v, info.inType), xs,
                                 {kb.index(t), col});
                  return next;
                });
            if (info.rms)
              sumsq[t] = staged[0];
          }
          kb.barrier();

          // Full groups of unroll slabs, all loads issued first; the first
          // group's are already in flight.
          Value fullLen =
              kb.mul(arith::DivUIOp::create(b, cLen, kb.index(unroll * slab)),
                     kb.index(unroll * slab));
          if (early)
            accs = kb.ifThenElse(
                kb.cmp(arith::CmpIPredicate::ugt, fullLen, kb.index(0)),
                ValueRange(accs).getTypes(),
                [&]() -> SmallVector<Value> {
                  SmallVector<Value> next(accs);
                  for (int64_t u = early; u < unroll; ++u)
                    firstWeights.push_back(
                        loadWeights(kb.add(c0, firstCols[u])));
                  for (int64_t u = 0; u < unroll; ++u)
                    step(firstWeights[u], firstCols[u], next);
                  return next;
                },
                [&]() -> SmallVector<Value> { return accs; });
          accs = kb.forLoop(
              kb.index(early ? unroll * slab : 0), fullLen,
              kb.index(unroll * slab), accs,
              [&](Value k0, ValueRange a) -> SmallVector<Value> {
                SmallVector<Value> next(a);
                SmallVector<SmallVector<Value>> weights;
                SmallVector<Value> cols;
                for (int64_t u = 0; u < unroll; ++u) {
                  cols.push_back(
                      kb.add(kb.add(k0, kb.index(u * slab)), laneCol));
                  weights.push_back(loadWeights(kb.add(c0, cols.back())));
                }
                for (int64_t u = 0; u < unroll; ++u)
                  step(weights[u], cols[u], next);
                return next;
              });
          // Remaining slabs, lanes past the chunk's end idle.
          accs = kb.forLoop(
              fullLen, cLen, kb.index(slab), accs,
              [&](Value k0, ValueRange a) -> SmallVector<Value> {
                Value col = kb.add(k0, laneCol);
                Value inside = kb.cmp(arith::CmpIPredicate::ult, col, cLen);
                return kb.ifThenElse(
                    inside, a.getTypes(),
                    [&]() -> SmallVector<Value> {
                      SmallVector<Value> next(a);
                      step(loadWeights(kb.add(c0, col)), col, next);
                      return next;
                    },
                    [&]() -> SmallVector<Value> { return llvm::to_vector(a); });
              });
          SmallVector<Value> yielded(accs);
          llvm::append_range(yielded, sumsq);
          return yielded;
        });

    // RMS scales of the tile's tokens.
    SmallVector<Value> rms(tile);
    if (info.rms) {
      for (int64_t t = 0; t < tile; ++t) {
        Value total = kb.blockReduce(loop[rowsPerWarp * tile + t],
                                     ReduceKind::Add, scratch[t]);
        rms[t] = split ? total : rmsScale(kb, info, total);
      }
    }

    Value isLane0 = kb.cmp(arith::CmpIPredicate::eq, lane, kb.index(0));
    for (int64_t r = 0; r < rowsPerWarp; ++r) {
      for (int64_t t = 0; t < tile; ++t) {
        Value dot =
            kb.warpReduce(kb.reduceVector(loop[r * tile + t], ReduceKind::Add),
                          ReduceKind::Add);
        Value row = kb.add(t0, kb.index(t));
        Value valid = arith::AndIOp::create(
            b, isLane0, kb.cmp(arith::CmpIPredicate::ult, row, numRows));
        if (info.n % rowsPerBlock != 0)
          valid = arith::AndIOp::create(
              b, valid,
              kb.cmp(arith::CmpIPredicate::ult, outRow[r], kb.index(info.n)));
        kb.ifThen(valid, [&] {
          if (!split) {
            storeOutput(kb, info, dot, rms[t], row, outRow[r],
                        kb.param(*outSlot), biasSlot, residualSlot);
            return;
          }
          Value col = kb.add(kb.mul(splitId, kb.index(info.n)), outRow[r]);
          kb.store(dot, kb.param(*wsSlot), {row, col});
        });
      }
    }
    // Split partial sums of squares: one writer per (split, token).
    if (split && info.rms) {
      Value writer = arith::AndIOp::create(
          b, kb.cmp(arith::CmpIPredicate::eq, tid, kb.index(0)),
          kb.cmp(arith::CmpIPredicate::eq, kb.blockId(), kb.index(0)));
      for (int64_t t = 0; t < tile; ++t) {
        Value row = kb.add(t0, kb.index(t));
        Value valid = arith::AndIOp::create(
            b, writer, kb.cmp(arith::CmpIPredicate::ult, row, numRows));
        kb.ifThen(valid, [&] {
          Value col = kb.add(kb.index(kSplit * info.n), splitId);
          kb.store(rms[t], kb.param(*wsSlot), {row, col});
        });
      }
    }
  });
  out.push_back(kb.finish());
  if (split)
    emitSplitReduce(op, ctx, info, maxTokens, kSplit, out);
}

//===----------------------------------------------------------------------===//
// Tensor-core kernel (kind = mma)
//===----------------------------------------------------------------------===//
//
// Each warp owns a 16-row tile of W (the mma's M) and multiplies it with all
// tokens of a token tile (N = 8 per m16n8k16 mma.sync, bf16 in, f32
// accumulators; `nvvm.mma.sync`, as nvgpu.mma.sync has no bf16 lowering),
// so W is read once per 64 tokens. The K order inside an mma is free, so
// every lane loads 16 contiguous bytes of its two W rows and of its token's
// x row and feeds two mmas of k16 from them:
//   lane = 4 * g + q; W rows g and g + 8, x token g, columns 8q .. 8q + 7;
//   mma 0 takes columns 8q + {0,1} as its k = 2q + {0,1} and 8q + {2,3} as
//   k = 2q + 8 + {0,1}; mma 1 the same with 8q + {4..7}.
// The grid's y dimension splits K so that every SM gets blocks; partials go
// to the workspace and emitSplitReduce applies the epilogue.

constexpr int64_t kMmaWarps = 4;
constexpr int64_t kMmaRowsPerWarp = 16;
constexpr int64_t kMmaRowsPerBlock = kMmaWarps * kMmaRowsPerWarp;
constexpr int64_t kMmaTokenTile = 64;
constexpr int64_t kMmaKPerStep = 32;
/// k steps issued together: 4, or 2 for 64-token tiles, whose 8 x vectors
/// per step would otherwise not fit the register budget.
constexpr int64_t kMmaUnroll = 4;
int64_t mmaUnroll(int64_t tokenTile) {
  return tokenTile >= 64 ? 2 : kMmaUnroll;
}

/// Resident blocks per SM the mma kernel is compiled for (caps registers at
/// 168, which the 64-token tile needs without spilling).
constexpr int64_t kMmaBlocksPerSM = 3;

/// K splits for the mma grid: the fewest that fill every SM's block slots and
/// leave at most a small partial last wave (the blocks are uniform, so a
/// 1.1-wave grid runs at 55% of the machine). An explicit `k_split` wins.
int64_t mmaKSplit(const LinearInfo &info, int64_t requested,
                  const KernelTarget &target) {
  if (requested > 1)
    return requested;
  int64_t blocks = llvm::divideCeil(info.n, kMmaRowsPerBlock);
  int64_t slots = kMmaBlocksPerSM * target.numSMs;
  int64_t best = 1;
  double bestEfficiency = 0.0;
  for (int64_t split = 1; split <= 16; ++split) {
    if (split > 1 && info.k / split < kMmaKPerStep * kMmaUnroll)
      break;
    double waves = double(blocks * split) / double(slots);
    double efficiency = waves / std::ceil(waves);
    if (blocks * split >= slots && efficiency >= 0.85)
      return split;
    if (efficiency > bestEfficiency + 0.05) {
      best = split;
      bestEfficiency = efficiency;
    }
  }
  return best;
}

void emitMma(decode::LinearOp op, EmitContext &ctx, const LinearInfo &info,
             int64_t maxTokens, int64_t requestedSplit,
             SmallVectorImpl<KernelLaunch> &out) {
  const int64_t kSplit = mmaKSplit(info, requestedSplit, ctx.target);
  const int64_t tile =
      std::min<int64_t>(llvm::alignTo(maxTokens, 8), kMmaTokenTile);
  const int64_t nTiles = tile / 8;
  const int64_t splitLength =
      llvm::alignTo(llvm::divideCeil(info.k, kSplit), kMmaKPerStep);
  const int64_t unroll = mmaUnroll(tile);
  const int64_t group = kMmaKPerStep * unroll;

  KernelBuilder kb(ctx, op, "linear_mma", maxTokens);
  unsigned xSlot = kb.addOperand(0);
  unsigned wSlot = kb.addOperand(1);
  std::optional<unsigned> normSlot;
  if (info.norm)
    normSlot = kb.addOperand(*info.norm);
  MemRefType wsType = splitWorkspaceType(info, kSplit, kb.b());
  unsigned wsSlot = kb.addWorkspace(wsType, 0, 4 * wsType.getDimSize(1));
  unsigned rowsSlot = kb.addScalar(info.rows);
  kb.create({kMmaWarps * infer::kWarpSize, 1, 1},
            {{int64_t(llvm::divideCeil(info.n, kMmaRowsPerBlock)),
              GridExtent::Scale::One},
             {kSplit, GridExtent::Scale::One}});
  kb.setMinBlocksPerSM(kMmaBlocksPerSM);

  ImplicitLocOpBuilder &b = kb.b();
  Type f32 = b.getF32Type(), elt = info.inType;
  auto accType = VectorType::get({4}, f32);

  Value x = kb.param(xSlot), w = kb.param(wSlot), ws = kb.param(wsSlot);
  Value numRows = kb.scalarIndex(rowsSlot);
  Value lane = kb.laneId(), warp = kb.warpId();
  Value g = arith::DivUIOp::create(b, lane, kb.index(4));
  Value q = arith::RemUIOp::create(b, lane, kb.index(4));
  Value splitId = kb.blockId(gpu::Dimension::y);
  Value kStart = kb.mul(splitId, kb.index(splitLength));
  Value kEnd =
      kb.minIndex(kb.add(kStart, kb.index(splitLength)), kb.index(info.k));
  Value laneCol = kb.mul(q, kb.index(8));
  Value tileRow = kb.add(kb.mul(kb.blockId(), kb.index(kMmaRowsPerBlock)),
                         kb.mul(warp, kb.index(kMmaRowsPerWarp)));
  Value rowLo = kb.add(tileRow, g);
  Value rowHi = kb.add(rowLo, kb.index(8));
  auto clampRow = [&](Value r) {
    return info.n % kMmaRowsPerBlock == 0
               ? r
               : kb.minIndex(r, kb.index(info.n - 1));
  };
  Value loadLo = clampRow(rowLo), loadHi = clampRow(rowHi);
  Value lastRow = arith::SubIOp::create(b, numRows, kb.index(1));

  // acc += W[rows g, g + 8] x token g, for k pairs {2h, 2h + 1} of lo/hi.
  auto mma = [&](ArrayRef<Value> lo, ArrayRef<Value> hi, ArrayRef<Value> xr,
                 int64_t h, Value acc) {
    Value a[] = {lo[2 * h], hi[2 * h], lo[2 * h + 1], hi[2 * h + 1]};
    Value bb[] = {xr[2 * h], xr[2 * h + 1]};
    return kb.mmaSync(a, bb, acc, elt);
  };

  kb.forLoop(kb.index(0), numRows, kb.index(tile), [&](Value t0) {
    // x rows of this lane's token in every 8-token tile (clamped to T - 1).
    SmallVector<Value> tokenRow;
    for (int64_t j = 0; j < nTiles; ++j)
      tokenRow.push_back(
          kb.minIndex(kb.add(t0, kb.add(g, kb.index(8 * j))), lastRow));

    // One k step of 32: loads, then 2 mmas per token tile.
    auto loadStep = [&](Value k) {
      Value col = kb.add(k, laneCol);
      SmallVector<Value> values{kb.loadVector(w, {loadLo, col}, 8),
                                kb.loadVector(w, {loadHi, col}, 8)};
      Value gv = info.norm
                     ? kb.toF32(kb.loadVector(kb.param(*normSlot), col, 8))
                     : Value();
      for (int64_t j = 0; j < nTiles; ++j)
        values.push_back(kb.loadVector(x, {tokenRow[j], col}, 8));
      if (gv)
        values.push_back(gv);
      return values;
    };
    auto computeStep = [&](ArrayRef<Value> values,
                           SmallVector<Value> &carried) {
      SmallVector<Value> lo = kb.packedRegisters(values[0]);
      SmallVector<Value> hi = kb.packedRegisters(values[1]);
      for (int64_t j = 0; j < nTiles; ++j) {
        Value xv = values[2 + j];
        if (info.rms) {
          Value xf = kb.toF32(xv);
          Value sq = kb.reduceVector(kb.mul(xf, xf), ReduceKind::Add);
          carried[nTiles + j] = kb.add(carried[nTiles + j], sq);
          if (info.norm)
            xv = kb.fromF32(kb.mul(xf, values.back()), elt);
        }
        SmallVector<Value> xr = kb.packedRegisters(xv);
        carried[j] = mma(lo, hi, xr, 1, mma(lo, hi, xr, 0, carried[j]));
      }
    };

    SmallVector<Value> init;
    for (int64_t j = 0; j < nTiles; ++j)
      init.push_back(kb.floatConst(accType, 0.0));
    if (info.rms)
      for (int64_t j = 0; j < nTiles; ++j)
        init.push_back(kb.f32(0.0));

    Value length = arith::SubIOp::create(b, kEnd, kStart);
    Value fullEnd = kb.add(
        kStart, kb.mul(arith::DivUIOp::create(b, length, kb.index(group)),
                       kb.index(group)));
    SmallVector<Value> acc = kb.forLoop(
        kStart, fullEnd, kb.index(group), init,
        [&](Value k0, ValueRange a) -> SmallVector<Value> {
          SmallVector<Value> next(a);
          SmallVector<SmallVector<Value>> steps;
          for (int64_t u = 0; u < unroll; ++u)
            steps.push_back(loadStep(kb.add(k0, kb.index(u * kMmaKPerStep))));
          for (auto &step : steps)
            computeStep(step, next);
          return next;
        });
    acc = kb.forLoop(fullEnd, kEnd, kb.index(kMmaKPerStep), acc,
                     [&](Value k0, ValueRange a) -> SmallVector<Value> {
                       SmallVector<Value> next(a);
                       computeStep(loadStep(k0), next);
                       return next;
                     });

    // Partials: acc[2 i + c] is W row (g + 8 i) times token (2 q + c).
    Value splitCol = kb.mul(splitId, kb.index(info.n));
    for (int64_t j = 0; j < nTiles; ++j) {
      for (int64_t i = 0; i < 2; ++i) {
        Value n = i == 0 ? rowLo : rowHi;
        for (int64_t c = 0; c < 2; ++c) {
          Value token =
              kb.add(t0, kb.add(kb.mul(q, kb.index(2)), kb.index(8 * j + c)));
          Value valid = kb.cmp(arith::CmpIPredicate::ult, token, numRows);
          if (info.n % kMmaRowsPerBlock != 0)
            valid = arith::AndIOp::create(
                b, valid,
                kb.cmp(arith::CmpIPredicate::ult, n, kb.index(info.n)));
          Value v = vector::ExtractOp::create(b, acc[j], 2 * i + c);
          kb.ifThen(valid,
                    [&] { kb.store(v, ws, {token, kb.add(splitCol, n)}); });
        }
      }
    }
    if (!info.rms)
      return;
    // Sums of squares of this split's columns: the 4 lanes of a group hold
    // token g's parts; one warp of the first column block writes them.
    Value writer = arith::AndIOp::create(
        b,
        arith::AndIOp::create(
            b, kb.cmp(arith::CmpIPredicate::eq, warp, kb.index(0)),
            kb.cmp(arith::CmpIPredicate::eq, q, kb.index(0))),
        kb.cmp(arith::CmpIPredicate::eq, kb.blockId(), kb.index(0)));
    for (int64_t j = 0; j < nTiles; ++j) {
      Value sq = acc[nTiles + j];
      for (int32_t offset : {1, 2})
        sq = kb.add(sq, gpu::ShuffleOp::create(b, sq, offset, infer::kWarpSize,
                                               gpu::ShuffleMode::XOR)
                            .getShuffleResult());
      Value token = kb.add(t0, kb.add(g, kb.index(8 * j)));
      Value valid = arith::AndIOp::create(
          b, writer, kb.cmp(arith::CmpIPredicate::ult, token, numRows));
      kb.ifThen(valid, [&] {
        kb.store(sq, ws, {token, kb.add(kb.index(kSplit * info.n), splitId)});
      });
    }
  });
  out.push_back(kb.finish());
  emitSplitReduce(op, ctx, info, maxTokens, kSplit, out);
}

} // namespace

namespace {
/// Stores `value` (a scalar, or a vector of consecutive columns) at
/// (row, n) of `result`.
void storeAt(KernelBuilder &kb, Value value, Value result, Value row, Value n) {
  if (isa<VectorType>(value.getType()))
    kb.storeVector(value, result, {row, n});
  else
    kb.store(value, result, {row, n});
}

/// `acc * rms + bias + residual` in f32 at (row, column n): scalars, or
/// vectors of `width` columns with vector accesses (aligned to their size).
Value epilogueValue(KernelBuilder &kb, Value acc, Value rms, Value row, Value n,
                    std::optional<unsigned> biasSlot,
                    std::optional<unsigned> residualSlot) {
  auto vector = dyn_cast<VectorType>(acc.getType());
  int64_t width = vector ? vector.getNumElements() : 0;
  auto load = [&](Value memref, ValueRange indices) {
    return width ? kb.loadVector(memref, indices, width)
                 : kb.load(memref, indices);
  };
  Value v = acc;
  if (rms)
    v = kb.mul(v, width ? kb.splat(rms, width) : rms);
  if (biasSlot)
    v = kb.add(v, kb.toF32(load(kb.param(*biasSlot), n)));
  if (residualSlot)
    v = kb.add(v, kb.toF32(load(kb.param(*residualSlot), {row, n})));
  return v;
}
} // namespace

Value infer::linear::outputValue(KernelBuilder &kb, const LinearInfo &info,
                                 Value acc, Value rms, Value row, Value n,
                                 std::optional<unsigned> biasSlot,
                                 std::optional<unsigned> residualSlot) {
  return kb.fromF32(epilogueValue(kb, acc, rms, row, n, biasSlot, residualSlot),
                    info.outType);
}

void infer::linear::storeOutputValue(KernelBuilder &kb, Value value,
                                     Value result, Value row, Value n) {
  storeAt(kb, value, result, row, n);
}

void infer::linear::storeOutput(KernelBuilder &kb, const LinearInfo &info,
                                Value acc, Value rms, Value row, Value n,
                                Value result, std::optional<unsigned> biasSlot,
                                std::optional<unsigned> residualSlot) {
  storeAt(kb, outputValue(kb, info, acc, rms, row, n, biasSlot, residualSlot),
          result, row, n);
}

Value infer::linear::gatedOutputValue(KernelBuilder &kb, const LinearInfo &info,
                                      Value gate, Value up, Value rms,
                                      Value row, Value n,
                                      std::optional<unsigned> biasSlot) {
  auto rounded = [&](Value acc, Value column) {
    return kb.toF32(kb.fromF32(
        epilogueValue(kb, acc, rms, row, column, biasSlot, std::nullopt),
        info.outType));
  };
  return kb.siluMul(rounded(gate, n),
                    rounded(up, kb.add(n, kb.index(info.n / 2))), info.outType);
}

void infer::linear::storeGatedOutput(KernelBuilder &kb, const LinearInfo &info,
                                     Value gate, Value up, Value rms, Value row,
                                     Value n, Value result,
                                     std::optional<unsigned> biasSlot) {
  storeAt(kb, gatedOutputValue(kb, info, gate, up, rms, row, n, biasSlot),
          result, row, n);
}

Value infer::linear::rmsScale(KernelBuilder &kb, const LinearInfo &info,
                              Value sumsq) {
  Value mean = arith::DivFOp::create(kb.b(), sumsq, kb.f32(double(info.k)));
  return math::RsqrtOp::create(kb.b(),
                               kb.add(mean, kb.f32(double(info.epsilon))));
}

MemRefType infer::linear::splitWorkspaceType(const LinearInfo &info,
                                             int64_t kSplit, Builder &b) {
  return MemRefType::get({kDynamicExtentBound, kSplit * (info.n + 1)},
                         b.getF32Type());
}

void infer::linear::emitSplitReduce(decode::LinearOp op, EmitContext &ctx,
                                    const LinearInfo &info, int64_t maxTokens,
                                    int64_t kSplit,
                                    SmallVectorImpl<KernelLaunch> &out) {
  KernelBuilder rb(ctx, op, "linear_reduce", maxTokens);
  std::optional<unsigned> rBias, rResidual;
  if (info.bias)
    rBias = rb.addOperand(*info.bias);
  if (info.residual)
    rResidual = rb.addOperand(*info.residual);
  unsigned rOut = rb.addResult(0);
  MemRefType wsType = splitWorkspaceType(info, kSplit, rb.b());
  unsigned rWs = rb.addWorkspace(wsType, 0, 4 * wsType.getDimSize(1));
  const int64_t columns = info.outColumns();
  rb.create({kReduceThreads, 1, 1},
            {{int64_t(llvm::divideCeil(columns, kReduceThreads)),
              GridExtent::Scale::One},
             {1, toGridScale(info.rows)}});
  Value row = rb.blockId(gpu::Dimension::y);
  Value n =
      rb.add(rb.mul(rb.blockId(), rb.index(kReduceThreads)), rb.threadId());
  auto body = [&] {
    Value ws = rb.param(rWs);
    auto partials = [&](Value column) {
      Value acc = rb.f32(0.0);
      for (int64_t s = 0; s < kSplit; ++s)
        acc = rb.add(acc,
                     rb.load(ws, {row, rb.add(column, rb.index(s * info.n))}));
      return acc;
    };
    Value sumsq = rb.f32(0.0);
    if (info.rms)
      for (int64_t s = 0; s < kSplit; ++s)
        sumsq =
            rb.add(sumsq, rb.load(ws, {row, rb.index(kSplit * info.n + s)}));
    Value rms = info.rms ? rmsScale(rb, info, sumsq) : Value();
    if (info.gated)
      storeGatedOutput(rb, info, partials(n),
                       partials(rb.add(n, rb.index(columns))), rms, row, n,
                       rb.param(rOut), rBias);
    else
      storeOutput(rb, info, partials(n), rms, row, n, rb.param(rOut), rBias,
                  rResidual);
  };
  if (columns % kReduceThreads == 0)
    body();
  else
    rb.ifThen(rb.cmp(arith::CmpIPredicate::ult, n, rb.index(columns)), body);
  out.push_back(rb.finish());
}

LogicalResult infer::emitLinearKernels(Operation *op, EmitContext &ctx,
                                       SmallVectorImpl<KernelLaunch> &out) {
  auto linear = cast<decode::LinearOp>(op);
  FailureOr<LinearInfo> info = analyze(linear, ctx);
  if (failed(info))
    return failure();
  std::optional<ArrayAttr> variants = linear.getVariants();
  if (!variants || variants->empty()) {
    emitGemv(linear, ctx, *info, /*maxTokens=*/0, /*kSplit=*/1, out);
    return success();
  }
  for (auto variant : variants->getAsRange<decode::KernelVariantAttr>()) {
    // The tensor-core kernels need whole K tiles (64 for wgmma, 32 for
    // mma); other shapes fall back to mma, then to the (token-tiled) GEMV.
    if (variant.getKind() == decode::KernelKind::Wgmma &&
        info->k % kWgmmaKTile == 0) {
      emitWgmma(linear, ctx, *info, variant.getMaxTokens(), variant.getKSplit(),
                out);
      continue;
    }
    if (variant.getKind() != decode::KernelKind::Gemv &&
        info->k % kMmaKPerStep == 0) {
      emitMma(linear, ctx, *info, variant.getMaxTokens(), variant.getKSplit(),
              out);
      continue;
    }
    emitGemv(linear, ctx, *info, variant.getMaxTokens(), variant.getKSplit(),
             out);
  }
  return success();
}

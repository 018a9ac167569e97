//===- LinearWgmma.cpp - decode.linear on sm_90a warpgroup MMA ------------===//
//
// The `wgmma` variant of decode.linear (16-256 tokens): y^T = W x^T on the
// asynchronous warpgroup tensor cores, W as the M x K operand (M = 64 rows
// per warpgroup), the token tile of x as the K x N operand (N = tokens).
//
// Block: 1-3 warpgroups of 64 W rows each (planWgmma), over the bucket's
// tokens or, with token tiles, over tile x % tiles of them (consecutive
// blocks share W rows). With `wgmma-weights-on-n` the operands swap, as
// cuBLAS tiles these shapes: the token tile is A (64 tokens per warpgroup)
// and the block's W rows B, N = any multiple of 8 up to 256 chosen so that
// the grid is one wave, or one wave per token tile (planWeightsOnN); both stay
// K-major, so only the descriptors and the accumulator mapping change. Both
// operands stream through a ring of `stages` shared-memory stages of 64 (or,
// token-tiled, 128) columns, `prefetch = stages - 1 - wait groups` stages ahead
// (`wgmma-wait-groups`, 1: a stage's wgmmas overlap the next stage's wait, so
// its slot is busy one stage longer). W of the first stages
// (`wgmma-early-stages`) is copied before the wait for the previous kernel
// (programmatic launch), so it streams during that kernel's tail; x, its
// result, after the wait.
//
// - By TMA (default): thread 0 arms the slot's mbarrier with the stage's
//   bytes and issues 2-D tensor copies of 64-column boxes (W rows [r, r +
//   rows), tokens [t, t + tile)), each box after the previous one's rows,
//   through runtime-made tensor maps (`tma:` arguments, docs/launch-plan.md)
//   in the 128-byte swizzled layout: rows of 128 bytes, chunk c of row r at
//   c ^ (r % 8); descriptors: 8-row groups 1024 bytes apart, a k16 step is
//   +32 bytes within a box. One instruction moves 16 KB, so the bytes in
//   flight are bounded by shared memory only.
// - By 16-byte cp.async (`wgmma-cp-async`): the unswizzled canonical layout,
//   8x16-byte core matrices, chunk c of row r at
//   ((r / 8) * 8 + c) * 128 + (r % 8) * 16 = 16 * (copy index), LBO 128,
//   SBO 1024. Measured at half the TMA figures: each thread's LDGSTS batch
//   holds its address registers until the LSU takes it, which caps the
//   bytes in flight (docs/performance.md).
//
// A fused RMSNorm prologue scales the staged tokens by the norm weight in
// shared memory (and sums x^2) before the stage is released to the tensor
// cores (fence.proxy.async). With the norm weight folded into W's columns
// (decode-fold-norm-weight) the stage is only read for x^2, after its wgmmas
// are issued. With the weights on N from 128 tokens (`wgmma-grid-sums`) the
// stages are not read at all: their shared-memory reads cost as much as the
// wgmmas'. Block b loads tokens b, b + publishers, ... of x after the wait,
// sums their squares a few stages later and publishes each as a `counters`
// word; a few stages before the end each block copies its tile's words
// (cp.async), sums any still missing itself, and the last block out zeroes
// them. The epilogue applies rsqrt(mean(x^2) + eps), the bias and the
// residual, as for the other linear kernels.
//
// With `activation = silu_mul` a block's W rows are gate rows [j, j + R/2)
// and the matching up rows [N/2 + j, ...), two TMA boxes per stage; the
// epilogue pairs tile rows r and r + R/2 (output column j + r).
//
// Epilogue (`wgmma-cluster-reduce`, the default): the K splits of a row block
// (grid y, at most 8) form one thread-block cluster. Each block stages its
// f32 tile (and its sums of x^2) in its ring, then, after a cluster barrier,
// sums a 1/kSplit share of the cluster's tiles from distributed shared
// memory (mapa + ld.shared::cluster, 16 bytes, in split order), applies the
// epilogue and stores the output; a second cluster barrier keeps every
// block's shared memory alive until the others are done. Without a split
// the same runs on the block alone. Otherwise (option off, more splits, or
// a tile larger than the ring) the blocks write f32 partials to the
// workspace. Then, by default (`wgmma-serial-reduce`; no RMS scale, at
// most 64 KB of partials per tile), each block counts its tile's arrival in
// a `counters` word and the last split to arrive sums the tile's partials
// (in split order, as the reduce launch does) and applies the epilogue,
// several 16-byte units per thread at a time; else emitSplitReduce's launch
// finishes them.
//
// With `wgmma-multicast` (off by default: slower on the H100) blocks 2c and
// 2c + 1 form a cluster sharing x (row blocks of one token tile) or W (token
// tiles of one row block); each copies half of the shared operand's rows of
// a stage to both (TMA .multicast::cluster). A slot is refilled once both
// blocks have arrived on its "empty" mbarrier (remote arrivals).
//
// Loop over stage i (one barrier per stage):
//   wait for stage i (mbarrier parity, or my cp.async group); norm prologue
//   (with a norm weight); fence.proxy.async; barrier; copy stage i +
//   prefetch into the slot of stage i - 1 - wait groups; wgmma.fence; 4 x
//   k16 wgmma per token sub-tile; commit; the stage's sums of x^2 (RMS scale
//   alone: by mma.sync, or CUDA cores); wait for <= wait groups (stage i - 1
//   or i is then done, for the next copies).
//
//===----------------------------------------------------------------------===//

#include "Linear.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace infer;
using namespace infer::linear;

namespace {

constexpr int64_t kWarpgroupThreads = 128;
constexpr int64_t kWarpgroupRows = 64; // wgmma M
constexpr int64_t kMmaK = 16;          // wgmma K for 16-bit inputs
constexpr int64_t kSubTile = 64;       // default largest wgmma N at once
constexpr int64_t kMaxTokenTile = 256;
/// Token tiles from which small-N shapes use one warpgroup per block.
constexpr int64_t kWideTokens = 128;
constexpr int64_t kChunkElements = 8;     // one 16-byte copy
constexpr int64_t kCoreMatrixBytes = 128; // 8 rows x 16 bytes
constexpr int64_t kMaxStages = 8;
/// 128-byte swizzled TMA tiles repeat every 8 rows of 128 bytes; their
/// stages start on 1024-byte boundaries.
constexpr int64_t kSwizzleBytes = 128;
constexpr int64_t kSwizzleAtomBytes = 8 * kSwizzleBytes;
/// Largest portable thread-block cluster (blocks).
constexpr int64_t kMaxClusterBlocks = 8;
/// f32 padding of a token's row of the staged accumulator tile: the 8 rows x
/// 4 token pairs of one accumulator store then hit 32 different banks.
constexpr int64_t kTilePad = 4;
/// Rows of W per epilogue step of a thread (one 16-byte f32 vector).
constexpr int64_t kEpilogueRows = 4;
/// Units a thread of the last split finishes at a time (their partials'
/// loads from L2 in flight together).
constexpr int64_t kSerialReduceUnroll = 8;
/// The most partial bytes the last split of a tile reads: its reduce is the
/// kernel's tail, on one block per tile. Down at 64 tokens (4 x 64 tokens x
/// 128 rows, 128 KB) lost 0.03-0.05 ms per step to the reduce launch on the
/// H100 although faster alone; at 128 tokens (64 KB) and 16 (32 KB) it won.
constexpr int64_t kMaxSerialReduceBytes = 64 * 1024;

struct WgmmaPlan {
  bool tma = true;        ///< W by TMA (128B swizzle), else by cp.async
  int64_t kTile = 0;      ///< K columns per stage
  int64_t warpgroups = 0; ///< 64 W rows each
  int64_t threads = 0, blockRows = 0;
  int64_t chunksPerRow = 0;  ///< 16-byte chunks of a row in a stage
  int64_t rowGroupBytes = 0; ///< bytes of 8 rows of a stage (the SBO)
  int64_t tokens = 0;        ///< token tile (N of the block), multiple of 8
  /// Token tiles per row block: block x takes W rows of row block
  /// x / tokenTiles and token tiles x % tokenTiles (+ tokenTiles, ...).
  int64_t tokenTiles = 1;
  /// Blocks of grid x: row blocks times token tiles.
  int64_t gridX = 0;
  int64_t rowBlocks() const { return gridX / tokenTiles; }
  int64_t subTile = 0;  ///< wgmma N
  int64_t subTiles = 0; ///< tokens / subTile
  int64_t wBytes = 0, xBytes = 0, stageBytes = 0;
  int64_t stages = 0, prefetch = 0, blocksPerSM = 0;
  /// wgmma groups a stage leaves in flight (`wgmma-wait-groups`): with 1 the
  /// slot of stage i - 1 is still read during stage i, so the ring copies
  /// stages - 2 ahead; with 0, stages - 1.
  int64_t waitGroups = 1;
  /// Stages whose W is copied before the wait for the previous kernel
  /// (programmatic launch; TMA only).
  int64_t earlyStages = 0;
  int64_t kSplit = 1, splitLength = 0;
  /// The epilogue runs in this kernel: its f32 tile is staged in the ring
  /// and the kSplit blocks of a row block, one thread-block cluster of
  /// (1, kSplit, 1), sum each other's tiles through distributed shared
  /// memory. Else partials go to the workspace for a `linear_reduce` launch.
  bool fused = false;
  /// Not fused, K split, no RMS scale: the last split of a tile to arrive
  /// finishes it from the workspace (no `linear_reduce` launch).
  bool serialReduce = false;
  int64_t tileStride = 0; ///< f32 per token of the staged tile
  /// The RMS scale's sums of x^2 by mma.sync on the staged tokens (the
  /// diagonal of X X^T, one warp per 16 tokens), not by CUDA cores.
  bool tensorSums = false;
  int64_t sumGroupsPerWarp = 0;
  /// Output columns of a block: blockRows, or blockRows / 2 when gated (the
  /// block's first half of W rows is gate, the second the matching up rows,
  /// each half one TMA box).
  int64_t outRows = 0;
  /// The tokens are the MMA's M (64 per warpgroup) and the block's W rows
  /// its N (`wgmma-weights-on-n`): any multiple of 8 rows, sized for one
  /// wave.
  bool weightsOnN = false;
  /// Weights on N with an RMS scale (`wgmma-grid-sums`): the sums of x^2
  /// are not taken per stage (their shared-memory reads cost as much as
  /// the wgmmas' at 128 tokens) but once per token by the grid. 1: block b
  /// sums tokens b, b + publishers, ... from global x (loaded after the wait,
  /// summed a few stages later) and publishes each as a `counters` word; a
  /// few stages before the end each block copies its tile's words to
  /// shared memory (cp.async), and sums any still missing itself. 2 (a
  /// test of that path): every block sums all of its tile's tokens itself.
  int64_t gridSums = 0;
  /// gridSums == 1: the blocks that publish (the first wave: token t by
  /// block t % publishers), tokens a block publishes (at most), and its
  /// threads' 16-byte loads per token.
  int64_t sumsPublishers = 0, sumsTokensPerBlock = 0, sumsLoadsPerToken = 0;
  /// The operand blocks 2c and 2c + 1 (grid x, one cluster) share
  /// (`wgmma-multicast`): x where they are row blocks of one token tile, W
  /// where they are token tiles of one row block. Each copies half of its
  /// rows of a stage and multicasts them to both.
  enum class Multicast { None, Tokens, Weights } multicast = Multicast::None;
  /// Rows of the TMA boxes of x and of W (gated: of one half, outRows).
  int64_t xBoxRows() const {
    return multicast == Multicast::Tokens ? tokens / 2 : tokens;
  }
  int64_t wBoxRows() const {
    return multicast == Multicast::Weights ? outRows / 2 : outRows;
  }
};

/// K split of the grid: the one with the least estimated traffic time, W
/// bytes over the fraction of the machine the grid keeps streaming, plus the
/// f32 partials it writes and the reduce reads back (mostly from L2, counted
/// at half price). Memory-bound blocks progress together, so a single wave
/// is full once every SM has a block; more waves lose their partial tail.
int64_t chooseKSplit(const LinearInfo &info, const WgmmaPlan &p,
                     int64_t numSMs) {
  int64_t blocks = p.gridX;
  int64_t slots = p.blocksPerSM * numSMs;
  int64_t minLength = p.kTile * std::max<int64_t>(p.prefetch, 2);
  double weightBytes = 2.0 * double(info.n) * double(info.k);
  int64_t best = 1;
  double bestCost = 0.0;
  for (int64_t split = 1; split <= 16; ++split) {
    if (split > 1 && info.k / split < minLength)
      break;
    int64_t grid = blocks * split;
    double efficiency =
        grid <= slots
            ? std::min(1.0, double(grid) / double(numSMs))
            : double(grid) / double(llvm::divideCeil(grid, slots) * slots);
    double partialBytes = split > 1 ? 2.0 * 4.0 * double(split) *
                                          double(info.n) * double(p.tokens)
                                    : 0.0;
    double cost = weightBytes / efficiency + 0.5 * partialBytes;
    if (split == 1 || cost < bestCost) {
      best = split;
      bestCost = cost;
    }
  }
  return best;
}

/// The parts of a plan that follow from its ring, tiles and split: the
/// stages whose W goes out before the wait, the staged tile's stride, the
/// tensor-core sums' groups and whether the epilogue runs in the kernel.
void finishPlan(WgmmaPlan &p, const LinearInfo &info, const EmitContext &ctx) {
  p.earlyStages = !p.tma ? 0
                  : ctx.options.wgmmaEarlyStages >= 0
                      ? std::min(ctx.options.wgmmaEarlyStages, p.prefetch)
                      : std::min(p.prefetch, p.stages - 2);
  // The staged tile reuses the ring once its copies and wgmmas are done.
  p.tileStride = p.blockRows + kTilePad;
  if (p.tensorSums)
    p.sumGroupsPerWarp =
        llvm::divideCeil(p.tokens / 16, p.threads / infer::kWarpSize);
  p.fused = ctx.options.wgmmaClusterReduce &&
            (p.kSplit == 1 ||
             (p.blocksPerSM > 1 && p.tma && p.kSplit <= kMaxClusterBlocks)) &&
            p.tokens * p.tileStride * 4 <= p.stages * p.stageBytes;
  // A pair of blocks shares x (one token tile) or W (token tiles of a row
  // block, an even count); its box halves are whole 8-row swizzle groups.
  // Not with the K splits' cluster (grid y) nor cp.async. Not the default:
  // slower on every shape measured on the H100 (B=128 9.69 -> 9.81-9.90 ms,
  // docs/performance.md, session 15): the kernels are bound by the bytes
  // in flight, which multicast does not raise, not by L2's bandwidth.
  p.multicast = WgmmaPlan::Multicast::None;
  if (ctx.options.wgmmaMulticast && p.tma && !(p.fused && p.kSplit > 1) &&
      p.gridX % 2 == 0) {
    if (p.tokenTiles == 1 && p.tokens % 16 == 0)
      p.multicast = WgmmaPlan::Multicast::Tokens;
    else if (p.tokenTiles % 2 == 0 && p.outRows % 16 == 0 && !p.gridSums)
      p.multicast = WgmmaPlan::Multicast::Weights;
  }
  // 16-byte units of whole row blocks (gated: the up columns at N/2 too).
  p.serialReduce =
      !p.fused && p.kSplit > 1 && ctx.options.wgmmaSerialReduce && !info.rms &&
      info.n % (2 * kEpilogueRows) == 0 && info.outColumns() % p.outRows == 0 &&
      4 * p.kSplit * p.tokens * p.blockRows <= kMaxSerialReduceBytes;
}

/// Stages of the weights-on-N ring (one block per SM).
constexpr int64_t kMaxStagesOnN = 16;
/// The grid's sums of x^2: the stage at which a block sums its tokens
/// (loaded after the wait), and how many stages before the end it fetches
/// its tile's.
constexpr int64_t kSumsStage = 4;
constexpr int64_t kFetchAhead = 8;
/// Published words per 16-byte cp.async (t0 is a multiple of 64).
constexpr int64_t kWordsPerCopy = 4;

/// `wgmma-weights-on-n`: blocks of 64 tokens per warpgroup (at most 2) and
/// ceil(N / (SMs / token tiles)) W rows (multiple of 8, 16 gated; shapes
/// needing more than 256, the MMA's largest N, keep W on M), one per SM, no
/// K split, a ring as deep as fits.
std::optional<WgmmaPlan> planWeightsOnN(const LinearInfo &info,
                                        int64_t maxTokens,
                                        const EmitContext &ctx) {
  const KernelTarget &target = ctx.target;
  if (!ctx.options.wgmmaWeightsOnN || ctx.options.wgmmaCpAsync || info.norm ||
      info.k > 8192 || info.k % kWgmmaKTile != 0)
    return std::nullopt;
  const int64_t bucket = std::max<int64_t>(maxTokens, 8);
  // Where it is the default (-1): silu_mul's gate/up at 16 and at 128 or
  // more tokens, measured on the H100 against the W-as-M plans
  // (docs/performance.md, session 10): 28672x4096 at 16 / 128 tokens 86.1 /
  // 96.2 -> 84.6 / 93.5 us, decode B=16 -0.02, B=128 -0.14 ms. At 64
  // tokens its kernels are faster alone (gate/up 88.5 -> 87.3 us, qkv with
  // 128-column stages 27.3 -> 25.2) but the step is 0.24 ms slower (not
  // explained; with half the shared memory per block, 0.78 ms slower). It
  // loses on 4096-row shapes (32-row tiles), and with the sums of x^2 per
  // stage on qkv at 128 tokens; with the grid's sums (session 13) that qkv
  // takes it. At 256 tokens (two token tiles) it wins wherever it applies
  // (qkv and o; B=129 / 192 / 256 -0.3 / -0.4 / -0.47 ms, session 12).
  // (The RMS-scaled linears from 128 tokens take it where they get the
  // grid's sums, below.)
  const bool measuredFaster =
      bucket >= 256 || (info.gated && (bucket <= 16 || bucket >= 128));
  WgmmaPlan p;
  p.weightsOnN = true;
  p.tma = true;
  p.waitGroups = ctx.options.wgmmaWaitGroups;
  const int64_t bucketTile = std::min(bucket, kMaxTokenTile);
  p.warpgroups = std::min<int64_t>(2, llvm::divideCeil(bucketTile, 64));
  p.tokens = kWarpgroupRows * p.warpgroups;
  p.tokenTiles = llvm::divideCeil(bucketTile, p.tokens);
  p.threads = p.warpgroups * kWarpgroupThreads;
  const int64_t align = info.gated ? 16 : 8;
  // One wave: the row tile (the MMA's N) is at most 256. Where the token
  // tiles' blocks of one wave would need more, each token tile gets a wave
  // (gate_up at 256 tokens: 224-row tiles, 2 x 128 blocks).
  auto rowsOver = [&](int64_t blocks) {
    return int64_t(llvm::alignTo(llvm::divideCeil(info.n, blocks), align));
  };
  int64_t rows = rowsOver(std::max<int64_t>(1, target.numSMs / p.tokenTiles));
  if (rows > 256 && p.tokenTiles > 1)
    rows = rowsOver(target.numSMs);
  if (rows > 256)
    return std::nullopt;
  p.blockRows = rows;
  p.outRows = info.gated ? p.blockRows / 2 : p.blockRows;
  p.gridX = llvm::divideCeil(info.outColumns(), p.outRows) * p.tokenTiles;
  // The grid's sums of x^2 from 128 tokens, where the fused epilogue
  // reads them and a block's share takes at most 8 16-byte loads per
  // thread. Session 13 (H100): qkv + RMS at 128 / 256 tokens 30.6 / 36.9 ->
  // 28.1 / 30.6 us, gate_up + silu at 256 125.7 -> 107.1 (cuBLAS without
  // RMS 106.9); decode B=129 / 192 / 256 -0.6 / -0.7 / -0.7 ms, B=65-128
  // -0.08 to +0.13 (B=96). At 16 tokens the kernel is no faster and the
  // step 0.025 ms slower.
  int64_t gridSums = info.rms && ctx.options.wgmmaClusterReduce && bucket >= 128
                         ? ctx.options.wgmmaGridSums
                         : 0;
  p.sumsPublishers = std::min(p.gridX, target.numSMs);
  p.sumsTokensPerBlock =
      llvm::divideCeil(p.tokens * p.tokenTiles, p.sumsPublishers);
  p.sumsLoadsPerToken = llvm::divideCeil(info.k / kChunkElements, p.threads);
  if (gridSums == 1 && p.sumsTokensPerBlock * p.sumsLoadsPerToken > 8)
    gridSums = 0;
  if (!gridSums && ctx.options.wgmmaWeightsOnN < 0 && !measuredFaster)
    return std::nullopt;
  p.subTile = p.blockRows;
  p.subTiles = 1;
  // `wgmma-k-tile` columns per stage (two or four TMA boxes beyond 64); by
  // default 128 for an RMS-scaled linear where 4 such stages fit, else 64.
  // With the sums of x^2 per stage, half the stages carry them (qkv at 64
  // tokens 31.9 -> 25.1 us); with the grid's sums, half the stage barriers
  // (qkv at 128 tokens 28.1 -> 26.8 us; gate_up, 2 stages, loses).
  int64_t budget =
      target.maxSharedBytesPerBlock - 4 * kMaxTokenTile - kSwizzleAtomBytes;
  auto stageBytes = [&](int64_t kTile) {
    return (p.blockRows + p.tokens) * kTile * 2;
  };
  const bool wideStages =
      !info.gated && info.rms && budget / stageBytes(2 * kWgmmaKTile) >= 4;
  p.kTile = ctx.options.wgmmaKTile ? ctx.options.wgmmaKTile
            : wideStages           ? 2 * kWgmmaKTile
                                   : kWgmmaKTile;
  if (info.k % p.kTile != 0)
    return std::nullopt;
  p.chunksPerRow = p.kTile / kChunkElements;
  p.rowGroupBytes = kSwizzleAtomBytes;
  p.wBytes = p.blockRows * p.kTile * 2;
  p.xBytes = p.tokens * p.kTile * 2;
  p.stageBytes = stageBytes(p.kTile);
  p.blocksPerSM = 1;
  p.stages = std::min(kMaxStagesOnN, budget / p.stageBytes);
  p.prefetch = p.stages - 1 - p.waitGroups;
  if (p.prefetch < 1)
    return std::nullopt;
  p.kSplit = 1;
  p.splitLength = llvm::alignTo(info.k, p.kTile);
  p.gridSums = gridSums;
  p.tensorSums = info.rms && !gridSums;
  finishPlan(p, info, ctx);
  // The grid's sums are read by the fused epilogue.
  if (p.gridSums && !p.fused)
    return std::nullopt;
  return p;
}

WgmmaPlan planWgmma(const LinearInfo &info, int64_t maxTokens,
                    int64_t requestedSplit, const EmitContext &ctx) {
  const KernelTarget &target = ctx.target;
  if (requestedSplit <= 1)
    if (std::optional<WgmmaPlan> onN = planWeightsOnN(info, maxTokens, ctx))
      return *onN;
  WgmmaPlan p;
  const int64_t bucketTile =
      std::min(std::max<int64_t>(maxTokens, 8), kMaxTokenTile);
  // Two token tiles of one-warpgroup blocks where they fill one wave of
  // SMs, one block each, without a K split (as cuBLAS tiles it): no f32
  // partials and no reduce launch; the tiles of a row block run side by
  // side, so W leaves DRAM once. With 128-column stages (below), at 64 /
  // 128 tokens: o 4096x4096 21.6 / 23.4 -> 16.3 / 16.8 us. Not where row
  // blocks fill the SMs alone, nor for silu_mul's paired rows, nor for long
  // K: down 4096x14336 gains alone (50.7 / 53.3 -> 45.8 / 47.6 us, its
  // reduce launch gone) but loses end to end (B=64 +0.05, B=128 +0.1 ms).
  int64_t twoTileBlocks = 2 * llvm::divideCeil(info.n, kWarpgroupRows);
  bool tokenSplit = !info.gated && bucketTile >= 64 && info.k <= 8192 &&
                    twoTileBlocks <= target.numSMs &&
                    10 * twoTileBlocks >= 9 * target.numSMs;
  int64_t tokenTiles = ctx.options.wgmmaTokenTiles ? ctx.options.wgmmaTokenTiles
                       : tokenSplit                ? 2
                                                   : 1;
  int64_t tile = llvm::alignTo(llvm::divideCeil(bucketTile, tokenTiles), 8);
  p.tokenTiles = llvm::divideCeil(bucketTile, tile);
  // One warpgroup (64-row blocks) where wide token tiles of 128-row blocks
  // would leave SMs without a row block (measured at 128 tokens: qkv 44.7 ->
  // 60.3% of copy, o 44.4 -> 48.4%; gate_up keeps two: 87.6 vs 81.0%).
  bool narrow =
      (tile >= kWideTokens &&
       int64_t(llvm::divideCeil(info.n, 2 * kWarpgroupRows)) < target.numSMs) ||
      p.tokenTiles > 1;
  p.warpgroups = ctx.options.wgmmaWarpgroups ? ctx.options.wgmmaWarpgroups
                 : narrow                    ? 1
                                             : 2;
  p.threads = p.warpgroups * kWarpgroupThreads;
  p.blockRows = p.warpgroups * kWarpgroupRows;
  p.gridX = llvm::divideCeil(info.n, p.blockRows) * p.tokenTiles;
  // One warpgroup covers a wide token tile with N = 128 wgmmas (at 128
  // tokens: down 56.2 -> 53.5 us, qkv 31.4 -> 30.3; two warpgroups lose
  // with it, gate_up 100.8 -> 103.6).
  int64_t subTile = ctx.options.wgmmaNTile ? ctx.options.wgmmaNTile
                    : p.warpgroups == 1 && tile >= kWideTokens ? kWideTokens
                                                               : kSubTile;
  p.subTile = std::min<int64_t>(llvm::alignTo(tile, 8), subTile);
  p.tokens = llvm::alignTo(tile, p.subTile);
  p.subTiles = p.tokens / p.subTile;
  // Two resident blocks when 4 stages each fit (their barriers interleave),
  // or 3 where the row blocks alone fill the SMs (no K split: one block's
  // epilogue then overlaps the other's stream; gate_up + silu_mul at 128
  // tokens 100.8 -> 96.1 us); else one block with as deep a ring as fits.
  // Static shared (the norm's per-token sums) is kept out of the budget.
  // The K tile halves until the ring has 3 stages (one copied ahead) and
  // divides K.
  int64_t budget = target.maxSharedBytesPerBlock - 4 * kMaxTokenTile;
  p.tma = !ctx.options.wgmmaCpAsync;
  p.waitGroups = ctx.options.wgmmaWaitGroups;
  // Tensor-core sums need the swizzled 128-byte rows of TMA and 16-token
  // groups; with a norm weight the prologue rewrites the stage anyway.
  p.tensorSums = info.rms && !info.norm && p.tma && p.tokens % 16 == 0;
  // Token-tiled blocks (one per SM) stream 128 columns per stage: half the
  // stage barriers and waits (o 4096x4096: 64 tokens 18.8 -> 16.3 us, 128
  // tokens 19.2 -> 16.8; other plans lose with them, qkv at 128 tokens 30.1
  // -> 40.1). TMA boxes are one swizzle span (64 bf16) wide, so such a
  // stage takes two; normPass (the norm prologue, CUDA-core sums of x^2)
  // walks a stage as one box.
  p.kTile = ctx.options.wgmmaKTile ? ctx.options.wgmmaKTile
            : p.tokenTiles > 1     ? 2 * kWgmmaKTile
                                   : kWgmmaKTile;
  if (p.tma && (info.norm || (info.rms && !p.tensorSums)))
    p.kTile = kWgmmaKTile;
  budget -= kSwizzleAtomBytes; // alignment of the ring
  // The ring of `blocksPerSM` blocks sharing an SM's shared memory.
  auto sizeRing = [&](int64_t blocksPerSM) {
    p.blocksPerSM = blocksPerSM;
    p.stages = std::min(kMaxStages, budget / blocksPerSM / p.stageBytes);
    p.prefetch = p.stages - 1 - p.waitGroups;
  };
  for (;; p.kTile /= 2) {
    p.chunksPerRow = p.kTile / kChunkElements;
    p.rowGroupBytes =
        p.tma ? kSwizzleAtomBytes : p.chunksPerRow * kCoreMatrixBytes;
    p.wBytes = p.blockRows * p.kTile * 2;
    p.xBytes = p.tokens * p.kTile * 2;
    p.stageBytes = p.wBytes + p.xBytes;
    int64_t pairStages = p.gridX >= target.numSMs ? 3 : 4;
    sizeRing(ctx.options.wgmmaBlocksPerSM
                 ? ctx.options.wgmmaBlocksPerSM
                 : (budget / 2 / p.stageBytes >= pairStages ? 2 : 1));
    if (p.kTile == kWgmmaKTile || (p.stages >= 3 && info.k % p.kTile == 0))
      break;
  }
  p.kSplit = requestedSplit > 1 ? requestedSplit
                                : chooseKSplit(info, p, target.numSMs);
  // When some K split puts one block on (nearly) every SM, that block gets
  // the whole shared memory: a deeper ring keeps more of the weight stream
  // in flight (measured: +3 to +6 points on 4096-row shapes against two
  // blocks and a reduce launch). Alone, two clustered blocks per SM beat it
  // (o 4096x4096 at T = 64: 57.3 vs 53.0%); `wgmma-deep-ring=0` picks them.
  bool clusters =
      !ctx.options.wgmmaDeepRing && ctx.options.wgmmaClusterReduce && p.tma;
  int64_t oneWaveSplit =
      requestedSplit > 1 ? requestedSplit : target.numSMs / p.gridX;
  if (!clusters && !ctx.options.wgmmaBlocksPerSM && p.blocksPerSM == 2 &&
      oneWaveSplit >= 1 && p.gridX * oneWaveSplit <= target.numSMs &&
      10 * p.gridX * oneWaveSplit >= 9 * target.numSMs &&
      info.k / oneWaveSplit >= p.kTile * p.prefetch) {
    sizeRing(1);
    p.kSplit = oneWaveSplit;
  }
  p.splitLength = llvm::alignTo(llvm::divideCeil(info.k, p.kSplit), p.kTile);
  // Blocks that fill an SM alone do not form clusters: co-scheduling them
  // by GPC lost to the reduce launch on the H100 (down 4096x14336: 68.6% vs
  // 78.0% of copy at T = 64, 53.5% vs 70.3% at T = 128; docs/performance.md).
  // The cp.async ring (wgmma-cp-async) with a fused norm gave wrong sums in
  // clusters on the H100 (qkv, T = 16 and 64); it keeps the reduce launch.
  p.outRows = info.gated ? p.blockRows / 2 : p.blockRows;
  finishPlan(p, info, ctx);
  return p;
}

/// Emits the body; `kb` has its parameters and launch already.
class WgmmaEmitter {
public:
  WgmmaEmitter(KernelBuilder &kb, const LinearInfo &info, const WgmmaPlan &p)
      : kb(kb), b(kb.b()), info(info), p(p) {}

  /// `ws` (the split path) or `result` with the epilogue operands' slots
  /// (fused) is null, except that the serial reduce has both; `counters`
  /// carries the grid's sums of x^2 (p.gridSums == 1) or the tiles'
  /// arrivals (p.serialReduce), else null.
  void emit(Value x, Value w, Value xMap, Value wMap, Value gamma, Value ws,
            Value result, std::optional<unsigned> biasSlot,
            std::optional<unsigned> residualSlot, Value numRows,
            Value counters);

private:
  /// Linear copy indices of this thread for `chunks` chunks of a stage.
  SmallVector<std::pair<int64_t, Value>> myChunks(int64_t chunks);
  /// Row (within its tile) and column chunk of the x chunk at byte 16 i of
  /// a stage.
  std::pair<Value, Value> chunkPosition(Value i);
  /// Which copies of a stage issueStage starts: the ring's first stages
  /// copy W before waiting for the previous kernel and x after.
  enum class StageParts { All, Weights, Tokens };
  /// Starts the copies of the stage at columns [k0, k0 + kTile) into
  /// `slot`: W and x by TMA (thread 0; Weights also arms the slot's barrier
  /// with the whole stage's bytes) or by cp.async (All only).
  void issueStage(Value k0, Value slot, StageParts parts = StageParts::All);
  /// Waits until W of the stage in `slot` (the `stage`-th) has landed.
  void waitWeights(Value stage, Value slot);
  /// p.multicast, thread 0: this block no longer reads `slot`; it arrives
  /// on the slot's `empty` barrier in both blocks of the cluster.
  void releaseSlot(Value slot);
  /// p.multicast, thread 0: waits until both blocks have released the slot
  /// that the `stage`-th stage (>= stages) refills.
  void acquireSlot(Value stage, Value slot);
  /// (stage / stages + `phase`) % 2 (i64): the parity of a slot's barrier.
  Value phaseParity(Value stage, int64_t phase);
  /// The shared-window address of `slot`'s empty barrier.
  Value emptyBarrier(Value slot) {
    return kb.elementAddress(emptyBarriers, slot);
  }
  /// Ring offsets (bytes from the aligned start) of the W and x slots.
  Value wSlotBytes(Value slot) { return kb.mul(slot, kb.index(p.wBytes)); }
  Value xSlotBytes(Value slot) {
    return kb.add(kb.index(p.stages * p.wBytes),
                  kb.mul(slot, kb.index(p.xBytes)));
  }
  /// Element index into `ring` of a byte offset from the aligned start.
  Value ringElement(Value bytes) {
    return kb.divIndex(kb.add(alignShift, bytes), kb.index(2));
  }
  /// The norm weight chunk this thread scales in the stage at columns
  /// [k0, k0 + kTile): all of a thread's chunks of a stage share one column
  /// chunk (threads is a multiple of 8 * chunksPerRow).
  Value loadNormWeight(Value k0);
  /// Adds the squares of this thread's x chunks of `slot` to `sumsq` and
  /// returns the sums. With `weight` (loadNormWeight's) it also scales the
  /// chunks by it in place: the norm prologue.
  SmallVector<Value> normPass(Value weight, Value slot, ValueRange sumsq);
  /// p.tensorSums: adds X X^T of the stage in `slot` for this warp's 16-token
  /// groups to `acc` (per group, vector<4xf32> for its tokens 0-7 and 8-15
  /// as the mma's N); the sums of x^2 are the diagonal.
  SmallVector<Value> tensorSumsOfSquares(Value slot, ValueRange acc);
  /// The diagonal of tensorSumsOfSquares's products into `sums`.
  void storeTensorSums(ArrayRef<Value> acc, Value sums);
  /// The wgmma shared-memory descriptor of the operand at `byteOffset` in
  /// the ring.
  Value descriptor(Value byteOffset, bool swizzled);
  /// `desc` moved by `bytes` (a multiple of 16 within the ring).
  Value offsetDescriptor(Value desc, int64_t bytes);
  Value wgmma(Value acc, Value descA, Value descB);
  /// Calls `body(value, row, token)` for each of this thread's accumulator
  /// elements (`acc`: one struct per token sub-tile), with its row within
  /// the block and its token within the token tile.
  void forEachAccumulator(ArrayRef<Value> acc,
                          function_ref<void(Value, Value, Value)> body);
  void storePartials(ArrayRef<Value> acc, Value splitId);
  /// Sums the threads' sums of squares of the tile's tokens into a new
  /// shared buffer of `tokens` f32, which it returns (contains barriers).
  Value blockSumsOfSquares(ArrayRef<Value> sumsq);
  void storeSumsOfSquares(ArrayRef<Value> sumsq, Value splitId);
  // The sums of x^2 of whole tokens (p.gridSums). Token t's sum is the same
  // bits wherever it is taken: thread i adds the squares of its 16-byte
  // chunks i, i + threads, ... of the row in order, the warps reduce by
  // shuffles and thread 0 adds the warps' sums in order; the lowest mantissa
  // bit is then set, so that a published sum is never the zero of a word
  // not yet written.

  /// Loads this thread's chunks of row `token` of x.
  SmallVector<Value> loadTokenChunks(Value token);
  /// This thread's sum of squares of `chunks` (loadTokenChunks's; 0 past K,
  /// or where `valid` is false). Their registers are first read here.
  Value squareChunks(Value valid, ArrayRef<Value> chunks);
  /// Warp-reduces `partial` into slot `slot` x warps + warp of sumsPartials
  /// (no barrier).
  void storeWarpPartial(Value partial, int64_t slot);
  /// Slot `slot`'s warp partials summed in order, as a published word.
  Value sumWord(Value slot);
  /// gridSums == 1: the block's j-th token, b + publishers j, and whether
  /// the block publishes it (b < publishers, token < T).
  Value blockToken(int64_t j);
  Value publishes(int64_t j);
  /// This thread's chunks of the block's tokens.
  SmallVector<Value> loadBlockTokens();
  void squareBlockTokens(ArrayRef<Value> chunks);
  /// Threads j < sumsTokensPerBlock publish their token's word in
  /// counters[token] (after a barrier that follows squareBlockTokens).
  void publishBlockTokens();
  /// Starts cp.async copies of the tile's published words into sumsWords.
  void fetchTileSums();
  /// The tile's sums of x^2 in sumsWords (f32 bits; contains barriers): the
  /// fetched words, and each one still zero (gridSums == 2: every one)
  /// summed by the block itself.
  Value finishTileSums();
  /// gridSums == 1, once per block when it has read its last word: thread 0
  /// counts the block out in counters[T] (the result is read by noteLast,
  /// later, so the atomic's latency is off the block's path).
  void countOut();
  /// Thread 0: whether this block was the last out, into sumsLast.
  void noteLast();
  /// At the block's end: the last block out zeroes counters[0, T] for the
  /// next launch.
  void departSums();
  /// The fused epilogue: stages the tile, sums the cluster's tiles (this
  /// block's 1/kSplit of it) and stores the output.
  void reduceInCluster(ArrayRef<Value> acc, ArrayRef<Value> sumsq,
                       Value splitId);
  /// p.serialReduce, after storePartials: counts the block's arrival in the
  /// tile's `counters` word; the last split to arrive zeroes it and
  /// finishes the tile from the workspace.
  void finishSplits();
  /// Stores the tile's outputs by units (token, kEpilogueRows rows): u =
  /// first, first + step, ... below the valid tokens' units, `unroll` at a
  /// time (straight-line, their loads issued together; past the end a unit
  /// repeats the last one). `rowSums(tokenInTile, rowInTile)` gives the f32
  /// sums of the block's rows [rowInTile, + kEpilogueRows) (gated: the up
  /// rows are rowInTile + outRows), `sumsOfSquares(tokenInTile)` the RMS
  /// scale's (null without one).
  void storeUnits(Value first, Value step, int64_t unroll,
                  function_ref<Value(Value, Value)> rowSums,
                  function_ref<Value(Value)> sumsOfSquares);

  KernelBuilder &kb;
  ImplicitLocOpBuilder &b;
  const LinearInfo &info;
  const WgmmaPlan &p;
  /// W row of row `local` of the block (gated: gate rows, then up rows).
  Value weightRow(Value local);
  /// Whether row `local` of the block exists (its output column < N, or
  /// < N/2 gated).
  Value rowExists(Value local);
  /// The tokens of the tile at t0 that exist: min(T - t0, tokens).
  Value tileTokens() {
    return kb.minIndex(kb.sub(numRows, t0), kb.index(p.tokens));
  }

  Value x, w, xMap, wMap, gamma, ws, result, numRows, t0, counters;
  /// gridSums: shared f32 warp partials (sumsTokensPerBlock x warps), the
  /// tile's words (tokens), whether this block was the last out; thread
  /// 0's count-out atomic's result.
  Value sumsPartials, sumsWords, sumsLast, sumsMissing, countedOut;
  /// p.serialReduce: whether this block arrived last at its tile (shared).
  Value splitLast;
  /// The block's first output column (its first W row unless gated), and
  /// its row block (of blockRows W rows).
  Value blockRow, rowBlock;
  std::optional<unsigned> biasSlot, residualSlot;
  /// The ring: raw bytes, as bf16, its aligned start (a shared-window
  /// address) and that start's distance from the raw start.
  Value ringBytes, ring, ringBase, alignShift;
  Value barriers; ///< one mbarrier per slot (TMA)
  /// p.multicast: one mbarrier per slot (i64 words), both blocks' releases;
  /// this block's rank in the cluster.
  Value emptyBarriers, clusterRank;
  Type accType;
};

SmallVector<std::pair<int64_t, Value>> WgmmaEmitter::myChunks(int64_t chunks) {
  SmallVector<std::pair<int64_t, Value>> result;
  for (int64_t base = 0; base < chunks; base += p.threads)
    result.push_back({base, kb.add(kb.threadId(), kb.index(base))});
  return result;
}

std::pair<Value, Value> WgmmaEmitter::chunkPosition(Value i) {
  if (p.tma) {
    // x by TMA: rows of 128 bytes, chunk c of row r at position c ^ (r % 8).
    Value row = kb.divIndex(i, kb.index(8));
    Value chunk = arith::XOrIOp::create(b, kb.remIndex(i, kb.index(8)),
                                        kb.remIndex(row, kb.index(8)));
    return {row, chunk};
  }
  Value group = kb.divIndex(i, kb.index(p.chunksPerRow * 8));
  Value row = kb.add(kb.mul(group, kb.index(8)), kb.remIndex(i, kb.index(8)));
  Value chunk =
      kb.remIndex(kb.divIndex(i, kb.index(8)), kb.index(p.chunksPerRow));
  return {row, chunk};
}

void WgmmaEmitter::issueStage(Value k0, Value slot, StageParts parts) {
  bool weights = parts != StageParts::Tokens;
  bool tokens = parts != StageParts::Weights;
  if (p.tma) {
    // One thread arms the slot's barrier with the tiles' bytes and starts
    // both copies; rows past the tensors' ends arrive as zeros. (x rows
    // between T and the buffer's end are stale; their columns of the
    // product are never stored.)
    kb.ifThen(
        kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)), [&] {
          if (weights)
            nvgpu::MBarrierArriveExpectTxOp::create(
                b, barriers, kb.index(p.wBytes + p.xBytes), slot,
                /*predicate=*/Value());
          // A shared operand's box: this block's half of its rows, copied
          // to the same offset in both blocks of the cluster.
          auto load = [&](Value map, int64_t rows, Value byteOffset, Value row,
                          Value k, bool shared) {
            Value mask;
            if (shared) {
              rows /= 2;
              Value half = kb.mul(clusterRank, kb.index(rows));
              row = kb.add(row, half);
              byteOffset =
                  kb.add(byteOffset, kb.mul(half, kb.index(kSwizzleBytes)));
              mask = arith::ConstantIntOp::create(b, b.getI16Type(), 0b11);
            }
            auto tileType = MemRefType::get(
                {rows, kWgmmaKTile}, info.inType, MemRefLayoutAttrInterface(),
                gpu::AddressSpaceAttr::get(b.getContext(),
                                           gpu::AddressSpace::Workgroup));
            Value tile = memref::ViewOp::create(b, tileType, ringBytes,
                                                kb.add(alignShift, byteOffset),
                                                ValueRange());
            nvgpu::TmaAsyncLoadOp::create(b, tile, barriers, map,
                                          ValueRange{k, row}, slot, mask,
                                          /*predicate=*/Value());
          };
          const bool sharedW = p.multicast == WgmmaPlan::Multicast::Weights;
          const bool sharedX = p.multicast == WgmmaPlan::Multicast::Tokens;
          // Box j of the stage: columns k0 + 64 j, after box j - 1's rows.
          for (int64_t j = 0; j < p.kTile / kWgmmaKTile; ++j) {
            Value k = kb.add(k0, kb.index(j * kWgmmaKTile));
            Value wBox = kb.add(wSlotBytes(slot),
                                kb.index(j * p.blockRows * kSwizzleBytes));
            if (weights && info.gated) {
              int64_t half = p.blockRows / 2;
              load(wMap, half, wBox, blockRow, k, sharedW);
              load(wMap, half, kb.add(wBox, kb.index(half * kSwizzleBytes)),
                   kb.add(blockRow, kb.index(info.n / 2)), k, sharedW);
            } else if (weights) {
              load(wMap, p.blockRows, wBox, blockRow, k, sharedW);
            }
            if (tokens)
              load(xMap, p.tokens,
                   kb.add(xSlotBytes(slot),
                          kb.index(j * p.tokens * kSwizzleBytes)),
                   t0, k, sharedX);
          }
        });
    return;
  }
  assert(parts == StageParts::All && "cp.async stages are issued whole");
  // cp.async: W chunks, then x chunks (tokens past T are zero-filled: no
  // global read), each thread taking copy indices t, t + threads, ...
  Value full = kb.index(kChunkElements);
  auto copy = [&](Value src, Value row, Value chunk, Value i, Value dstBytes,
                  Value srcElements) {
    Value col = kb.add(k0, kb.mul(chunk, kb.index(kChunkElements)));
    kb.asyncCopy(src, {row, col}, ring,
                 {kb.add(ringElement(dstBytes), kb.mul(i, full))},
                 kChunkElements, srcElements);
  };
  kb.forEachThread(p.blockRows * p.chunksPerRow, [&](Value i) {
    auto [row, chunk] = chunkPosition(i);
    row = weightRow(row);
    if (info.outColumns() % p.outRows != 0)
      row = kb.minIndex(row, kb.index(info.n - 1));
    copy(w, row, chunk, i, wSlotBytes(slot), full);
  });
  Value lastRow = kb.sub(numRows, kb.index(1));
  kb.forEachThread(p.tokens * p.chunksPerRow, [&](Value i) {
    auto [row, chunk] = chunkPosition(i);
    Value token = kb.add(t0, row);
    Value valid = kb.cmp(arith::CmpIPredicate::ult, token, numRows);
    copy(x, kb.minIndex(token, lastRow), chunk, i, xSlotBytes(slot),
         kb.select(valid, full, kb.index(0)));
  });
}

Value WgmmaEmitter::phaseParity(Value stage, int64_t phase) {
  Value uses = kb.add(kb.divIndex(stage, kb.index(p.stages)), kb.index(phase));
  return arith::IndexCastUIOp::create(b, b.getI64Type(),
                                      kb.remIndex(uses, kb.index(2)));
}

void WgmmaEmitter::waitWeights(Value stage, Value slot) {
  if (!p.tma)
    return;
  // The slot's barrier completes a phase per use: parity (stage / S) % 2.
  Value parity =
      arith::TruncIOp::create(b, b.getI1Type(), phaseParity(stage, 0));
  nvgpu::MBarrierTryWaitParityOp::create(b, barriers, parity,
                                         kb.index(10000000), slot);
}

void WgmmaEmitter::releaseSlot(Value slot) {
  for (int64_t rank = 0; rank < 2; ++rank)
    NVVM::MBarrierArriveOp::create(
        b, Type(), kb.sharedPointer(emptyBarrier(slot), kb.index(rank)),
        /*count=*/Value(), NVVM::MemScopeKind::CTA,
        /*relaxed=*/false);
}

void WgmmaEmitter::acquireSlot(Value stage, Value slot) {
  // The release of the slot's use stage - S completed phase stage / S - 1.
  Value parity =
      arith::TruncIOp::create(b, b.getI32Type(), phaseParity(stage, 1));
  // A spin without a suspend-time hint: the NVVM op's hinted wait woke late
  // on the other block's (remote) arrivals (B=128 +5 ms per step, H100).
  kb.waitBarrierPhase(emptyBarrier(slot), parity);
}

Value WgmmaEmitter::loadNormWeight(Value k0) {
  Value chunk = chunkPosition(kb.threadId()).second;
  Value col = kb.add(k0, kb.mul(chunk, kb.index(kChunkElements)));
  // Past K (the stage after a split's last) it reloads the last chunk.
  col = kb.minIndex(col, kb.index(info.k - kChunkElements));
  return kb.loadVector(gamma, col, kChunkElements);
}

SmallVector<Value> WgmmaEmitter::normPass(Value weight, Value slot,
                                          ValueRange sumsq) {
  SmallVector<Value> next(sumsq);
  Value xElements = ringElement(xSlotBytes(slot));
  Value g = weight ? kb.toF32(weight) : Value();
  int64_t xChunks = p.tokens * p.chunksPerRow;
  for (auto [j, chunkAndIndex] : llvm::enumerate(myChunks(xChunks))) {
    int64_t base = chunkAndIndex.first;
    Value i = chunkAndIndex.second;
    size_t sum = j;
    auto scale = [&]() -> SmallVector<Value> {
      Value at = kb.add(xElements, kb.mul(i, kb.index(kChunkElements)));
      Value xv = kb.toF32(kb.loadVector(ring, at, kChunkElements));
      if (g)
        kb.storeVector(kb.fromF32(kb.mul(xv, g), info.inType), ring, at);
      return {
          kb.add(next[sum], kb.reduceVector(kb.mul(xv, xv), ReduceKind::Add))};
    };
    if (base + p.threads <= xChunks) {
      next[sum] = scale().front();
      continue;
    }
    Type f32 = b.getF32Type();
    next[sum] =
        kb.ifThenElse(kb.cmp(arith::CmpIPredicate::ult, i, kb.index(xChunks)),
                      f32, scale,
                      [&]() -> SmallVector<Value> { return {next[sum]}; })
            .front();
  }
  return next;
}

SmallVector<Value> WgmmaEmitter::tensorSumsOfSquares(Value slot,
                                                     ValueRange acc) {
  // Lane 4 g + q holds the m16n8k16 fragments A[g (+8)][2q (+8) ..], which
  // for A = X (16 tokens x 16 columns) are also those of B = X^T for the
  // group's tokens 0-7 (a0, a2) and 8-15 (a1, a3). Rows g and g + 8 share
  // the swizzle g: chunk c of a 128-byte row sits at c ^ g.
  Value lane = kb.laneId();
  Value g = kb.divIndex(lane, kb.index(4));
  Value q = kb.remIndex(lane, kb.index(4));
  int64_t warps = p.threads / infer::kWarpSize;
  int64_t groups = p.tokens / 16;
  Value stage = xSlotBytes(slot);
  SmallVector<Value> next(acc);
  for (int64_t j = 0; j < p.sumGroupsPerWarp; ++j) {
    Value group = kb.add(kb.warpId(), kb.index(j * warps));
    auto sum = [&]() -> SmallVector<Value> {
      Value row = kb.add(kb.mul(group, kb.index(16)), g);
      // Chunk c of the stage's row r: box c / 8, chunk c % 8 of its row.
      auto fragment = [&](Value r, int64_t chunk) {
        Value swizzled = arith::XOrIOp::create(b, kb.index(chunk % 8), g);
        Value box = kb.index(chunk / 8 * p.tokens * kSwizzleBytes);
        Value bytes = kb.add(
            kb.add(kb.add(stage, box), kb.mul(r, kb.index(kSwizzleBytes))),
            kb.add(kb.mul(swizzled, kb.index(16)), kb.mul(q, kb.index(4))));
        return kb.packedRegisters(kb.loadVector(ring, ringElement(bytes), 2))
            .front();
      };
      Value lo = next[2 * j], hi = next[2 * j + 1];
      Value row8 = kb.add(row, kb.index(8));
      for (int64_t kk = 0; kk < p.kTile / kMmaK; ++kk) {
        SmallVector<Value> a{fragment(row, 2 * kk), fragment(row8, 2 * kk),
                             fragment(row, 2 * kk + 1),
                             fragment(row8, 2 * kk + 1)};
        lo = kb.mmaSync(a, {a[0], a[2]}, lo, info.inType);
        hi = kb.mmaSync(a, {a[1], a[3]}, hi, info.inType);
      }
      return {lo, hi};
    };
    SmallVector<Value> sums =
        (j + 1) * warps <= groups
            ? sum()
            : kb.ifThenElse(
                  kb.cmp(arith::CmpIPredicate::ult, group, kb.index(groups)),
                  TypeRange{next[2 * j].getType(), next[2 * j].getType()}, sum,
                  [&]() -> SmallVector<Value> {
                    return {next[2 * j], next[2 * j + 1]};
                  });
    next[2 * j] = sums[0];
    next[2 * j + 1] = sums[1];
  }
  return next;
}

void WgmmaEmitter::storeTensorSums(ArrayRef<Value> acc, Value sums) {
  // C[g (+8)][2q + {0, 1}]: the diagonal of tokens g and 8 + g is in the
  // lanes with g = 2q (elements 0 and 2) or g = 2q + 1 (1 and 3).
  Value lane = kb.laneId();
  Value g = kb.divIndex(lane, kb.index(4));
  Value q = kb.remIndex(lane, kb.index(4));
  Value odd = kb.cmp(arith::CmpIPredicate::eq, kb.remIndex(g, kb.index(2)),
                     kb.index(1));
  Value onDiagonal =
      kb.cmp(arith::CmpIPredicate::eq, kb.divIndex(g, kb.index(2)), q);
  int64_t warps = p.threads / infer::kWarpSize;
  for (int64_t j = 0; j < p.sumGroupsPerWarp; ++j) {
    Value group = kb.add(kb.warpId(), kb.index(j * warps));
    Value owner = arith::AndIOp::create(
        b, onDiagonal,
        kb.cmp(arith::CmpIPredicate::ult, group, kb.index(p.tokens / 16)));
    kb.ifThen(owner, [&] {
      Value token = kb.add(kb.mul(group, kb.index(16)), g);
      auto element = [&](Value v, int64_t i) {
        return vector::ExtractOp::create(b, v, i).getResult();
      };
      kb.store(kb.select(odd, element(acc[2 * j], 1), element(acc[2 * j], 0)),
               sums, token);
      kb.store(kb.select(odd, element(acc[2 * j + 1], 3),
                         element(acc[2 * j + 1], 2)),
               sums, kb.add(token, kb.index(8)));
    });
  }
}

Value WgmmaEmitter::descriptor(Value byteOffset, bool swizzled) {
  // Bits 0-13: address >> 4; 16-29: leading (K) byte offset >> 4; 32-45:
  // stride (M/N) byte offset >> 4; 62-63: swizzle (0: none, 1: 128 bytes).
  // Unswizzled: core matrices 128 bytes apart along K, row groups
  // rowGroupBytes apart. 128B-swizzled K-major: rows of 128 bytes, 8-row
  // groups 1024 bytes apart (the leading offset is unused, 1 by convention).
  const uint64_t strides = swizzled
                               ? (uint64_t(1) << 16) |
                                     (uint64_t(kSwizzleAtomBytes >> 4) << 32) |
                                     (uint64_t(1) << 62)
                               : (uint64_t(kCoreMatrixBytes >> 4) << 16) |
                                     (uint64_t(p.rowGroupBytes >> 4) << 32);
  Value address = kb.add(ringBase, byteOffset);
  Value encoded = arith::ShRUIOp::create(
      b, arith::IndexCastUIOp::create(b, b.getI64Type(), address),
      arith::ConstantIntOp::create(b, b.getI64Type(), 4));
  return arith::OrIOp::create(
      b, encoded, arith::ConstantIntOp::create(b, b.getI64Type(), strides));
}

Value WgmmaEmitter::offsetDescriptor(Value desc, int64_t bytes) {
  if (bytes == 0)
    return desc;
  return arith::AddIOp::create(
      b, desc, arith::ConstantIntOp::create(b, b.getI64Type(), bytes >> 4));
}

Value WgmmaEmitter::wgmma(Value acc, Value descA, Value descB) {
  return NVVM::WgmmaMmaAsyncOp::create(
      b, accType, acc, descA, descB,
      NVVM::MMAShapeAttr::get(b.getContext(), kWarpgroupRows, p.subTile, kMmaK),
      NVVM::WGMMATypes::bf16, NVVM::WGMMATypes::bf16, NVVM::WGMMATypes::f32,
      NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
      NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row, NVVM::MMALayout::col,
      /*satfinite=*/nullptr);
}

void WgmmaEmitter::forEachAccumulator(
    ArrayRef<Value> acc, function_ref<void(Value, Value, Value)> body) {
  // Element e of sub-tile s (warp v of its warpgroup, lane 4 g + q): row
  // 16 v + g + 8 ((e / 2) % 2), token s * subTile + 8 (e / 4) + 2 q + e % 2
  // (weights on N: the other way round).
  Value lane = kb.laneId();
  Value g = kb.divIndex(lane, kb.index(4));
  Value q = kb.remIndex(lane, kb.index(4));
  Value warp = kb.warpId();
  Value rowBase =
      kb.add(kb.mul(kb.divIndex(warp, kb.index(4)), kb.index(kWarpgroupRows)),
             kb.add(kb.mul(kb.remIndex(warp, kb.index(4)), kb.index(16)), g));
  Value tokenBase = kb.mul(q, kb.index(2));
  for (auto [s, sub] : llvm::enumerate(acc))
    for (int64_t e = 0; e < p.subTile / 2; ++e) {
      // The fragment's M index (W row, or weights on N the token) and N.
      Value m = kb.add(rowBase, kb.index(8 * ((e / 2) % 2)));
      Value n = kb.add(tokenBase,
                       kb.index(int64_t(s) * p.subTile + 8 * (e / 4) + e % 2));
      Value v = LLVM::ExtractValueOp::create(b, sub, e);
      if (p.weightsOnN)
        body(v, n, m);
      else
        body(v, m, n);
    }
}

void WgmmaEmitter::storePartials(ArrayRef<Value> acc, Value splitId) {
  Value splitCol = kb.mul(splitId, kb.index(info.n));
  forEachAccumulator(acc, [&](Value v, Value rowInBlock, Value tokenInTile) {
    Value token = kb.add(t0, tokenInTile);
    Value valid = kb.cmp(arith::CmpIPredicate::ult, token, numRows);
    if (info.outColumns() % p.outRows != 0)
      valid = arith::AndIOp::create(b, valid, rowExists(rowInBlock));
    kb.ifThen(valid, [&] {
      kb.store(v, ws, {token, kb.add(splitCol, weightRow(rowInBlock))});
    });
  });
}

Value WgmmaEmitter::weightRow(Value local) {
  if (!info.gated)
    return kb.add(blockRow, local);
  int64_t half = p.blockRows / 2;
  Value up = kb.cmp(arith::CmpIPredicate::uge, local, kb.index(half));
  Value column = kb.add(blockRow, kb.remIndex(local, kb.index(half)));
  return kb.select(up, kb.add(column, kb.index(info.n / 2)), column);
}

Value WgmmaEmitter::rowExists(Value local) {
  Value column = kb.add(
      blockRow,
      info.gated ? kb.remIndex(local, kb.index(p.blockRows / 2)) : local);
  return kb.cmp(arith::CmpIPredicate::ult, column, kb.index(info.outColumns()));
}

Value WgmmaEmitter::blockSumsOfSquares(ArrayRef<Value> sumsq) {
  // The 8 chunks of a token's row are 8 consecutive threads (TMA layout),
  // or threads t + 8 c of one 64-thread group: add lanes 8 apart, then the
  // two warps through shared.
  Value sums = kb.addShared({p.tokens}, b.getF32Type());
  if (p.tensorSums) {
    storeTensorSums(sumsq, sums);
    kb.barrier();
    return sums;
  }
  kb.forEachThread(p.tokens, [&](Value t) { kb.store(kb.f32(0.0), sums, t); });
  kb.barrier();
  int64_t xChunks = p.tokens * p.chunksPerRow;
  for (auto [j, chunkAndIndex] : llvm::enumerate(myChunks(xChunks))) {
    int64_t base = chunkAndIndex.first;
    Value i = chunkAndIndex.second;
    Value v = sumsq[j];
    SmallVector<int64_t> offsets =
        p.tma ? SmallVector<int64_t>{1, 2, 4} : SmallVector<int64_t>{8, 16};
    for (int64_t offset : offsets)
      v = kb.add(v, kb.shuffleXor(v, offset));
    Value leader =
        p.tma ? kb.cmp(arith::CmpIPredicate::eq,
                       kb.remIndex(kb.laneId(), kb.index(8)), kb.index(0))
              : kb.cmp(arith::CmpIPredicate::ult, kb.laneId(), kb.index(8));
    if (base + p.threads > xChunks)
      leader = arith::AndIOp::create(
          b, leader, kb.cmp(arith::CmpIPredicate::ult, i, kb.index(xChunks)));
    kb.ifThen(leader, [&] {
      Value row = chunkPosition(i).first;
      memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf, v, sums,
                                  ValueRange{row});
    });
  }
  kb.barrier();
  return sums;
}

void WgmmaEmitter::storeSumsOfSquares(ArrayRef<Value> sumsq, Value splitId) {
  Value first = kb.cmp(arith::CmpIPredicate::eq, rowBlock, kb.index(0));
  kb.ifThen(first, [&] {
    Value sums = blockSumsOfSquares(sumsq);
    kb.forEachThread(p.tokens, [&](Value t) {
      Value token = kb.add(t0, t);
      kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, token, numRows), [&] {
        kb.store(kb.load(sums, t), ws,
                 {token, kb.add(kb.index(p.kSplit * info.n), splitId)});
      });
    });
  });
}

SmallVector<Value> WgmmaEmitter::loadTokenChunks(Value token) {
  // Unconditional loads (rows and chunks past the ends clamped): the
  // squares mask them where the registers are first read.
  const int64_t chunks = info.k / kChunkElements;
  Value row = kb.minIndex(token, kb.sub(numRows, kb.index(1)));
  SmallVector<Value> result;
  for (int64_t m = 0; m < p.sumsLoadsPerToken; ++m) {
    Value chunk = kb.minIndex(kb.add(kb.threadId(), kb.index(m * p.threads)),
                              kb.index(chunks - 1));
    result.push_back(kb.loadVector(
        x, {row, kb.mul(chunk, kb.index(kChunkElements))}, kChunkElements));
  }
  return result;
}

Value WgmmaEmitter::squareChunks(Value valid, ArrayRef<Value> chunks) {
  const int64_t chunks16 = info.k / kChunkElements;
  Value sum = kb.f32(0.0);
  for (auto [m, chunk] : llvm::enumerate(chunks)) {
    Value present = valid;
    if ((int64_t(m) + 1) * p.threads > chunks16)
      present = arith::AndIOp::create(
          b, present,
          kb.cmp(arith::CmpIPredicate::ult,
                 kb.add(kb.threadId(), kb.index(int64_t(m) * p.threads)),
                 kb.index(chunks16)));
    Value v = kb.toF32(kb.opaque(chunk));
    Value square = kb.reduceVector(kb.mul(v, v), ReduceKind::Add);
    sum = kb.add(sum, kb.select(present, square, kb.f32(0.0)));
  }
  return sum;
}

void WgmmaEmitter::storeWarpPartial(Value partial, int64_t slot) {
  const int64_t warps = p.threads / infer::kWarpSize;
  Value sum = kb.warpReduce(partial, ReduceKind::Add);
  kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.laneId(), kb.index(0)), [&] {
    kb.store(sum, sumsPartials, kb.add(kb.index(slot * warps), kb.warpId()));
  });
}

Value WgmmaEmitter::sumWord(Value slot) {
  const int64_t warps = p.threads / infer::kWarpSize;
  Value base = kb.mul(slot, kb.index(warps));
  Value sum = kb.load(sumsPartials, base);
  for (int64_t w = 1; w < warps; ++w)
    sum = kb.add(sum, kb.load(sumsPartials, kb.add(base, kb.index(w))));
  Value bits = arith::BitcastOp::create(b, b.getI32Type(), sum);
  return arith::OrIOp::create(b, bits, kb.i32(1));
}

Value WgmmaEmitter::blockToken(int64_t j) {
  return kb.add(kb.blockId(), kb.index(j * p.sumsPublishers));
}

Value WgmmaEmitter::publishes(int64_t j) {
  return arith::AndIOp::create(
      b,
      kb.cmp(arith::CmpIPredicate::ult, kb.blockId(),
             kb.index(p.sumsPublishers)),
      kb.cmp(arith::CmpIPredicate::ult, blockToken(j), numRows));
}

SmallVector<Value> WgmmaEmitter::loadBlockTokens() {
  SmallVector<Value> chunks;
  for (int64_t j = 0; j < p.sumsTokensPerBlock; ++j)
    llvm::append_range(chunks, loadTokenChunks(blockToken(j)));
  return chunks;
}

void WgmmaEmitter::squareBlockTokens(ArrayRef<Value> chunks) {
  for (int64_t j = 0; j < p.sumsTokensPerBlock; ++j)
    storeWarpPartial(
        squareChunks(publishes(j), chunks.slice(j * p.sumsLoadsPerToken,
                                                p.sumsLoadsPerToken)),
        j);
}

void WgmmaEmitter::publishBlockTokens() {
  for (int64_t j = 0; j < p.sumsTokensPerBlock; ++j)
    kb.ifThen(arith::AndIOp::create(
                  b,
                  kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(j)),
                  publishes(j)),
              [&] {
                // membar.gl: the word is visible before the block counts
                // out (a release, here where its latency is hidden).
                kb.store(sumWord(kb.index(j)), counters, blockToken(j));
                kb.fenceGpu();
              });
}

void WgmmaEmitter::fetchTileSums() {
  // 16-byte copies at L2 (cp.async.cg): a word is written once per launch.
  kb.forEachThread(p.tokens / kWordsPerCopy, [&](Value group) {
    Value first = kb.add(t0, kb.mul(group, kb.index(kWordsPerCopy)));
    Value left = kb.sub(kb.maxIndex(numRows, first), first);
    kb.asyncCopy(counters, first, sumsWords,
                 kb.mul(group, kb.index(kWordsPerCopy)), kWordsPerCopy,
                 kb.minIndex(left, kb.index(kWordsPerCopy)));
  });
  kb.asyncCommit({});
}

Value WgmmaEmitter::finishTileSums() {
  Value validTokens = tileTokens();
  if (p.gridSums == 1) {
    // Each copying thread checks its own words (visible to it after the
    // wait).
    kb.asyncWait(kb.asyncCommit({}), 0);
    kb.forEachThread(p.tokens / kWordsPerCopy, [&](Value group) {
      for (int64_t w = 0; w < kWordsPerCopy; ++w) {
        Value t = kb.add(kb.mul(group, kb.index(kWordsPerCopy)), kb.index(w));
        Value missing = arith::AndIOp::create(
            b, kb.cmp(arith::CmpIPredicate::ult, t, validTokens),
            kb.cmp(arith::CmpIPredicate::eq, kb.toIndex(kb.load(sumsWords, t)),
                   kb.index(0)));
        kb.ifThen(missing,
                  [&] { kb.store(kb.i32(1), sumsMissing, kb.index(0)); });
      }
    });
  } else {
    kb.forEachThread(p.tokens,
                     [&](Value t) { kb.store(kb.i32(0), sumsWords, t); });
    kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)),
              [&] { kb.store(kb.i32(1), sumsMissing, kb.index(0)); });
  }
  kb.barrier();
  if (p.gridSums == 1)
    countOut();
  // Each token whose word is still zero, by the whole block (uniform: the
  // words are read after a barrier).
  Value anyMissing =
      kb.cmp(arith::CmpIPredicate::ne,
             kb.toIndex(kb.load(sumsMissing, kb.index(0))), kb.index(0));
  kb.ifThen(anyMissing, [&] {
    kb.forLoop(kb.index(0), validTokens, kb.index(1), [&](Value t) {
      Value missing = kb.cmp(arith::CmpIPredicate::eq,
                             kb.toIndex(kb.load(sumsWords, t)), kb.index(0));
      kb.ifThen(missing, [&] {
        Value token = kb.add(t0, t);
        storeWarpPartial(
            squareChunks(kb.cmp(arith::CmpIPredicate::ult, token, numRows),
                         loadTokenChunks(token)),
            0);
        kb.barrier();
        kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)),
                  [&] { kb.store(sumWord(kb.index(0)), sumsWords, t); });
        kb.barrier();
      });
    });
  });
  return sumsWords;
}

void WgmmaEmitter::countOut() {
  // The block's published words were fenced when published.
  Type i32 = b.getI32Type();
  countedOut =
      kb.ifThenElse(
            kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)), i32,
            [&]() -> SmallVector<Value> {
              return {kb.atomicAdd(counters, numRows, kb.i32(1))};
            },
            [&]() -> SmallVector<Value> { return {kb.i32(0)}; })
          .front();
}

void WgmmaEmitter::noteLast() {
  kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)), [&] {
    Value last =
        kb.cmp(arith::CmpIPredicate::eq, kb.toIndex(kb.opaque(countedOut)),
               kb.index(p.gridX * p.kSplit - 1));
    // membar.gl: an acquire before the zeroing.
    kb.ifThen(last, [&] { kb.fenceGpu(); });
    kb.store(kb.select(last, kb.i32(1), kb.i32(0)), sumsLast, kb.index(0));
  });
}

void WgmmaEmitter::departSums() {
  kb.barrier();
  kb.ifThen(kb.cmp(arith::CmpIPredicate::ne,
                   kb.toIndex(kb.load(sumsLast, kb.index(0))), kb.index(0)),
            [&] {
              kb.forLoop(kb.threadId(), kb.add(numRows, kb.index(1)),
                         kb.index(p.threads), [&](Value word) {
                           kb.store(kb.i32(0), counters, word);
                         });
            });
}

void WgmmaEmitter::storeUnits(Value first, Value step, int64_t unroll,
                              function_ref<Value(Value, Value)> rowSums,
                              function_ref<Value(Value)> sumsOfSquares) {
  int64_t quads = p.outRows / kEpilogueRows;
  int64_t columns = info.outColumns();
  assert((unroll == 1 ||
          (columns % p.outRows == 0 && columns % kEpilogueRows == 0)) &&
         "unrolled units are whole");
  Value units = kb.mul(tileTokens(), kb.index(quads));
  Value lastUnit = kb.sub(units, kb.index(1));
  // Unit u: token u / quads of the tile, output columns [n, n + 4) from
  // rows kEpilogueRows * (u % quads); its f32 sums and RMS scale.
  struct Unit {
    Value token, n, sum, up, rms;
  };
  auto unitAt = [&](Value u) {
    Value tokenInTile = kb.divIndex(u, kb.index(quads));
    Value rowInTile =
        kb.mul(kb.remIndex(u, kb.index(quads)), kb.index(kEpilogueRows));
    Unit unit;
    unit.token = kb.add(t0, tokenInTile);
    unit.n = kb.add(blockRow, rowInTile);
    unit.sum = rowSums(tokenInTile, rowInTile);
    // Gated: the up rows are the block's second half.
    if (info.gated)
      unit.up = rowSums(tokenInTile, kb.add(rowInTile, kb.index(p.outRows)));
    if (sumsOfSquares)
      unit.rms = rmsScale(kb, info, sumsOfSquares(tokenInTile));
    return unit;
  };
  // The output value of `sum` (and `up`) at `column` of the unit's token.
  auto valueOf = [&](const Unit &unit, Value sum, Value up, Value column) {
    return info.gated ? gatedOutputValue(kb, info, sum, up, unit.rms,
                                         unit.token, column, biasSlot)
                      : outputValue(kb, info, sum, unit.rms, unit.token, column,
                                    biasSlot, residualSlot);
  };
  auto storeUnit = [&](Value u) {
    Unit unit = unitAt(u);
    // Vector accesses need whole, aligned groups of 4 columns.
    if (columns % kEpilogueRows == 0) {
      storeOutputValue(kb, valueOf(unit, unit.sum, unit.up, unit.n), result,
                       unit.token, unit.n);
      return;
    }
    auto element = [&](Value v, int64_t j) -> Value {
      return v ? vector::ExtractOp::create(b, v, j).getResult() : v;
    };
    for (int64_t j = 0; j < kEpilogueRows; ++j) {
      Value column = kb.add(unit.n, kb.index(j));
      kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, column, kb.index(columns)),
                [&] {
                  storeOutputValue(kb,
                                   valueOf(unit, element(unit.sum, j),
                                           element(unit.up, j), column),
                                   result, unit.token, column);
                });
    }
  };
  kb.forLoop(first, units, kb.mul(step, kb.index(unroll)), [&](Value u) {
    if (unroll == 1) {
      Value n = kb.add(blockRow, kb.mul(kb.remIndex(u, kb.index(quads)),
                                        kb.index(kEpilogueRows)));
      if (columns % p.outRows == 0)
        storeUnit(u);
      else
        kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, n, kb.index(columns)),
                  [&] { storeUnit(u); });
      return;
    }
    // Every unit's loads and math, then every store.
    SmallVector<std::pair<Unit, Value>> values;
    for (int64_t j = 0; j < unroll; ++j) {
      Unit unit =
          unitAt(kb.minIndex(kb.add(u, kb.mul(step, kb.index(j))), lastUnit));
      values.push_back({unit, valueOf(unit, unit.sum, unit.up, unit.n)});
    }
    for (auto &[unit, value] : values)
      storeOutputValue(kb, value, result, unit.token, unit.n);
  });
}

void WgmmaEmitter::finishSplits() {
  // Every thread's partials are performed at GPU scope before the count.
  kb.fenceGpu();
  kb.barrier();
  Value word = kb.add(
      kb.mul(kb.divIndex(t0, kb.index(p.tokens)), kb.index(p.rowBlocks())),
      rowBlock);
  kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)), [&] {
    Value arrived = kb.atomicAdd(counters, word, kb.i32(1));
    Value last = kb.cmp(arith::CmpIPredicate::eq, kb.toIndex(arrived),
                        kb.index(p.kSplit - 1));
    kb.ifThen(last, [&] {
      // Zero for the next launch; membar.gl: an acquire of the others'.
      kb.store(kb.i32(0), counters, word);
      kb.fenceGpu();
    });
    kb.store(kb.select(last, kb.i32(1), kb.i32(0)), splitLast, kb.index(0));
  });
  kb.barrier();
  Value last = kb.cmp(arith::CmpIPredicate::ne,
                      kb.toIndex(kb.load(splitLast, kb.index(0))), kb.index(0));
  kb.ifThen(last, [&] {
    // Rows [rowInTile, + 4) of every split's partial, in split order.
    auto partialSum = [&](Value tokenInTile, Value rowInTile) {
      Value token = kb.add(t0, tokenInTile);
      Value column = weightRow(rowInTile);
      Value sum;
      for (int64_t s = 0; s < p.kSplit; ++s) {
        Value v = kb.loadVector(
            ws, {token, kb.add(kb.index(s * info.n), column)}, kEpilogueRows);
        sum = s == 0 ? v : kb.add(sum, v);
      }
      return sum;
    };
    storeUnits(kb.threadId(), kb.index(p.threads), kSerialReduceUnroll,
               partialSum, nullptr);
  });
  // splitLast is rewritten for the next token tile.
  kb.barrier();
}

void WgmmaEmitter::reduceInCluster(ArrayRef<Value> acc, ArrayRef<Value> sumsq,
                                   Value splitId) {
  Value sums = !info.rms    ? Value()
               : p.gridSums ? finishTileSums()
                            : blockSumsOfSquares(sumsq);
  // Stage the f32 tile token-major (token t's rows at t * tileStride) in the
  // ring, whose copies have landed and whose wgmmas are done.
  Type f32 = b.getF32Type();
  Value tile = memref::ViewOp::create(
      b,
      MemRefType::get({p.tokens * p.tileStride}, f32,
                      MemRefLayoutAttrInterface(),
                      cast<MemRefType>(ringBytes.getType()).getMemorySpace()),
      ringBytes, alignShift, ValueRange());
  forEachAccumulator(acc, [&](Value v, Value row, Value token) {
    kb.store(v, tile, kb.add(kb.mul(token, kb.index(p.tileStride)), row));
  });
  const bool cluster = p.kSplit > 1;
  if (cluster)
    kb.clusterBarrier();
  else
    kb.barrier();

  // Block `splitId` of the cluster finishes units (token, 4 rows) u =
  // splitId * threads + tid, + kSplit * threads, ... of the valid tokens:
  // 16-byte reads of every block's tile (mapa + ld.shared::cluster) summed
  // in split order, as linear_reduce does, then the epilogue.
  Value sumsAddress =
      sums ? memref::ExtractAlignedPointerAsIndexOp::create(b, sums).getResult()
           : Value();
  SmallVector<Value> tiles, peerSums;
  for (int64_t s = 0; s < p.kSplit; ++s) {
    Value rank = cluster ? kb.index(s) : Value();
    tiles.push_back(kb.sharedPointer(ringBase, rank));
    if (sums)
      peerSums.push_back(kb.sharedPointer(sumsAddress, rank));
  }
  auto vectorType = VectorType::get({kEpilogueRows}, f32);
  // The tile's rows [rowInTile, + 4), summed over the cluster.
  auto tileSum = [&](Value tokenInTile, Value rowInTile) {
    Value offset =
        kb.mul(kb.add(kb.mul(tokenInTile, kb.index(p.tileStride)), rowInTile),
               kb.index(4));
    Value sum;
    for (int64_t s = 0; s < p.kSplit; ++s) {
      Value v = kb.loadPointer(tiles[s], offset, vectorType, kEpilogueRows * 4);
      sum = s == 0 ? v : kb.add(sum, v);
    }
    return sum;
  };
  auto tileSumsOfSquares = [&](Value tokenInTile) {
    Value at = kb.mul(tokenInTile, kb.index(4)), sumsq;
    for (int64_t s = 0; s < p.kSplit; ++s) {
      Value v = kb.loadPointer(peerSums[s], at, f32, 4);
      sumsq = s == 0 ? v : kb.add(sumsq, v);
    }
    return sumsq;
  };
  storeUnits(kb.add(kb.mul(splitId, kb.index(p.threads)), kb.threadId()),
             kb.index(p.kSplit * p.threads), /*unroll=*/1, tileSum,
             sums ? function_ref<Value(Value)>(tileSumsOfSquares) : nullptr);
  // No block may exit, or start the next token tile's copies into its ring,
  // while the cluster still reads it; the tile's generic writes are ordered
  // before those (async-proxy) copies.
  NVVM::FenceProxyOp::create(
      b, NVVM::ProxyKind::async_shared,
      NVVM::SharedSpaceAttr::get(b.getContext(),
                                 NVVM::SharedSpace::shared_cta));
  if (cluster)
    kb.clusterBarrier();
  else
    kb.barrier();
  if (p.gridSums == 1)
    noteLast();
}

void WgmmaEmitter::emit(Value xArg, Value wArg, Value xMapArg, Value wMapArg,
                        Value gammaArg, Value wsArg, Value resultArg,
                        std::optional<unsigned> bias,
                        std::optional<unsigned> residual, Value rows,
                        Value countersArg) {
  x = xArg, w = wArg, xMap = xMapArg, wMap = wMapArg, gamma = gammaArg,
  ws = wsArg, result = resultArg, biasSlot = bias, residualSlot = residual,
  numRows = rows, counters = countersArg;
  accType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(p.subTile / 2, b.getF32Type()));
  int64_t totalBytes = p.stages * p.stageBytes + kSwizzleAtomBytes;
  ringBytes = kb.addDynamicShared({totalBytes}, b.getI8Type());
  ring = memref::ViewOp::create(
      b,
      MemRefType::get({totalBytes / 2}, info.inType,
                      MemRefLayoutAttrInterface(),
                      cast<MemRefType>(ringBytes.getType()).getMemorySpace()),
      ringBytes, kb.index(0), ValueRange());
  Value rawBase = memref::ExtractAlignedPointerAsIndexOp::create(b, ringBytes);
  alignShift =
      kb.remIndex(kb.sub(kb.index(kSwizzleAtomBytes),
                         kb.remIndex(rawBase, kb.index(kSwizzleAtomBytes))),
                  kb.index(kSwizzleAtomBytes));
  ringBase = kb.add(rawBase, alignShift);
  const bool multicast = p.multicast != WgmmaPlan::Multicast::None;
  Value leader = kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0));
  if (p.tma) {
    barriers = nvgpu::MBarrierCreateOp::create(
        b, nvgpu::MBarrierGroupType::get(
               b.getContext(),
               gpu::AddressSpaceAttr::get(b.getContext(),
                                          gpu::AddressSpace::Workgroup),
               p.stages));
    if (multicast) {
      emptyBarriers = kb.addShared({p.stages}, b.getI64Type());
      clusterRank = kb.remIndex(kb.blockId(), kb.index(2));
    }
    kb.ifThen(leader, [&] {
      for (int64_t s = 0; s < p.stages; ++s)
        nvgpu::MBarrierInitOp::create(b, barriers, kb.index(1), kb.index(s),
                                      /*predicate=*/Value());
      if (!multicast)
        return;
      // A slot's release: one arrival from each block of the cluster.
      for (int64_t s = 0; s < p.stages; ++s)
        NVVM::MBarrierInitOp::create(
            b, kb.sharedPointer(emptyBarrier(kb.index(s))), kb.i32(2),
            /*predicate=*/Value());
      NVVM::FenceMbarrierInitOp::create(b);
    });
    // The other block copies into this one's ring and arrives on its
    // barriers once both are initialized.
    if (multicast)
      kb.clusterBarrier();
    else
      kb.barrier();
  }
  // The token tiles of a row block are consecutive blocks (grid x), so its
  // W rows are read from DRAM once and from L2 by the others.
  rowBlock = kb.divIndex(kb.blockId(), kb.index(p.tokenTiles));
  Value tokenTile = kb.remIndex(kb.blockId(), kb.index(p.tokenTiles));
  blockRow = kb.mul(rowBlock, kb.index(p.outRows));
  Value splitId = kb.blockId(gpu::Dimension::y);
  Value kStart = kb.mul(splitId, kb.index(p.splitLength));
  Value kEnd =
      kb.minIndex(kb.add(kStart, kb.index(p.splitLength)), kb.index(info.k));
  Value numStages = kb.ceilDivIndex(kb.sub(kb.maxIndex(kEnd, kStart), kStart),
                                    kb.index(p.kTile));
  Value warpgroup = kb.divIndex(kb.threadId(), kb.index(kWarpgroupThreads));
  Value aBase =
      kb.mul(warpgroup, kb.index(kWarpgroupRows / 8 * p.rowGroupBytes));
  int64_t normSums =
      !info.rms || p.gridSums ? 0
      : p.tensorSums          ? 2 * p.sumGroupsPerWarp
                     : llvm::divideCeil(p.tokens * p.chunksPerRow, p.threads);

  if (p.gridSums) {
    sumsPartials =
        kb.addShared({p.sumsTokensPerBlock * (p.threads / infer::kWarpSize)},
                     b.getF32Type());
    sumsWords = kb.addShared({p.tokens}, b.getI32Type());
    sumsLast = kb.addShared({1}, b.getI32Type());
    // Set by finishTileSums where a word is missing (the stage loop's
    // barriers order this before).
    sumsMissing = kb.addShared({1}, b.getI32Type());
    kb.ifThen(kb.cmp(arith::CmpIPredicate::eq, kb.threadId(), kb.index(0)),
              [&] { kb.store(kb.i32(0), sumsMissing, kb.index(0)); });
  }
  if (p.serialReduce)
    splitLast = kb.addShared({1}, b.getI32Type());
  Value firstTile = kb.mul(tokenTile, kb.index(p.tokens));
  // With W shared, a block whose token tile is empty (T at most the other
  // tile's) still streams its half of W for the other block, and stores
  // nothing.
  const bool sharedW = p.multicast == WgmmaPlan::Multicast::Weights;
  Value tilesEnd =
      sharedW ? kb.maxIndex(numRows, kb.add(firstTile, kb.index(1))) : numRows;
  kb.forLoop(
      firstTile, tilesEnd, kb.index(p.tokens * p.tokenTiles), [&](Value tile) {
        t0 = tile;
        auto stageColumn = [&](Value s) {
          return kb.add(kStart, kb.mul(s, kb.index(p.kTile)));
        };
        // The W of the first `earlyStages` stages (TMA) is copied before
        // the wait for the previous kernel, so that it streams during that
        // kernel's tail; x, its result, after.
        Value group;
        auto issueFirst = [&](int64_t s, StageParts parts) {
          kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, kb.index(s), numStages),
                    [&] {
                      issueStage(stageColumn(kb.index(s)), kb.index(s), parts);
                    });
        };
        for (int64_t s = 0; s < p.earlyStages; ++s)
          issueFirst(s, StageParts::Weights);
        kb.waitForDependencies();
        // The block's tokens for the grid's sums of x^2: loaded after the
        // wait, summed a few stages later (their latency off the stages'
        // path); the tile's words are fetched a few stages before the end.
        SmallVector<Value> blockChunks;
        Value sumsStage, fetchStage;
        if (p.gridSums == 1) {
          sumsStage =
              kb.minIndex(kb.index(kSumsStage), kb.sub(numStages, kb.index(1)));
          fetchStage =
              kb.maxIndex(kb.sub(kb.maxIndex(numStages, kb.index(kFetchAhead)),
                                 kb.index(kFetchAhead)),
                          kb.add(sumsStage, kb.index(2)));
          blockChunks = loadBlockTokens();
        }
        for (int64_t s = 0; s < p.prefetch; ++s) {
          issueFirst(s,
                     s < p.earlyStages ? StageParts::Tokens : StageParts::All);
          if (!p.tma)
            group = kb.asyncCommit({});
        }

        SmallVector<Value> init;
        for (int64_t s = 0; s < p.subTiles; ++s)
          init.push_back(LLVM::ZeroOp::create(b, accType));
        for (int64_t j = 0; j < normSums; ++j)
          init.push_back(
              p.tensorSums
                  ? kb.floatConst(VectorType::get({4}, b.getF32Type()), 0.0)
                  : kb.f32(0.0));
        // The norm weight of a stage is loaded one stage ahead: from L2 its
        // latency would sit between the stage's arrival and its wgmma.
        if (info.norm)
          init.push_back(loadNormWeight(kStart));
        SmallVector<Value> state = kb.forLoop(
            kb.index(0), numStages, kb.index(1), init,
            [&](Value i, ValueRange carried) -> SmallVector<Value> {
              SmallVector<Value> acc(carried.take_front(p.subTiles));
              SmallVector<Value> sumsq(carried.slice(p.subTiles, normSums));
              SmallVector<Value> nextGamma;
              if (info.norm)
                nextGamma.push_back(
                    loadNormWeight(stageColumn(kb.add(i, kb.index(1)))));
              Value slot = kb.remIndex(i, kb.index(p.stages));
              if (p.tma)
                waitWeights(i, slot);
              else
                kb.asyncWait(group, p.prefetch - 1);
              if (info.norm)
                sumsq = normPass(carried.back(), slot, sumsq);
              // Shared memory written by threads (cp.async, the norm) is made
              // visible to the tensor cores' async proxy.
              if (!p.tma || info.norm)
                NVVM::FenceProxyOp::create(
                    b, NVVM::ProxyKind::async_shared,
                    NVVM::SharedSpaceAttr::get(b.getContext(),
                                               NVVM::SharedSpace::shared_cta));
              kb.barrier();
              // Stage i + prefetch refills the slot of stage i - 1 - wait
              // groups, whose wgmmas are done. With a shared operand, this
              // block releases the slot at once, and waits for the other's
              // release after issuing stage i's wgmmas.
              Value ahead = kb.add(i, kb.index(p.prefetch));
              auto refills = [&] {
                return arith::AndIOp::create(b, leader,
                                             kb.cmp(arith::CmpIPredicate::uge,
                                                    ahead, kb.index(p.stages)));
              };
              auto issueAhead = [&] {
                kb.ifThen(
                    kb.cmp(arith::CmpIPredicate::ult, ahead, numStages), [&] {
                      Value aheadSlot = kb.remIndex(ahead, kb.index(p.stages));
                      if (multicast)
                        kb.ifThen(refills(),
                                  [&] { acquireSlot(ahead, aheadSlot); });
                      issueStage(stageColumn(ahead), aheadSlot);
                    });
              };
              if (multicast)
                kb.ifThen(
                    arith::AndIOp::create(
                        b, kb.cmp(arith::CmpIPredicate::ult, ahead, numStages),
                        refills()),
                    [&] {
                      releaseSlot(kb.remIndex(ahead, kb.index(p.stages)));
                    });
              else
                issueAhead();
              if (!p.tma)
                kb.asyncCommit({});

              // Descriptors of this slot's operands; the k16 steps and token
              // sub-tiles are constant offsets of their address fields.
              // A: this warpgroup's 64 W rows (or, weights on N, its 64
              // tokens); B: the token tile (or the block's W rows).
              Value aSlot = p.weightsOnN ? xSlotBytes(slot) : wSlotBytes(slot);
              Value bSlot = p.weightsOnN ? wSlotBytes(slot) : xSlotBytes(slot);
              Value aDesc = descriptor(kb.add(aSlot, aBase), p.tma);
              Value bDesc = descriptor(bSlot, p.tma);
              const int64_t aBoxRows = p.weightsOnN ? p.tokens : p.blockRows;
              const int64_t bBoxRows = p.weightsOnN ? p.blockRows : p.tokens;
              NVVM::WgmmaFenceAlignedOp::create(b);
              for (int64_t s = 0; s < p.subTiles; ++s) {
                auto issue = [&]() -> SmallVector<Value> {
                  Value d = acc[s];
                  for (int64_t kk = 0; kk < p.kTile / kMmaK; ++kk) {
                    // A k16 step is 32 bytes of a swizzled row (4 per box,
                    // boxes one after the other), or 2 core matrices (both
                    // operands have the same layout).
                    int64_t box = kk * kMmaK / kWgmmaKTile;
                    int64_t inBox = kk * kMmaK % kWgmmaKTile * 2;
                    int64_t kBytes = kk * 2 * kCoreMatrixBytes;
                    int64_t aBytes =
                        p.tma ? box * aBoxRows * kSwizzleBytes + inBox : kBytes;
                    int64_t bBytes =
                        s * (p.subTile / 8) * p.rowGroupBytes +
                        (p.tma ? box * bBoxRows * kSwizzleBytes + inBox
                               : kBytes);
                    d = wgmma(d, offsetDescriptor(aDesc, aBytes),
                              offsetDescriptor(bDesc, bBytes));
                  }
                  return {d};
                };
                // Sub-tiles past the step's tokens are skipped (uniform
                // branch).
                acc[s] = s == 0
                             ? issue().front()
                             : kb.ifThenElse(
                                     kb.cmp(arith::CmpIPredicate::ult,
                                            kb.add(t0, kb.index(s * p.subTile)),
                                            numRows),
                                     accType, issue,
                                     [&]() -> SmallVector<Value> {
                                       return {acc[s]};
                                     })
                                   .front();
              }
              NVVM::WgmmaGroupSyncAlignedOp::create(b);
              if (multicast)
                issueAhead();
              // Without a norm weight the stage is only read: its sums of
              // squares overlap the tensor cores (the slot is refilled after
              // the barrier of stage i + 1 at the earliest).
              if (info.rms && !info.norm && !p.gridSums)
                sumsq = p.tensorSums ? tensorSumsOfSquares(slot, sumsq)
                                     : normPass(Value(), slot, sumsq);
              if (p.gridSums == 1) {
                auto at = [&](Value stage) {
                  return kb.cmp(arith::CmpIPredicate::eq, i, stage);
                };
                kb.ifThen(at(sumsStage),
                          [&] { squareBlockTokens(blockChunks); });
                kb.ifThen(at(kb.add(sumsStage, kb.index(1))),
                          [&] { publishBlockTokens(); });
                kb.ifThen(at(fetchStage), [&] { fetchTileSums(); });
              }
              NVVM::WgmmaWaitGroupSyncOp::create(b, p.waitGroups);
              SmallVector<Value> next(acc);
              next.append(sumsq);
              next.append(nextGamma);
              return next;
            });
        NVVM::WgmmaWaitGroupSyncOp::create(b, 0);
        // No copy may target the ring once the next token tile starts.
        if (!p.tma)
          kb.asyncWait(kb.asyncCommit({}), 0);
        kb.barrier();
        // Short loops publish and fetch after the last stage.
        if (p.gridSums == 1) {
          auto past = [&](Value stage) {
            return kb.cmp(arith::CmpIPredicate::uge, stage, numStages);
          };
          kb.ifThen(past(kb.add(sumsStage, kb.index(1))),
                    [&] { publishBlockTokens(); });
          kb.ifThen(past(fetchStage), [&] { fetchTileSums(); });
        }
        ArrayRef<Value> results(state);
        ArrayRef<Value> sums = results.slice(p.subTiles, normSums);
        auto epilogue = [&] {
          if (p.fused) {
            reduceInCluster(results.take_front(p.subTiles), sums, splitId);
            return;
          }
          storePartials(results.take_front(p.subTiles), splitId);
          if (info.rms)
            storeSumsOfSquares(sums, splitId);
          if (p.serialReduce)
            finishSplits();
        };
        if (sharedW)
          kb.ifThen(kb.cmp(arith::CmpIPredicate::ult, t0, numRows), epilogue);
        else
          epilogue();
      });
  if (p.gridSums != 1)
    return;
  // A block without a token tile still publishes its tokens.
  kb.ifThen(kb.cmp(arith::CmpIPredicate::uge, firstTile, numRows), [&] {
    kb.waitForDependencies();
    squareBlockTokens(loadBlockTokens());
    kb.barrier();
    publishBlockTokens();
    kb.barrier();
    countOut();
    noteLast();
  });
  departSums();
}

} // namespace

void infer::linear::emitWgmma(decode::LinearOp op, EmitContext &ctx,
                              const LinearInfo &info, int64_t maxTokens,
                              int64_t requestedSplit,
                              SmallVectorImpl<KernelLaunch> &out) {
  WgmmaPlan plan = planWgmma(info, maxTokens, requestedSplit, ctx);
  // linear_wgmma (split path) writes partials for linear_reduce;
  // linear_wgmma_split's last split finishes each tile from them;
  // linear_wgmma_cluster reduces its K splits in a cluster and
  // linear_wgmma_direct (no split) applies the epilogue itself.
  KernelBuilder kb(ctx, op,
                   plan.serialReduce ? "linear_wgmma_split"
                   : !plan.fused     ? "linear_wgmma"
                   : plan.kSplit > 1 ? "linear_wgmma_cluster"
                                     : "linear_wgmma_direct",
                   maxTokens);
  // With TMA the kernel reads x and W only through their tensor maps.
  unsigned xSlot = kb.addOperand(0);
  std::optional<unsigned> wSlot;
  if (!plan.tma)
    wSlot = kb.addOperand(1);
  std::optional<unsigned> biasSlot, residualSlot, normSlot;
  const bool epilogue = plan.fused || plan.serialReduce;
  if (epilogue && info.bias)
    biasSlot = kb.addOperand(*info.bias);
  if (epilogue && info.residual)
    residualSlot = kb.addOperand(*info.residual);
  if (info.norm)
    normSlot = kb.addOperand(*info.norm);
  std::optional<unsigned> xMapSlot, wMapSlot;
  if (plan.tma) {
    xMapSlot = kb.addTensorMap(0, plan.xBoxRows(), kWgmmaKTile);
    wMapSlot = kb.addTensorMap(1, plan.wBoxRows(), kWgmmaKTile);
  }
  std::optional<unsigned> outSlot, wsSlot, countersSlot;
  if (plan.fused) {
    outSlot = kb.addResult(0);
    // The grid's sums of x^2 (words [0, T)) and the blocks out (word T).
    if (plan.gridSums == 1)
      countersSlot = kb.addCounters(2);
  } else {
    // The serial reduce's partials have no sums column (no RMS scale), so
    // that every row is 16-byte aligned.
    MemRefType wsType =
        plan.serialReduce
            ? MemRefType::get({kDynamicExtentBound, plan.kSplit * info.n},
                              kb.b().getF32Type())
            : splitWorkspaceType(info, plan.kSplit, kb.b());
    wsSlot = kb.addWorkspace(wsType, 0, 4 * wsType.getDimSize(1));
    if (plan.serialReduce) {
      outSlot = kb.addResult(0);
      // One arrival count per tile: token tile t, row block r at word
      // t * rowBlocks + r (fewer than T * rowBlocks).
      countersSlot = kb.addCounters(plan.rowBlocks());
    }
  }
  unsigned rowsSlot = kb.addScalar(info.rows);
  kb.deferDependencyWait();
  kb.create({plan.threads, 1, 1}, {{plan.gridX, GridExtent::Scale::One},
                                   {plan.kSplit, GridExtent::Scale::One}});
  kb.setMinBlocksPerSM(plan.blocksPerSM);
  // The K splits of a row block (grid y) form one cluster; the grid's y is
  // the cluster's.
  if (plan.fused && plan.kSplit > 1)
    kb.setClusterDims({1, plan.kSplit, 1});
  // Blocks 2c and 2c + 1 share x or W.
  if (plan.multicast != WgmmaPlan::Multicast::None)
    kb.setClusterDims({2, 1, 1});
  // The descriptors travel as pointers to the runtime's CUtensorMaps.
  auto tensorMap = [&](std::optional<unsigned> slot, int64_t rows) -> Value {
    if (!slot)
      return Value();
    MLIRContext *context = kb.b().getContext();
    auto mapType = nvgpu::TensorMapDescriptorType::get(
        context,
        MemRefType::get(
            {rows, kWgmmaKTile}, info.inType, MemRefLayoutAttrInterface(),
            gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup)),
        nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
        nvgpu::TensorMapL2PromoKind::L2PROMO_256B,
        nvgpu::TensorMapOOBKind::OOB_ZERO,
        nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
    return UnrealizedConversionCastOp::create(kb.b(), mapType, kb.param(*slot))
        .getResult(0);
  };
  WgmmaEmitter(kb, info, plan)
      .emit(kb.param(xSlot), wSlot ? kb.param(*wSlot) : Value(),
            tensorMap(xMapSlot, plan.xBoxRows()),
            tensorMap(wMapSlot, plan.wBoxRows()),
            normSlot ? kb.param(*normSlot) : Value(),
            wsSlot ? kb.param(*wsSlot) : Value(),
            outSlot ? kb.param(*outSlot) : Value(), biasSlot, residualSlot,
            kb.scalarIndex(rowsSlot),
            countersSlot ? kb.param(*countersSlot) : Value());
  out.push_back(kb.finish());
  if (!epilogue)
    emitSplitReduce(op, ctx, info, maxTokens, plan.kSplit, out);
}

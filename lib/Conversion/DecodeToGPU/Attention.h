//===- Attention.h - decode.paged_attention kernels (internal) --*- C++ -*-===//
//
// Shared by Attention.cpp (the CUDA-core kernel, the split bookkeeping and
// the merge) and AttentionMma.cpp (the tensor-core kernel).
//
//===----------------------------------------------------------------------===//

#ifndef INFER_LIB_CONVERSION_DECODETOGPU_ATTENTION_H
#define INFER_LIB_CONVERSION_DECODETOGPU_ATTENTION_H

#include "KernelBuilder.h"

#include <optional>

namespace infer::attention {

/// Static facts of one op and the lane layout derived from them.
struct AttentionPlan {
  int64_t numHeads, kvHeads, group, headDim, blockSize;
  mlir::Type elementType;        ///< of the cache and the query
  bool mma;                      ///< tensor-core kernel (`kernel = mma`)
  double scaleLog2;              ///< softmax scale times log2(e)
  std::optional<int64_t> window; ///< sliding window (keys)
  int64_t maxSplits;             ///< split_kv
  /// Warps per block (`attention-warps`); they share one item's keys.
  int64_t warps = 4;
  /// Splitting stops once the blocks (items * kv_heads * splits) reach this
  /// many warps per SM (`attention-split-warps-per-sm`).
  int64_t splitWarpsPerSM = 8;
  /// L2 prefetch size of the mma kernel's K/V loads
  /// (`attention-l2-prefetch`; 0: none).
  int64_t l2Prefetch = 256;
  /// 16-token K/V chunks per warp in flight through a shared-memory ring
  /// (`attention-stages`, mma kernel; 0: the next chunk in registers).
  int64_t stages = 0;
  bool perSequence;       ///< decode steps: one query per sequence
  int64_t vec;            ///< elements per 16-byte access
  int64_t lanesPerToken;  ///< lanes reading one K/V row
  int64_t tokensPerStep;  ///< tokens one warp-wide access covers
  int64_t stepsPerPage;   ///< accesses per lane per page (K or V)
  int64_t stepsPerUpdate; ///< accesses between softmax updates
  int64_t entryStride() const { return headDim + 4; }
  int64_t workspaceBytesPerItem() const {
    return 4 * numHeads * maxSplits * entryStride();
  }
};

/// The buffers and scalars both kernels read.
struct AttentionParams {
  unsigned query = 0, cache = 0, blockTables = 0, contextLens = 0,
           queryStart = 0, result = 0, workspace = 0, counters = 0, tokens = 0,
           seqs = 0, tableWidth = 0, layer = 0;
};

/// Where one item's keys lie and how many splits it uses. Keys below
/// `earlierKeys` were appended by earlier steps: within a step only the
/// sequence's own new positions [context_len - query rows, context_len) are
/// written (by rope_append), so those keys may be read before the wait for
/// the previous kernel.
struct QueryRange {
  mlir::Value seq, token, kvBegin, kvEnd, numSplits, earlierKeys;
};

/// Online-softmax state of one lane, flattened into loop-carried values: per
/// query head (row) it owns, the running max `m` and sum `l`, then its
/// accumulators `acc` (the CUDA-core kernel: one vector per head; the mma
/// kernel: one C fragment per 8-dim tile).
struct SoftmaxState {
  llvm::SmallVector<mlir::Value> m, l, acc;

  llvm::SmallVector<mlir::Value> flatten() const {
    llvm::SmallVector<mlir::Value> all(m);
    llvm::append_range(all, l);
    llvm::append_range(all, acc);
    return all;
  }
  /// The inverse of flatten() for `rows` heads.
  static SoftmaxState unflatten(mlir::ValueRange all, int64_t rows) {
    SoftmaxState s;
    s.m.assign(all.begin(), all.begin() + rows);
    s.l.assign(all.begin() + rows, all.begin() + 2 * rows);
    s.acc.assign(all.begin() + 2 * rows, all.end());
    return s;
  }
};

/// -inf as an f32 constant.
mlir::Value negInf(KernelBuilder &kb);
/// `m` unless it is -inf (nothing seen yet), then 0.
mlir::Value safeMax(KernelBuilder &kb, mlir::Value m);
/// Blocks of one kv head the split dimension may use in a step.
int64_t splitBudget(const AttentionPlan &plan, int64_t numSMs);
/// Declares the kernel's parameters, in ABI order.
AttentionParams declareParams(KernelBuilder &kb, const AttentionPlan &plan);
/// Grid (splits, kv heads, items) for a split budget (null: one split).
std::array<GridExtent, 3> attentionGrid(const AttentionPlan &plan,
                                        std::optional<int64_t> budget);
/// Locates item blockIdx.z: its sequence, query row, key range and splits.
QueryRange emitQueryRange(KernelBuilder &kb, const AttentionPlan &plan,
                          const AttentionParams &p, int64_t numSMs);
/// Pages [begin, end) of the item's keys that split `split` covers.
std::pair<mlir::Value, mlir::Value> splitPages(KernelBuilder &kb,
                                               const AttentionPlan &plan,
                                               const QueryRange &r,
                                               mlir::Value split);

/// What both kernels start with: their parameters, the warps' combine
/// buffers and the block's place in the grid.
struct AttentionBlock {
  AttentionParams params;
  mlir::Value sharedO;       ///< [warp][head][dim] f32: each warp's o
  mlir::Value sharedML;      ///< [warp][head][2] f32: each warp's m, l
  mlir::Value split, kvHead; ///< blockIdx.x, blockIdx.y
  QueryRange range;          ///< of item blockIdx.z
};
/// Declares the parameters, creates the kernel (4 warps over the split grid;
/// `blocksPerSM` > 0 caps its registers) and emits the block's start.
AttentionBlock beginAttentionKernel(KernelBuilder &kb,
                                    const AttentionPlan &plan, int64_t numSMs,
                                    int64_t blocksPerSM = 0);
/// Combines the warps' (o, m, l) from the block's shared buffers and writes
/// the output, or the split's partial, and then lets the item's last split
/// merge. Contains barriers.
void emitBlockCombine(KernelBuilder &kb, const AttentionPlan &plan,
                      const AttentionBlock &block);

/// The tensor-core kernel (AttentionMma.cpp); `blocksPerSM` caps its
/// registers (0: no cap).
mlir::LogicalResult emitMmaAttentionKernel(KernelBuilder &kb,
                                           const AttentionPlan &plan,
                                           int64_t numSMs, int64_t blocksPerSM);

} // namespace infer::attention

#endif // INFER_LIB_CONVERSION_DECODETOGPU_ATTENTION_H

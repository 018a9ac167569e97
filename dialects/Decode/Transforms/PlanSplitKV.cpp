//===- PlanSplitKV.cpp - choose flash-decoding splits ---------------------===//
//
// At batch 1 attention launches one thread block per KV head, far fewer than
// the SMs; splitting the keys over `split_kv` blocks fills the GPU.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_PLANSPLITKVPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

constexpr int64_t kMaxSplit = 64;

struct PlanSplitKVPass : decode::impl::PlanSplitKVPassBase<PlanSplitKVPass> {
  using Base::Base;

  void runOnOperation() override {
    if (numSms <= 0 || minChunk <= 0) {
      getOperation().emitError()
          << "decode-plan-split-kv: num-sms and min-chunk must be positive";
      return signalPassFailure();
    }
    Builder b(&getContext());
    getOperation().walk([&](PagedAttentionOp op) {
      // Batch 1: one thread block per KV head; aim at two waves.
      int64_t kvHeads = op.getCache().getType().getKvHeads();
      int64_t split = llvm::bit_floor(
          static_cast<uint64_t>(llvm::divideCeil(2 * numSms, kvHeads)));
      // A sliding window bounds the keys, whatever the context.
      if (std::optional<uint64_t> window = op.getSlidingWindow())
        split = std::min<int64_t>(
            split, llvm::divideCeil(static_cast<int64_t>(*window), minChunk));
      split = std::clamp<int64_t>(split, 1, kMaxSplit);
      op.setSplitKvAttr(b.getI64IntegerAttr(split));
    });
  }
};

} // namespace

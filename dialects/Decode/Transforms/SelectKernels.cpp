//===- SelectKernels.cpp - choose linear kernels per token bucket ---------===//
//
// Few tokens: a GEMV streaming W once, split along K when its row blocks
// alone cannot fill the SMs. Many tokens: a tensor-core kernel (wgmma on
// sm_90a when K allows it, mma.sync otherwise). Attention: the tensor-core
// kernel wherever its shapes fit and GQA gives it more than one M row.
//
//===----------------------------------------------------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/MathExtras.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_SELECTKERNELSPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

constexpr int64_t kGemvRowsPerBlock = 8;
constexpr int64_t kMinColumnsPerSplit = 512;
/// The wgmma kernel's K stage.
constexpr int64_t kWgmmaKTile = 64;

/// Smallest power-of-two K split that fills `numSms` with GEMV blocks while
/// dividing K into chunks of at least 512 columns; 1 when none does.
int64_t chooseKSplit(int64_t n, int64_t k, int64_t numSms) {
  if (ShapedType::isDynamic(n) || ShapedType::isDynamic(k))
    return 1;
  int64_t rowBlocks = llvm::divideCeil(n, kGemvRowsPerBlock);
  for (int64_t split = 1; k % split == 0 && k / split >= kMinColumnsPerSplit;
       split *= 2)
    if (rowBlocks * split >= numSms)
      return split;
  return 1;
}

struct SelectKernelsPass
    : decode::impl::SelectKernelsPassBase<SelectKernelsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<int64_t> sizes(buckets.begin(), buckets.end());
    if (sizes.empty())
      sizes = {1, 4, 16, 64, 128, 256};
    llvm::sort(sizes);
    sizes.erase(llvm::unique(sizes), sizes.end());
    if (sizes.front() <= 0 || numSms <= 0 || gemvMaxTokens < -1) {
      getOperation().emitError()
          << "decode-select-kernels: buckets and num-sms must be positive "
             "and gemv-max-tokens -1 or more";
      return signalPassFailure();
    }

    MLIRContext *ctx = &getContext();
    getOperation().walk([&](LinearOp op) {
      RankedTensorType weight = op.getWeight().getType();
      int64_t kSplit =
          chooseKSplit(weight.getDimSize(0), weight.getDimSize(1), numSms);
      int64_t k = weight.getDimSize(1);
      KernelKind tensorCores =
          wgmma && !ShapedType::isDynamic(k) && k % kWgmmaKTile == 0
              ? KernelKind::Wgmma
              : KernelKind::Mma;
      // Measured on the H100 (docs/performance.md): wgmma beats the 4-token
      // GEMV (decode B=4 6.83 -> 5.73 ms), mma.sync only from 8 tokens.
      const int64_t maxGemvTokens =
          gemvMaxTokens >= 0 ? gemvMaxTokens
                             : (tensorCores == KernelKind::Wgmma ? 1 : 4);
      SmallVector<Attribute> variants;
      for (int64_t maxTokens : sizes) {
        bool gemv = maxTokens <= maxGemvTokens;
        variants.push_back(KernelVariantAttr::get(
            ctx, maxTokens, gemv ? KernelKind::Gemv : tensorCores,
            gemv ? kSplit : 1));
      }
      op.setVariantsAttr(ArrayAttr::get(ctx, variants));
    });
    getOperation().walk([&](PagedAttentionOp op) {
      if (op.getKernelAttr())
        return; // Chosen by hand.
      int64_t group = op.getNumHeads() / op.getCache().getType().getKvHeads();
      bool mma = attentionMma && group >= 2 && supportsMmaAttention(op);
      op.setKernelAttr(AttentionKernelAttr::get(
          ctx, mma ? AttentionKernel::Mma : AttentionKernel::Simt));
    });
  }
};

} // namespace

//===- Pipelines.h - infer pass pipelines -----------------------*- C++ -*-===//
//
// `infer-decode-to-cuda-pipeline`: decode step IR -> kernels in a
// `gpu.binary` (cubin, PTX or a fatbin with both) plus the launch plan.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_PIPELINES_PIPELINES_H
#define INFER_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

#include <string>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace infer {

struct DecodeToCUDAPipelineOptions
    : public mlir::PassPipelineOptions<DecodeToCUDAPipelineOptions> {
  Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("CUDA architecture of the kernels (sm_90a: tensor-core "
                     "buckets use wgmma; sm_90: mma.sync)"),
      llvm::cl::init("sm_90a")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit with ptxas, fatbinary and libdevice "
                     "(default: INFER_CUDA_ROOT from CMake)"),
      llvm::cl::init("")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu-module-to-binary format: bin (cubin), isa (PTX), "
                     "fatbin (cubin and PTX)"),
      llvm::cl::init("fatbin")};
  Option<int64_t> numSMs{*this, "num-sms",
                         llvm::cl::desc("Streaming multiprocessors"),
                         llvm::cl::init(132)};
  Option<int64_t> gemvRowsPerWarp{
      *this, "gemv-rows-per-warp",
      llvm::cl::desc("Output rows per warp of the GEMV kernels (0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> gemvUnroll{
      *this, "gemv-unroll",
      llvm::cl::desc("16-byte weight loads in flight per row in the GEMV "
                     "(0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> attentionBlocksPerSM{
      *this, "attention-blocks-per-sm",
      llvm::cl::desc("Resident blocks per SM of the tensor-core attention "
                     "kernel (0: no register cap)"),
      llvm::cl::init(0)};
  Option<int64_t> attentionWarps{
      *this, "attention-warps",
      llvm::cl::desc("Warps per attention block (1, 2 or 4)"),
      llvm::cl::init(4)};
  Option<int64_t> attentionL2Prefetch{
      *this, "attention-l2-prefetch",
      llvm::cl::desc("L2 prefetch size of the attention K/V loads (64, 128, "
                     "256 bytes; 0: none)"),
      llvm::cl::init(256)};
  Option<int64_t> attentionStages{
      *this, "attention-stages",
      llvm::cl::desc("Shared-memory ring depth of the attention kernel for "
                     "large steps (2 to 4; 0: none)"),
      llvm::cl::init(3)};
  Option<int64_t> attentionRingMinTokens{
      *this, "attention-ring-min-tokens",
      llvm::cl::desc("Steps of at least this many tokens run the ring "
                     "attention kernel (1: every step)"),
      llvm::cl::init(65)};
  Option<int64_t> attentionRingMaxTokens{
      *this, "attention-ring-max-tokens",
      llvm::cl::desc("Steps of more than this many tokens run the registers "
                     "attention kernel again (0: no bound)"),
      llvm::cl::init(128)};
  Option<int64_t> attentionSplitWarpsPerSM{
      *this, "attention-split-warps-per-sm",
      llvm::cl::desc("Warps per SM the attention splits of a step may fill"),
      llvm::cl::init(8)};
  Option<int64_t> gemvEarlySlabs{
      *this, "gemv-early-slabs",
      llvm::cl::desc("GEMV weight slabs loaded before x is staged"),
      llvm::cl::init(8)};
  Option<int64_t> wgmmaEarlyStages{
      *this, "wgmma-early-stages",
      llvm::cl::desc("wgmma ring stages whose W is copied before the wait "
                     "for the previous kernel (-1: all copied ahead)"),
      llvm::cl::init(-1)};
  Option<int64_t> wgmmaWaitGroups{
      *this, "wgmma-wait-groups",
      llvm::cl::desc("wgmma groups a stage leaves in flight (0 or 1; 0 "
                     "copies one stage further ahead)"),
      llvm::cl::init(1)};
  Option<int64_t> wgmmaKTile{
      *this, "wgmma-k-tile",
      llvm::cl::desc("K columns per stage of the wgmma linear (0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> wgmmaWarpgroups{
      *this, "wgmma-warpgroups",
      llvm::cl::desc("Warpgroups per block of the wgmma linear (0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> wgmmaNTile{
      *this, "wgmma-n-tile",
      llvm::cl::desc("Largest wgmma N of the linear (0: 64)"),
      llvm::cl::init(0)};
  Option<bool> wgmmaDeepRing{
      *this, "wgmma-deep-ring",
      llvm::cl::desc("One deep-ring wgmma block per SM where a K split fills "
                     "one wave (else two clustered blocks)"),
      llvm::cl::init(true)};
  Option<int64_t> wgmmaBlocksPerSM{
      *this, "wgmma-blocks-per-sm",
      llvm::cl::desc("Blocks per SM the wgmma linear is sized for (0: auto)"),
      llvm::cl::init(0)};
  Option<bool> wgmmaCpAsync{
      *this, "wgmma-cp-async",
      llvm::cl::desc("wgmma linear: weights by cp.async, not TMA"),
      llvm::cl::init(false)};
  Option<bool> wgmmaSerialReduce{
      *this, "wgmma-serial-reduce",
      llvm::cl::desc("wgmma linear: the last K split of a tile finishes it "
                     "(0: reduce launch)"),
      llvm::cl::init(true)};
  Option<bool> wgmmaClusterReduce{
      *this, "wgmma-cluster-reduce",
      llvm::cl::desc("wgmma linear: reduce K splits in a thread-block "
                     "cluster, epilogue in the kernel (0: reduce launch)"),
      llvm::cl::init(true)};
  Option<int64_t> wgmmaTokenTiles{
      *this, "wgmma-token-tiles",
      llvm::cl::desc("Token tiles of the wgmma linear's grid (0: auto)"),
      llvm::cl::init(0)};
  Option<int64_t> wgmmaWeightsOnN{
      *this, "wgmma-weights-on-n",
      llvm::cl::desc("wgmma linear: tokens as M, weight rows as N, one wave "
                     "(1: wherever it applies, 0: nowhere, -1: where "
                     "measured faster)"),
      llvm::cl::init(-1)};
  Option<int64_t> wgmmaGridSums{
      *this, "wgmma-grid-sums",
      llvm::cl::desc("wgmma linear, weights on N: RMS sums of x^2 once per "
                     "token by the grid (1), by every block for its tile (2, "
                     "a test), per stage (0)"),
      llvm::cl::init(1)};
  Option<bool> wgmmaMulticast{
      *this, "wgmma-multicast",
      llvm::cl::desc("wgmma linear: clusters of two blocks sharing x or W, "
                     "each copying half of it by TMA multicast"),
      llvm::cl::init(false)};
  Option<bool> programmaticLaunch{
      *this, "programmatic-launch",
      llvm::cl::desc("Kernels wait for the previous grid and allow "
                     "programmatic dependent launch"),
      llvm::cl::init(true)};
  Option<bool> timeline{
      *this, "timeline",
      llvm::cl::desc("Kernels record their start and end times "
                     "(%globaltimer) for infer-run --timeline"),
      llvm::cl::init(false)};
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("LLVM optimization level"),
                            llvm::cl::init(3)};
  Option<bool> optimize{
      *this, "optimize",
      llvm::cl::desc("Run decode-optimize first when it is registered"),
      llvm::cl::init(true)};
  Option<bool> foldNormWeights{
      *this, "fold-norm-weights",
      llvm::cl::desc("decode-optimize: move RMSNorm weights into the linear "
                     "weights' columns"),
      llvm::cl::init(true)};
  Option<bool> fuseSiluMul{
      *this, "fuse-silu-mul",
      llvm::cl::desc("decode-optimize: fuse silu_mul into the gate/up linear"),
      llvm::cl::init(true)};
  Option<int64_t> gemvMaxTokens{
      *this, "gemv-max-tokens",
      llvm::cl::desc("decode-optimize: largest token bucket that uses the "
                     "GEMV (larger ones use tensor cores; -1: 1 with wgmma, "
                     "else 4)"),
      llvm::cl::init(-1)};
};

/// Appends the decode -> CUDA binary passes to `pm` (anchored on
/// builtin.module).
void buildDecodeToCUDAPipeline(mlir::OpPassManager &pm,
                               const DecodeToCUDAPipelineOptions &options);

/// Registers `infer-decode-to-cuda-pipeline`.
void registerPipelines();

} // namespace infer

#endif // INFER_PIPELINES_PIPELINES_H

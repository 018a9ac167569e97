//===- Passes.td - infer conversion passes -----------------*- tablegen -*-===//

#ifndef INFER_CONVERSION_PASSES
#define INFER_CONVERSION_PASSES

include "mlir/Pass/PassBase.td"

def ConvertDecodeToGPU : Pass<"convert-decode-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Emit GPU kernels and a launch plan for every decode op";
  let description = [{
    Creates `gpu.module @decode_kernels` (and marks the module
    `gpu.container_module`). For every op of every function that holds
    decode ops, the op family's emitter (Linear, Norm, Elementwise,
    Attention, Rope, Sample) adds `gpu.func` kernels built from
    gpu/vector/memref/scf/arith ops, and the pass records on the op how to
    run them as `decode.launches`, an array of dictionaries described in
    docs/launch-plan.md (kernel, max_tokens, grid, grid_scale, block,
    shared_bytes, workspace bytes, args). The step's op-level IR is kept:
    it is the graph the CPU reference runs.

    `decode.linear` gets one group of launches per `#decode.variant`
    (token-count bucket); other ops get one group with `max_tokens = 0`.
    `decode.weight` gets none, and `decode.spec_accept` an empty array
    (it runs on the host).
  }];
  let options = [
    Option<"numSMs", "num-sms", "int64_t", /*default=*/"132",
           "Streaming multiprocessors of the target GPU">,
    Option<"gemvRowsPerWarp", "gemv-rows-per-warp", "int64_t",
           /*default=*/"0",
           "Output rows per warp of the GEMV kernels (0: chosen per shape)">,
    Option<"gemvUnroll", "gemv-unroll", "int64_t", /*default=*/"0",
           "16-byte weight loads in flight per row and lane in the GEMV "
           "(0: chosen per shape)">,
    Option<"attentionBlocksPerSM", "attention-blocks-per-sm", "int64_t",
           /*default=*/"0",
           "Resident blocks per SM the tensor-core attention kernel is "
           "compiled for (caps its registers; 0: no cap)">,
    Option<"attentionWarps", "attention-warps", "int64_t", /*default=*/"4",
           "Warps per attention block (1, 2 or 4); the warps of a block share "
           "one item's keys">,
    Option<"attentionL2Prefetch", "attention-l2-prefetch", "int64_t",
           /*default=*/"256",
           "Bytes L2 fetches from DRAM per K/V access of the tensor-core "
           "attention kernel (ld.global.nc.L2::<n>B: 64, 128 or 256; 0: no "
           "hint)">,
    Option<"attentionStages", "attention-stages", "int64_t",
           /*default=*/"3",
           "Depth of the shared-memory ring of the tensor-core attention "
           "kernel for large steps (`paged_attention_mma_ring`: each warp "
           "keeps this many 16-token K/V chunks in flight, each copied by "
           "cp.async.bulk; 2 to 4; 0: no ring kernel)">,
    Option<"attentionRingMinTokens", "attention-ring-min-tokens", "int64_t",
           /*default=*/"65",
           "Steps of at least this many tokens run the ring kernel (a "
           "launch group of its own), smaller ones the kernel that keeps "
           "the next chunk in registers; 1: every step">,
    Option<"attentionRingMaxTokens", "attention-ring-max-tokens", "int64_t",
           /*default=*/"128",
           "Steps of more than this many tokens run the registers kernel "
           "again (0: the ring kernel has no upper bound)">,
    Option<"attentionSplitWarpsPerSM", "attention-split-warps-per-sm",
           "int64_t", /*default=*/"8",
           "Attention split budget: warps per SM the splits of one step may "
           "fill (the split grid is ceil(that * SMs / warps / kv_heads / "
           "items))">,
    Option<"gemvEarlySlabs", "gemv-early-slabs", "int64_t", /*default=*/"8",
           "Slabs of the GEMV's first weight group (at most its unroll) "
           "loaded before x is staged, so that their latency overlaps the "
           "staging (0: none)">,
    Option<"wgmmaEarlyStages", "wgmma-early-stages", "int64_t",
           /*default=*/"-1",
           "Stages of the wgmma linear's ring whose W is copied before the "
           "wait for the previous kernel (programmatic launch; -1: all that "
           "the ring copies ahead)">,
    Option<"wgmmaWaitGroups", "wgmma-wait-groups", "int64_t",
           /*default=*/"1",
           "wgmma groups a stage of the wgmma linear leaves in flight: 1 "
           "(its wgmmas overlap the next stage's wait; the ring copies "
           "stages - 2 ahead) or 0 (they are waited for; stages - 1 ahead)">,
    Option<"wgmmaKTile", "wgmma-k-tile", "int64_t", /*default=*/"0",
           "K columns per pipeline stage of the wgmma linear: 64, 128 or "
           "256 (0: chosen per shape)">,
    Option<"wgmmaWarpgroups", "wgmma-warpgroups", "int64_t",
           /*default=*/"0",
           "Warpgroups (64 weight rows each) per block of the wgmma linear: "
           "1 to 3 (0: chosen per shape)">,
    Option<"wgmmaNTile", "wgmma-n-tile", "int64_t", /*default=*/"0",
           "Largest token count one wgmma of the linear covers: 64, 128 "
           "or 256 (0: 64; later token sub-tiles are skipped past T)">,
    Option<"wgmmaBlocksPerSM", "wgmma-blocks-per-sm", "int64_t",
           /*default=*/"0",
           "Resident blocks per SM the wgmma linear's ring is sized for: 1 "
           "or 2 (0: chosen per shape)">,
    Option<"wgmmaDeepRing", "wgmma-deep-ring", "bool", /*default=*/"true",
           "Where a K split puts one block on (nearly) every SM, give it the "
           "whole shared memory (partials and a reduce launch) rather than "
           "two clustered blocks per SM">,
    Option<"wgmmaCpAsync", "wgmma-cp-async", "bool", /*default=*/"false",
           "Stream the wgmma linear's weights with cp.async instead of TMA "
           "(no tensor-map arguments)">,
    Option<"wgmmaSerialReduce", "wgmma-serial-reduce", "bool",
           /*default=*/"true",
           "K splits of the wgmma linear that no cluster reduces: the last "
           "split of a tile to arrive (a `counters` word) sums the partials "
           "and applies the epilogue (no linear_reduce launch; not with an "
           "RMS scale); 0: the reduce launch">,
    Option<"wgmmaClusterReduce", "wgmma-cluster-reduce", "bool",
           /*default=*/"true",
           "Reduce the wgmma linear's K splits (at most 8) inside a "
           "thread-block cluster through distributed shared memory and "
           "apply the epilogue in the kernel (no workspace, no "
           "linear_reduce launch); 0: partials and a reduce launch">,
    Option<"wgmmaTokenTiles", "wgmma-token-tiles", "int64_t",
           /*default=*/"0",
           "Token tiles the wgmma linear's grid splits the bucket's tokens "
           "into (grid z; each block streams all of K for its tile): 1 to "
           "8 (0: chosen per shape)">,
    Option<"wgmmaWeightsOnN", "wgmma-weights-on-n", "int64_t",
           /*default=*/"-1",
           "wgmma linear with the tokens as the MMA's M (64 per warpgroup) "
           "and the weight rows as its N, the row tile sized so that the "
           "grid is one wave (K <= 8192, no norm weight): 1 wherever it "
           "applies, 0 nowhere, -1 where measured faster (silu_mul's "
           "gate/up at 16 and at 128 or more tokens, every linear at 256 or "
           "more)">,
    Option<"wgmmaGridSums", "wgmma-grid-sums", "int64_t", /*default=*/"1",
           "Sums of x^2 of an RMS-scaled wgmma linear with the weights on "
           "N, at 128 or more tokens: 1 once per token by the grid (block "
           "b of the first wave sums tokens b, b + wave, ... from global x "
           "early in its stage loop and publishes them as `counters` "
           "words; each block fetches its tile's late in the loop and sums "
           "any still missing itself), 2 by every block for all of its "
           "tile's tokens (a test of that fallback), 0 per stage on the "
           "tensor cores (and qkv at 128 tokens keeps W on M)">,
    Option<"wgmmaMulticast", "wgmma-multicast", "bool", /*default=*/"false",
           "Pair the wgmma linear's blocks 2c and 2c + 1 in a cluster of two "
           "that share an operand (x where they are row blocks of one token "
           "tile, W where they are token tiles of one row block): each "
           "block copies half of that operand's stage and multicasts it to "
           "both (TMA only, not with a cluster K reduce). Off by default: "
           "slower on the H100 (docs/performance.md)">,
    Option<"programmaticLaunch", "programmatic-launch", "bool",
           /*default=*/"true",
           "Start every kernel with griddepcontrol.wait and "
           "launch_dependents, and mark its launches `programmatic` "
           "(programmatic dependent launch, sm_90+)">,
    Option<"timeline", "timeline", "bool", /*default=*/"false",
           "Instrument every kernel: thread 0 of each block records "
           "%globaltimer at entry and at exit in the `timeline` buffer "
           "(slot `launch`: the earliest start and the latest end of its "
           "blocks), for infer-run --timeline">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

#endif // INFER_CONVERSION_PASSES

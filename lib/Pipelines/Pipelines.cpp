//===- Pipelines.cpp - infer pass pipelines -------------------------------===//

#include "infer/Pipelines/Pipelines.h"

#include "infer/Conversion/Passes.h"

#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringExtras.h"

#ifndef INFER_CUDA_ROOT
#define INFER_CUDA_ROOT ""
#endif

using namespace mlir;

namespace {
/// Adds `decode-optimize{options}` when some library registered it (as a
/// pipeline on the module, or as a pass on each step function).
void addDecodeOptimize(OpPassManager &pm, StringRef options) {
  auto ignore = [](const Twine &) { return failure(); };
  if (const PassPipelineInfo *pipeline =
          PassPipelineInfo::lookup("decode-optimize")) {
    (void)pipeline->addToPipeline(pm, options, ignore);
    return;
  }
  if (const PassInfo *pass = PassInfo::lookup("decode-optimize"))
    (void)pass->addToPipeline(pm.nest<func::FuncOp>(), options, ignore);
}

/// Chips with warpgroup MMA (`wgmma` is sm_90a only).
bool hasWgmma(StringRef chip) { return chip == "sm_90a"; }
/// Chips with bf16 `mma.sync` (sm_80 and later).
bool hasMmaSync(StringRef chip) {
  unsigned version = 0;
  return chip.consume_front("sm_") &&
         !chip.take_while(llvm::isDigit).getAsInteger(10, version) &&
         version >= 80;
}
} // namespace

void infer::buildDecodeToCUDAPipeline(
    OpPassManager &pm, const DecodeToCUDAPipelineOptions &options) {
  if (options.optimize)
    addDecodeOptimize(
        pm, (Twine("num-sms=") + Twine(options.numSMs.getValue()) +
             " wgmma=" + (hasWgmma(options.chip) ? "1" : "0") +
             " attention-mma=" + (hasMmaSync(options.chip) ? "1" : "0") +
             " fold-norm-weights=" + (options.foldNormWeights ? "1" : "0") +
             " fuse-silu-mul=" + (options.fuseSiluMul ? "1" : "0") +
             " gemv-max-tokens=" + Twine(options.gemvMaxTokens.getValue()))
                .str());
  ConvertDecodeToGPUOptions convert;
  convert.numSMs = options.numSMs;
  convert.gemvRowsPerWarp = options.gemvRowsPerWarp;
  convert.gemvUnroll = options.gemvUnroll;
  convert.gemvEarlySlabs = options.gemvEarlySlabs;
  convert.attentionBlocksPerSM = options.attentionBlocksPerSM;
  convert.attentionWarps = options.attentionWarps;
  convert.attentionSplitWarpsPerSM = options.attentionSplitWarpsPerSM;
  convert.attentionL2Prefetch = options.attentionL2Prefetch;
  convert.attentionStages = options.attentionStages;
  convert.attentionRingMinTokens = options.attentionRingMinTokens;
  convert.attentionRingMaxTokens = options.attentionRingMaxTokens;
  convert.wgmmaKTile = options.wgmmaKTile;
  convert.wgmmaEarlyStages = options.wgmmaEarlyStages;
  convert.wgmmaWaitGroups = options.wgmmaWaitGroups;
  convert.wgmmaWarpgroups = options.wgmmaWarpgroups;
  convert.wgmmaCpAsync = options.wgmmaCpAsync;
  convert.wgmmaBlocksPerSM = options.wgmmaBlocksPerSM;
  convert.wgmmaDeepRing = options.wgmmaDeepRing;
  convert.wgmmaNTile = options.wgmmaNTile;
  convert.wgmmaClusterReduce = options.wgmmaClusterReduce;
  convert.wgmmaSerialReduce = options.wgmmaSerialReduce;
  convert.wgmmaTokenTiles = options.wgmmaTokenTiles;
  convert.wgmmaWeightsOnN = options.wgmmaWeightsOnN;
  convert.wgmmaGridSums = options.wgmmaGridSums;
  convert.wgmmaMulticast = options.wgmmaMulticast;
  convert.programmaticLaunch = options.programmaticLaunch;
  convert.timeline = options.timeline;
  pm.addPass(createConvertDecodeToGPU(convert));

  std::string toolkit = options.toolkit.empty() ? std::string(INFER_CUDA_ROOT)
                                                : std::string(options.toolkit);
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));

  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  pm.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = toolkit;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void infer::registerPipelines() {
  PassPipelineRegistration<DecodeToCUDAPipelineOptions>(
      "infer-decode-to-cuda-pipeline",
      "Lower decode step functions to CUDA kernels (gpu.binary) and a launch "
      "plan (decode.launches)",
      buildDecodeToCUDAPipeline);
}

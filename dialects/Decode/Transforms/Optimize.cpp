//===- Optimize.cpp - the decode graph pipeline ---------------------------===//

#include "Decode/IR/DecodeOps.h"
#include "Decode/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace mlir {
namespace decode {
#define GEN_PASS_DEF_OPTIMIZEPASS
#include "Decode/Transforms/Passes.h.inc"
} // namespace decode
} // namespace mlir

using namespace mlir;
using namespace mlir::decode;

namespace {

struct OptimizePass : decode::impl::OptimizePassBase<OptimizePass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *context) override {
    pipeline = OpPassManager(func::FuncOp::getOperationName());
    pipeline.addPass(createFuseProjectionsPass());
    pipeline.addPass(createFoldRMSNormPass());
    if (foldNormWeights)
      pipeline.addPass(createFoldNormWeightPass());
    pipeline.addPass(createFuseRopeKVPass());
    pipeline.addPass(createFuseResidualPass());
    if (fuseSiluMul)
      pipeline.addPass(createFuseSiluMulPass());
    pipeline.addPass(createCanonicalizerPass());
    pipeline.addPass(createCSEPass());
    PlanSplitKVPassOptions plan;
    plan.numSms = numSms;
    plan.minChunk = minChunk;
    pipeline.addPass(createPlanSplitKVPass(plan));
    SelectKernelsPassOptions select;
    select.buckets.assign(buckets.begin(), buckets.end());
    select.numSms = numSms;
    select.wgmma = wgmma;
    select.gemvMaxTokens = gemvMaxTokens;
    select.attentionMma = attentionMma;
    pipeline.addPass(createSelectKernelsPass(select));
    return success();
  }

  void runOnOperation() override {
    if (failed(runPipeline(pipeline, getOperation())))
      signalPassFailure();
  }

  OpPassManager pipeline{func::FuncOp::getOperationName()};
};

} // namespace

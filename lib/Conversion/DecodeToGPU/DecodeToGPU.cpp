//===- DecodeToGPU.cpp - convert-decode-to-gpu driver ---------------------===//
//
// Creates the kernels module, walks every step function's decode ops in
// program order, hands each one to its family emitter and serializes the
// returned launches into `decode.launches` (docs/launch-plan.md).
//
//===----------------------------------------------------------------------===//

#include "infer/Conversion/DecodeToGPU.h"
#include "infer/Conversion/Passes.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

namespace infer {
#define GEN_PASS_DEF_CONVERTDECODETOGPU
#include "infer/Conversion/Passes.h.inc"
} // namespace infer

using namespace mlir;
using namespace infer;

//===----------------------------------------------------------------------===//
// EmitContext
//===----------------------------------------------------------------------===//

std::string EmitContext::uniqueName(StringRef prefix) {
  return (prefix + "_" + Twine(counter++)).str();
}

StepScalar EmitContext::rowsOf(Value v) const {
  auto it = rows.find(v);
  return it == rows.end() ? StepScalar::Tokens : it->second;
}

GridExtent::Scale infer::toGridScale(StepScalar s) {
  switch (s) {
  case StepScalar::Tokens:
    return GridExtent::Scale::Tokens;
  case StepScalar::Sequences:
    return GridExtent::Scale::Sequences;
  case StepScalar::SampledRows:
    return GridExtent::Scale::SampledRows;
  case StepScalar::BlockTableWidth:
  case StepScalar::Layer:
  case StepScalar::Launch:
    break;
  }
  llvm_unreachable(
      "the block table width, the layer and the launch are not grid scales");
}

namespace {

//===----------------------------------------------------------------------===//
// Row counts
//===----------------------------------------------------------------------===//

/// The step quantity counting the rows of step argument `index`
/// (docs/artifact.md, "The step function").
StepScalar argumentRows(unsigned index) {
  if (index <= 2)
    return StepScalar::Tokens; // tokens, positions, slots
  if (index <= 5)
    return StepScalar::Sequences; // block_tables, context_lens, query_start
  if (index <= 10)
    return StepScalar::SampledRows; // logits_indices, sampling parameters
  return StepScalar::Tokens;
}

/// Records the row quantity of `op`'s results from its operands.
void inferRows(Operation *op, EmitContext &ctx) {
  std::optional<StepScalar> rows =
      TypeSwitch<Operation *, std::optional<StepScalar>>(op)
          .Case([&](decode::EmbedOp embed) {
            return ctx.rowsOf(embed.getTokens());
          })
          .Case([&](decode::GatherTokensOp gather) {
            return ctx.rowsOf(gather.getIndices());
          })
          .Case([&](decode::SpecAcceptOp) { return StepScalar::Sequences; })
          .Default([&](Operation *) -> std::optional<StepScalar> {
            for (Value operand : op->getOperands())
              if (auto type = dyn_cast<RankedTensorType>(operand.getType()))
                if (type.getRank() >= 1 && type.isDynamicDim(0))
                  return ctx.rowsOf(operand);
            return std::nullopt;
          });
  if (!rows)
    return;
  for (Value result : op->getResults())
    ctx.rows[result] = *rows;
}

//===----------------------------------------------------------------------===//
// Serialization
//===----------------------------------------------------------------------===//

StringRef scaleName(GridExtent::Scale scale) {
  switch (scale) {
  case GridExtent::Scale::One:
    return "one";
  case GridExtent::Scale::Tokens:
    return "tokens";
  case GridExtent::Scale::Sequences:
    return "seqs";
  case GridExtent::Scale::SampledRows:
    return "sampled";
  case GridExtent::Scale::PerToken:
    return "per_tokens";
  case GridExtent::Scale::PerSequence:
    return "per_seqs";
  }
  llvm_unreachable("unknown grid scale");
}

StringRef scalarName(StepScalar scalar) {
  switch (scalar) {
  case StepScalar::Tokens:
    return "tokens";
  case StepScalar::Sequences:
    return "seqs";
  case StepScalar::SampledRows:
    return "sampled";
  case StepScalar::BlockTableWidth:
    return "block_table_width";
  case StepScalar::Layer:
    return "layer";
  case StepScalar::Launch:
    return "launch";
  }
  llvm_unreachable("unknown step scalar");
}

std::string argName(const KernelArg &arg) {
  switch (arg.kind) {
  case KernelArg::Kind::Operand:
    return ("operand" + Twine(arg.index)).str();
  case KernelArg::Kind::TensorMap:
    return ("tma:operand" + Twine(arg.index) + ":" + Twine(arg.boxRows) + "x" +
            Twine(arg.boxCols))
        .str();
  case KernelArg::Kind::Result:
    return ("result" + Twine(arg.index)).str();
  case KernelArg::Kind::Workspace:
    return "workspace";
  case KernelArg::Kind::Counters:
    return "counters";
  case KernelArg::Kind::Scalar:
    return scalarName(arg.scalar).str();
  case KernelArg::Kind::Timeline:
    return "timeline";
  }
  llvm_unreachable("unknown kernel argument kind");
}

DictionaryAttr serialize(const KernelLaunch &launch, StringAttr moduleName,
                         Builder &b) {
  SmallVector<int64_t> grid, block;
  SmallVector<Attribute> scales, args;
  for (const GridExtent &extent : launch.grid) {
    grid.push_back(extent.constant);
    scales.push_back(b.getStringAttr(scaleName(extent.scale)));
  }
  for (int64_t threads : launch.block)
    block.push_back(threads);
  for (const KernelArg &arg : launch.args)
    args.push_back(b.getStringAttr(argName(arg)));
  SmallVector<NamedAttribute> fields = {
      b.getNamedAttr(
          "kernel",
          SymbolRefAttr::get(moduleName, {FlatSymbolRefAttr::get(
                                             b.getContext(), launch.kernel)})),
      b.getNamedAttr("max_tokens", b.getI64IntegerAttr(launch.maxTokens)),
      b.getNamedAttr("grid", b.getDenseI64ArrayAttr(grid)),
      b.getNamedAttr("grid_scale", b.getArrayAttr(scales)),
      b.getNamedAttr("block", b.getDenseI64ArrayAttr(block)),
      b.getNamedAttr("shared_bytes", b.getI64IntegerAttr(launch.sharedBytes)),
      b.getNamedAttr("workspace_bytes",
                     b.getI64IntegerAttr(launch.workspaceBytes)),
      b.getNamedAttr("workspace_bytes_per_token",
                     b.getI64IntegerAttr(launch.workspaceBytesPerToken)),
      b.getNamedAttr("args", b.getArrayAttr(args)),
  };
  if (launch.counterWordsPerToken)
    fields.push_back(
        b.getNamedAttr("counter_words_per_token",
                       b.getI64IntegerAttr(launch.counterWordsPerToken)));
  if (launch.programmatic)
    fields.push_back(b.getNamedAttr("programmatic", b.getBoolAttr(true)));
  return b.getDictionaryAttr(fields);
}

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

constexpr StringLiteral kKernelsModuleName = "decode_kernels";
constexpr StringLiteral kLaunchesAttrName = "decode.launches";

/// Dispatches `op` to its family emitter. Returns std::nullopt for ops that
/// produce no launches at all (weights, non-decode ops).
std::optional<LogicalResult> emitKernels(Operation *op, EmitContext &ctx,
                                         SmallVectorImpl<KernelLaunch> &out) {
  return TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case([&](decode::LinearOp) { return emitLinearKernels(op, ctx, out); })
      .Case([&](decode::RMSNormOp) { return emitNormKernels(op, ctx, out); })
      .Case<decode::AddOp, decode::SiluMulOp, decode::EmbedOp, decode::SliceOp,
            decode::GatherTokensOp>(
          [&](Operation *) { return emitElementwiseKernels(op, ctx, out); })
      .Case([&](decode::PagedAttentionOp) {
        return emitAttentionKernels(op, ctx, out);
      })
      .Case<decode::RopeOp, decode::KVAppendOp, decode::RopeAppendOp>(
          [&](Operation *) { return emitRopeKernels(op, ctx, out); })
      .Case([&](decode::SampleOp) { return emitSampleKernels(op, ctx, out); })
      // Host op: an empty launch list (docs/launch-plan.md).
      .Case([&](decode::SpecAcceptOp) { return success(); })
      .Case([&](decode::WeightOp) { return std::nullopt; })
      .Default([&](Operation *other) -> std::optional<LogicalResult> {
        if (isa<decode::DecodeDialect>(other->getDialect()))
          return other->emitOpError("has no GPU lowering");
        return std::nullopt;
      });
}

/// Emits each distinct kernel once: the same projection or norm in every layer
/// yields one gpu.func. A kernel's key is its generic form without its name.
class KernelDeduplicator {
public:
  /// Returns the name launches should use for the just-emitted `name`,
  /// erasing it if an identical kernel already exists.
  std::string canonicalName(gpu::GPUModuleOp kernels, StringRef name) {
    if (auto it = canonical.find(name); it != canonical.end())
      return it->second;
    auto func = kernels.lookupSymbol<gpu::GPUFuncOp>(name);
    if (!func)
      return name.str();
    std::string key;
    llvm::raw_string_ostream os(key);
    SymbolTable::setSymbolName(func, "kernel");
    func->print(os, OpPrintingFlags().printGenericOpForm());
    SymbolTable::setSymbolName(func, name);
    auto [it, inserted] = byBody.try_emplace(key, name.str());
    std::string result = it->second;
    if (!inserted)
      func.erase();
    canonical[name] = result;
    return result;
  }

private:
  llvm::StringMap<std::string> byBody;
  llvm::StringMap<std::string> canonical;
};

struct ConvertDecodeToGPUPass
    : infer::impl::ConvertDecodeToGPUBase<ConvertDecodeToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> steps;
    for (auto func : module.getOps<func::FuncOp>()) {
      bool hasDecodeOps = false;
      func.walk([&](Operation *op) {
        if (isa<decode::DecodeDialect>(op->getDialect()))
          hasDecodeOps = true;
      });
      if (hasDecodeOps)
        steps.push_back(func);
    }
    if (steps.empty())
      return;

    OpBuilder b(module.getBodyRegion());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(kKernelsModuleName);
    if (!kernels) {
      b.setInsertionPointToEnd(module.getBody());
      kernels =
          gpu::GPUModuleOp::create(b, module.getLoc(), kKernelsModuleName);
    }

    EmitContext ctx;
    ctx.kernels = kernels;
    ctx.target.numSMs = numSMs;
    if (gemvRowsPerWarp < 0 || gemvUnroll < 0 || gemvEarlySlabs < 0 ||
        attentionBlocksPerSM < 0 || attentionSplitWarpsPerSM < 1 ||
        !llvm::is_contained({1, 2, 4}, attentionWarps) ||
        !llvm::is_contained({0, 64, 128, 256}, attentionL2Prefetch) ||
        !llvm::is_contained({0, 2, 3, 4}, attentionStages) ||
        attentionRingMinTokens < 1 ||
        (attentionRingMaxTokens != 0 &&
         attentionRingMaxTokens < attentionRingMinTokens)) {
      module.emitError("gemv-rows-per-warp, gemv-unroll, gemv-early-slabs and "
                       "attention-blocks-per-sm must not be negative, "
                       "attention-split-warps-per-sm and "
                       "attention-ring-min-tokens must be positive, "
                       "attention-ring-max-tokens 0 or at least "
                       "attention-ring-min-tokens, attention-warps 1, 2 or "
                       "4, attention-l2-prefetch 0, 64, 128 or 256 and "
                       "attention-stages 0, 2, 3 or 4");
      return signalPassFailure();
    }
    ctx.options.gemvRowsPerWarp = gemvRowsPerWarp;
    ctx.options.gemvUnroll = gemvUnroll;
    ctx.options.gemvEarlySlabs = gemvEarlySlabs;
    ctx.options.attentionBlocksPerSM = attentionBlocksPerSM;
    ctx.options.attentionWarps = attentionWarps;
    ctx.options.attentionSplitWarpsPerSM = attentionSplitWarpsPerSM;
    ctx.options.attentionL2Prefetch = attentionL2Prefetch;
    ctx.options.attentionStages = attentionStages;
    ctx.options.attentionRingMinTokens = attentionRingMinTokens;
    ctx.options.attentionRingMaxTokens = attentionRingMaxTokens;
    if (!llvm::is_contained({0, 64, 128, 256}, wgmmaKTile) ||
        !llvm::is_contained({0, 1, 2, 3}, wgmmaWarpgroups) ||
        !llvm::is_contained({0, 64, 128, 256}, wgmmaNTile) ||
        !llvm::is_contained({0, 1, 2}, wgmmaBlocksPerSM) ||
        wgmmaTokenTiles < 0 || wgmmaTokenTiles > 8 || wgmmaEarlyStages < -1 ||
        !llvm::is_contained({0, 1}, wgmmaWaitGroups) ||
        !llvm::is_contained({-1, 0, 1}, wgmmaWeightsOnN) ||
        !llvm::is_contained({0, 1, 2}, wgmmaGridSums)) {
      module.emitError("wgmma-k-tile and wgmma-n-tile must be 0, 64, 128 or "
                       "256, wgmma-warpgroups 0 to 3, wgmma-blocks-per-sm "
                       "0, 1 or 2, wgmma-token-tiles 0 to 8, "
                       "wgmma-early-stages -1 or more, wgmma-wait-groups "
                       "0 or 1, wgmma-weights-on-n -1, 0 or 1 and "
                       "wgmma-grid-sums 0, 1 or 2");
      return signalPassFailure();
    }
    ctx.options.wgmmaKTile = wgmmaKTile;
    ctx.options.wgmmaWarpgroups = wgmmaWarpgroups;
    ctx.options.wgmmaCpAsync = wgmmaCpAsync;
    ctx.options.wgmmaBlocksPerSM = wgmmaBlocksPerSM;
    ctx.options.wgmmaDeepRing = wgmmaDeepRing;
    ctx.options.wgmmaNTile = wgmmaNTile;
    ctx.options.wgmmaClusterReduce = wgmmaClusterReduce;
    ctx.options.wgmmaSerialReduce = wgmmaSerialReduce;
    ctx.options.wgmmaTokenTiles = wgmmaTokenTiles;
    ctx.options.wgmmaWeightsOnN = wgmmaWeightsOnN;
    ctx.options.wgmmaGridSums = wgmmaGridSums;
    ctx.options.wgmmaMulticast = wgmmaMulticast;
    ctx.options.wgmmaEarlyStages = wgmmaEarlyStages;
    ctx.options.wgmmaWaitGroups = wgmmaWaitGroups;
    ctx.options.programmaticLaunch = programmaticLaunch;
    ctx.options.timeline = timeline;
    ctx.counter = std::distance(kernels.getOps<gpu::GPUFuncOp>().begin(),
                                kernels.getOps<gpu::GPUFuncOp>().end());
    auto moduleName = b.getStringAttr(kKernelsModuleName);
    KernelDeduplicator dedup;

    for (func::FuncOp step : steps) {
      for (auto [i, arg] : llvm::enumerate(step.getArguments()))
        ctx.rows[arg] = argumentRows(i);
      WalkResult result = step.walk([&](Operation *op) {
        inferRows(op, ctx);
        SmallVector<KernelLaunch> launches;
        std::optional<LogicalResult> emitted = emitKernels(op, ctx, launches);
        if (!emitted)
          return WalkResult::advance();
        if (failed(*emitted))
          return WalkResult::interrupt();
        SmallVector<Attribute> entries;
        for (KernelLaunch &launch : launches) {
          launch.kernel = dedup.canonicalName(kernels, launch.kernel);
          entries.push_back(serialize(launch, moduleName, b));
        }
        op->setAttr(kLaunchesAttrName, b.getArrayAttr(entries));
        return WalkResult::advance();
      });
      if (result.wasInterrupted())
        return signalPassFailure();
    }
  }
};

} // namespace

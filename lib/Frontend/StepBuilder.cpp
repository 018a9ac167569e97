//===- StepBuilder.cpp - build the unfused decode step --------------------===//

#include "infer/Frontend/StepBuilder.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Verifier.h"

#include <cmath>

using namespace mlir;
using namespace infer;

namespace {
/// Argument order of the step function (docs/artifact.md).
enum StepArg : unsigned {
  kTokens,
  kPositions,
  kSlots,
  kBlockTables,
  kContextLens,
  kQueryStart,
  kLogitsIndices,
  kTemperature,
  kTopK,
  kTopP,
  kSeeds,
  kCache,
};

class StepEmitter {
public:
  StepEmitter(ImplicitLocOpBuilder &b, const ModelConfig &config,
              decode::KVCacheType cacheType)
      : b(b), config(config), cacheType(cacheType), bf16(b.getBF16Type()) {}

  func::FuncOp emit(decode::StepRole role);

private:
  RankedTensorType activation(int64_t width, Type element = {}) {
    return RankedTensorType::get({ShapedType::kDynamic, width},
                                 element ? element : bf16);
  }
  Value weight(const Twine &name, ArrayRef<int64_t> shape) {
    return decode::WeightOp::create(b, RankedTensorType::get(shape, bf16),
                                    b.getStrArrayAttr({name.str()}));
  }
  Value linear(Value input, const Twine &prefix, int64_t outFeatures,
               int64_t inFeatures, bool bias) {
    Value w = weight(prefix + ".weight", {outFeatures, inFeatures});
    Value biasValue = bias ? weight(prefix + ".bias", {outFeatures}) : Value();
    return decode::LinearOp::create(b, activation(outFeatures), input, w,
                                    biasValue, Value(), Value(), FloatAttr(),
                                    decode::ActivationAttr(), ArrayAttr());
  }
  Value rmsNorm(Value input, const Twine &name) {
    Value w = weight(name, {config.hiddenSize});
    return decode::RMSNormOp::create(b, input.getType(), input, w,
                                     b.getF32FloatAttr(config.rmsNormEps));
  }
  Value rope(Value input, Value positions);
  /// One decoder layer; returns the new residual stream, updates `cache`.
  Value layer(int64_t index, Value hidden, Value &cache, Block &args);

  ImplicitLocOpBuilder &b;
  const ModelConfig &config;
  decode::KVCacheType cacheType;
  Type bf16;
};

Value StepEmitter::rope(Value input, Value positions) {
  decode::RopeScalingAttr scaling;
  if (const std::optional<RopeScalingConfig> &s = config.ropeScaling)
    scaling = decode::RopeScalingAttr::get(
        b.getContext(),
        s->kind == RopeScalingConfig::Kind::Llama3
            ? decode::RopeScalingKind::Llama3
            : decode::RopeScalingKind::Linear,
        llvm::APFloat(s->factor), llvm::APFloat(s->lowFreqFactor),
        llvm::APFloat(s->highFreqFactor), s->originalMaxPosition);
  return decode::RopeOp::create(b, input.getType(), input, positions,
                                b.getI64IntegerAttr(config.headDim),
                                b.getF32FloatAttr(config.ropeTheta), scaling);
}

Value StepEmitter::layer(int64_t index, Value hidden, Value &cache,
                         Block &args) {
  std::string prefix = "model.layers." + std::to_string(index);
  b.setLoc(NameLoc::get(b.getStringAttr(prefix)));
  int64_t h = config.hiddenSize, hd = config.headDim;
  int64_t qWidth = config.numHeads * hd, kvWidth = config.numKvHeads * hd;

  // Attention block.
  Value normed = rmsNorm(hidden, prefix + ".input_layernorm.weight");
  std::string attn = prefix + ".self_attn";
  Value q = linear(normed, attn + ".q_proj", qWidth, h, config.qkvBias);
  Value k = linear(normed, attn + ".k_proj", kvWidth, h, config.qkvBias);
  Value v = linear(normed, attn + ".v_proj", kvWidth, h, config.qkvBias);
  Value positions = args.getArgument(kPositions);
  q = rope(q, positions);
  k = rope(k, positions);
  cache = decode::KVAppendOp::create(b, cacheType, cache, k, v,
                                     args.getArgument(kSlots),
                                     b.getI64IntegerAttr(index));
  IntegerAttr window;
  if (std::optional<int64_t> w = config.slidingWindows[index])
    window = b.getI64IntegerAttr(*w);
  Value attended = decode::PagedAttentionOp::create(
      b, q.getType(), q, cache, args.getArgument(kBlockTables),
      args.getArgument(kContextLens), args.getArgument(kQueryStart),
      b.getI64IntegerAttr(index), b.getI64IntegerAttr(config.numHeads),
      b.getF32FloatAttr(1.0 / std::sqrt(static_cast<double>(hd))), window,
      IntegerAttr(), decode::AttentionKernelAttr());
  Value out = linear(attended, attn + ".o_proj", h, qWidth, config.outputBias);
  hidden = decode::AddOp::create(b, hidden.getType(), hidden, out);

  // MLP block (SwiGLU).
  normed = rmsNorm(hidden, prefix + ".post_attention_layernorm.weight");
  std::string mlp = prefix + ".mlp";
  int64_t inter = config.intermediateSize;
  Value gate = linear(normed, mlp + ".gate_proj", inter, h, false);
  Value up = linear(normed, mlp + ".up_proj", inter, h, false);
  Value act =
      decode::SiluMulOp::create(b, activation(inter), ValueRange{gate, up});
  Value down = linear(act, mlp + ".down_proj", h, inter, false);
  return decode::AddOp::create(b, hidden.getType(), hidden, down);
}

func::FuncOp StepEmitter::emit(decode::StepRole role) {
  int64_t dyn = ShapedType::kDynamic;
  Type i32 = b.getI32Type(), f32 = b.getF32Type(), i64 = b.getI64Type();
  auto vec = [&](Type t) { return RankedTensorType::get({dyn}, t); };
  SmallVector<Type> inputs = {
      vec(i32), vec(i32), vec(i32), RankedTensorType::get({dyn, dyn}, i32),
      vec(i32), vec(i32), vec(i32), vec(f32),
      vec(i32), vec(f32), vec(i64), cacheType};
  Type logitsType = activation(config.vocabSize, f32);
  auto fn = func::FuncOp::create(
      b, "step", b.getFunctionType(inputs, {vec(i32), logitsType, cacheType}));
  fn->setAttr(decode::DecodeDialect::getRoleAttrName(),
              decode::StepRoleAttr::get(b.getContext(), role));

  Block &args = *fn.addEntryBlock();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&args);

  Value embedTable = weight("model.embed_tokens.weight",
                            {config.vocabSize, config.hiddenSize});
  Value hidden = decode::EmbedOp::create(b, activation(config.hiddenSize),
                                         args.getArgument(kTokens), embedTable);
  Value cache = args.getArgument(kCache);
  for (int64_t i = 0; i < config.numLayers; ++i)
    hidden = layer(i, hidden, cache, args);

  b.setLoc(NameLoc::get(b.getStringAttr("lm_head")));
  hidden = rmsNorm(hidden, "model.norm.weight");
  hidden = decode::GatherTokensOp::create(b, hidden.getType(), hidden,
                                          args.getArgument(kLogitsIndices));
  Value head =
      config.tieWordEmbeddings
          ? embedTable
          : weight("lm_head.weight", {config.vocabSize, config.hiddenSize});
  Value logits = decode::LinearOp::create(
      b, logitsType, hidden, head, Value(), Value(), Value(), FloatAttr(),
      decode::ActivationAttr(), ArrayAttr());
  Value tokens = decode::SampleOp::create(
      b, vec(i32), logits, args.getArgument(kTemperature),
      args.getArgument(kTopK), args.getArgument(kTopP),
      args.getArgument(kSeeds));
  func::ReturnOp::create(b, ValueRange{tokens, logits, cache});
  return fn;
}

DictionaryAttr modelMetadata(Builder &b, const ModelConfig &config) {
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("family", b.getStringAttr(config.family)),
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(config.vocabSize)),
      b.getNamedAttr("hidden_size", b.getI64IntegerAttr(config.hiddenSize)),
      b.getNamedAttr("num_layers", b.getI64IntegerAttr(config.numLayers)),
      b.getNamedAttr("num_heads", b.getI64IntegerAttr(config.numHeads)),
      b.getNamedAttr("num_kv_heads", b.getI64IntegerAttr(config.numKvHeads)),
      b.getNamedAttr("head_dim", b.getI64IntegerAttr(config.headDim)),
      b.getNamedAttr("intermediate_size",
                     b.getI64IntegerAttr(config.intermediateSize)),
      b.getNamedAttr("max_position", b.getI64IntegerAttr(config.maxPosition)),
      b.getNamedAttr("rms_norm_eps", b.getF64FloatAttr(config.rmsNormEps)),
      b.getNamedAttr("rope_theta", b.getF64FloatAttr(config.ropeTheta)),
      b.getNamedAttr("eos_token_ids", b.getI64ArrayAttr(config.eosTokenIds)),
      b.getNamedAttr("tie_word_embeddings",
                     b.getBoolAttr(config.tieWordEmbeddings)),
  };
  if (config.bosTokenId)
    entries.push_back(b.getNamedAttr("bos_token_id",
                                     b.getI64IntegerAttr(*config.bosTokenId)));
  return b.getDictionaryAttr(entries);
}
} // namespace

OwningOpRef<ModuleOp> infer::buildStepModule(MLIRContext &context,
                                             const ModelConfig &config,
                                             const StepOptions &options) {
  context.loadDialect<decode::DecodeDialect, func::FuncDialect>();
  Location loc = NameLoc::get(StringAttr::get(&context, config.family));
  auto cacheType = decode::KVCacheType::getChecked(
      [&] { return emitError(loc); }, &context, config.numLayers,
      config.numKvHeads, config.headDim, options.blockSize,
      Type(BFloat16Type::get(&context)));
  if (!cacheType)
    return nullptr;

  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  ImplicitLocOpBuilder b(loc, &context);
  b.setInsertionPointToEnd(module->getBody());
  (*module)->setAttr(kModelAttrName, modelMetadata(b, config));
  StepEmitter(b, config, cacheType).emit(options.role);
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

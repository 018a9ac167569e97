//===- ModelConfig.cpp - parse and validate a HF config.json --------------===//

#include "infer/Frontend/ModelConfig.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace infer;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace json = llvm::json;

namespace {
constexpr int64_t kMaxInt32 = 0x7fffffff;
/// Bound on num_hidden_layers: the step is unrolled per layer.
constexpr int64_t kMaxLayers = 4096;

/// Keys whose presence (non-null) changes the model's math in ways this
/// frontend does not implement.
constexpr StringRef kUnsupportedKeys[] = {
    "quantization_config",
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "num_local_experts",
    "num_experts",
    "query_pre_attn_scalar",
};

std::string describe(const json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << value;
  return text;
}

/// Reads typed fields of one JSON object. The first error is kept and later
/// reads return defaults, so callers check `failed()` before using values.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef source,
              std::string prefix = "")
      : object(object), source(source.str()), prefix(std::move(prefix)) {}

  bool failed() const { return error.has_value(); }
  bool has(StringRef key) const {
    const json::Value *v = object.get(key);
    return v && v->kind() != json::Value::Null;
  }
  const json::Value *get(StringRef key) const {
    const json::Value *v = object.get(key);
    return v && v->kind() != json::Value::Null ? v : nullptr;
  }

  void fail(StringRef key, const Twine &message) {
    if (!error)
      error = source + ": field '" + prefix + key.str() + "': " + message.str();
  }
  void failMissing(StringRef key, StringRef what) {
    fail(key, Twine("missing; expected ") + what);
  }

  /// An integer in [min, max]; `fallback` is used when absent or null. The
  /// default bound keeps every size and id representable as i32.
  int64_t integer(StringRef key, std::optional<int64_t> fallback,
                  int64_t min = 1, int64_t max = kMaxInt32) {
    const json::Value *v = get(key);
    if (!v) {
      if (!fallback)
        failMissing(key, min >= 1 ? "a positive integer" : "an integer");
      return fallback.value_or(min);
    }
    std::optional<int64_t> value = v->getAsInteger();
    if (!value) {
      fail(key, "expected an integer, got " + describe(*v));
      return min;
    }
    if (*value < min || *value > max) {
      fail(key, "expected an integer in [" + Twine(min) + ", " + Twine(max) +
                    "], got " + Twine(*value));
      return min;
    }
    return *value;
  }

  /// A number > 0; `fallback` is used when absent or null.
  double positive(StringRef key, std::optional<double> fallback) {
    const json::Value *v = get(key);
    if (!v) {
      if (!fallback)
        failMissing(key, "a positive number");
      return fallback.value_or(1.0);
    }
    std::optional<double> value = v->getAsNumber();
    if (!value || !(*value > 0.0)) {
      fail(key, "expected a positive number, got " + describe(*v));
      return 1.0;
    }
    return *value;
  }

  bool boolean(StringRef key, bool fallback) {
    const json::Value *v = get(key);
    if (!v)
      return fallback;
    std::optional<bool> value = v->getAsBoolean();
    if (!value) {
      fail(key, "expected true or false, got " + describe(*v));
      return fallback;
    }
    return *value;
  }

  /// A string, or std::nullopt when absent or null.
  std::optional<std::string> string(StringRef key) {
    const json::Value *v = get(key);
    if (!v)
      return std::nullopt;
    std::optional<StringRef> value = v->getAsString();
    if (!value) {
      fail(key, "expected a string, got " + describe(*v));
      return std::nullopt;
    }
    return value->str();
  }

  /// Token ids given as an integer or a list of integers.
  std::vector<int64_t> tokenIds(StringRef key) {
    const json::Value *v = get(key);
    if (!v)
      return {};
    if (std::optional<int64_t> id = v->getAsInteger(); id && *id >= 0)
      return {*id};
    std::vector<int64_t> ids;
    if (const json::Array *array = v->getAsArray()) {
      for (const json::Value &element : *array) {
        std::optional<int64_t> id = element.getAsInteger();
        if (!id || *id < 0) {
          ids.clear();
          break;
        }
        ids.push_back(*id);
      }
      if (!ids.empty() || array->empty())
        return ids;
    }
    fail(key,
         "expected a token id or a list of token ids, got " + describe(*v));
    return {};
  }

  Error takeError() {
    if (!error)
      return Error::success();
    return llvm::createStringError(llvm::inconvertibleErrorCode(), *error);
  }

  /// Moves this reader's error (if any) into `parent`.
  void forwardTo(FieldReader &parent) {
    if (error && !parent.error)
      parent.error = std::move(error);
  }

  const json::Object &object;

private:
  std::string source;
  std::string prefix;
  std::optional<std::string> error;
};

/// Parses `rope_scaling` (or the scaling part of `rope_parameters`).
std::optional<RopeScalingConfig>
parseRopeScaling(FieldReader &top, StringRef key, StringRef source) {
  const json::Value *value = top.get(key);
  if (!value)
    return std::nullopt;
  const json::Object *object = value->getAsObject();
  if (!object) {
    top.fail(key, "expected an object or null, got " + describe(*value));
    return std::nullopt;
  }
  FieldReader reader(*object, source, (key + ".").str());
  StringRef typeKey = reader.has("rope_type") ? "rope_type" : "type";
  std::optional<std::string> type = reader.string(typeKey);
  std::optional<RopeScalingConfig> result;
  if (reader.failed()) {
    // Reported below.
  } else if (!type) {
    // `rope_parameters` may hold only the theta; `rope_scaling` must say.
    if (key == "rope_scaling")
      reader.failMissing("rope_type", "\"linear\" or \"llama3\"");
  } else if (*type == "default") {
    // No scaling.
  } else if (*type == "linear") {
    result = RopeScalingConfig{RopeScalingConfig::Kind::Linear,
                               reader.positive("factor", std::nullopt)};
  } else if (*type == "llama3") {
    RopeScalingConfig scaling;
    scaling.kind = RopeScalingConfig::Kind::Llama3;
    scaling.factor = reader.positive("factor", std::nullopt);
    scaling.lowFreqFactor = reader.positive("low_freq_factor", std::nullopt);
    scaling.highFreqFactor = reader.positive("high_freq_factor", std::nullopt);
    scaling.originalMaxPosition =
        reader.integer("original_max_position_embeddings", std::nullopt);
    if (!reader.failed() && scaling.highFreqFactor <= scaling.lowFreqFactor)
      reader.fail("high_freq_factor", "must be greater than low_freq_factor (" +
                                          describe(scaling.lowFreqFactor) +
                                          ")");
    result = scaling;
  } else {
    reader.fail(typeKey, Twine("unsupported value \"") + *type +
                             "\"; supported: \"linear\", \"llama3\", "
                             "\"default\" (or a null " +
                             key + ")");
  }
  reader.forwardTo(top);
  return result;
}

/// Fills the per-layer sliding windows from the family's conventions.
void parseSlidingWindows(FieldReader &reader, ModelConfig &config) {
  config.slidingWindows.assign(config.numLayers, std::nullopt);
  bool useWindow = false;
  int64_t firstWindowLayer = 0;
  if (config.family == "mistral") {
    useWindow = reader.has("sliding_window");
  } else if (config.family == "qwen2") {
    // Qwen2 windows the layers from `max_window_layers` on, when enabled.
    useWindow = reader.boolean("use_sliding_window", false);
    if (useWindow)
      firstWindowLayer =
          reader.integer("max_window_layers", config.numLayers, 0);
  }
  std::optional<int64_t> window;
  if (useWindow || reader.has("layer_types"))
    if (reader.has("sliding_window") || useWindow)
      window = reader.integer("sliding_window", std::nullopt);
  if (reader.failed())
    return;

  if (const json::Value *types = reader.get("layer_types")) {
    const json::Array *array = types->getAsArray();
    if (!array || static_cast<int64_t>(array->size()) != config.numLayers) {
      reader.fail("layer_types", "expected a list of num_hidden_layers (" +
                                     Twine(config.numLayers) + ") strings");
      return;
    }
    for (auto [i, element] : llvm::enumerate(*array)) {
      std::optional<StringRef> type = element.getAsString();
      if (type == "full_attention")
        continue;
      if (type != "sliding_attention") {
        reader.fail("layer_types", "entry " + Twine(i) + " is " +
                                       describe(element) +
                                       "; supported: \"full_attention\", "
                                       "\"sliding_attention\"");
        return;
      }
      if (!window) {
        reader.failMissing("sliding_window",
                           "a positive integer for sliding_attention layers");
        return;
      }
      config.slidingWindows[i] = window;
    }
    return;
  }
  if (!useWindow)
    return;
  for (int64_t i = firstWindowLayer; i < config.numLayers; ++i)
    config.slidingWindows[i] = window;
}
} // namespace

Expected<ModelConfig> infer::parseModelConfig(StringRef text,
                                              StringRef source) {
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        source + ": invalid JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *object = parsed->getAsObject();
  if (!object)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        source + ": expected a JSON object at the top level of config.json");

  FieldReader reader(*object, source);
  ModelConfig config;

  std::optional<std::string> modelType = reader.string("model_type");
  if (reader.failed())
    return reader.takeError();
  if (!modelType) {
    reader.failMissing("model_type", "\"llama\", \"mistral\" or \"qwen2\"");
    return reader.takeError();
  }
  if (*modelType != "llama" && *modelType != "mistral" &&
      *modelType != "qwen2") {
    reader.fail("model_type", "unsupported value \"" + *modelType +
                                  "\"; supported: \"llama\", \"mistral\", "
                                  "\"qwen2\"");
    return reader.takeError();
  }
  config.family = *modelType;

  for (StringRef key : kUnsupportedKeys)
    if (reader.has(key))
      reader.fail(key, "is not supported by this compiler (value " +
                           describe(*reader.get(key)) +
                           "); remove it only if the model does not use it");

  std::optional<std::string> act = reader.string("hidden_act");
  if (act && *act != "silu")
    reader.fail("hidden_act", "unsupported value \"" + *act +
                                  "\"; only \"silu\" (SwiGLU MLP) is "
                                  "supported");

  StringRef dtypeKey = reader.has("dtype") ? "dtype" : "torch_dtype";
  std::optional<std::string> dtype = reader.string(dtypeKey);
  if (dtype && *dtype != "bfloat16")
    reader.fail(dtypeKey, "unsupported value \"" + *dtype +
                              "\"; only \"bfloat16\" checkpoints are "
                              "supported (convert the weights to bfloat16 "
                              "and set it to \"bfloat16\")");

  config.vocabSize = reader.integer("vocab_size", std::nullopt);
  config.hiddenSize = reader.integer("hidden_size", std::nullopt);
  config.intermediateSize = reader.integer("intermediate_size", std::nullopt);
  config.numLayers =
      reader.integer("num_hidden_layers", std::nullopt, 1, kMaxLayers);
  config.numHeads = reader.integer("num_attention_heads", std::nullopt);
  config.numKvHeads = reader.integer("num_key_value_heads", config.numHeads);
  config.maxPosition = reader.integer("max_position_embeddings", std::nullopt);
  config.rmsNormEps = reader.positive("rms_norm_eps", std::nullopt);
  if (reader.failed())
    return reader.takeError();

  // Head geometry.
  if (reader.has("head_dim")) {
    config.headDim = reader.integer("head_dim", std::nullopt);
  } else if (config.hiddenSize % config.numHeads != 0) {
    reader.fail("hidden_size", "(" + Twine(config.hiddenSize) +
                                   ") is not divisible by "
                                   "num_attention_heads (" +
                                   Twine(config.numHeads) +
                                   "); set 'head_dim' explicitly");
  } else {
    config.headDim = config.hiddenSize / config.numHeads;
  }
  if (reader.failed())
    return reader.takeError();
  if (config.numHeads % config.numKvHeads != 0)
    reader.fail("num_key_value_heads",
                "(" + Twine(config.numKvHeads) +
                    ") must divide num_attention_heads (" +
                    Twine(config.numHeads) + ") for grouped-query attention");
  if (config.headDim % 8 != 0)
    reader.fail("head_dim", "(" + Twine(config.headDim) +
                                ") must be a multiple of 8 (16-byte KV "
                                "cache rows)");

  // Rotary embedding: transformers v5 moves theta and scaling into
  // `rope_parameters`.
  if (reader.has("partial_rotary_factor")) {
    const json::Value *factor = reader.get("partial_rotary_factor");
    if (factor->getAsNumber() != 1.0)
      reader.fail("partial_rotary_factor",
                  "unsupported value " + describe(*factor) +
                      "; only full rotary embeddings (1.0) are supported");
  }
  const json::Object *ropeParams = nullptr;
  if (const json::Value *params = reader.get("rope_parameters")) {
    ropeParams = params->getAsObject();
    if (!ropeParams)
      reader.fail("rope_parameters",
                  "expected an object, got " + describe(*params));
  }
  if (reader.has("rope_theta") || !ropeParams) {
    config.ropeTheta = reader.positive("rope_theta", std::nullopt);
  } else {
    FieldReader params(*ropeParams, source, "rope_parameters.");
    config.ropeTheta = params.positive("rope_theta", std::nullopt);
    params.forwardTo(reader);
  }
  config.ropeScaling = parseRopeScaling(
      reader, reader.has("rope_scaling") ? "rope_scaling" : "rope_parameters",
      source);

  // Projections.
  if (reader.boolean("mlp_bias", false))
    reader.fail("mlp_bias", "true is not supported; the MLP projections "
                            "must have no bias");
  if (config.family == "qwen2") {
    config.qkvBias = true;
  } else if (config.family == "llama") {
    config.qkvBias = config.outputBias =
        reader.boolean("attention_bias", false);
  }
  config.tieWordEmbeddings = reader.boolean("tie_word_embeddings", false);
  if (reader.failed())
    return reader.takeError();

  parseSlidingWindows(reader, config);

  std::vector<int64_t> bos = reader.tokenIds("bos_token_id");
  if (!bos.empty())
    config.bosTokenId = bos.front();
  config.eosTokenIds = reader.tokenIds("eos_token_id");
  for (int64_t id : llvm::concat<int64_t>(bos, config.eosTokenIds))
    if (id >= config.vocabSize) {
      reader.fail(llvm::is_contained(bos, id) ? "bos_token_id" : "eos_token_id",
                  "token id " + Twine(id) + " is outside the vocabulary (" +
                      "vocab_size " + Twine(config.vocabSize) + ")");
      break;
    }
  if (reader.failed())
    return reader.takeError();
  return config;
}

Expected<ModelConfig> infer::loadModelConfig(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(buffer.getError(),
                                   "cannot read '" + path +
                                       "': " + buffer.getError().message());
  return parseModelConfig((*buffer)->getBuffer(), path);
}

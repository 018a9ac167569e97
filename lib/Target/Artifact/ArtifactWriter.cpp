//===- ArtifactWriter.cpp - write the .art container ----------------------===//

#include "infer/Target/Artifact/ArtifactWriter.h"

#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/EndianStream.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace infer;
namespace json = llvm::json;

namespace {
/// Names of the step arguments and results, in order (docs/artifact.md).
constexpr StringLiteral kInputNames[] = {
    "tokens",       "positions",   "slots",          "block_tables",
    "context_lens", "query_start", "logits_indices", "temperature",
    "top_k",        "top_p",       "seeds",          "kv_cache"};
constexpr StringLiteral kOutputNames[] = {"tokens", "logits", "kv_cache"};
constexpr StringLiteral kLaunchesAttrName = "decode.launches";
// Written by the frontend (infer::kModelAttrName in Frontend/StepBuilder.h).
constexpr StringLiteral kModelAttrName = "infer.model";

std::optional<StringRef> dtypeName(Type type) {
  if (isa<decode::KVCacheType>(type))
    return StringRef("kv_cache");
  if (type.isBF16())
    return StringRef("bf16");
  if (type.isF16())
    return StringRef("f16");
  if (type.isF32())
    return StringRef("f32");
  if (isa<Float8E4M3FNType>(type))
    return StringRef("f8e4m3");
  for (unsigned width : {8u, 32u, 64u})
    if (type.isSignlessInteger(width))
      return StringRef(width == 8 ? "i8" : width == 32 ? "i32" : "i64");
  return std::nullopt;
}

/// Optional operands by ODS name (docs/artifact.md, `operand_roles`); the
/// others are positional.
SmallVector<std::pair<StringRef, Value>> optionalOperands(Operation *op) {
  using Roles = SmallVector<std::pair<StringRef, Value>>;
  return llvm::TypeSwitch<Operation *, Roles>(op)
      .Case([](decode::LinearOp o) -> Roles {
        return {{"bias", o.getBias()},
                {"residual", o.getResidual()},
                {"norm_weight", o.getNormWeight()}};
      })
      .Case([](decode::SpecAcceptOp o) -> Roles {
        return {{"draft_probs", o.getDraftProbs()}, {"seeds", o.getSeeds()}};
      })
      .Default([](Operation *) { return Roles(); });
}

/// A kernel object bound for the blob section.
struct KernelBlob {
  size_t kernel;    // index of the "kernels" entry naming it
  StringRef format; // "cubin", "ptx", "fatbin" or "llvm"
  StringRef bytes;
};

class HeaderBuilder {
public:
  explicit HeaderBuilder(ModuleOp module) : module(module) {}

  /// Builds everything but the blob offsets.
  LogicalResult build();
  /// Serializes the container with the blobs laid out after the header.
  void write(raw_ostream &os);

private:
  LogicalResult buildGraph(FunctionOpInterface step);
  LogicalResult addValue(Value value);
  void buildModel(FunctionOpInterface step);
  void buildKernels();
  json::Array ids(ValueRange values) {
    json::Array result;
    for (Value v : values)
      result.push_back(valueIds.lookup(v));
    return result;
  }

  ModuleOp module;
  DenseMap<Value, int64_t> valueIds;
  json::Array values;
  json::Object header;
  json::Array kernels;
  std::vector<KernelBlob> blobs;
};

LogicalResult HeaderBuilder::addValue(Value value) {
  json::Array shape;
  Type element = value.getType();
  if (auto shaped = dyn_cast<RankedTensorType>(value.getType())) {
    for (int64_t size : shaped.getShape())
      shape.push_back(ShapedType::isDynamic(size) ? int64_t(-1) : size);
    element = shaped.getElementType();
  } else if (!isa<decode::KVCacheType>(element)) {
    return emitError(value.getLoc())
           << "artifact values must be ranked tensors or a kv_cache, got "
           << value.getType();
  }
  std::optional<StringRef> dtype = dtypeName(element);
  if (!dtype)
    return emitError(value.getLoc())
           << "element type " << element
           << " has no artifact dtype (bf16, f16, f32, f8E4M3FN, i8, i32, "
              "i64)";
  int64_t id = valueIds.size();
  valueIds[value] = id;
  values.push_back(
      json::Object{{"id", id}, {"shape", std::move(shape)}, {"dtype", *dtype}});
  return success();
}

LogicalResult HeaderBuilder::buildGraph(FunctionOpInterface step) {
  Region &body = step.getFunctionBody();
  if (!body.hasOneBlock())
    return step.emitError() << "the step function must have a single block";
  Block &block = body.front();
  ArrayRef<Type> argTypes = step.getArgumentTypes();
  if (argTypes.size() != std::size(kInputNames) ||
      !isa<decode::KVCacheType>(argTypes.back()))
    return step.emitError()
           << "the step function must take the 12 arguments of "
              "docs/artifact.md (tokens, ..., seeds, kv_cache), got "
           << argTypes.size();
  if (step.getResultTypes().size() != std::size(kOutputNames))
    return step.emitError() << "the step function must return (tokens, "
                               "logits, kv_cache), got "
                            << step.getResultTypes().size() << " results";

  json::Object inputs;
  for (auto [name, arg] : llvm::zip(kInputNames, block.getArguments())) {
    if (failed(addValue(arg)))
      return failure();
    inputs[name] = valueIds.lookup(arg);
  }

  json::Array nodes;
  json::Object outputs;
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>()) {
      for (auto [name, v] : llvm::zip(kOutputNames, op.getOperands()))
        outputs[name] = valueIds.lookup(v);
      continue;
    }
    if (op.getNumRegions() != 0)
      return op.emitError() << "ops with regions cannot be serialized into "
                               "the artifact graph";
    for (Value result : op.getResults())
      if (failed(addValue(result)))
        return failure();

    json::Object node;
    StringRef name = op.getName().getStringRef();
    if (op.getDialect() && op.getDialect()->getNamespace() ==
                               decode::DecodeDialect::getDialectNamespace())
      name = op.getName().stripDialect();
    node["op"] = name;
    node["operands"] = ids(op.getOperands());
    node["results"] = ids(op.getResults());
    json::Object attrs;
    for (NamedAttribute attr : op.getAttrs()) {
      StringRef attrName = attr.getName().getValue();
      if (attrName == kLaunchesAttrName)
        node["launches"] = attributeToJSON(attr.getValue());
      else if (attrName != "operandSegmentSizes" &&
               attrName != "resultSegmentSizes")
        attrs[attrName] = attributeToJSON(attr.getValue());
    }
    node["attrs"] = std::move(attrs);
    json::Object roles;
    for (auto [role, v] : optionalOperands(&op))
      if (v)
        roles[role] = valueIds.lookup(v);
    if (!roles.empty())
      node["operand_roles"] = std::move(roles);
    nodes.push_back(std::move(node));
  }

  // Discardable attributes of the step other than its role (e.g. a launch
  // plan) travel along.
  json::Object stepAttrs;
  for (NamedAttribute attr : step->getDiscardableAttrs())
    if (attr.getName() != decode::DecodeDialect::getRoleAttrName())
      stepAttrs[attr.getName().getValue()] = attributeToJSON(attr.getValue());

  json::Object graph{{"values", std::move(values)},
                     {"inputs", std::move(inputs)},
                     {"outputs", std::move(outputs)},
                     {"nodes", std::move(nodes)}};
  graph["role"] =
      attributeToJSON(step->getAttr(decode::DecodeDialect::getRoleAttrName()));
  if (!stepAttrs.empty())
    graph["attrs"] = std::move(stepAttrs);
  header["graph"] = std::move(graph);
  return success();
}

/// Model metadata: derived from the graph, then overridden by the frontend's
/// `infer.model` dictionary when present.
void HeaderBuilder::buildModel(FunctionOpInterface step) {
  auto cache = cast<decode::KVCacheType>(step.getArgumentTypes().back());
  json::Object model{{"family", "unknown"},
                     {"num_layers", cache.getLayers()},
                     {"num_kv_heads", cache.getKvHeads()},
                     {"head_dim", cache.getHeadDim()},
                     {"eos_token_ids", json::Array()},
                     {"tie_word_embeddings", false}};
  if (auto logits = dyn_cast<RankedTensorType>(step.getResultTypes()[1]))
    if (logits.getRank() == 2 && !logits.isDynamicDim(1))
      model["vocab_size"] = logits.getDimSize(1);
  step->walk([&](Operation *op) {
    if (auto embed = dyn_cast<decode::EmbedOp>(op))
      model["hidden_size"] = embed.getTable().getType().getDimSize(1);
    if (auto attention = dyn_cast<decode::PagedAttentionOp>(op))
      model["num_heads"] = static_cast<int64_t>(attention.getNumHeads());
  });
  if (auto metadata = module->getAttrOfType<DictionaryAttr>(kModelAttrName))
    for (NamedAttribute entry : metadata)
      model[entry.getName().getValue()] = attributeToJSON(entry.getValue());
  header["model"] = std::move(model);

  header["kv_cache"] =
      json::Object{{"layers", cache.getLayers()},
                   {"kv_heads", cache.getKvHeads()},
                   {"head_dim", cache.getHeadDim()},
                   {"block_size", cache.getBlockSize()},
                   {"dtype", dtypeName(cache.getDtype()).value_or("?")}};
}

void HeaderBuilder::buildKernels() {
  // One entry per (binary, target); each object format is a blob in it.
  module->walk([&](gpu::BinaryOp binary) {
    llvm::StringMap<size_t> byTarget;
    for (auto object : binary.getObjects().getAsRange<gpu::ObjectAttr>()) {
      std::string arch;
      if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget()))
        arch = nvvm.getChip().str();
      else
        llvm::raw_string_ostream(arch) << object.getTarget();
      auto [it, inserted] = byTarget.try_emplace(arch, kernels.size());
      if (inserted) {
        json::Object entry{{"name", binary.getSymName()},
                           {"arch", arch},
                           {"target", attributeToJSON(object.getTarget())}};
        if (gpu::KernelTableAttr table = object.getKernels()) {
          json::Array functions;
          for (gpu::KernelMetadataAttr kernel : table.getKernelTable())
            functions.push_back(kernel.getName().getValue());
          entry["functions"] = std::move(functions);
        }
        if (DictionaryAttr properties = object.getProperties())
          entry["properties"] = attributeToJSON(properties);
        kernels.push_back(std::move(entry));
      }
      StringRef format;
      switch (object.getFormat()) {
      case gpu::CompilationTarget::Assembly:
        format = "ptx";
        break;
      case gpu::CompilationTarget::Binary:
        format = "cubin";
        break;
      case gpu::CompilationTarget::Fatbin:
        format = "fatbin";
        break;
      case gpu::CompilationTarget::Offload:
        format = "llvm";
        break;
      }
      blobs.push_back({it->second, format, object.getObject().getValue()});
    }
  });
}
} // namespace

LogicalResult HeaderBuilder::build() {
  SmallVector<FunctionOpInterface> steps;
  module->walk([&](FunctionOpInterface fn) {
    if (fn->hasAttr(decode::DecodeDialect::getRoleAttrName()))
      steps.push_back(fn);
  });
  if (steps.empty())
    return module.emitError()
           << "no step function: expected a func.func carrying 'decode.role'";
  if (steps.size() > 1)
    return steps[1].emitError() << "an artifact holds one step function, found "
                                << steps.size() << " carrying 'decode.role'";
  if (failed(buildGraph(steps.front())))
    return failure();
  buildModel(steps.front());
  buildKernels();
  return success();
}

void HeaderBuilder::write(raw_ostream &os) {
  // Blob offsets depend on the header's length, which depends on the
  // offsets' digits: lay out until the header stops growing.
  std::vector<uint64_t> offsets(blobs.size());
  std::string text;
  uint64_t base = llvm::alignTo(kArtifactPreambleSize, kArtifactBlobAlignment);
  for (;;) {
    uint64_t cursor = base;
    for (auto [blob, offset] : llvm::zip(blobs, offsets)) {
      offset = cursor;
      cursor =
          llvm::alignTo(cursor + blob.bytes.size(), kArtifactBlobAlignment);
      (*kernels[blob.kernel].getAsObject())[blob.format] =
          json::Object{{"offset", offset},
                       {"size", static_cast<uint64_t>(blob.bytes.size())}};
    }
    json::Object full = header;
    if (!kernels.empty())
      full["kernels"] = json::Array(kernels);
    text.clear();
    llvm::raw_string_ostream(text) << json::Value(std::move(full));
    uint64_t needed = llvm::alignTo(kArtifactPreambleSize + text.size(),
                                    kArtifactBlobAlignment);
    if (needed <= base)
      break;
    base = needed;
  }

  llvm::support::endian::Writer out(os, llvm::endianness::little);
  os << kArtifactMagic;
  out.write<uint32_t>(kArtifactVersion);
  out.write<uint32_t>(0);
  out.write<uint64_t>(text.size());
  os << text;
  uint64_t position = kArtifactPreambleSize + text.size();
  for (auto [blob, offset] : llvm::zip(blobs, offsets)) {
    for (; position < offset; ++position)
      os << '\0';
    os << blob.bytes;
    position += blob.bytes.size();
  }
}

LogicalResult infer::writeArtifact(ModuleOp module, raw_ostream &os) {
  HeaderBuilder builder(module);
  if (failed(builder.build()))
    return failure();
  builder.write(os);
  return success();
}

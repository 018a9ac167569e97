//===- AttributeJSON.cpp - MLIR attributes as JSON ------------------------===//

#include "infer/Target/Artifact/ArtifactWriter.h"

#include "Decode/IR/DecodeDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
namespace json = llvm::json;

namespace {
std::string printed(Attribute attr) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << attr;
  return text;
}

std::string printed(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

template <typename T> json::Value array(ArrayRef<T> elements) {
  json::Array result;
  for (T element : elements)
    result.push_back(element);
  return result;
}

json::Value integer(const APInt &value, bool isUnsigned) {
  if (value.getBitWidth() == 1)
    return value.getBoolValue();
  if (isUnsigned)
    return static_cast<uint64_t>(value.getZExtValue());
  return static_cast<int64_t>(value.getSExtValue());
}

json::Value elements(DenseElementsAttr dense) {
  json::Array result;
  Type element = dense.getElementType();
  if (isa<FloatType>(element)) {
    for (const APFloat &v : dense.getValues<APFloat>())
      result.push_back(v.convertToDouble());
  } else if (element.isIntOrIndex()) {
    for (const APInt &v : dense.getValues<APInt>())
      result.push_back(integer(v, element.isUnsignedInteger()));
  } else {
    return printed(dense);
  }
  return result;
}
} // namespace

json::Value infer::attributeToJSON(Attribute attr) {
  return llvm::TypeSwitch<Attribute, json::Value>(attr)
      .Case([](UnitAttr) { return true; })
      .Case([](BoolAttr a) { return a.getValue(); })
      .Case([](IntegerAttr a) {
        return integer(a.getValue(), a.getType().isUnsignedInteger());
      })
      .Case([](FloatAttr a) { return a.getValueAsDouble(); })
      .Case([](StringAttr a) { return a.getValue().str(); })
      .Case([](SymbolRefAttr a) {
        std::string name = a.getRootReference().str();
        for (FlatSymbolRefAttr nested : a.getNestedReferences())
          name += "::" + nested.getValue().str();
        return name;
      })
      .Case([](TypeAttr a) { return printed(a.getValue()); })
      .Case([](ArrayAttr a) {
        json::Array result;
        for (Attribute element : a)
          result.push_back(attributeToJSON(element));
        return result;
      })
      .Case([](DictionaryAttr a) {
        json::Object result;
        for (NamedAttribute entry : a)
          result[entry.getName().getValue()] =
              attributeToJSON(entry.getValue());
        return result;
      })
      .Case([](DenseI8ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseI16ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseI32ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseI64ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseF32ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseF64ArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseBoolArrayAttr a) { return array(a.asArrayRef()); })
      .Case([](DenseElementsAttr a) { return elements(a); })
      .Case([](decode::RopeScalingAttr a) {
        return json::Object{
            {"kind", decode::stringifyRopeScalingKind(a.getKind())},
            {"factor", a.getFactor().convertToDouble()},
            {"low_freq_factor", a.getLowFreqFactor().convertToDouble()},
            {"high_freq_factor", a.getHighFreqFactor().convertToDouble()},
            {"original_max_position", a.getOriginalMaxPosition()}};
      })
      .Case([](decode::KernelVariantAttr a) {
        return json::Object{{"max_tokens", a.getMaxTokens()},
                            {"kind", decode::stringifyKernelKind(a.getKind())},
                            {"k_split", a.getKSplit()}};
      })
      .Case([](decode::StepRoleAttr a) {
        return decode::stringifyStepRole(a.getValue()).str();
      })
      .Case([](decode::ActivationAttr a) {
        return decode::stringifyActivation(a.getValue()).str();
      })
      .Case([](decode::SpecAcceptModeAttr a) {
        return decode::stringifySpecAcceptMode(a.getValue()).str();
      })
      .Default([](Attribute a) { return printed(a); });
}

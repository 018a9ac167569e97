//===- DecodeDialect.cpp - decode dialect, attributes, types --------------===//

#include "Decode/IR/DecodeDialect.h"
#include "Decode/IR/DecodeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace mlir;
using namespace mlir::decode;

#include "Decode/IR/DecodeOpsDialect.cpp.inc"

#include "Decode/IR/DecodeEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Decode/IR/DecodeAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "Decode/IR/DecodeTypes.cpp.inc"

void DecodeDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Decode/IR/DecodeOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "Decode/IR/DecodeTypes.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "Decode/IR/DecodeAttrs.cpp.inc"
      >();
}

LogicalResult DecodeDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  // The launch plan written by convert-decode-to-gpu (docs/launch-plan.md).
  if (attr.getName() == "decode.launches") {
    auto launches = dyn_cast<ArrayAttr>(attr.getValue());
    if (!launches || !llvm::all_of(launches, llvm::IsaPred<DictionaryAttr>))
      return op->emitError() << "'decode.launches' must be an array of "
                                "dictionaries, got "
                             << attr.getValue();
    return success();
  }
  if (attr.getName() != getRoleAttrName())
    return op->emitError() << "unknown decode dialect attribute '"
                           << attr.getName().getValue()
                           << "'; the known ones are 'decode.role' and "
                              "'decode.launches'";
  if (!isa<StepRoleAttr>(attr.getValue()))
    return op->emitError() << "'decode.role' must be #decode.role<prefill|"
                              "decode|verify|draft>, got "
                           << attr.getValue();
  if (!isa<FunctionOpInterface>(op))
    return op->emitError() << "'decode.role' belongs on a function, not on '"
                           << op->getName() << "'";
  return success();
}

//===----------------------------------------------------------------------===//
// Types and attributes
//===----------------------------------------------------------------------===//

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t layers, int64_t kvHeads,
                                  int64_t headDim, int64_t blockSize,
                                  Type dtype) {
  if (layers <= 0)
    return emitError() << "kv_cache layers must be positive, got " << layers;
  if (kvHeads <= 0)
    return emitError() << "kv_cache kv_heads must be positive, got " << kvHeads;
  if (headDim <= 0 || headDim % 8 != 0)
    return emitError() << "kv_cache head_dim must be a positive multiple of 8 "
                          "(16-byte rows), got "
                       << headDim;
  // Verifiers compute 2 * kv_heads * head_dim (K and V rows) in int64_t.
  std::optional<int64_t> rowSize = llvm::checkedMul(kvHeads, headDim);
  if (!rowSize || !llvm::checkedMul<int64_t>(*rowSize, 2))
    return emitError() << "kv_cache kv_heads * head_dim (" << kvHeads << " * "
                       << headDim << ") is too large";
  if (blockSize <= 0 || !llvm::isPowerOf2_64(blockSize))
    return emitError() << "kv_cache block_size must be a power of two, got "
                       << blockSize;
  if (!dtype.isBF16() && !dtype.isF16() && !isa<Float8E4M3FNType>(dtype) &&
      !dtype.isSignlessInteger(8))
    return emitError() << "kv_cache dtype must be bf16, f16, f8E4M3FN or i8 "
                          "(with per-row scales), got "
                       << dtype;
  return success();
}

LogicalResult
RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        RopeScalingKind kind, APFloat factorValue,
                        APFloat lowFreqValue, APFloat highFreqValue,
                        int64_t originalMaxPosition) {
  double factor = factorValue.convertToDouble();
  double lowFreqFactor = lowFreqValue.convertToDouble();
  double highFreqFactor = highFreqValue.convertToDouble();
  if (!(factor > 0.0))
    return emitError() << "rope_scaling factor must be positive, got "
                       << factor;
  if (kind == RopeScalingKind::Llama3) {
    if (!(lowFreqFactor > 0.0) || !(highFreqFactor > lowFreqFactor))
      return emitError() << "llama3 rope_scaling needs 0 < low_freq_factor < "
                            "high_freq_factor";
    if (originalMaxPosition <= 0)
      return emitError()
             << "llama3 rope_scaling needs a positive original_max_position";
  }
  return success();
}

LogicalResult
KernelVariantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t maxTokens, KernelKind kind, int64_t kSplit) {
  if (maxTokens <= 0)
    return emitError() << "kernel variant max_tokens must be positive";
  if (kSplit <= 0)
    return emitError() << "kernel variant k_split must be at least 1";
  return success();
}

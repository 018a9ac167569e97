//===- Tensor.h - Element types, bf16/f16 conversion, host tensors -*- C++
//-*-===//
//
// Element types shared by safetensors, the artifact and the backends, exact
// bf16/f16 <-> f32 conversions (round to nearest even), a non-owning view of
// a typed buffer and a small owning host tensor used by the CPU backend.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_TENSOR_H
#define INFER_RUNTIME_TENSOR_H

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace infer::runtime {

enum class DType {
  BF16,
  F16,
  F32,
  F64,
  I8,
  U8,
  I16,
  I32,
  I64,
  Bool,
  F8E4M3,
  KVCache
};

/// Bytes per element (0 for KVCache).
size_t dtypeSize(DType dtype);
/// Artifact spelling: "bf16", "f32", "i32", "kv_cache", ...
const char *dtypeName(DType dtype);
/// Parses an artifact dtype name. False when unknown.
bool parseDType(const std::string &name, DType &dtype);
/// Parses a safetensors dtype name ("BF16", "F32", "I64", ...).
bool parseSafeTensorsDType(const std::string &name, DType &dtype);
const char *safeTensorsDTypeName(DType dtype);
bool isFloatDType(DType dtype);
std::string shapeToString(const std::vector<int64_t> &shape);
int64_t numElements(const std::vector<int64_t> &shape);

inline float bf16ToFloat(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

/// The f32 value nearest to `f` that bf16 represents.
inline float roundToBf16(float f) { return bf16ToFloat(floatToBf16(f)); }

float f16ToFloat(uint16_t bits);
uint16_t floatToF16(float f);
inline float roundToF16(float f) { return f16ToFloat(floatToF16(f)); }

/// Rounds `f` to what `dtype` (bf16, f16 or f32) can hold.
inline float roundTo(DType dtype, float f) {
  if (dtype == DType::BF16)
    return roundToBf16(f);
  if (dtype == DType::F16)
    return roundToF16(f);
  return f;
}

/// A non-owning typed view of contiguous row-major data.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t byteSize = 0;

  int64_t numel() const { return numElements(shape); }
  /// Element `i` as f32 (float dtypes only).
  float getFloat(int64_t i) const;
};

/// Writes `src` (bf16, f16 or f32; rows of `scale.size()` elements) to `dst`
/// as `dtype` (bf16, f16 or f32): dst[r][c] = round(src[r][c] * scale[c]),
/// multiplied in f32 and rounded once. Runs on up to 16 threads. False when
/// a dtype is unsupported or src is not whole rows.
bool scaleColumns(const TensorView &src, const std::vector<float> &scale,
                  DType dtype, uint8_t *dst);

/// An owning host tensor. Float dtypes keep f32 values in `f` (already
/// rounded to the dtype); i32 in `i`, i64 in `l`.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<float> f;
  std::vector<int32_t> i;
  std::vector<int64_t> l;

  int64_t numel() const { return numElements(shape); }
  int64_t dim(size_t d) const { return d < shape.size() ? shape[d] : 1; }
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_TENSOR_H

//===- Tensor.cpp - Element types and conversions -------------------------===//

#include "infer/runtime/Tensor.h"

#include <cmath>

using namespace infer::runtime;

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  const char *stName;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::BF16, "bf16", "BF16", 2},
    {DType::F16, "f16", "F16", 2},
    {DType::F32, "f32", "F32", 4},
    {DType::F64, "f64", "F64", 8},
    {DType::I8, "i8", "I8", 1},
    {DType::U8, "u8", "U8", 1},
    {DType::I16, "i16", "I16", 2},
    {DType::I32, "i32", "I32", 4},
    {DType::I64, "i64", "I64", 8},
    {DType::Bool, "bool", "BOOL", 1},
    {DType::F8E4M3, "f8E4M3FN", "F8_E4M3", 1},
    {DType::KVCache, "kv_cache", "", 0},
};
const DTypeInfo &info(DType d) {
  for (const DTypeInfo &i : kDTypes)
    if (i.dtype == d)
      return i;
  return kDTypes[0];
}
} // namespace

size_t infer::runtime::dtypeSize(DType d) { return info(d).size; }
const char *infer::runtime::dtypeName(DType d) { return info(d).name; }
const char *infer::runtime::safeTensorsDTypeName(DType d) {
  return info(d).stName;
}

bool infer::runtime::parseDType(const std::string &name, DType &d) {
  for (const DTypeInfo &i : kDTypes)
    if (name == i.name) {
      d = i.dtype;
      return true;
    }
  if (name == "f8e4m3" || name == "f8E4M3") {
    d = DType::F8E4M3;
    return true;
  }
  return false;
}

bool infer::runtime::parseSafeTensorsDType(const std::string &name, DType &d) {
  for (const DTypeInfo &i : kDTypes)
    if (*i.stName && name == i.stName) {
      d = i.dtype;
      return true;
    }
  return false;
}

bool infer::runtime::isFloatDType(DType d) {
  return d == DType::BF16 || d == DType::F16 || d == DType::F32 ||
         d == DType::F64;
}

std::string infer::runtime::shapeToString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t infer::runtime::numElements(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

float infer::runtime::f16ToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float v;
  if (exp == 0)
    v = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31)
    v = man ? NAN : INFINITY;
  else
    v = std::ldexp(static_cast<float>(man | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

uint16_t infer::runtime::floatToF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t absBits = u & 0x7fffffff;
  if (absBits > 0x7f800000)
    return static_cast<uint16_t>(sign | 0x7e00);
  if (absBits >= 0x477ff000) // Rounds to >= 65520: infinity.
    return static_cast<uint16_t>(sign | 0x7c00);
  float a;
  std::memcpy(&a, &absBits, 4);
  if (a < 6.103515625e-05f) {
    // Subnormal: multiples of 2^-24, rounded to nearest even by rint.
    float q = std::nearbyint(a * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));
  }
  uint32_t exp = (absBits >> 23) - 112, man = absBits & 0x7fffff;
  uint32_t bits = (exp << 10) | (man >> 13);
  uint32_t rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (bits & 1)))
    ++bits;
  return static_cast<uint16_t>(sign | bits);
}

float TensorView::getFloat(int64_t i) const {
  switch (dtype) {
  case DType::BF16: {
    uint16_t b;
    std::memcpy(&b, data + 2 * i, 2);
    return bf16ToFloat(b);
  }
  case DType::F16: {
    uint16_t b;
    std::memcpy(&b, data + 2 * i, 2);
    return f16ToFloat(b);
  }
  case DType::F32: {
    float v;
    std::memcpy(&v, data + 4 * i, 4);
    return v;
  }
  case DType::F64: {
    double v;
    std::memcpy(&v, data + 8 * i, 8);
    return static_cast<float>(v);
  }
  default:
    return 0.0f;
  }
}

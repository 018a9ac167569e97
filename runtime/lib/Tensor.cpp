//===- Tensor.cpp - Element types and conversions -------------------------===//

#include "infer/runtime/Tensor.h"

#include <algorithm>
#include <cmath>
#include <thread>

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

namespace {
template <DType From> float loadElement(const uint8_t *p, int64_t i) {
  if constexpr (From == DType::F32) {
    float v;
    std::memcpy(&v, p + 4 * i, 4);
    return v;
  } else {
    uint16_t b;
    std::memcpy(&b, p + 2 * i, 2);
    return From == DType::BF16 ? bf16ToFloat(b) : f16ToFloat(b);
  }
}

template <DType To> void storeElement(uint8_t *p, int64_t i, float f) {
  if constexpr (To == DType::F32) {
    std::memcpy(p + 4 * i, &f, 4);
  } else {
    uint16_t b = To == DType::BF16 ? floatToBf16(f) : floatToF16(f);
    std::memcpy(p + 2 * i, &b, 2);
  }
}

using ScaleRowsFn = void (*)(const uint8_t *src, const float *scale,
                             int64_t cols, int64_t rowBegin, int64_t rowEnd,
                             uint8_t *dst);

template <DType From, DType To>
void scaleRows(const uint8_t *src, const float *scale, int64_t cols,
               int64_t rowBegin, int64_t rowEnd, uint8_t *dst) {
  for (int64_t r = rowBegin; r < rowEnd; ++r)
    for (int64_t c = 0; c < cols; ++c)
      storeElement<To>(dst, r * cols + c,
                       loadElement<From>(src, r * cols + c) * scale[c]);
}

template <DType From> ScaleRowsFn scaleRowsTo(DType to) {
  switch (to) {
  case DType::BF16:
    return scaleRows<From, DType::BF16>;
  case DType::F16:
    return scaleRows<From, DType::F16>;
  case DType::F32:
    return scaleRows<From, DType::F32>;
  default:
    return nullptr;
  }
}

ScaleRowsFn scaleRowsFn(DType from, DType to) {
  switch (from) {
  case DType::BF16:
    return scaleRowsTo<DType::BF16>(to);
  case DType::F16:
    return scaleRowsTo<DType::F16>(to);
  case DType::F32:
    return scaleRowsTo<DType::F32>(to);
  default:
    return nullptr;
  }
}
} // namespace

bool infer::runtime::scaleColumns(const TensorView &src,
                                  const std::vector<float> &scale, DType dtype,
                                  uint8_t *dst) {
  ScaleRowsFn fn = scaleRowsFn(src.dtype, dtype);
  const int64_t n = src.numel(), cols = static_cast<int64_t>(scale.size());
  if (!fn || (n > 0 && (cols == 0 || n % cols != 0)))
    return false;
  if (n == 0)
    return true;
  const int64_t rows = n / cols;
  // At least ~256K elements per thread: small tensors stay on this one.
  const int64_t numThreads = std::min<int64_t>(
      {std::max<int64_t>(1, std::thread::hardware_concurrency()), 16,
       std::max<int64_t>(1, n >> 18), rows});
  const int64_t perThread = (rows + numThreads - 1) / numThreads;
  std::vector<std::thread> workers;
  for (int64_t begin = perThread; begin < rows; begin += perThread)
    workers.emplace_back(fn, src.data, scale.data(), cols, begin,
                         std::min(rows, begin + perThread), dst);
  fn(src.data, scale.data(), cols, 0, std::min(rows, perThread), dst);
  for (std::thread &t : workers)
    t.join();
  return true;
}

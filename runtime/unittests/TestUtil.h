//===- TestUtil.h - Hand-built artifacts and checkpoints for tests -*- C++
//-*-===//

#ifndef INFER_RUNTIME_UNITTESTS_TESTUTIL_H
#define INFER_RUNTIME_UNITTESTS_TESTUTIL_H

#include "infer/runtime/ArtifactFormat.h"
#include "infer/runtime/SafeTensors.h"
#include "infer/runtime/Tensor.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace infer::runtime::test {

using json = nlohmann::json;

/// A unique temporary path (removed by the caller or left in /tmp).
inline std::string tempPath(const std::string &stem) {
  static int counter = 0;
  return "/tmp/infer-rt-test-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + "-" + stem;
}

inline void writeBytes(const std::string &path,
                       const std::vector<uint8_t> &bytes) {
  FILE *f = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// The container of docs/artifact.md around `header`, plus `blobBytes`
/// bytes of blobs (256-aligned after the header).
inline std::vector<uint8_t>
artifactBytes(const json &header, size_t blobBytes = 0, uint32_t version = 1) {
  std::string h = header.dump();
  std::vector<uint8_t> out(24 + h.size());
  std::memcpy(out.data(), artifact::kMagic, 8);
  for (int i = 0; i < 4; ++i)
    out[8 + i] = static_cast<uint8_t>(version >> (8 * i));
  for (int i = 0; i < 8; ++i)
    out[16 + i] = static_cast<uint8_t>(uint64_t(h.size()) >> (8 * i));
  std::memcpy(out.data() + 24, h.data(), h.size());
  if (blobBytes) {
    out.resize((out.size() + 255) / 256 * 256 + blobBytes, 0);
  }
  return out;
}

/// Builds the `graph` object of a header.
class GraphBuilder {
public:
  int value(std::vector<int64_t> shape, const std::string &dtype) {
    int id = static_cast<int>(values.size());
    values.push_back({{"id", id}, {"shape", shape}, {"dtype", dtype}});
    return id;
  }
  int input(const std::string &name, std::vector<int64_t> shape,
            const std::string &dtype) {
    int id = value(std::move(shape), dtype);
    inputs[name] = id;
    return id;
  }
  void node(const std::string &op, std::vector<int> operands,
            std::vector<int> results, json attrs = json::object(),
            json roles = json()) {
    json n = {{"op", op},
              {"operands", operands},
              {"results", results},
              {"attrs", attrs}};
    if (!roles.is_null())
      n["operand_roles"] = roles;
    nodes.push_back(n);
  }
  /// A non-empty `columnScale` names the weight's column scale.
  int weight(const std::vector<std::string> &names, std::vector<int64_t> shape,
             const std::string &dtype = "bf16",
             const std::string &columnScale = "") {
    int id = value(std::move(shape), dtype);
    json attrs = {{"names", names}};
    if (!columnScale.empty())
      attrs["column_scale"] = columnScale;
    node("weight", {}, {id}, attrs);
    return id;
  }
  /// The 12 standard inputs; returns their ids by name.
  void standardInputs() {
    for (const char *n : {"tokens", "positions", "slots"})
      input(n, {-1}, "i32");
    input("block_tables", {-1, -1}, "i32");
    input("context_lens", {-1}, "i32");
    input("query_start", {-1}, "i32");
    input("logits_indices", {-1}, "i32");
    input("temperature", {-1}, "f32");
    input("top_k", {-1}, "i32");
    input("top_p", {-1}, "f32");
    input("seeds", {-1}, "i64");
    input("kv_cache", {}, "kv_cache");
  }
  json build() const {
    return {{"values", values},
            {"inputs", inputs},
            {"outputs", outputs},
            {"nodes", nodes}};
  }

  json values = json::array();
  json inputs = json::object();
  json outputs = json::object();
  json nodes = json::array();
};

/// Random bf16 tensor entry, values uniform in [-scale, scale].
inline SafeTensorsEntry randomBf16(const std::string &name,
                                   std::vector<int64_t> shape, float scale,
                                   std::mt19937 &rng) {
  SafeTensorsEntry e{name, DType::BF16, shape, {}};
  std::uniform_real_distribution<float> dist(-scale, scale);
  int64_t n = numElements(shape);
  e.bytes.resize(n * 2);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t b = floatToBf16(dist(rng));
    std::memcpy(e.bytes.data() + 2 * i, &b, 2);
  }
  return e;
}

/// `entries` written to a temporary file and mapped; the file is removed
/// (the mapping stays valid).
inline StatusOr<std::shared_ptr<const SafeTensors>>
mappedSafeTensors(const std::vector<SafeTensorsEntry> &entries) {
  std::string path = tempPath("weights.safetensors");
  INFER_RETURN_IF_ERROR(writeSafeTensors(path, entries));
  auto st = SafeTensors::open(path);
  std::remove(path.c_str());
  if (!st.ok())
    return st.status();
  return std::shared_ptr<const SafeTensors>(std::move(*st));
}

inline std::vector<float> entryFloats(const SafeTensorsEntry &e) {
  TensorView v{e.dtype, e.shape, e.bytes.data(), e.bytes.size()};
  std::vector<float> out(v.numel());
  for (int64_t i = 0; i < v.numel(); ++i)
    out[i] = v.getFloat(i);
  return out;
}

} // namespace infer::runtime::test

#endif // INFER_RUNTIME_UNITTESTS_TESTUTIL_H

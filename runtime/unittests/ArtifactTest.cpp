//===- ArtifactTest.cpp - .art reader tests -------------------------------===//

#include "infer/runtime/Artifact.h"
#include "TestUtil.h"

#include "gtest/gtest.h"

using namespace infer;
using namespace infer::runtime;
using namespace infer::runtime::test;

namespace {

json tinyHeader() {
  GraphBuilder g;
  int tokens = g.input("tokens", {-1}, "i32");
  int table = g.weight({"embed"}, {8, 4});
  int h = g.value({-1, 4}, "bf16");
  g.node("embed", {tokens, table}, {h});
  int head = g.weight({"head"}, {8, 4});
  int logits = g.value({-1, 8}, "f32");
  g.node("linear", {h, head}, {logits});
  g.outputs["logits"] = logits;
  return {{"model", {{"family", "llama"}, {"vocab_size", 8}}},
          {"kv_cache",
           {{"layers", 1},
            {"kv_heads", 1},
            {"head_dim", 4},
            {"block_size", 16},
            {"dtype", "bf16"}}},
          {"graph", g.build()}};
}

StatusOr<std::shared_ptr<Artifact>> parse(const std::vector<uint8_t> &b) {
  return Artifact::parse(b, "test.art");
}

std::string errorOf(const json &header) {
  auto a = parse(artifactBytes(header));
  EXPECT_FALSE(a.ok());
  return a.ok() ? "" : a.status().message();
}

TEST(ArtifactTest, Good) {
  json h = tinyHeader();
  h["kernels"] = {{{"name", "k0"},
                   {"arch", "sm_90"},
                   {"ptx", {{"offset", 0}, {"size", 0}}}}};
  std::vector<uint8_t> bytes = artifactBytes(h, 512);
  size_t blobStart = bytes.size() - 512;
  h["kernels"][0]["ptx"] = {{"offset", blobStart}, {"size", 300}};
  bytes = artifactBytes(h, 512);
  auto a = parse(bytes);
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ((*a)->model().vocabSize, 8);
  EXPECT_EQ((*a)->kvCache().blockSize, 16);
  ASSERT_EQ((*a)->nodes().size(), 4u);
  EXPECT_EQ((*a)->nodes()[1].kind, artifact::OpKind::Embed);
  EXPECT_EQ((*a)->inputs().at("tokens"), 0);
  ASSERT_EQ((*a)->kernels().size(), 1u);
  EXPECT_EQ((*a)->kernels()[0].ptx->size, 300u);
  // Through a file as well.
  std::string path = tempPath("good.art");
  writeBytes(path, bytes);
  auto b = Artifact::load(path);
  EXPECT_TRUE(b.ok()) << b.status().toString();
  std::remove(path.c_str());
}

TEST(ArtifactTest, BadMagicAndVersion) {
  std::vector<uint8_t> bytes = artifactBytes(tinyHeader());
  bytes[0] = 'X';
  auto a = parse(bytes);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("magic"), std::string::npos);
  a = parse(artifactBytes(tinyHeader(), 0, 7));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("version 7"), std::string::npos);
  a = parse(std::vector<uint8_t>(5, 0));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(Artifact::load("/nonexistent/x.art").status().code(),
            StatusCode::NotFound);
}

TEST(ArtifactTest, BadHeader) {
  std::vector<uint8_t> bytes = artifactBytes(tinyHeader());
  bytes[24] = '!';
  auto a = parse(bytes);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("not a JSON"), std::string::npos);
  bytes = artifactBytes(tinyHeader());
  bytes.resize(bytes.size() - 10);
  a = parse(bytes);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("header length"), std::string::npos);
  json h = tinyHeader();
  h.erase("model");
  EXPECT_NE(errorOf(h).find("'model'"), std::string::npos);
}

TEST(ArtifactTest, DanglingValueId) {
  json h = tinyHeader();
  h["graph"]["nodes"][3]["operands"][0] = 42;
  EXPECT_NE(errorOf(h).find("value 42"), std::string::npos);
  h = tinyHeader();
  h["graph"]["outputs"]["tokens"] = 99;
  EXPECT_NE(errorOf(h).find("outputs.tokens"), std::string::npos);
  // Use before definition.
  h = tinyHeader();
  std::swap(h["graph"]["nodes"][1], h["graph"]["nodes"][3]);
  EXPECT_NE(errorOf(h).find("before it is defined"), std::string::npos);
}

TEST(ArtifactTest, UnknownOpAndBadAttrs) {
  json h = tinyHeader();
  h["graph"]["nodes"][1]["op"] = "conv2d";
  EXPECT_NE(errorOf(h).find("unknown op 'conv2d'"), std::string::npos);
  h = tinyHeader();
  h["graph"]["nodes"][0]["attrs"]["names"] = json::array();
  EXPECT_NE(errorOf(h).find("'names'"), std::string::npos);
  h = tinyHeader();
  h["graph"]["values"][2]["dtype"] = "q4";
  EXPECT_NE(errorOf(h).find("unknown dtype"), std::string::npos);
  h = tinyHeader();
  h["graph"]["nodes"][1]["operands"] = {0};
  EXPECT_NE(errorOf(h).find("operands"), std::string::npos);
}

TEST(ArtifactTest, ColumnScale) {
  json h = tinyHeader();
  h["graph"]["nodes"][0]["attrs"]["column_scale"] = "gamma";
  auto a = parse(artifactBytes(h));
  EXPECT_TRUE(a.ok()) << a.status().toString();
  for (json bad : {json(3), json(""), json::array({"gamma"})}) {
    h["graph"]["nodes"][0]["attrs"]["column_scale"] = bad;
    std::string err = errorOf(h);
    EXPECT_NE(err.find("'column_scale'"), std::string::npos) << err;
    EXPECT_NE(err.find("nodes[0] (weight)"), std::string::npos) << err;
  }
  // Only rank-2 weights have columns.
  h = tinyHeader();
  int id = static_cast<int>(h["graph"]["values"].size());
  h["graph"]["values"].push_back(
      {{"id", id}, {"shape", {4}}, {"dtype", "bf16"}});
  h["graph"]["nodes"].push_back(
      {{"op", "weight"},
       {"results", {id}},
       {"attrs", {{"names", {"bias"}}, {"column_scale", "gamma"}}}});
  std::string err = errorOf(h);
  EXPECT_NE(err.find("'column_scale' needs a rank-2 weight"), std::string::npos)
      << err;
}

TEST(ArtifactTest, NormEpsilonWithoutNormWeight) {
  json h = tinyHeader();
  // nodes[3] is the linear: the RMS scale alone.
  h["graph"]["nodes"][3]["attrs"]["norm_epsilon"] = 1e-5;
  auto a = parse(artifactBytes(h));
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ((*a)->nodes()[3].role("norm_weight"), -1);
  for (json bad : {json(0.0), json(-1e-5), json("1e-5")}) {
    h["graph"]["nodes"][3]["attrs"]["norm_epsilon"] = bad;
    std::string err = errorOf(h);
    EXPECT_NE(err.find("'norm_epsilon' must be a positive number"),
              std::string::npos)
        << err;
  }
  // The norm_weight role still needs it.
  h = tinyHeader();
  h["graph"]["nodes"][3]["operands"].push_back(1);
  h["graph"]["nodes"][3]["operand_roles"] = {{"norm_weight", 1}};
  EXPECT_NE(errorOf(h).find("'norm_epsilon'"), std::string::npos);
}

/// tinyHeader() with the linear (nodes[3]) fused with silu_mul: the [8, 4]
/// weight packs [gate | up], the result (value 4) is [T, 4].
json siluMulHeader() {
  json h = tinyHeader();
  h["graph"]["values"][4]["shape"] = {-1, 4};
  h["graph"]["nodes"][3]["attrs"]["activation"] = "silu_mul";
  return h;
}

TEST(ArtifactTest, LinearSiluMulActivation) {
  json h = siluMulHeader();
  auto a = parse(artifactBytes(h));
  ASSERT_TRUE(a.ok()) << a.status().toString();
  EXPECT_EQ((*a)->nodes()[3].attrs.value("activation", ""), "silu_mul");
  // With norm_epsilon, and with a dynamic result width.
  h["graph"]["nodes"][3]["attrs"]["norm_epsilon"] = 1e-5;
  h["graph"]["values"][4]["shape"] = {-1, -1};
  a = parse(artifactBytes(h));
  EXPECT_TRUE(a.ok()) << a.status().toString();

  for (json bad : {json("gelu"), json("silu"), json(1), json(nullptr)}) {
    h = siluMulHeader();
    h["graph"]["nodes"][3]["attrs"]["activation"] = bad;
    std::string err = errorOf(h);
    EXPECT_NE(err.find("nodes[3] (linear): attribute 'activation'"),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("\"silu_mul\""), std::string::npos) << err;
  }
}

TEST(ArtifactTest, LinearSiluMulRejectsResidualAndBadRows) {
  json h = siluMulHeader();
  h["graph"]["nodes"][3]["operands"].push_back(2);
  h["graph"]["nodes"][3]["operand_roles"] = {{"residual", 2}};
  std::string err = errorOf(h);
  EXPECT_NE(err.find("'activation'"), std::string::npos) << err;
  EXPECT_NE(err.find("'residual'"), std::string::npos) << err;
  // The same residual without the activation is fine.
  h["graph"]["nodes"][3]["attrs"].erase("activation");
  h["graph"]["values"][4]["shape"] = {-1, 8};
  auto a = parse(artifactBytes(h));
  EXPECT_TRUE(a.ok()) << a.status().toString();

  // Odd weight rows (value 3 is the weight), even with a dynamic result.
  h = siluMulHeader();
  h["graph"]["values"][3]["shape"] = {7, 4};
  h["graph"]["values"][4]["shape"] = {-1, -1};
  err = errorOf(h);
  EXPECT_NE(err.find("'activation'"), std::string::npos) << err;
  EXPECT_NE(err.find("even"), std::string::npos) << err;
  EXPECT_NE(err.find("has 7"), std::string::npos) << err;
  // Rows that are not twice the result's columns.
  h = siluMulHeader();
  h["graph"]["values"][3]["shape"] = {6, 4};
  err = errorOf(h);
  EXPECT_NE(err.find("'activation'"), std::string::npos) << err;
  EXPECT_NE(err.find("6 rows"), std::string::npos) << err;
  EXPECT_NE(err.find("4 columns"), std::string::npos) << err;
  h = siluMulHeader();
  h["graph"]["values"][4]["shape"] = {-1, 8};
  err = errorOf(h);
  EXPECT_NE(err.find("8 rows"), std::string::npos) << err;
  EXPECT_NE(err.find("8 columns"), std::string::npos) << err;
}

TEST(ArtifactTest, TruncatedBlob) {
  json h = tinyHeader();
  h["kernels"] = {
      {{"name", "k0"}, {"cubin", {{"offset", 256}, {"size", 100000}}}}};
  std::string err = errorOf(h);
  EXPECT_NE(err.find("kernels[0].cubin"), std::string::npos) << err;
  EXPECT_NE(err.find("outside"), std::string::npos) << err;
}

} // namespace

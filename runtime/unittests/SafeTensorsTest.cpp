//===- SafeTensorsTest.cpp - safetensors reader tests ---------------------===//

#include "TestUtil.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <sys/stat.h>

using namespace infer;
using namespace infer::runtime;
using namespace infer::runtime::test;

namespace {

std::vector<uint8_t> rawFile(const std::string &header,
                             const std::vector<uint8_t> &data) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

StatusOr<std::unique_ptr<SafeTensors>> openRaw(const std::string &header,
                                               std::vector<uint8_t> data) {
  std::string path = tempPath("raw.safetensors");
  writeBytes(path, rawFile(header, data));
  auto st = SafeTensors::open(path);
  std::remove(path.c_str());
  return st;
}

TEST(SafeTensorsTest, RoundTripAndViews) {
  std::mt19937 rng(1);
  std::vector<SafeTensorsEntry> entries = {
      randomBf16("a.weight", {3, 4}, 1.0f, rng),
      {"b", DType::F32, {2}, std::vector<uint8_t>(8)},
      {"c", DType::I64, {1}, std::vector<uint8_t>(8)}};
  float two[2] = {1.5f, -2.0f};
  std::memcpy(entries[1].bytes.data(), two, 8);
  std::string path = tempPath("ok.safetensors");
  ASSERT_TRUE(writeSafeTensors(path, entries).ok());
  auto st = SafeTensors::open(path);
  ASSERT_TRUE(st.ok()) << st.status().toString();
  EXPECT_EQ((*st)->size(), 3u);
  const TensorView *a = (*st)->find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::BF16);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{3, 4}));
  std::vector<float> ref = entryFloats(entries[0]);
  for (int i = 0; i < 12; ++i)
    EXPECT_EQ(a->getFloat(i), ref[i]);
  const TensorView *b = (*st)->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->getFloat(1), -2.0f);
  EXPECT_EQ((*st)->find("missing"), nullptr);
  std::remove(path.c_str());
}

TEST(SafeTensorsTest, DirectoryOfShards) {
  std::mt19937 rng(2);
  std::string dir = tempPath("ckpt");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_TRUE(writeSafeTensors(dir + "/model-00001-of-00002.safetensors",
                               {randomBf16("x", {2, 2}, 1, rng)})
                  .ok());
  ASSERT_TRUE(writeSafeTensors(dir + "/model-00002-of-00002.safetensors",
                               {randomBf16("y", {4}, 1, rng)})
                  .ok());
  auto st = SafeTensors::open(dir);
  ASSERT_TRUE(st.ok()) << st.status().toString();
  EXPECT_NE((*st)->find("x"), nullptr);
  EXPECT_NE((*st)->find("y"), nullptr);
  // With an index that names only one shard, only it is read.
  FILE *f = std::fopen((dir + "/model.safetensors.index.json").c_str(), "w");
  std::fputs("{\"weight_map\": {\"y\": \"model-00002-of-00002.safetensors\"}}",
             f);
  std::fclose(f);
  auto st2 = SafeTensors::open(dir);
  ASSERT_TRUE(st2.ok()) << st2.status().toString();
  EXPECT_EQ((*st2)->find("x"), nullptr);
  EXPECT_NE((*st2)->find("y"), nullptr);
  std::system(("rm -rf " + dir).c_str());
}

TEST(SafeTensorsTest, Truncated) {
  std::mt19937 rng(3);
  std::string path = tempPath("t.safetensors");
  ASSERT_TRUE(writeSafeTensors(path, {randomBf16("w", {8, 8}, 1, rng)}).ok());
  ASSERT_EQ(::truncate(path.c_str(), 100), 0);
  auto st = SafeTensors::open(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("'w'"), std::string::npos)
      << st.status().message();
  ASSERT_EQ(::truncate(path.c_str(), 5), 0);
  st = SafeTensors::open(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("shorter than"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_EQ(SafeTensors::open(path).status().code(), StatusCode::NotFound);
}

TEST(SafeTensorsTest, BadHeader) {
  auto st = openRaw("{not json", {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("not a JSON object"), std::string::npos);
  st = openRaw(
      R"({"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}})", {0});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("unknown dtype 'Q4'"),
            std::string::npos);
  st = openRaw(R"({"w": {"dtype": "F32", "shape": [1]}})", {});
  ASSERT_FALSE(st.ok());
  // Header length larger than the file.
  std::vector<uint8_t> bytes = rawFile("{}", {});
  bytes[0] = 0xff;
  bytes[1] = 0xff;
  std::string path = tempPath("len.safetensors");
  writeBytes(path, bytes);
  st = SafeTensors::open(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("header length"), std::string::npos);
  std::remove(path.c_str());
}

TEST(SafeTensorsTest, BadOffsets) {
  // Span does not match shape x dtype.
  auto st = openRaw(
      R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})",
      std::vector<uint8_t>(8));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("needs 8 bytes"), std::string::npos);
  // Outside the data section.
  st = openRaw(
      R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
      std::vector<uint8_t>(8));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("outside"), std::string::npos);
  // Overlapping tensors.
  st = openRaw(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
               std::vector<uint8_t>(12));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("overlap"), std::string::npos);
  // begin > end.
  st = openRaw(
      R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})",
      std::vector<uint8_t>(8));
  ASSERT_FALSE(st.ok());
}

TEST(SafeTensorsTest, Bf16Rounding) {
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(roundToBf16(1.0f + 1.0f / 256), 1.0f);
  EXPECT_EQ(roundToBf16(1.0f + 3.0f / 256), 1.0f + 1.0f / 64);
  EXPECT_TRUE(std::isnan(roundToBf16(NAN)));
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 3e-7f})
    EXPECT_EQ(f16ToFloat(floatToF16(f)), roundToF16(f));
  EXPECT_EQ(f16ToFloat(floatToF16(65504.0f)), 65504.0f);
  EXPECT_EQ(f16ToFloat(floatToF16(1.0f + 1.0f / 2048)), 1.0f);
}

} // namespace

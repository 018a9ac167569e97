//===- CudaBackendTest.cpp - CUDA driver layer and backend tests ----------===//
//
// Without a driver or device every GPU test skips with the driver's reason.
//
//===----------------------------------------------------------------------===//

#include "infer/runtime/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace infer;
using namespace infer::runtime;

namespace {

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    Status avail = CudaDriver::available();                                    \
    if (!avail.ok())                                                           \
      GTEST_SKIP() << "no CUDA: " << avail.message();                          \
  } while (false)

TEST(CudaDriverTest, AvailabilityIsExplained) {
  Status avail = CudaDriver::available();
  if (avail.ok()) {
    StatusOr<const CudaDriver *> d = CudaDriver::load();
    ASSERT_TRUE(d.ok());
    EXPECT_GT((*d)->deviceCount(), 0);
    return;
  }
  // The reason must say what is missing, not just "failed".
  EXPECT_EQ(avail.code(), StatusCode::Unavailable);
  EXPECT_FALSE(avail.message().empty());
  StatusOr<CudaContext> ctx = CudaContext::create(0);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().message(), avail.message());
}

TEST(CudaDriverTest, ErrorStringsNameTheCall) {
  SKIP_WITHOUT_GPU();
  const CudaDriver &d = **CudaDriver::load();
  Status st = d.check(cu::ERROR_OUT_OF_MEMORY, "cuMemAlloc(1 TB)");
  EXPECT_EQ(st.code(), StatusCode::OutOfMemory);
  EXPECT_NE(st.message().find("cuMemAlloc(1 TB)"), std::string::npos);
  EXPECT_NE(st.message().find("CUDA_ERROR_OUT_OF_MEMORY"), std::string::npos)
      << st.message();
  EXPECT_TRUE(d.check(cu::SUCCESS, "x").ok());
}

TEST(CudaDriverTest, ContextMemoryAndCopies) {
  SKIP_WITHOUT_GPU();
  StatusOr<CudaContext> ctxOr = CudaContext::create(0);
  ASSERT_TRUE(ctxOr.ok()) << ctxOr.status().toString();
  CudaContext &ctx = *ctxOr;
  const CudaDriver &d = ctx.driver();
  EXPECT_GE(ctx.info().ccMajor, 5);
  EXPECT_GT(ctx.info().numSMs, 0);
  EXPECT_EQ(ctx.info().arch().rfind("sm_", 0), 0u);
  size_t freeBytes = 0, totalBytes = 0;
  ASSERT_TRUE(ctx.memoryInfo(freeBytes, totalBytes).ok());
  EXPECT_GT(freeBytes, 0u);
  EXPECT_LE(freeBytes, totalBytes);

  const size_t n = 1 << 20;
  StatusOr<CudaStream> stream = CudaStream::create(d);
  ASSERT_TRUE(stream.ok()) << stream.status().toString();
  StatusOr<DeviceBuffer> a = DeviceBuffer::allocate(d, n, "test a");
  StatusOr<DeviceBuffer> b = DeviceBuffer::allocate(d, n, "test b");
  StatusOr<PinnedBuffer> host = PinnedBuffer::allocate(d, n);
  ASSERT_TRUE(a.ok() && b.ok() && host.ok());
  for (size_t i = 0; i < n; ++i)
    host->as<uint8_t>()[i] = static_cast<uint8_t>(i * 7 + 3);
  cu::Stream s = stream->get();
  ASSERT_TRUE(d.check(d.cuMemsetD8Async(b->ptr(), 0xAB, n, s), "memset").ok());
  ASSERT_TRUE(
      d.check(d.cuMemcpyHtoDAsync(a->ptr(), host->data(), n / 2, s), "h2d")
          .ok());
  ASSERT_TRUE(
      d.check(d.cuMemcpyDtoDAsync(b->ptr(), a->ptr(), n / 2, s), "d2d").ok());
  std::vector<uint8_t> back(n);
  ASSERT_TRUE(
      d.check(d.cuMemcpyDtoHAsync(back.data(), b->ptr(), n, s), "d2h").ok());
  ASSERT_TRUE(stream->synchronize().ok());
  for (size_t i = 0; i < n / 2; ++i)
    ASSERT_EQ(back[i], static_cast<uint8_t>(i * 7 + 3)) << i;
  for (size_t i = n / 2; i < n; ++i)
    ASSERT_EQ(back[i], 0xAB) << i;

  // A failed allocation is an OutOfMemory Status, not a crash.
  StatusOr<DeviceBuffer> huge =
      DeviceBuffer::allocate(d, size_t(1) << 50, "impossible");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::OutOfMemory)
      << huge.status().toString();
}

TEST(CudaDriverTest, BadModuleImageIsAnError) {
  SKIP_WITHOUT_GPU();
  StatusOr<CudaContext> ctx = CudaContext::create(0);
  ASSERT_TRUE(ctx.ok());
  const char *ptx = ".version 8.0\n.target sm_90\n this is not ptx\n";
  StatusOr<CudaModule> m = CudaModule::load(ctx->driver(), ptx, true, "junk");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("junk"), std::string::npos);
}

} // namespace

//===----------------------------------------------------------------------===//
// CudaBackend on a synthetic artifact: hand-written kernels (PTX for sm_80 +
// a cubin for sm_90, CudaTestKernels.cu) run an embed -> kv_append ->
// gather_tokens -> linear (two variants: one launch for 1 token; a split
// partial + reduce pair through the workspace otherwise) -> argmax step.
// Checked against values computed here.
//===----------------------------------------------------------------------===//

#include "infer/runtime/CudaBackend.h"
#include "infer/runtime/Engine.h"
#include "infer/runtime/SafeTensors.h"

#include <cmath>
#include <functional>
#include <random>
#include <tuple>

#include "CudaTestKernels.inc"

namespace {

constexpr int kD = 32, kV = 64, kLayers = 2, kHeads = 2, kHeadDim = 16,
              kBlock = 16;

nlohmann::json launch(const std::string &kernel, int64_t maxTokens,
                      std::vector<int64_t> grid, std::vector<std::string> scale,
                      int64_t threads, std::vector<std::string> args,
                      int64_t wsPerToken = 0) {
  return {{"kernel", "decode_kernels::" + kernel},
          {"max_tokens", maxTokens},
          {"grid", grid},
          {"grid_scale", scale},
          {"block", {threads, 1, 1}},
          {"shared_bytes", 0},
          {"workspace_bytes", 0},
          {"workspace_bytes_per_token", wsPerToken},
          {"args", args}};
}

/// Serializes `header` plus blobs (each bound to header["kernels"][i][field])
/// into the .art container.
std::vector<uint8_t> buildArtifactBytes(
    nlohmann::json header,
    const std::vector<std::tuple<size_t, std::string, std::string>> &blobs) {
  size_t base = 256;
  std::string text;
  std::vector<size_t> offsets(blobs.size());
  for (;;) {
    size_t cursor = base;
    for (size_t i = 0; i < blobs.size(); ++i) {
      auto &[entry, field, bytes] = blobs[i];
      offsets[i] = cursor;
      header["kernels"][entry][field] = {{"offset", cursor},
                                         {"size", bytes.size()}};
      cursor = (cursor + bytes.size() + 255) / 256 * 256;
    }
    text = header.dump();
    size_t needed = (24 + text.size() + 255) / 256 * 256;
    if (needed <= base)
      break;
    base = needed;
  }
  std::vector<uint8_t> out(24, 0);
  std::memcpy(out.data(), "INFERART", 8);
  out[8] = 1;
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i)
    out[16 + i] = static_cast<uint8_t>(len >> (8 * i));
  out.insert(out.end(), text.begin(), text.end());
  for (size_t i = 0; i < blobs.size(); ++i) {
    out.resize(offsets[i], 0);
    const std::string &bytes = std::get<2>(blobs[i]);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

/// `withAttention` adds a decode-role style attention node (one query per
/// sequence), so that multi-token steps run by position.
/// `tweakLaunch`, when set, edits the 1-token linear launch (malformed-plan
/// tests); `tweakHeader` the whole header.
std::shared_ptr<Artifact> makeSyntheticArtifact(
    bool withKernels = true, bool withAttention = false,
    const std::function<void(nlohmann::json &)> &tweakLaunch = nullptr,
    const std::function<void(nlohmann::json &)> &tweakHeader = nullptr) {
  using nlohmann::json;
  json values = json::array();
  auto value = [&](int64_t id, json shape, const char *dtype) {
    values.push_back({{"id", id}, {"shape", shape}, {"dtype", dtype}});
  };
  value(0, {-1}, "i32");     // tokens
  value(1, {-1}, "i32");     // positions
  value(2, {-1}, "i32");     // slots
  value(3, {-1, -1}, "i32"); // block_tables
  value(4, {-1}, "i32");     // context_lens
  value(5, {-1}, "i32");     // query_start
  value(6, {-1}, "i32");     // logits_indices
  value(7, {-1}, "f32");     // temperature
  value(8, {-1}, "i32");     // top_k
  value(9, {-1}, "f32");     // top_p
  value(10, {-1}, "i64");    // seeds
  value(11, json::array(), "kv_cache");
  value(12, {kV, kD}, "f32"); // embedding table
  value(13, {-1, kD}, "f32"); // x
  value(14, json::array(), "kv_cache");
  value(15, {-1, kD}, "f32"); // gathered rows
  value(16, {kV, kD}, "f32"); // lm head
  value(17, {-1, kV}, "f32"); // logits
  value(18, {-1}, "i32");     // sampled tokens
  if (withAttention)
    value(19, {-1, kD}, "f32"); // attention output (unused)

  json inputs = json::object();
  const char *names[] = {"tokens",         "positions",    "slots",
                         "block_tables",   "context_lens", "query_start",
                         "logits_indices", "temperature",  "top_k",
                         "top_p",          "seeds",        "kv_cache"};
  for (int i = 0; i < 12; ++i)
    inputs[names[i]] = i;

  json nodes = json::array();
  auto node = [&](const char *op, json operands, json results, json attrs,
                  json launches) {
    json n = {{"op", op},
              {"operands", operands},
              {"results", results},
              {"attrs", attrs}};
    if (withKernels && !launches.is_null())
      n["launches"] = launches;
    nodes.push_back(n);
  };
  node("weight", json::array(), {12}, {{"names", {"embed.weight"}}}, nullptr);
  node("embed", {0, 12}, {13}, json::object(),
       {launch("embed_k", 0, {1, 1, 1}, {"tokens", "one", "one"}, kD,
               {"operand0", "operand1", "result0", "tokens"})});
  node("kv_append", {11, 13, 13, 2}, {14}, {{"layer", 1}},
       {launch("kv_append_k", 0, {1, 1, 1}, {"tokens", "one", "one"}, kD,
               {"operand0", "operand1", "operand2", "operand3", "tokens",
                "layer"})});
  if (withAttention)
    node("paged_attention", {13, 14, 3, 4, 5}, {19},
         {{"layer", 1}, {"num_heads", kHeads}, {"scale", 0.25}},
         {launch("attn_last_k", 0, {1, 1, 1}, {"seqs", "one", "one"}, kD,
                 {"operand0", "operand1", "operand2", "operand3", "operand4",
                  "result0", "seqs", "block_table_width"})});
  node("gather_tokens", {13, 6}, {15}, json::object(),
       {launch("gather_k", 0, {1, 1, 1}, {"sampled", "one", "one"}, kD,
               {"operand0", "operand1", "result0", "sampled"})});
  node("weight", json::array(), {16}, {{"names", {"lm_head.weight"}}}, nullptr);
  node("linear", {15, 16}, {17}, json::object(),
       {launch("linear_partial_k", 0, {1, 2, 1}, {"sampled", "one", "one"}, kV,
               {"operand0", "operand1", "workspace", "sampled"}, 2 * kV * 4),
        launch("linear_reduce_k", 0, {1, 1, 1}, {"sampled", "one", "one"}, kV,
               {"workspace", "result0", "sampled"}, 2 * kV * 4),
        [&] {
          nlohmann::json small =
              launch("linear_small_k", 1, {1, 1, 1}, {"sampled", "one", "one"},
                     kV, {"operand0", "operand1", "result0", "sampled"});
          if (tweakLaunch)
            tweakLaunch(small);
          return small;
        }()});
  node("sample", {17, 7, 8, 9, 10}, {18}, json::object(),
       {launch("argmax_k", 0, {1, 1, 1}, {"sampled", "one", "one"}, 32,
               {"operand0", "result0", "sampled"})});

  json header = {
      {"model",
       {{"family", "synthetic"},
        {"vocab_size", kV},
        {"hidden_size", kD},
        {"num_layers", kLayers},
        {"num_heads", kHeads},
        {"num_kv_heads", kHeads},
        {"head_dim", kHeadDim},
        {"max_position", 256}}},
      {"kv_cache",
       {{"layers", kLayers},
        {"kv_heads", kHeads},
        {"head_dim", kHeadDim},
        {"block_size", kBlock},
        {"dtype", "bf16"}}},
      {"graph",
       {{"values", values},
        {"inputs", inputs},
        {"outputs", {{"tokens", 18}, {"logits", 17}, {"kv_cache", 14}}},
        {"nodes", nodes}}}};
  std::vector<std::tuple<size_t, std::string, std::string>> blobs;
  if (withKernels) {
    json functions = {
        "embed_k",        "kv_append_k",      "gather_k",
        "linear_small_k", "linear_partial_k", "linear_reduce_k",
        "argmax_k",       "attn_last_k",      "linear_small_shared_k"};
    header["kernels"] = {{{"name", "decode_kernels"},
                          {"arch", "sm_90"},
                          {"functions", functions}},
                         {{"name", "decode_kernels"},
                          {"arch", "sm_80"},
                          {"functions", functions}}};
    blobs.emplace_back(
        0, "cubin",
        std::string(reinterpret_cast<const char *>(kTestKernelsCubinSm90),
                    sizeof(kTestKernelsCubinSm90)));
    blobs.emplace_back(1, "ptx", std::string(kTestKernelsPtx));
  }
  if (tweakHeader)
    tweakHeader(header);
  StatusOr<std::shared_ptr<Artifact>> art =
      Artifact::parse(buildArtifactBytes(header, blobs), "synthetic.art");
  EXPECT_TRUE(art.ok()) << art.status().toString();
  return art.ok() ? *art : nullptr;
}

struct SyntheticWeights {
  std::vector<float> embed, head;
  std::string path;
};

SyntheticWeights writeSyntheticWeights(uint32_t seed) {
  SyntheticWeights w;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  w.embed.resize(kV * kD);
  w.head.resize(kV * kD);
  for (float &x : w.embed)
    x = dist(rng);
  for (float &x : w.head)
    x = dist(rng);
  auto entry = [](const char *name, const std::vector<float> &data) {
    SafeTensorsEntry e{name, DType::F32, {kV, kD}, {}};
    e.bytes.resize(data.size() * 4);
    std::memcpy(e.bytes.data(), data.data(), e.bytes.size());
    return e;
  };
  w.path = ::testing::TempDir() + "/cuda_synthetic_" + std::to_string(seed) +
           ".safetensors";
  Status st = writeSafeTensors(w.path, {entry("embed.weight", w.embed),
                                        entry("lm_head.weight", w.head)});
  EXPECT_TRUE(st.ok()) << st.toString();
  return w;
}

/// A batch of sequences, each given as (its block table, its tokens of this
/// step, position of the first of them); every sequence samples its last
/// token.
struct SeqSpec {
  std::vector<int32_t> blocks;
  std::vector<int32_t> tokens;
  int32_t firstPosition;
};

StepBatch makeBatch(const std::vector<SeqSpec> &seqs) {
  StepBatch b;
  int32_t width = 0;
  for (const SeqSpec &s : seqs)
    width = std::max<int32_t>(width, static_cast<int32_t>(s.blocks.size()));
  b.blockTableWidth = width;
  b.queryStartLoc.push_back(0);
  for (const SeqSpec &s : seqs) {
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      int32_t pos = s.firstPosition + static_cast<int32_t>(i);
      b.tokenIds.push_back(s.tokens[i]);
      b.positions.push_back(pos);
      b.slotMapping.push_back(s.blocks[pos / kBlock] * kBlock + pos % kBlock);
    }
    b.queryStartLoc.push_back(static_cast<int32_t>(b.tokenIds.size()));
    b.contextLens.push_back(s.firstPosition +
                            static_cast<int32_t>(s.tokens.size()));
    for (int32_t c = 0; c < width; ++c)
      b.blockTables.push_back(
          c < static_cast<int32_t>(s.blocks.size()) ? s.blocks[c] : -1);
    b.logitsIndices.push_back(b.queryStartLoc.back() - 1);
    b.sampleRows.push_back(static_cast<int32_t>(b.requestIds.size()));
    b.samplingParams.push_back(SamplingParams{});
    b.requestIds.push_back(b.requestIds.size());
  }
  return b;
}

/// Checks tokens, logits and the KV written by one step.
void checkStep(CudaBackend &backend, const SyntheticWeights &w,
               const StepBatch &b, const StepOutputs &out) {
  const size_t S = b.logitsIndices.size();
  ASSERT_EQ(out.tokens.size(), S);
  ASSERT_EQ(out.logits.size(), S * kV);
  for (size_t s = 0; s < S; ++s) {
    int32_t tok = b.tokenIds[static_cast<size_t>(b.logitsIndices[s])];
    int best = 0;
    std::vector<double> ref(kV);
    for (int v = 0; v < kV; ++v) {
      double acc = 0;
      for (int d = 0; d < kD; ++d)
        acc += double(w.head[v * kD + d]) * w.embed[tok * kD + d];
      ref[v] = acc;
      if (acc > ref[best])
        best = v;
    }
    for (int v = 0; v < kV; ++v)
      ASSERT_NEAR(out.logits[s * kV + v], ref[v],
                  1e-4 * (1 + std::fabs(ref[v])))
          << "row " << s << " col " << v;
    EXPECT_EQ(out.tokens[s], best) << "row " << s;
  }
  // KV of layer 1 for every token of the step.
  std::vector<uint8_t> bytes;
  for (size_t t = 0; t < b.tokenIds.size(); ++t) {
    int32_t slot = b.slotMapping[t];
    ASSERT_TRUE(backend.readKvBlock(slot / kBlock, bytes).ok());
    const uint16_t *pool = reinterpret_cast<const uint16_t *>(bytes.data());
    int off = slot % kBlock;
    for (int kv = 0; kv < 2; ++kv)
      for (int f = 0; f < kD; ++f) {
        int h = f / kHeadDim, d = f % kHeadDim;
        size_t i =
            ((((0 * kLayers + 1) * 2 + kv) * kHeads + h) * kBlock + off) *
                kHeadDim +
            d;
        float expect = roundToBf16(w.embed[b.tokenIds[t] * kD + f]);
        ASSERT_EQ(bf16ToFloat(pool[i]), expect) << "token " << t << " f " << f;
      }
  }
}

TEST(CudaBackendTest, NoDriverGivesClearError) {
  if (CudaDriver::available().ok())
    GTEST_SKIP() << "a GPU is present";
  std::shared_ptr<Artifact> art = makeSyntheticArtifact();
  ASSERT_TRUE(art);
  SyntheticWeights w = writeSyntheticWeights(1);
  StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::open(art, w.path);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::Unavailable);
  EXPECT_NE(b.status().message().find("NVIDIA driver"), std::string::npos)
      << b.status().message();
}

TEST(CudaBackendTest, ArtifactWithoutKernelsIsRejected) {
  SKIP_WITHOUT_GPU();
  std::shared_ptr<Artifact> art = makeSyntheticArtifact(/*withKernels=*/false);
  ASSERT_TRUE(art);
  SyntheticWeights w = writeSyntheticWeights(2);
  StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::open(art, w.path);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--target cuda"), std::string::npos)
      << b.status().message();
}

/// Malformed tensor-map arguments and `programmatic` flags are rejected with
/// the node named, before anything runs.
TEST(CudaBackendTest, MalformedLaunchFieldsAreRejected) {
  SKIP_WITHOUT_GPU();
  SyntheticWeights w = writeSyntheticWeights(3);
  struct Case {
    std::function<void(nlohmann::json &)> tweak;
    const char *expected;
  };
  const Case cases[] = {
      {[](nlohmann::json &l) { l["args"][1] = "tma:operand1:128x63"; },
       "64 elements wide"},
      {[](nlohmann::json &l) { l["args"][1] = "tma:operand1"; },
       "bad tensor-map argument"},
      {[](nlohmann::json &l) { l["args"][1] = "tma:operand0:16x64"; },
       "bf16/f16"},
      {[](nlohmann::json &l) { l["programmatic"] = "yes"; },
       "'programmatic' must be a boolean"},
      {[](nlohmann::json &l) { l["args"].push_back("timeline"); },
       "'timeline' needs a 'launch'"},
  };
  for (const Case &c : cases) {
    std::shared_ptr<Artifact> art =
        makeSyntheticArtifact(/*withKernels=*/true, false, c.tweak);
    ASSERT_TRUE(art);
    StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::open(art, w.path);
    ASSERT_FALSE(b.ok()) << c.expected;
    EXPECT_EQ(b.status().code(), StatusCode::InvalidArgument)
        << b.status().toString();
    EXPECT_NE(b.status().message().find(c.expected), std::string::npos)
        << b.status().message();
    EXPECT_NE(b.status().message().find("(linear)"), std::string::npos)
        << b.status().message();
  }
}

/// A kernel with 40 KB of static and 16 KB of dynamic shared memory runs:
/// the backend opts every kernel with dynamic shared memory into it, since
/// the 48 KB default limits static and dynamic together.
TEST(CudaBackendTest, StaticAndDynamicSharedMemoryPast48KB) {
  SKIP_WITHOUT_GPU();
  SyntheticWeights w = writeSyntheticWeights(3);
  std::shared_ptr<Artifact> art = makeSyntheticArtifact(
      /*withKernels=*/true, false, [](nlohmann::json &l) {
        l["kernel"] = "decode_kernels::linear_small_shared_k";
        l["shared_bytes"] = 16 * 1024;
      });
  ASSERT_TRUE(art);
  StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::open(art, w.path);
  ASSERT_TRUE(b.ok()) << b.status().toString();
  // One sequence decodes: the 1-token variant, the tweaked launch.
  StepOutputs out;
  StepBatch d1 = makeBatch({{{3, 7}, {42}, 20}});
  Status st = (*b)->step(d1, out);
  ASSERT_TRUE(st.ok()) << st.toString();
  checkStep(**b, w, d1, out);
}

/// A column-scaled lm_head (a folded final norm): the uploaded bytes equal
/// scaleColumns of the checkpoint tensor, also when lm_head is tied to the
/// embedding, whose own copy stays unscaled; the logits use the scaled head.
TEST(CudaBackendTest, ColumnScaledWeightUpload) {
  SKIP_WITHOUT_GPU();
  for (bool tied : {false, true}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    std::shared_ptr<Artifact> art =
        makeSyntheticArtifact(true, false, nullptr, [&](nlohmann::json &h) {
          h["model"]["tie_word_embeddings"] = tied;
          for (nlohmann::json &n : h["graph"]["nodes"]) {
            if (n["op"] != "weight")
              continue;
            if (n["results"][0] == 12)
              n["attrs"]["names"] = {"model.embed_tokens.weight"};
            else
              n["attrs"]["column_scale"] = "model.norm.weight";
          }
        });
    ASSERT_TRUE(art);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    SafeTensorsEntry embed{"model.embed_tokens.weight", DType::F32, {kV, kD}},
        head{"lm_head.weight", DType::F32, {kV, kD}},
        scale{"model.norm.weight", DType::BF16, {kD}};
    for (SafeTensorsEntry *e : {&embed, &head}) {
      e->bytes.resize(kV * kD * 4);
      for (int i = 0; i < kV * kD; ++i) {
        float f = dist(rng);
        std::memcpy(e->bytes.data() + 4 * i, &f, 4);
      }
    }
    std::vector<float> gamma(kD);
    scale.bytes.resize(kD * 2);
    for (int i = 0; i < kD; ++i) {
      uint16_t b = floatToBf16(1.0f + 0.5f * dist(rng));
      gamma[i] = bf16ToFloat(b);
      std::memcpy(scale.bytes.data() + 2 * i, &b, 2);
    }
    std::vector<SafeTensorsEntry> entries = {embed, scale};
    if (!tied)
      entries.push_back(head);
    std::string path = ::testing::TempDir() + "/cuda_column_scale.safetensors";
    ASSERT_TRUE(writeSafeTensors(path, entries).ok());
    StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::open(art, path);
    ASSERT_TRUE(b.ok()) << b.status().toString();

    const SafeTensorsEntry &src = tied ? embed : head;
    TensorView view{DType::F32, src.shape, src.bytes.data(), src.bytes.size()};
    std::vector<uint8_t> want(src.bytes.size()), got;
    ASSERT_TRUE(scaleColumns(view, gamma, DType::F32, want.data()));
    ASSERT_TRUE((*b)->readWeight(16, got).ok());
    EXPECT_TRUE(got == want);
    ASSERT_TRUE((*b)->readWeight(12, got).ok());
    EXPECT_TRUE(got == embed.bytes);
    EXPECT_FALSE((*b)->readWeight(13, got).ok());

    SyntheticWeights w;
    w.embed.resize(kV * kD);
    w.head.resize(kV * kD);
    std::memcpy(w.embed.data(), embed.bytes.data(), embed.bytes.size());
    std::memcpy(w.head.data(), want.data(), want.size());
    StepOutputs out;
    StepBatch d1 = makeBatch({{{3, 7}, {42}, 20}});
    Status st = (*b)->step(d1, out);
    ASSERT_TRUE(st.ok()) << st.toString();
    checkStep(**b, w, d1, out);
    std::remove(path.c_str());
  }
}

/// Parameters: (load the PTX instead of the cubin, add a one-query-per-
/// sequence attention node so that multi-token steps run by position).
class SyntheticStepTest
    : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(SyntheticStepTest, EagerGraphAndCopyOnWrite) {
  SKIP_WITHOUT_GPU();
  const bool forcePtx = std::get<0>(GetParam());
  const bool byPosition = std::get<1>(GetParam());
  std::shared_ptr<Artifact> art = makeSyntheticArtifact(true, byPosition);
  ASSERT_TRUE(art);
  SyntheticWeights w = writeSyntheticWeights(3);
  CudaBackendOptions opts;
  opts.maxNumTokens = 64;
  opts.maxNumSeqs = 16;
  opts.numKvBlocks = 32;
  opts.forcePtx = forcePtx;
  opts.captureAtCreation = false; // Captured on first use, counted below.
  StatusOr<std::unique_ptr<CudaBackend>> bOr =
      CudaBackend::open(art, w.path, opts);
  ASSERT_TRUE(bOr.ok()) << bOr.status().toString();
  CudaBackend &backend = **bOr;
  EXPECT_EQ(backend.numKvBlocks(), 32);
  EXPECT_NE(backend.stats().kernelSource.find(forcePtx ? "ptx" : "cubin"),
            std::string::npos)
      << backend.stats().kernelSource;

  StepOutputs out;
  // Prefill: two sequences of 20 and 5 tokens (eager, split linear).
  StepBatch prefill = makeBatch({{{3, 7},
                                  {1,  5,  9,  13, 17, 21, 25, 29, 33, 37,
                                   41, 45, 49, 53, 57, 61, 2,  4,  6,  8},
                                  0},
                                 {{10}, {11, 22, 33, 44, 55}, 0}});
  ASSERT_TRUE(backend.step(prefill, out).ok());
  checkStep(backend, w, prefill, out);
  if (byPosition) {
    // Positions 0..19: 20 decode sub-steps, graphs of buckets 1 and 2.
    EXPECT_EQ(backend.stats().subSteps, 20);
    EXPECT_EQ(backend.stats().eagerSteps, 0);
    EXPECT_EQ(backend.stats().graphReplays, 20);
  } else {
    EXPECT_EQ(backend.stats().eagerSteps, 1);
  }
  int64_t captures0 = backend.stats().graphCaptures;
  int64_t replays0 = backend.stats().graphReplays;

  // Decode of one sequence: bucket 1 graph (single-launch linear variant).
  StepBatch d1 = makeBatch({{{3, 7}, {42}, 20}});
  ASSERT_TRUE(backend.step(d1, out).ok());
  checkStep(backend, w, d1, out);
  EXPECT_EQ(backend.stats().graphCaptures, byPosition ? captures0 : 1);

  // Decode of three sequences: bucket 4, captured then replayed with new
  // inputs; the replay must read them.
  StepBatch d3 =
      makeBatch({{{3, 7}, {12}, 21}, {{10}, {13}, 5}, {{11}, {14}, 0}});
  ASSERT_TRUE(backend.step(d3, out).ok());
  checkStep(backend, w, d3, out);
  StepBatch d3b =
      makeBatch({{{3, 7}, {60}, 22}, {{10}, {1}, 6}, {{11}, {2}, 1}});
  ASSERT_TRUE(backend.step(d3b, out).ok());
  checkStep(backend, w, d3b, out);
  EXPECT_EQ(backend.stats().graphCaptures, byPosition ? captures0 + 1 : 2);
  EXPECT_EQ(backend.stats().graphReplays, replays0 + 3);

  // Copy-on-write: block 10 -> 12 before the step writes into block 12.
  std::vector<uint8_t> src, dst;
  ASSERT_TRUE(backend.readKvBlock(10, src).ok());
  StepBatch cow = makeBatch({{{12}, {5}, 7}});
  cow.blockCopies.push_back({10, 12});
  ASSERT_TRUE(backend.step(cow, out).ok());
  checkStep(backend, w, cow, out);
  ASSERT_TRUE(backend.readKvBlock(12, dst).ok());
  // Everything but slot 7 of layer 1 equals the source block.
  size_t slotBytes = kHeadDim * 2;
  for (size_t i = 0; i < src.size(); i += slotBytes) {
    size_t slot = (i / slotBytes) % kBlock;
    size_t layer = i / (2 * kHeads * kBlock * slotBytes);
    if (slot == 7 && layer == 1)
      continue;
    ASSERT_EQ(std::memcmp(&src[i], &dst[i], slotBytes), 0) << "byte " << i;
  }

  // More tokens than the buffers hold (64): run in ranges (or by position).
  std::vector<int32_t> many(80);
  for (size_t i = 0; i < many.size(); ++i)
    many[i] = static_cast<int32_t>((i * 13) % kV);
  StepBatch big = makeBatch({{{0, 1, 2, 4, 5, 6}, many, 0}, {{8}, {3, 9}, 0}});
  int64_t sub0 = backend.stats().subSteps;
  Status st = backend.step(big, out);
  ASSERT_TRUE(st.ok()) << st.toString();
  checkStep(backend, w, big, out);
  EXPECT_EQ(backend.stats().subSteps - sub0, byPosition ? 80 : 2);

  // Errors: a slot outside the pool.
  StepBatch bad = makeBatch({{{40}, {1}, 0}});
  st = backend.step(bad, out);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument) << st.toString();
}

INSTANTIATE_TEST_SUITE_P(
    KernelSource, SyntheticStepTest,
    ::testing::Combine(::testing::Bool(), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<bool, bool>> &info) {
      return std::string(std::get<0>(info.param) ? "Ptx" : "Cubin") +
             (std::get<1>(info.param) ? "ByPosition" : "Flat");
    });

} // namespace

//===----------------------------------------------------------------------===//
// A compiled model against the CPU reference backend. Needs
//   INFER_TEST_CUDA_ARTIFACT=path/to/model.art  (infer-compile --target cuda)
//   INFER_TEST_CUDA_WEIGHTS=path/to/model.safetensors (or checkpoint dir)
// bench/gpu-check.sh sets them. The scheduler drives both backends with the
// same batches (prefills with a shared prefix, then decode steps that run
// from CUDA graphs); the CPU's tokens are fed back.
//===----------------------------------------------------------------------===//

#include "infer/runtime/CpuBackend.h"

#include <chrono>

namespace {

struct CompiledModel {
  std::shared_ptr<Artifact> art;
  std::shared_ptr<SafeTensors> weights;
};

bool loadCompiledModel(CompiledModel &m, std::string &why) {
  const char *artPath = std::getenv("INFER_TEST_CUDA_ARTIFACT");
  const char *wPath = std::getenv("INFER_TEST_CUDA_WEIGHTS");
  if (!artPath || !*artPath || !wPath || !*wPath) {
    why = "set INFER_TEST_CUDA_ARTIFACT and INFER_TEST_CUDA_WEIGHTS";
    return false;
  }
  StatusOr<std::shared_ptr<Artifact>> art = Artifact::load(artPath);
  if (!art.ok()) {
    why = art.status().toString();
    return false;
  }
  StatusOr<std::unique_ptr<SafeTensors>> w = SafeTensors::open(wPath);
  if (!w.ok()) {
    why = w.status().toString();
    return false;
  }
  m.art = *art;
  m.weights = std::shared_ptr<SafeTensors>(std::move(*w));
  return true;
}

double relErr(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

/// GPU tests of the compiled model of INFER_TEST_CUDA_ARTIFACT / _WEIGHTS;
/// they skip without a driver or without the model.
class CompiledModelFixture : public ::testing::Test {
protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    std::string why;
    if (!loadCompiledModel(model, why))
      GTEST_SKIP() << why;
  }

  /// Options for steps of up to 256 tokens and `seqs` sequences over
  /// `blocks` KV blocks.
  static CudaBackendOptions options(int32_t blocks, int32_t seqs) {
    CudaBackendOptions opts;
    opts.numKvBlocks = blocks;
    opts.maxNumTokens = 256;
    opts.maxNumSeqs = seqs;
    return opts;
  }

  /// The model on a CUDA backend; null (and a test failure) if that fails.
  std::unique_ptr<CudaBackend> open(const CudaBackendOptions &opts) {
    StatusOr<std::unique_ptr<CudaBackend>> gpu =
        CudaBackend::create(model.art, *model.weights, opts);
    if (!gpu.ok()) {
      ADD_FAILURE() << gpu.status().toString();
      return nullptr;
    }
    return std::move(*gpu);
  }

  CompiledModel model;
};

class CompiledModelTest : public CompiledModelFixture,
                          public ::testing::WithParamInterface<bool> {};
class CompiledModelBench : public CompiledModelFixture {};

TEST_P(CompiledModelTest, MatchesCpuBackend) {
  const bool graphs = GetParam();
  const int32_t numBlocks = 128;
  BackendOptions cpuOpts;
  cpuOpts.numKvBlocks = numBlocks;
  StatusOr<std::unique_ptr<CpuBackend>> cpu =
      CpuBackend::create(model.art, model.weights, cpuOpts);
  ASSERT_TRUE(cpu.ok()) << cpu.status().toString();
  CudaBackendOptions opts = options(numBlocks, 16);
  opts.useGraphs = graphs;
  std::unique_ptr<CudaBackend> gpu = open(opts);
  ASSERT_TRUE(gpu);
  std::cout << "[ info ] device " << gpu->deviceInfo().name << " ("
            << gpu->deviceInfo().arch()
            << "), kernels: " << gpu->stats().kernelSource << "\n";

  SchedulerConfig sc;
  sc.numBlocks = numBlocks;
  sc.blockSize = gpu->blockSize();
  sc.maxNumBatchedTokens = 256;
  sc.maxNumSeqs = 16;
  Scheduler sched(sc);
  const int64_t vocab = model.art->model().vocabSize;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> tok(3,
                                             static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> shared(40);
  for (int32_t &t : shared)
    t = tok(rng);
  // Six requests of different lengths and budgets, so that the decode batch
  // shrinks through several graph buckets; 3 and 4 arrive later and share
  // request 2's 40-token prefix (prefix-cache hits).
  const int lens[] = {1, 7, 40, 57, 90, 23};
  std::vector<Request> requests;
  for (int r = 0; r < 6; ++r) {
    Request req;
    req.id = static_cast<uint64_t>(r);
    if (r >= 2 && r <= 4)
      req.promptTokens = shared;
    while (static_cast<int>(req.promptTokens.size()) < lens[r])
      req.promptTokens.push_back(tok(rng));
    req.promptTokens.resize(static_cast<size_t>(lens[r]));
    req.maxNewTokens = 4 + 5 * r;
    requests.push_back(req);
  }
  for (int r : {0, 1, 2, 5})
    ASSERT_TRUE(sched.addRequest(requests[r]).ok());

  StepBatch batch;
  StepOutputs cpuOut, gpuOut;
  std::vector<FinishedRequest> finished;
  int64_t rows = 0, mismatches = 0, ties = 0, badRows = 0, steps = 0;
  double worstErr = 0, maxAbs = 0;
  while (sched.hasPendingWork()) {
    if (steps == 3) {
      for (int r : {3, 4})
        ASSERT_TRUE(sched.addRequest(requests[r]).ok());
    }
    ASSERT_TRUE(sched.step(batch).ok());
    if (batch.empty())
      break;
    ASSERT_TRUE((*cpu)->step(batch, cpuOut).ok());
    Status st = gpu->step(batch, gpuOut);
    ASSERT_TRUE(st.ok()) << st.toString();
    ASSERT_EQ(gpuOut.tokens.size(), cpuOut.tokens.size());
    ASSERT_EQ(gpuOut.logits.size(), cpuOut.logits.size());
    for (size_t s = 0; s < cpuOut.tokens.size(); ++s) {
      const float *c = cpuOut.logits.data() + s * vocab;
      const float *g = gpuOut.logits.data() + s * vocab;
      double err = relErr(g, c, static_cast<size_t>(vocab));
      worstErr = std::max(worstErr, err);
      if (err >= 1e-2 && ++badRows <= 8)
        ADD_FAILURE() << "step " << steps << " row " << s << ": logits rel err "
                      << err;
      ++rows;
      for (int64_t v = 0; v < vocab; ++v)
        maxAbs = std::max(maxAbs, std::fabs(double(c[v])));
      if (gpuOut.tokens[s] != cpuOut.tokens[s]) {
        // Only a near tie may flip: the CPU's logits of both picks may differ
        // by at most one bf16 ulp (the logits come from bf16 activations).
        float gap = c[cpuOut.tokens[s]] - c[gpuOut.tokens[s]];
        float ulp =
            std::ldexp(1.0f, std::ilogb(std::fabs(c[cpuOut.tokens[s]])) - 7);
        if (gap <= ulp) {
          ++ties;
          continue;
        }
        if (++mismatches <= 8)
          ADD_FAILURE() << "step " << steps << " row " << s << ": cuda token "
                        << gpuOut.tokens[s] << " cpu token " << cpuOut.tokens[s]
                        << " (cpu logit gap " << gap << ")";
      }
    }
    ASSERT_TRUE(sched.update(batch, cpuOut.tokens, finished).ok());
    ++steps;
  }
  EXPECT_EQ(finished.size(), 6u);
  EXPECT_GT(maxAbs, 1e-3) << "the CPU reference gave near-zero logits";
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(badRows, 0);
  const CudaBackendStats &st = gpu->stats();
  std::cout << "[ info ] graphs=" << graphs << ": " << steps << " steps, "
            << rows << " sampled rows, " << mismatches << " token mismatches ("
            << ties << " bf16 ties), " << badRows
            << " rows with logits rel err >= 1e-2 (worst " << worstErr
            << ", max |cpu logit| " << maxAbs << ")"
            << "; eager steps " << st.eagerSteps << ", graph replays "
            << st.graphReplays << ", captures " << st.graphCaptures
            << ", sub-steps " << st.subSteps << ", block copies "
            << st.blockCopies << ", prefix-cached tokens "
            << sched.stats().numCachedPromptTokens << "\n";
  if (graphs) {
    EXPECT_GT(st.graphReplays, 0);
  }
}

// Run-ahead on the GPU: the next decode step is scheduled and packed while
// the current one runs and launched when it completes. The tokens equal those
// of lockstep stepping, with stop tokens (dead rows), top-k sampling on the
// GPU, rows sampled on the host and a request arriving mid-decode.
TEST_P(CompiledModelTest, RunAheadMatchesLockstep) {
  const int32_t numBlocks = 128;
  CudaBackendOptions opts = options(numBlocks, 16);
  opts.useGraphs = GetParam();
  opts.copyLogits = false;
  const int64_t vocab = model.art->model().vocabSize;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> tok(3,
                                             static_cast<int32_t>(vocab) - 1);
  std::vector<Request> requests;
  for (int r = 0; r < 5; ++r) {
    Request req;
    req.id = static_cast<uint64_t>(r);
    for (int i = 0; i < 5 + 11 * r; ++i)
      req.promptTokens.push_back(tok(rng));
    req.maxNewTokens = 12 + 6 * r;
    if (r % 2) {
      req.sampling.temperature = 0.8f;
      req.sampling.topK = 16;
      req.sampling.seed = 100 + r;
    }
    if (r == 4) { // sampled on the host (top-k off)
      req.sampling.temperature = 0.7f;
      req.sampling.topP = 0.9f;
      req.sampling.seed = 7;
    }
    requests.push_back(req);
  }
  auto generate = [&](bool runAhead, int64_t *aheadSteps) {
    std::map<uint64_t, FinishedRequest> out;
    std::unique_ptr<CudaBackend> gpu = open(opts);
    if (!gpu)
      return out;
    EngineOptions eo;
    eo.runAhead = runAhead;
    eo.maxNumSeqs = 16;
    Engine engine(*gpu, eo);
    std::vector<RequestResult> done;
    for (size_t r = 0; r < requests.size(); ++r) {
      EXPECT_TRUE(engine.submit(requests[r]).ok());
      if (r == 2)
        for (int s = 0; s < 8; ++s)
          EXPECT_TRUE(engine.step(done).ok());
    }
    Status st = engine.runToCompletion(done);
    EXPECT_TRUE(st.ok()) << st.toString();
    for (RequestResult &r : done)
      out[r.output.id] = std::move(r.output);
    *aheadSteps = engine.numStepsRunAhead();
    return out;
  };
  int64_t ahead = 0;
  auto lockstep = generate(false, &ahead);
  ASSERT_EQ(lockstep.size(), requests.size());
  EXPECT_EQ(ahead, 0);
  // Requests 1 and 2 stop on a token they generate mid-run.
  for (int r : {1, 2})
    requests[r].stopTokens = {lockstep[r].outputTokens[5]};
  lockstep = generate(false, &ahead);
  auto pipelined = generate(true, &ahead);
  EXPECT_GT(ahead, 10);
  ASSERT_EQ(pipelined.size(), requests.size());
  for (const Request &r : requests) {
    EXPECT_EQ(pipelined[r.id].outputTokens, lockstep[r.id].outputTokens)
        << "request " << r.id;
    EXPECT_EQ(pipelined[r.id].reason, lockstep[r.id].reason) << r.id;
  }
  EXPECT_EQ(lockstep[1].reason, FinishReason::Stop);
  std::cout << "[ info ] graphs=" << GetParam() << ": " << ahead
            << " steps ran ahead\n";
}

INSTANTIATE_TEST_SUITE_P(Graphs, CompiledModelTest,
                         ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) {
                           return info.param ? "Graph" : "Eager";
                         });

/// Decode step latency, graphs against eager launches, at a few batch sizes
/// (printed as "BENCH" lines that bench/gpu-check.sh collects).
TEST_F(CompiledModelBench, DecodeStepLatency) {
  for (bool graphs : {false, true}) {
    CudaBackendOptions opts = options(1024, 64);
    opts.useGraphs = graphs;
    opts.copyLogits = false;
    std::unique_ptr<CudaBackend> gpu = open(opts);
    ASSERT_TRUE(gpu);
    for (int batchSize : {1, 8, 32}) {
      // Each sequence decodes at context 128 + step, in its own 16 blocks.
      const int ctx = 128, iters = 50;
      StepOutputs out;
      std::vector<double> ms;
      for (int it = 0; it < iters + 5; ++it) {
        std::vector<SeqSpec> seqs;
        for (int s = 0; s < batchSize; ++s) {
          std::vector<int32_t> blocks;
          for (int k = 0; k < 16; ++k)
            blocks.push_back(s * 16 + k);
          seqs.push_back({blocks, {5 + s}, ctx + it});
        }
        StepBatch b = makeBatch(seqs);
        auto t0 = std::chrono::steady_clock::now();
        Status st = gpu->step(b, out);
        auto t1 = std::chrono::steady_clock::now();
        ASSERT_TRUE(st.ok()) << st.toString();
        if (it >= 5)
          ms.push_back(
              std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
      std::sort(ms.begin(), ms.end());
      double median = ms[ms.size() / 2];
      // Decode reads every weight once per step: weight bytes per step time
      // is the figure to hold against the copy bandwidth (~3 TB/s on H100).
      double gbps = double(gpu->stats().weightBytes) / (median * 1e-3) / 1e9;
      std::cout << "BENCH decode_step_ms graphs=" << graphs
                << " batch=" << batchSize << " median=" << median
                << " device_ms=" << gpu->lastStepDeviceMs()
                << " weight_GB/s=" << gbps << "\n";
    }
  }
}

TEST_F(CompiledModelBench, KernelProfileTimesEveryLaunch) {
  CudaBackendOptions opts = options(256, 16);
  opts.profileKernels = true;
  std::unique_ptr<CudaBackend> gpu = open(opts);
  ASSERT_TRUE(gpu);
  StepOutputs out;
  auto decodeStep = [&](int pos) {
    std::vector<SeqSpec> seqs;
    for (int s = 0; s < 4; ++s)
      seqs.push_back({{s * 4, s * 4 + 1, s * 4 + 2, s * 4 + 3}, {5 + s}, pos});
    Status st = gpu->step(makeBatch(seqs), out);
    ASSERT_TRUE(st.ok()) << st.toString();
  };
  decodeStep(20); // Not counted: the profile is reset below.
  gpu->resetKernelProfile();
  const int64_t launchesBefore = gpu->stats().kernelLaunches;
  double deviceMs = 0;
  for (int pos = 21; pos < 24; ++pos) {
    decodeStep(pos);
    deviceMs += gpu->lastStepDeviceMs();
  }
  std::vector<KernelTime> profile = gpu->kernelProfile();
  ASSERT_FALSE(profile.empty());
  int64_t launches = 0;
  double ms = 0;
  for (size_t i = 0; i < profile.size(); ++i) {
    EXPECT_FALSE(profile[i].kernel.empty());
    EXPECT_FALSE(profile[i].op.empty()) << profile[i].kernel;
    EXPECT_GT(profile[i].ms, 0.0) << profile[i].kernel;
    if (i > 0)
      EXPECT_LE(profile[i].ms, profile[i - 1].ms); // Longest first.
    launches += profile[i].launches;
    ms += profile[i].ms;
  }
  // Every launch of the three steps, eagerly (no graph), within their time.
  EXPECT_EQ(launches, gpu->stats().kernelLaunches - launchesBefore);
  EXPECT_EQ(gpu->stats().graphReplays, 0);
  EXPECT_LE(ms, deviceMs * 1.01);
  gpu->resetKernelProfile();
  EXPECT_TRUE(gpu->kernelProfile().empty());
}

// The compiled model with `--target-options=timeline=1`
// (INFER_TEST_CUDA_TIMELINE_ARTIFACT, same weights; bench/gpu-check.sh sets
// it): every launch of a step records its start and end on the GPU.
TEST_F(CompiledModelBench, TimelineRecordsEveryLaunch) {
  {
    // An artifact without the instrumentation says how to get it.
    std::unique_ptr<CudaBackend> plain = open(options(64, 4));
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->hasTimeline());
    Status st = plain->resetTimeline();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.toString().find("timeline=1"), std::string::npos)
        << st.toString();
  }
  const char *path = std::getenv("INFER_TEST_CUDA_TIMELINE_ARTIFACT");
  if (!path || !*path)
    GTEST_SKIP() << "set INFER_TEST_CUDA_TIMELINE_ARTIFACT";
  StatusOr<std::shared_ptr<Artifact>> art = Artifact::load(path);
  ASSERT_TRUE(art.ok()) << art.status().toString();
  model.art = *art;

  auto decodeStep = [](CudaBackend &gpu, int pos, StepOutputs &out) {
    std::vector<SeqSpec> seqs;
    for (int s = 0; s < 4; ++s)
      seqs.push_back({{s * 4, s * 4 + 1, s * 4 + 2, s * 4 + 3}, {5 + s}, pos});
    Status st = gpu.step(makeBatch(seqs), out);
    ASSERT_TRUE(st.ok()) << st.toString();
  };
  size_t eagerLaunches = 0;
  for (bool graphs : {false, true}) {
    SCOPED_TRACE(graphs ? "graph, programmatic launch" : "eager, plain");
    CudaBackendOptions opts = options(64, 4);
    opts.useGraphs = graphs;
    opts.programmaticLaunch = graphs;
    std::unique_ptr<CudaBackend> gpu = open(opts);
    ASSERT_TRUE(gpu);
    ASSERT_TRUE(gpu->hasTimeline());
    StepOutputs out;
    decodeStep(*gpu, 20, out);
    decodeStep(*gpu, 21, out);
    ASSERT_TRUE(gpu->resetTimeline().ok());
    const int64_t launchesBefore = gpu->stats().kernelLaunches;
    decodeStep(*gpu, 22, out);
    StatusOr<std::vector<TimelineEntry>> timeline = gpu->timeline();
    ASSERT_TRUE(timeline.ok()) << timeline.status().toString();
    const std::vector<TimelineEntry> &t = *timeline;
    ASSERT_FALSE(t.empty());
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_FALSE(t[i].kernel.empty());
      EXPECT_LE(t[i].startNs, t[i].endNs) << t[i].kernel;
      if (i > 0)
        EXPECT_LE(t[i - 1].startNs, t[i].startNs); // By start.
    }
    // The step's span fits in its device time (events around its copies
    // and launches).
    EXPECT_LE((t.back().endNs - t.front().startNs) / 1e6,
              gpu->lastStepDeviceMs() * 1.01 + 0.01);
    if (!graphs) {
      // One entry per launch; plain launches on one stream do not overlap.
      eagerLaunches = t.size();
      EXPECT_EQ(static_cast<int64_t>(t.size()),
                gpu->stats().kernelLaunches - launchesBefore);
      for (size_t i = 1; i < t.size(); ++i)
        EXPECT_LE(t[i - 1].endNs, t[i].startNs)
            << t[i - 1].kernel << " then " << t[i].kernel;
    } else {
      // The replayed graph runs the same launches.
      EXPECT_GT(gpu->stats().graphReplays, 0);
      EXPECT_EQ(t.size(), eagerLaunches);
    }
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Activation planning (no GPU needed).
//===----------------------------------------------------------------------===//

namespace {

void checkPlan(const Artifact &art, int64_t maxTokens, int64_t maxWidth) {
  StatusOr<ActivationPlan> planOr = planActivations(art, maxTokens, maxWidth);
  ASSERT_TRUE(planOr.ok()) << planOr.status().toString();
  const ActivationPlan &plan = *planOr;
  size_t sum = 0;
  std::vector<int64_t> placed;
  for (const GraphNode &node : art.nodes()) {
    for (int64_t r : node.results) {
      const ValueInfo *v = art.value(r);
      ASSERT_NE(v, nullptr);
      bool inArena =
          node.kind != artifact::OpKind::Weight && v->dtype != DType::KVCache;
      if (!inArena) {
        EXPECT_EQ(plan.offset[r], -1) << "value " << r;
        continue;
      }
      ASSERT_GE(plan.offset[r], 0) << "value " << r;
      EXPECT_EQ(plan.offset[r] % 256, 0);
      int64_t need = static_cast<int64_t>(dtypeSize(v->dtype));
      bool first = true;
      for (int64_t d : v->shape) {
        need *= d >= 0 ? d : (first ? maxTokens : maxWidth);
        if (d < 0)
          first = false;
      }
      EXPECT_GE(static_cast<int64_t>(plan.bytes[r]), need) << "value " << r;
      EXPECT_LE(plan.offset[r] + static_cast<int64_t>(plan.bytes[r]),
                static_cast<int64_t>(plan.totalBytes));
      sum += plan.bytes[r];
      placed.push_back(r);
    }
  }
  // Values alive at the same time never share bytes.
  for (size_t i = 0; i < placed.size(); ++i)
    for (size_t j = i + 1; j < placed.size(); ++j) {
      int64_t a = placed[i], b = placed[j];
      bool timeOverlap = plan.firstUse[a] <= plan.lastUse[b] &&
                         plan.firstUse[b] <= plan.lastUse[a];
      bool memOverlap =
          plan.offset[a] <
              plan.offset[b] + static_cast<int64_t>(plan.bytes[b]) &&
          plan.offset[b] < plan.offset[a] + static_cast<int64_t>(plan.bytes[a]);
      EXPECT_FALSE(timeOverlap && memOverlap)
          << "values " << a << " and " << b << " overlap";
    }
  EXPECT_LE(plan.totalBytes, sum);
  std::cout << "[ info ] " << art.name() << ": " << placed.size()
            << " activations, arena " << plan.totalBytes << " bytes (sum "
            << sum << ")\n";
}

TEST(CudaActivationPlanTest, SyntheticArtifact) {
  std::shared_ptr<Artifact> art = makeSyntheticArtifact();
  ASSERT_TRUE(art);
  checkPlan(*art, 64, 16);
}

TEST(CudaActivationPlanTest, CompiledModelReusesBuffers) {
  CompiledModel m;
  std::string why;
  if (!loadCompiledModel(m, why))
    GTEST_SKIP() << why;
  checkPlan(*m.art, 2048, 64);
  StatusOr<ActivationPlan> plan = planActivations(*m.art, 2048, 64);
  ASSERT_TRUE(plan.ok());
  size_t sum = 0;
  for (size_t i = 0; i < plan->offset.size(); ++i)
    if (plan->offset[i] >= 0)
      sum += plan->bytes[i];
  EXPECT_LT(plan->totalBytes, sum) << "no buffer was reused";
}

} // namespace

//===----------------------------------------------------------------------===//
// Step splitting (no GPU needed).
//===----------------------------------------------------------------------===//

namespace {

/// A: positions 0..4 (prefill), B: positions 3..5 (a later prefill chunk),
/// C: one decode token at position 10. Each samples its last token.
StepBatch mixedBatch() {
  StepBatch b = makeBatch({{{1}, {10, 11, 12, 13, 14}, 0},
                           {{2}, {20, 21, 22}, 3},
                           {{3}, {30}, 10}});
  b.samplingParams[1].temperature = 0.5f;
  b.samplingParams[1].seed = 77;
  b.blockCopies.push_back({5, 6});
  return b;
}

/// Every token of `b` appears once over `subs`, with its slot and position.
void expectTokensCovered(const StepBatch &b, const std::vector<SubStep> &subs) {
  std::map<int32_t, int> seen; // slot -> count
  for (const SubStep &sub : subs) {
    const StepBatch &s = sub.batch;
    ASSERT_EQ(s.queryStartLoc.size(), s.contextLens.size() + 1);
    ASSERT_EQ(s.blockTables.size(),
              s.contextLens.size() * static_cast<size_t>(s.blockTableWidth));
    ASSERT_EQ(s.logitsIndices.size(), sub.sampleOf.size());
    ASSERT_EQ(s.samplingParams.size(), sub.sampleOf.size());
    EXPECT_EQ(s.queryStartLoc.back(), s.numTokens());
    for (int32_t t = 0; t < s.numTokens(); ++t)
      ++seen[s.slotMapping[t]];
    // Context ends at the row's last token.
    for (size_t r = 0; r < s.contextLens.size(); ++r)
      EXPECT_EQ(s.contextLens[r], s.positions[s.queryStartLoc[r + 1] - 1] + 1);
  }
  ASSERT_EQ(seen.size(), b.slotMapping.size());
  for (auto &[slot, n] : seen)
    EXPECT_EQ(n, 1) << "slot " << slot;
  EXPECT_EQ(subs.front().batch.blockCopies.size(), 1u);
  for (size_t i = 1; i < subs.size(); ++i)
    EXPECT_TRUE(subs[i].batch.blockCopies.empty());
}

TEST(CudaStepSplitTest, ByPosition) {
  StepBatch b = mixedBatch();
  std::vector<SubStep> subs;
  ASSERT_TRUE(splitStepByPosition(b, subs).ok());
  expectTokensCovered(b, subs);
  // Positions 0, 1, 2, 3 (A and B), 4 (A and B), 5 (B), 10 (C).
  ASSERT_EQ(subs.size(), 7u);
  const size_t rows[] = {1, 1, 1, 2, 2, 1, 1};
  int32_t lastPos = -1;
  for (size_t i = 0; i < subs.size(); ++i) {
    const StepBatch &s = subs[i].batch;
    ASSERT_EQ(static_cast<size_t>(s.numTokens()), rows[i]) << i;
    // A pure decode step: one token per row, every row sampled in order.
    ASSERT_EQ(s.contextLens.size(), rows[i]);
    for (int32_t r = 0; r < s.numTokens(); ++r) {
      EXPECT_EQ(s.queryStartLoc[r], r);
      EXPECT_EQ(s.logitsIndices[r], r);
      EXPECT_GT(s.positions[r], lastPos);
    }
    lastPos = s.positions[0];
  }
  // The sampled rows: A's position 4, B's position 5 (with its params), C.
  EXPECT_EQ(subs[4].sampleOf, (std::vector<int32_t>{0, -1}));
  EXPECT_EQ(subs[5].sampleOf, (std::vector<int32_t>{1}));
  EXPECT_EQ(subs[5].batch.samplingParams[0].seed, 77u);
  EXPECT_EQ(subs[6].sampleOf, (std::vector<int32_t>{2}));
  EXPECT_EQ(subs[6].batch.blockTables, (std::vector<int32_t>{3}));
  EXPECT_EQ(subs[3].batch.tokenIds, (std::vector<int32_t>{13, 20}));
}

TEST(CudaStepSplitTest, InChunks) {
  StepBatch b = mixedBatch();
  std::vector<SubStep> subs;
  ASSERT_TRUE(splitStepInChunks(b, 4, subs).ok());
  expectTokensCovered(b, subs);
  ASSERT_EQ(subs.size(), 3u);
  // [A0..A3] | [A4, B0..B2] | [C].
  EXPECT_EQ(subs[0].batch.tokenIds, (std::vector<int32_t>{10, 11, 12, 13}));
  EXPECT_EQ(subs[0].batch.contextLens, (std::vector<int32_t>{4}));
  EXPECT_TRUE(subs[0].sampleOf.empty());
  EXPECT_EQ(subs[1].batch.queryStartLoc, (std::vector<int32_t>{0, 1, 4}));
  EXPECT_EQ(subs[1].batch.contextLens, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(subs[1].batch.logitsIndices, (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(subs[1].batch.sampleRows, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(subs[1].sampleOf, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(subs[2].sampleOf, (std::vector<int32_t>{2}));
  EXPECT_EQ(subs[2].batch.contextLens, (std::vector<int32_t>{11}));
  std::vector<SubStep> whole;
  ASSERT_TRUE(splitStepInChunks(b, 100, whole).ok());
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].batch.queryStartLoc, b.queryStartLoc);
  EXPECT_EQ(whole[0].batch.contextLens, b.contextLens);
  EXPECT_EQ(whole[0].batch.logitsIndices, b.logitsIndices);
}

TEST(CudaStepSplitTest, RejectsMalformedBatches) {
  StepBatch b = mixedBatch();
  b.logitsIndices[0] = 99;
  std::vector<SubStep> subs;
  EXPECT_EQ(splitStepByPosition(b, subs).code(), StatusCode::InvalidArgument);
  b = mixedBatch();
  b.positions.pop_back();
  EXPECT_EQ(splitStepInChunks(b, 4, subs).code(), StatusCode::InvalidArgument);
}

} // namespace

namespace {

/// The split steps compute what the whole step computes: checked on the CPU
/// reference backend with a compiled model (INFER_TEST_CUDA_ARTIFACT/
/// _WEIGHTS), whole steps against sub-steps by position and in chunks.
TEST(CudaStepSplitTest, CpuBackendAgrees) {
  CompiledModel m;
  std::string why;
  if (!loadCompiledModel(m, why))
    GTEST_SKIP() << why;
  const int32_t numBlocks = 64;
  BackendOptions bo;
  bo.numKvBlocks = numBlocks;
  StatusOr<std::unique_ptr<CpuBackend>> whole =
      CpuBackend::create(m.art, m.weights, bo);
  StatusOr<std::unique_ptr<CpuBackend>> byPos =
      CpuBackend::create(m.art, m.weights, bo);
  StatusOr<std::unique_ptr<CpuBackend>> chunks =
      CpuBackend::create(m.art, m.weights, bo);
  ASSERT_TRUE(whole.ok() && byPos.ok() && chunks.ok());

  SchedulerConfig sc;
  sc.numBlocks = numBlocks;
  sc.blockSize = static_cast<int32_t>(m.art->kvCache().blockSize);
  sc.maxNumBatchedTokens = 64; // Chunked prefill of the long prompts.
  Scheduler sched(sc);
  const int64_t vocab = m.art->model().vocabSize;
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> tok(3,
                                             static_cast<int32_t>(vocab) - 1);
  std::vector<int32_t> shared(35);
  for (int32_t &t : shared)
    t = tok(rng);
  for (int r = 0; r < 4; ++r) {
    Request req;
    req.id = static_cast<uint64_t>(r);
    req.promptTokens = shared;
    req.promptTokens.resize(static_cast<size_t>(5 + 30 * r));
    for (size_t i = shared.size(); i < req.promptTokens.size(); ++i)
      req.promptTokens[i] = tok(rng);
    req.maxNewTokens = 6;
    if (r == 3) {
      req.sampling.temperature = 0.8f;
      req.sampling.seed = 5;
    }
    ASSERT_TRUE(sched.addRequest(req).ok());
  }
  StepBatch batch;
  StepOutputs ref, got, part;
  std::vector<FinishedRequest> finished;
  std::vector<SubStep> subs;
  int steps = 0;
  auto runSplit = [&](CpuBackend &backend, StepOutputs &o) {
    o.tokens.assign(batch.logitsIndices.size(), -1);
    o.logits.assign(batch.logitsIndices.size() * vocab, 0.0f);
    for (const SubStep &sub : subs) {
      ASSERT_TRUE(backend.step(sub.batch, part).ok());
      for (size_t k = 0; k < sub.sampleOf.size(); ++k) {
        int32_t s = sub.sampleOf[k];
        if (s < 0)
          continue;
        o.tokens[s] = part.tokens[k];
        std::copy_n(part.logits.begin() + k * vocab, vocab,
                    o.logits.begin() + s * vocab);
      }
    }
  };
  while (sched.hasPendingWork()) {
    ASSERT_TRUE(sched.step(batch).ok());
    if (batch.empty())
      break;
    ASSERT_TRUE((*whole)->step(batch, ref).ok());
    ASSERT_TRUE(splitStepByPosition(batch, subs).ok());
    runSplit(**byPos, got);
    EXPECT_EQ(got.tokens, ref.tokens) << "by position, step " << steps;
    EXPECT_LT(relErr(got.logits.data(), ref.logits.data(), ref.logits.size()),
              1e-5)
        << "by position, step " << steps;
    ASSERT_TRUE(splitStepInChunks(batch, 7, subs).ok());
    runSplit(**chunks, got);
    EXPECT_EQ(got.tokens, ref.tokens) << "chunks, step " << steps;
    EXPECT_LT(relErr(got.logits.data(), ref.logits.data(), ref.logits.size()),
              1e-5)
        << "chunks, step " << steps;
    ASSERT_TRUE(sched.update(batch, ref.tokens, finished).ok());
    ++steps;
  }
  EXPECT_EQ(finished.size(), 4u);
  EXPECT_GT(sched.stats().numCachedPromptTokens, 0);
}

} // namespace

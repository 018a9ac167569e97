//===- EngineTest.cpp - Engine + CPU backend end to end -------------------===//

#include "infer/runtime/Engine.h"
#include "TinyModel.h"
#include "infer/runtime/CpuBackend.h"
#include "infer/runtime/Sampling.h"
#include "infer/runtime/Trace.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace infer;
using namespace infer::runtime;
using namespace infer::runtime::test;

namespace {

struct Loaded {
  std::shared_ptr<const Artifact> art;
  std::shared_ptr<const SafeTensors> weights;
  std::vector<SafeTensorsEntry> entries;
};

Loaded load(const TinyConfig &c, unsigned seed = 7) {
  Loaded l;
  l.entries = tinyWeights(c, seed);
  std::string path = tempPath("tiny.safetensors");
  EXPECT_TRUE(writeSafeTensors(path, l.entries).ok());
  auto st = SafeTensors::open(path);
  EXPECT_TRUE(st.ok()) << st.status().toString();
  std::remove(path.c_str()); // The mapping stays valid.
  l.weights = std::shared_ptr<const SafeTensors>(std::move(*st));
  auto art = Artifact::parse(artifactBytes(tinyHeader(c)), "tiny.art");
  EXPECT_TRUE(art.ok()) << art.status().toString();
  l.art = *art;
  return l;
}

std::unique_ptr<CpuBackend> backendFor(const Loaded &l, int32_t blocks = 64) {
  BackendOptions o;
  o.numKvBlocks = blocks;
  o.numThreads = 2;
  auto b = CpuBackend::create(l.art, l.weights, o);
  EXPECT_TRUE(b.ok()) << b.status().toString();
  return b.ok() ? std::move(*b) : nullptr;
}

Request makeRequest(uint64_t id, int32_t len, int32_t maxNew, float temp,
                    int32_t vocab, unsigned salt = 0) {
  Request r;
  r.id = id;
  for (int32_t i = 0; i < len; ++i)
    r.promptTokens.push_back((i * 7 + 3 + int32_t(id * 13 + salt)) % vocab);
  r.maxNewTokens = maxNew;
  r.sampling.temperature = temp;
  r.sampling.topK = temp > 0 ? 20 : 0;
  r.sampling.topP = temp > 0 ? 0.95f : 1.0f;
  r.sampling.seed = 1000 + id;
  return r;
}

std::map<uint64_t, RequestResult> run(Backend &backend,
                                      const std::vector<Request> &reqs,
                                      EngineOptions opts = EngineOptions()) {
  Engine engine(backend, opts);
  for (const Request &r : reqs) {
    Status st = engine.submit(r);
    EXPECT_TRUE(st.ok()) << st.toString();
  }
  std::vector<RequestResult> done;
  Status st = engine.runToCompletion(done);
  EXPECT_TRUE(st.ok()) << st.toString();
  std::map<uint64_t, RequestResult> out;
  for (RequestResult &r : done)
    out[r.output.id] = std::move(r);
  EXPECT_EQ(out.size(), reqs.size());
  return out;
}

std::vector<Request> mixedRequests(int32_t vocab) {
  std::vector<Request> reqs;
  int32_t lens[] = {1, 15, 16, 17, 40};
  for (int i = 0; i < 5; ++i)
    reqs.push_back(makeRequest(i, lens[i], 6 + i, i % 2 ? 0.9f : 0.0f, vocab));
  return reqs;
}

// ----- dense float64 reference of the tiny model ---------------------------

std::vector<double> dense(const std::vector<SafeTensorsEntry> &entries,
                          const std::string &name) {
  for (const SafeTensorsEntry &e : entries)
    if (e.name == name) {
      std::vector<float> f = entryFloats(e);
      return std::vector<double>(f.begin(), f.end());
    }
  ADD_FAILURE() << "no " << name;
  return {};
}

std::vector<double> matvec(const std::vector<double> &w,
                           const std::vector<double> &x, int64_t n) {
  int64_t k = x.size();
  std::vector<double> y(n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      y[i] += w[i * k + j] * x[j];
  return y;
}

std::vector<double> rmsnorm(const std::vector<double> &x,
                            const std::vector<double> &w, double eps) {
  double ss = 0;
  for (double v : x)
    ss += v * v;
  double inv = 1 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = x[i] * inv * w[i];
  return y;
}

/// Logits after the last prompt token.
std::vector<double> referenceLogits(const TinyConfig &c,
                                    const std::vector<SafeTensorsEntry> &e,
                                    const std::vector<int32_t> &tokens) {
  const int64_t n = tokens.size(), H = c.hidden, hd = c.headDim,
                q = c.heads * hd, kv = c.kvHeads * hd;
  std::vector<double> emb = dense(e, "model.embed_tokens.weight");
  std::vector<std::vector<double>> h(n);
  for (int64_t t = 0; t < n; ++t)
    h[t].assign(emb.begin() + tokens[t] * H, emb.begin() + (tokens[t] + 1) * H);
  cpu::RopeParams rp;
  rp.theta = c.theta;
  if (c.llama3) {
    rp.scaling = cpu::RopeParams::Scaling::Llama3;
    rp.factor = 8;
    rp.originalMaxPosition = 64;
  }
  std::vector<float> inv = cpu::ropeInvFreq(hd, rp);
  auto rope = [&](std::vector<double> &v, int64_t heads, int64_t pos) {
    for (int64_t hh = 0; hh < heads; ++hh) {
      double *x = &v[hh * hd];
      std::vector<double> o(hd);
      for (int64_t i = 0; i < hd; ++i) {
        double ang = double(inv[i % (hd / 2)]) * pos;
        double rot = i < hd / 2 ? -x[i + hd / 2] : x[i - hd / 2];
        o[i] = x[i] * std::cos(ang) + rot * std::sin(ang);
      }
      std::copy(o.begin(), o.end(), x);
    }
  };
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    auto ln1 = dense(e, p + "input_layernorm.weight");
    auto wq = dense(e, p + "self_attn.q_proj.weight"),
         wk = dense(e, p + "self_attn.k_proj.weight"),
         wv = dense(e, p + "self_attn.v_proj.weight"),
         wo = dense(e, p + "self_attn.o_proj.weight");
    std::vector<double> bq(q), bk(kv), bv(kv);
    if (c.qkvBias) {
      bq = dense(e, p + "self_attn.q_proj.bias");
      bk = dense(e, p + "self_attn.k_proj.bias");
      bv = dense(e, p + "self_attn.v_proj.bias");
    }
    std::vector<std::vector<double>> Q(n), K(n), V(n);
    for (int64_t t = 0; t < n; ++t) {
      auto x = rmsnorm(h[t], ln1, c.eps);
      Q[t] = matvec(wq, x, q);
      K[t] = matvec(wk, x, kv);
      V[t] = matvec(wv, x, kv);
      for (int64_t i = 0; i < q; ++i)
        Q[t][i] += bq[i];
      for (int64_t i = 0; i < kv; ++i) {
        K[t][i] += bk[i];
        V[t][i] += bv[i];
      }
      rope(Q[t], c.heads, t);
      rope(K[t], c.kvHeads, t);
    }
    auto ln2 = dense(e, p + "post_attention_layernorm.weight");
    auto wg = dense(e, p + "mlp.gate_proj.weight"),
         wu = dense(e, p + "mlp.up_proj.weight"),
         wd = dense(e, p + "mlp.down_proj.weight");
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> a(q, 0.0);
      for (int64_t hh = 0; hh < c.heads; ++hh) {
        int64_t kh = hh / (c.heads / c.kvHeads);
        std::vector<double> s;
        std::vector<int64_t> js;
        for (int64_t j = 0; j <= t; ++j) {
          if (c.slidingWindow && t - j >= c.slidingWindow)
            continue;
          double d = 0;
          for (int64_t i = 0; i < hd; ++i)
            d += Q[t][hh * hd + i] * K[j][kh * hd + i];
          s.push_back(d / std::sqrt(double(hd)));
          js.push_back(j);
        }
        double m = *std::max_element(s.begin(), s.end()), z = 0;
        for (double &v : s)
          z += v = std::exp(v - m);
        for (size_t k = 0; k < js.size(); ++k)
          for (int64_t i = 0; i < hd; ++i)
            a[hh * hd + i] += s[k] / z * V[js[k]][kh * hd + i];
      }
      auto o = matvec(wo, a, H);
      for (int64_t i = 0; i < H; ++i)
        h[t][i] += o[i];
      auto x2 = rmsnorm(h[t], ln2, c.eps);
      auto g = matvec(wg, x2, c.inter), u = matvec(wu, x2, c.inter);
      for (int64_t i = 0; i < c.inter; ++i)
        g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = matvec(wd, g, H);
      for (int64_t i = 0; i < H; ++i)
        h[t][i] += d[i];
    }
  }
  auto hn = rmsnorm(h[n - 1], dense(e, "model.norm.weight"), c.eps);
  return matvec(dense(e, "lm_head.weight"), hn, c.vocab);
}

// ----- tests ----------------------------------------------------------------

TEST(EngineTest, MatchesDenseReference) {
  for (bool fused : {false, true})
    for (int64_t window : {int64_t(0), int64_t(5)}) {
      TinyConfig c;
      c.fused = fused;
      c.slidingWindow = window;
      c.llama3 = window > 0;
      Loaded l = load(c);
      auto backend = backendFor(l);
      EngineOptions opts;
      opts.keepLogits = true;
      Request r = makeRequest(0, 21, 2, 0.0f, c.vocab);
      auto out = run(*backend, {r}, opts);
      ASSERT_EQ(out[0].logits.size(), size_t(2 * c.vocab));
      // Row 0: the prefill; row 1: the first decode step through the pages.
      double maxRef = 0, maxErr = 0;
      std::vector<int32_t> ctx = r.promptTokens;
      for (int row = 0; row < 2; ++row) {
        std::vector<double> ref = referenceLogits(c, l.entries, ctx);
        const float *got = out[0].logits.data() + row * c.vocab;
        for (size_t i = 0; i < ref.size(); ++i) {
          maxRef = std::max(maxRef, std::fabs(ref[i]));
          maxErr = std::max(maxErr, std::fabs(got[i] - ref[i]));
        }
        ctx.push_back(out[0].output.outputTokens[0]);
      }
      if (std::getenv("INFER_TEST_VERBOSE"))
        std::printf("fused=%d window=%lld maxRef=%g maxErr=%g\n", fused,
                    (long long)window, maxRef, maxErr);
      EXPECT_LT(maxErr, 0.03 * maxRef + 0.02)
          << "fused=" << fused << " window=" << window;
      EXPECT_GT(maxRef, 0.1);
    }
}

TEST(EngineTest, FusedGraphMatchesUnfusedBitwise) {
  TinyConfig c;
  Loaded plain = load(c);
  c.fused = true;
  Loaded fused = load(c);
  auto b1 = backendFor(plain), b2 = backendFor(fused);
  EngineOptions opts;
  opts.keepLogits = true;
  auto r1 = run(*b1, mixedRequests(c.vocab), opts);
  auto r2 = run(*b2, mixedRequests(c.vocab), opts);
  for (auto &[id, r] : r1) {
    EXPECT_EQ(r.output.outputTokens, r2[id].output.outputTokens) << id;
    EXPECT_EQ(r.logits, r2[id].logits) << id;
  }
}

TEST(EngineTest, BatchEqualsAlone) {
  TinyConfig c;
  c.fused = true;
  Loaded l = load(c);
  auto backend = backendFor(l);
  std::vector<Request> reqs = mixedRequests(c.vocab);
  auto together = run(*backend, reqs);
  for (const Request &r : reqs) {
    auto alone = run(*backendFor(l), {r});
    EXPECT_EQ(alone[r.id].output.outputTokens,
              together[r.id].output.outputTokens)
        << r.id;
    EXPECT_EQ(together[r.id].output.outputTokens.size(),
              size_t(r.maxNewTokens));
  }
}

TEST(EngineTest, PrefixCachingChunkingAndPreemptionDoNotChangeOutputs) {
  TinyConfig c;
  c.fused = true;
  Loaded l = load(c);
  // Requests sharing a 35-token prefix (two full blocks).
  std::vector<Request> reqs;
  Request base = makeRequest(0, 35, 1, 0.0f, c.vocab);
  for (int i = 0; i < 4; ++i) {
    Request r = makeRequest(i, 3 + i, 8, i % 2 ? 0.7f : 0.0f, c.vocab, 5);
    r.promptTokens.insert(r.promptTokens.begin(), base.promptTokens.begin(),
                          base.promptTokens.end());
    reqs.push_back(r);
  }
  EngineOptions off;
  off.enablePrefixCaching = false;
  auto reference = run(*backendFor(l), reqs, off);

  // Prefix caching on, requests one after another in one engine.
  auto backend = backendFor(l);
  EngineOptions on;
  Engine engine(*backend, on);
  std::vector<RequestResult> done;
  for (const Request &r : reqs) {
    ASSERT_TRUE(engine.submit(r).ok());
    ASSERT_TRUE(engine.runToCompletion(done).ok());
  }
  ASSERT_EQ(done.size(), reqs.size());
  int32_t cached = 0;
  for (const RequestResult &r : done) {
    EXPECT_EQ(r.output.outputTokens, reference[r.output.id].output.outputTokens)
        << r.output.id;
    cached += r.output.numCachedPromptTokens;
  }
  EXPECT_GE(cached, 3 * 32);

  // Chunked prefill (8-token budget) and a pool small enough to preempt.
  int32_t preemptions = 0;
  for (bool caching : {true, false}) {
    EngineOptions tight;
    tight.maxNumBatchedTokens = 8;
    tight.enablePrefixCaching = caching;
    auto small = backendFor(l, caching ? 7 : 4);
    auto chunked = run(*small, reqs, tight);
    for (auto &[id, r] : chunked) {
      EXPECT_EQ(r.output.outputTokens, reference[id].output.outputTokens)
          << id << " caching=" << caching;
      preemptions += r.output.numPreemptions;
    }
  }
  EXPECT_GT(preemptions, 0);
}

TEST(EngineTest, StreamingStopTokensAndStats) {
  TinyConfig c;
  Loaded l = load(c);
  auto backend = backendFor(l);
  Request r = makeRequest(3, 10, 12, 0.0f, c.vocab);
  auto first = run(*backend, {r});
  const std::vector<int32_t> &full = first[3].output.outputTokens;
  ASSERT_EQ(full.size(), 12u);
  EXPECT_EQ(first[3].output.reason, FinishReason::Length);

  // Stop on the third generated token.
  r.stopTokens = {full[2]};
  size_t stopAt = std::find(full.begin(), full.end(), full[2]) - full.begin();
  Engine engine(*backend, EngineOptions());
  std::vector<int32_t> streamed;
  engine.setTokenCallback([&](uint64_t id, int32_t tok) {
    EXPECT_EQ(id, 3u);
    streamed.push_back(tok);
  });
  ASSERT_TRUE(engine.submit(r).ok());
  std::vector<RequestResult> done;
  ASSERT_TRUE(engine.runToCompletion(done).ok());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].output.reason, FinishReason::Stop);
  EXPECT_EQ(done[0].output.outputTokens,
            std::vector<int32_t>(full.begin(), full.begin() + stopAt + 1));
  EXPECT_EQ(streamed, done[0].output.outputTokens);
  EXPECT_GE(done[0].ttftS(), 0.0);
  EXPECT_GE(done[0].finishS, done[0].firstTokenS);
  EXPECT_GT(engine.stats().numSteps, 0);
}

// Run-ahead (the next decode step scheduled and submitted before the pending
// one's samples are known) gives the same tokens as lockstep stepping: stop
// tokens mid-run leave dead rows, limits end the run-ahead, arrivals join
// later, and the tokens committed late still make prefix-cache hits.
TEST(EngineTest, RunAheadMatchesLockstep) {
  TinyConfig c;
  c.fused = true;
  Loaded l = load(c);
  std::vector<Request> reqs = mixedRequests(c.vocab);
  for (int i = 0; i < 3; ++i) {
    Request r =
        makeRequest(10 + i, 5 + 9 * i, 20, i == 1 ? 0.8f : 0.0f, c.vocab, 3);
    reqs.push_back(r);
  }
  EngineOptions lockstep;
  lockstep.runAhead = false;
  auto plain = run(*backendFor(l), reqs, lockstep);
  // Stop two requests on a token they generate mid-run.
  for (Request &r : reqs)
    if (r.id == 10 || r.id == 12)
      r.stopTokens = {plain[r.id].output.outputTokens[6]};
  plain = run(*backendFor(l), reqs, lockstep);
  EXPECT_EQ(plain[10].output.reason, FinishReason::Stop);

  auto backend = backendFor(l);
  EngineOptions ahead;
  ASSERT_TRUE(ahead.runAhead);
  Engine engine(*backend, ahead);
  std::map<uint64_t, std::vector<int32_t>> streamed;
  engine.setTokenCallback(
      [&](uint64_t id, int32_t tok) { streamed[id].push_back(tok); });
  // Half of the requests arrive while the first half decodes.
  std::vector<RequestResult> done;
  for (size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_TRUE(engine.submit(reqs[i]).ok());
    if (i == 3)
      for (int s = 0; s < 6; ++s)
        ASSERT_TRUE(engine.step(done).ok());
  }
  ASSERT_TRUE(engine.runToCompletion(done).ok());
  EXPECT_GT(engine.numStepsRunAhead(), 0);
  ASSERT_EQ(done.size(), reqs.size());
  for (const RequestResult &r : done) {
    uint64_t id = r.output.id;
    EXPECT_EQ(r.output.outputTokens, plain[id].output.outputTokens) << id;
    EXPECT_EQ(r.output.reason, plain[id].output.reason) << id;
    EXPECT_EQ(streamed[id], r.output.outputTokens) << id;
  }
  EXPECT_EQ(engine.stats().numGeneratedTokens, [&] {
    int64_t n = 0;
    for (auto &[id, r] : plain)
      n += static_cast<int64_t>(r.output.outputTokens.size());
    return n;
  }());

  // A prompt extending request 11's prompt and output hits the blocks that
  // its run-ahead steps filled, as many as after lockstep stepping.
  Request follow = reqs[6];
  ASSERT_EQ(follow.id, 11u);
  follow.id = 99;
  const std::vector<int32_t> &out11 = plain[11].output.outputTokens;
  follow.promptTokens.insert(follow.promptTokens.end(), out11.begin(),
                             out11.end() - 1);
  follow.maxNewTokens = 2;
  auto followAfter = [&](Engine &e) {
    std::vector<RequestResult> d;
    EXPECT_TRUE(e.submit(follow).ok());
    EXPECT_TRUE(e.runToCompletion(d).ok());
    return d.size() == 1 ? d[0].output.numCachedPromptTokens : -1;
  };
  auto lockBackend = backendFor(l);
  Engine lockEngine(*lockBackend, lockstep);
  for (const Request &r : reqs)
    ASSERT_TRUE(lockEngine.submit(r).ok());
  done.clear();
  ASSERT_TRUE(lockEngine.runToCompletion(done).ok());
  int32_t lockCached = followAfter(lockEngine);
  EXPECT_EQ(lockCached, static_cast<int32_t>(follow.promptTokens.size()) /
                            c.blockSize * c.blockSize);
  EXPECT_EQ(followAfter(engine), lockCached);
}

TEST(EngineTest, TraceReplayWithSimulatedClock) {
  TinyConfig c;
  Loaded l = load(c);
  auto backend = backendFor(l);
  auto trace =
      parseTrace("{\"id\": 1, \"prompt_ids\": [1, 2, 3], \"max_tokens\": 4, "
                 "\"arrival_s\": 0}\n\n"
                 "{\"id\": 2, \"prompt_ids\": [4, 5], \"max_tokens\": 3, "
                 "\"arrival_s\": 100.0, \"temperature\": 0.8, \"seed\": 5}\n",
                 "t.jsonl");
  ASSERT_TRUE(trace.ok()) << trace.status().toString();
  Engine engine(*backend, EngineOptions());
  std::vector<RequestResult> done;
  ASSERT_TRUE(engine.runTrace(*trace, true, done).ok());
  ASSERT_EQ(done.size(), 2u);
  EXPECT_GE(engine.now(), 100.0); // The idle gap was skipped, not slept.
  for (const RequestResult &r : done)
    EXPECT_LT(r.ttftS(), 50.0);
  BenchmarkSummary s = summarize(done, engine.now());
  EXPECT_EQ(s.outputTokens, 7);
  EXPECT_NE(formatSummary(s).find("P99 TTFT"), std::string::npos);
  EXPECT_FALSE(parseTrace("{\"prompt_ids\": []}", "x").ok());
  EXPECT_FALSE(parseTrace("{\"prompt_ids\": [1], \"top_p\": 2}", "x").ok());
  auto bad = parseTrace("{}\n", "bad.jsonl");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:1"), std::string::npos);
}

TEST(EngineTest, RejectsBadRequestsAndWeights) {
  TinyConfig c;
  Loaded l = load(c);
  auto backend = backendFor(l);
  Engine engine(*backend, EngineOptions());
  Request r = makeRequest(0, 3, 2, 0.0f, c.vocab);
  r.promptTokens[1] = 1000;
  Status st = engine.submit(r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("vocabulary"), std::string::npos);
  r = makeRequest(0, 3, 2, -1.0f, c.vocab);
  EXPECT_FALSE(engine.submit(r).ok());

  // A checkpoint missing a tensor, and one with a wrong shape.
  std::vector<SafeTensorsEntry> w = tinyWeights(c, 7);
  w.erase(w.begin() + 1);
  std::string path = tempPath("bad.safetensors");
  ASSERT_TRUE(writeSafeTensors(path, w).ok());
  auto st2 = SafeTensors::open(path);
  ASSERT_TRUE(st2.ok());
  BackendOptions o;
  o.numKvBlocks = 8;
  auto b = CpuBackend::create(l.art, std::move(*st2), o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("input_layernorm"), std::string::npos)
      << b.status().message();
  w = tinyWeights(c, 7);
  w[0].shape = {c.hidden, c.vocab};
  ASSERT_TRUE(writeSafeTensors(path, w).ok());
  auto st3 = SafeTensors::open(path);
  ASSERT_TRUE(st3.ok());
  b = CpuBackend::create(l.art, std::move(*st3), o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("shape"), std::string::npos);
  std::remove(path.c_str());
  // CUDA is not built into this runtime.
  auto cuda = createBackend(DeviceKind::Cuda, l.art, l.weights, o);
#ifndef INFER_RUNTIME_HAS_CUDA_BACKEND
  ASSERT_FALSE(cuda.ok());
  EXPECT_NE(cuda.status().message().find("CUDA backend not built"),
            std::string::npos);
#endif
}

TEST(EngineTest, SpecAcceptThroughTheGraph) {
  GraphBuilder g;
  int logits = g.input("target_logits", {-1, -1, -1}, "f32");
  int draft = g.input("draft_tokens", {-1, -1}, "i32");
  int acc = g.value({-1}, "i32"), bonus = g.value({-1}, "i32");
  g.node("spec_accept", {logits, draft}, {acc, bonus}, {{"mode", "greedy"}});
  g.outputs = {{"accepted", acc}, {"bonus", bonus}};
  json h = {{"model", {{"vocab_size", 4}}}, {"graph", g.build()}};
  auto art = Artifact::parse(artifactBytes(h), "spec.art");
  ASSERT_TRUE(art.ok()) << art.status().toString();
  auto st = SafeTensors::open(tempPath("none"));
  ASSERT_FALSE(st.ok());
  std::string path = tempPath("empty.safetensors");
  ASSERT_TRUE(writeSafeTensors(path, {}).ok());
  auto empty = SafeTensors::open(path);
  ASSERT_TRUE(empty.ok());
  BackendOptions o;
  auto backend = CpuBackend::create(*art, std::move(*empty), o);
  ASSERT_TRUE(backend.ok()) << backend.status().toString();
  StepExtras extras;
  HostTensor &t = extras.inputs["target_logits"];
  t.dtype = DType::F32;
  t.shape = {2, 3, 4};
  t.f = {0, 0, 5, 0, 0, 5, 0, 0, 0, 0, 0, 5,  // row 0: argmax 2, 1, 3
         5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5, 0}; // row 1: argmax 0, 1, 2
  HostTensor &d = extras.inputs["draft_tokens"];
  d.dtype = DType::I32;
  d.shape = {2, 2};
  d.i = {2, 1, 0, 3};
  StepBatch batch;
  batch.queryStartLoc = {0};
  StepOutputs out;
  Status s = (*backend)->step(batch, out, &extras);
  ASSERT_TRUE(s.ok()) << s.toString();
  EXPECT_EQ(out.extra["accepted"].i, (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(out.extra["bonus"].i, (std::vector<int32_t>{3, 1}));
  // A missing extra input is named.
  extras.inputs.erase("draft_tokens");
  s = (*backend)->step(batch, out, &extras);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("draft_tokens"), std::string::npos);
  std::remove(path.c_str());
}

} // namespace

TEST(EngineTest, DecodeTrafficCountsWeightsOnceAndEmbeddingRows) {
  TinyConfig c;
  Loaded l = load(c);
  DecodeTraffic t = decodeTraffic(*l.art);
  // Every weight but the embedding table is read in full; bf16.
  int64_t all = 0, embed = 0;
  for (const SafeTensorsEntry &e : l.entries) {
    all += static_cast<int64_t>(e.bytes.size());
    if (e.name == "model.embed_tokens.weight")
      embed = static_cast<int64_t>(e.bytes.size());
  }
  EXPECT_EQ(t.weightBytes, all - embed);
  EXPECT_EQ(t.embedRowBytes, c.hidden * 2);
  EXPECT_EQ(t.kvBytesPerToken, c.layers * 2 * c.kvHeads * c.headDim * 2);
  EXPECT_DOUBLE_EQ(t.stepBytes(4, 100), double(all - embed) +
                                            4.0 * c.hidden * 2 +
                                            100.0 * t.kvBytesPerToken);
}

TEST(EngineTest, DecodeBenchmarkTimesPureDecodeSteps) {
  TinyConfig c;
  Loaded l = load(c);
  DecodeBenchOptions o;
  o.batch = 3;
  o.context = 20;
  o.warmupSteps = 2;
  o.steps = 4;
  // A small budget makes the prefill chunked over several steps, so early
  // sequences decode while later ones still prefill.
  o.engine.maxNumBatchedTokens = 16;
  int64_t perSeq =
      (o.context + o.maxNewTokens() + c.blockSize - 1) / c.blockSize;
  auto backend = backendFor(l, static_cast<int32_t>(o.batch * perSeq + 1));
  int calls = 0;
  o.lastStepDeviceMs = [&] {
    ++calls;
    return 0.5;
  };
  auto r = benchmarkDecode(*backend, o);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->batch, 3);
  EXPECT_GT(r->prefillSteps, 3);
  ASSERT_EQ(r->stepMs.size(), 4u);
  EXPECT_EQ(calls, 4);
  EXPECT_DOUBLE_EQ(r->medianDeviceMs(), 0.5);
  EXPECT_GT(r->medianMs(), 0.0);
  EXPECT_GT(r->tokensPerS(), 0.0);
  // Each sequence holds at least context + warmup + 1 tokens in the timed
  // steps, and early prefills decoded a few more.
  EXPECT_GE(r->meanKvTokens, 3.0 * (20 + 2 + 1));
  EXPECT_LT(r->meanKvTokens, 3.0 * (20 + o.maxNewTokens()));

  // A pool too small for the batch preempts: an error, not a wrong figure.
  auto tiny = backendFor(l, 4);
  auto bad = benchmarkDecode(*tiny, o);
  EXPECT_FALSE(bad.ok());
  o.batch = 0;
  EXPECT_FALSE(benchmarkDecode(*backend, o).ok());
}

TEST(EngineTest, StatsCountKvTokensRead) {
  TinyConfig c;
  Loaded l = load(c);
  auto backend = backendFor(l);
  Engine engine(*backend, EngineOptions());
  ASSERT_TRUE(engine.submit(makeRequest(1, 5, 3, 0.0f, c.vocab)).ok());
  std::vector<RequestResult> done;
  ASSERT_TRUE(engine.runToCompletion(done).ok());
  // Prefill (5), then decodes at 6 and 7.
  EXPECT_EQ(engine.stats().numKvTokensRead, 5 + 6 + 7);
}

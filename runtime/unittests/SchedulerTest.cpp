//===- SchedulerTest.cpp - Continuous batching scheduler tests ------------===//

#include "infer/runtime/Scheduler.h"

#include "gtest/gtest.h"

#include <map>
#include <random>

using namespace infer;
using namespace infer::runtime;

namespace {

constexpr int32_t kVocab = 101;

/// A model that is a pure function of the token history, read back through
/// the KV pool: each step writes token ids at their slots, then each sampling
/// row hashes its whole context read through its block table.
class FakeModel {
public:
  FakeModel(int32_t numBlocks, int32_t blockSize)
      : bs(blockSize), pool(size_t(numBlocks) * blockSize, -1) {}

  void run(const StepBatch &b, std::vector<int32_t> &sampled) {
    const int32_t numSeqs = b.numSeqs();
    ASSERT_EQ(b.queryStartLoc.size(), size_t(numSeqs) + 1);
    ASSERT_EQ(b.queryStartLoc.back(), b.numTokens());
    ASSERT_EQ(b.positions.size(), b.tokenIds.size());
    ASSERT_EQ(b.slotMapping.size(), b.tokenIds.size());
    ASSERT_EQ(b.contextLens.size(), size_t(numSeqs));
    ASSERT_EQ(b.blockTables.size(), size_t(numSeqs) * b.blockTableWidth);
    ASSERT_EQ(b.sampleRows.size(), b.logitsIndices.size());
    ASSERT_EQ(b.samplingParams.size(), b.logitsIndices.size());
    for (const BlockCopy &c : b.blockCopies)
      std::copy_n(&pool[size_t(c.srcBlock) * bs], bs,
                  &pool[size_t(c.dstBlock) * bs]);
    for (int32_t r = 0; r < numSeqs; ++r) {
      const int32_t *table = &b.blockTables[size_t(r) * b.blockTableWidth];
      int32_t q0 = b.queryStartLoc[r], q1 = b.queryStartLoc[r + 1];
      ASSERT_LT(q0, q1);
      ASSERT_EQ(b.positions[q1 - 1] + 1, b.contextLens[r]);
      int32_t numBlocks = (b.contextLens[r] + bs - 1) / bs;
      for (int32_t j = 0; j < b.blockTableWidth; ++j)
        ASSERT_EQ(table[j] < 0, j >= numBlocks) << "bad padding";
      for (int32_t t = q0; t < q1; ++t) {
        int32_t p = b.positions[t];
        ASSERT_EQ(b.slotMapping[t], table[p / bs] * bs + p % bs);
        pool[b.slotMapping[t]] = b.tokenIds[t];
      }
    }
    sampled.clear();
    for (size_t k = 0; k < b.logitsIndices.size(); ++k) {
      int32_t r = b.sampleRows[k];
      ASSERT_EQ(b.logitsIndices[k], b.queryStartLoc[r + 1] - 1);
      const int32_t *table = &b.blockTables[size_t(r) * b.blockTableWidth];
      uint64_t h = 1469598103934665603ULL;
      for (int32_t p = 0; p < b.contextLens[r]; ++p) {
        h ^= uint64_t(pool[size_t(table[p / bs]) * bs + p % bs]) + 0x9e37;
        h *= 1099511628211ULL;
      }
      sampled.push_back(int32_t((h >> 17) % kVocab));
    }
  }

private:
  int32_t bs;
  std::vector<int32_t> pool;
};

using Outputs = std::map<uint64_t, FinishedRequest>;

/// Runs all requests to completion; fails the test on any error. With
/// `runAhead` it steps as the engine does with run-ahead: whenever the
/// scheduler allows it, the next step is scheduled before the pending one is
/// updated, and the model runs it (after the pending one, as a stream would)
/// on the pending step's samples; `aheadSteps` counts those steps.
Outputs runAll(const SchedulerConfig &cfg, const std::vector<Request> &reqs,
               SchedulerStats *statsOut = nullptr, bool runAhead = false,
               int64_t *aheadSteps = nullptr) {
  Scheduler sched(cfg);
  for (const Request &r : reqs) {
    Status st = sched.addRequest(r);
    EXPECT_TRUE(st.ok()) << st.toString();
  }
  FakeModel model(cfg.numBlocks, cfg.blockSize);
  StepBatch batches[2], fed;
  std::vector<int32_t> sampled[2];
  std::vector<FinishedRequest> finished;
  Outputs out;
  int p = 0;
  bool haveNext = false;
  int64_t ahead = 0;
  for (int iter = 0; sched.hasPendingWork(); ++iter) {
    if (iter > 1000000) {
      ADD_FAILURE() << "no progress";
      break;
    }
    if (!haveNext) {
      Status st = sched.step(batches[p]);
      if (!st.ok()) {
        ADD_FAILURE() << st.toString();
        break;
      }
      EXPECT_LE(batches[p].numTokens(), cfg.maxNumBatchedTokens);
      EXPECT_LE(batches[p].numSeqs(), cfg.maxNumSeqs);
      model.run(batches[p], sampled[p]);
    }
    haveNext = runAhead && sched.canScheduleAhead();
    if (haveNext) {
      StepBatch &next = batches[p ^ 1];
      Status st = sched.scheduleAhead(next);
      EXPECT_TRUE(st.ok()) << st.toString();
      EXPECT_EQ(next.requestIds, batches[p].requestIds);
      for (int32_t t : next.tokenIds)
        EXPECT_EQ(t, -1);
      fed = next;
      fed.tokenIds = sampled[p];
      model.run(fed, sampled[p ^ 1]);
      ++ahead;
    }
    if (::testing::Test::HasFailure())
      break;
    finished.clear();
    Status st = sched.update(batches[p], sampled[p], finished);
    EXPECT_TRUE(st.ok()) << st.toString();
    EXPECT_FALSE(sched.hasScheduledAhead());
    Status inv = sched.allocator().checkInvariants();
    if (!inv.ok()) {
      ADD_FAILURE() << inv.toString();
      break;
    }
    for (FinishedRequest &f : finished)
      out[f.id] = std::move(f);
    if (haveNext)
      p ^= 1;
  }
  EXPECT_EQ(sched.allocator().stats().numUsedBlocks, 0);
  if (statsOut)
    *statsOut = sched.stats();
  if (aheadSteps)
    *aheadSteps = ahead;
  return out;
}

std::vector<int32_t> randomTokens(std::mt19937 &rng, int32_t n) {
  std::vector<int32_t> v(n);
  for (int32_t &t : v)
    t = int32_t(rng() % kVocab);
  return v;
}

/// Each request alone with a huge pool.
std::vector<int32_t> soloOutput(const Request &r, int32_t blockSize = 16) {
  SchedulerConfig cfg;
  cfg.numBlocks = 4096;
  cfg.blockSize = blockSize;
  Outputs out = runAll(cfg, {r});
  return out[r.id].outputTokens;
}

TEST(SchedulerTest, ChunkedPrefillSamplesOnlyAtTheEnd) {
  SchedulerConfig cfg;
  cfg.numBlocks = 64;
  cfg.maxNumBatchedTokens = 32;
  Scheduler sched(cfg);
  std::mt19937 rng(1);
  Request r;
  r.id = 7;
  r.promptTokens = randomTokens(rng, 80);
  r.maxNewTokens = 3;
  ASSERT_TRUE(sched.addRequest(r).ok());
  FakeModel model(cfg.numBlocks, cfg.blockSize);
  StepBatch b;
  std::vector<int32_t> sampled;
  std::vector<FinishedRequest> done;
  // 80 prompt tokens in chunks of 32, 32, 16; only the last chunk samples.
  const int32_t chunks[] = {32, 32, 16, 1, 1};
  for (int32_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(sched.step(b).ok());
    ASSERT_EQ(b.numSeqs(), 1);
    EXPECT_EQ(b.numTokens(), chunks[i]);
    EXPECT_EQ(b.requestIds[0], 7u);
    EXPECT_EQ(b.logitsIndices.size(), i >= 2 ? 1u : 0u);
    EXPECT_EQ(b.positions[0], i < 3 ? 32 * i : 80 + i - 3);
    model.run(b, sampled);
    EXPECT_EQ(sched.step(b).code(), StatusCode::InvalidArgument);
    ASSERT_TRUE(sched.update(b, sampled, done).ok());
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outputTokens.size(), 3u);
  EXPECT_EQ(done[0].reason, FinishReason::Length);
  EXPECT_EQ(done[0].outputTokens, soloOutput(r));
  EXPECT_FALSE(sched.hasPendingWork());
}

TEST(SchedulerTest, RejectsBadRequests) {
  SchedulerConfig cfg;
  cfg.numBlocks = 4;
  cfg.blockSize = 16;
  Scheduler sched(cfg);
  Request empty;
  empty.id = 1;
  Status st = sched.addRequest(empty);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("empty prompt"), std::string::npos);

  Request big;
  big.id = 2;
  big.promptTokens.assign(60, 5);
  big.maxNewTokens = 5; // 64 KV tokens: fits exactly.
  EXPECT_TRUE(sched.addRequest(big).ok());
  big.maxNewTokens = 6; // 65: one block too many.
  st = sched.addRequest(big);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("the pool has 4"), std::string::npos)
      << st.message();

  Request zero;
  zero.id = 3;
  zero.promptTokens = {1};
  zero.maxNewTokens = 0;
  EXPECT_EQ(sched.addRequest(zero).code(), StatusCode::InvalidArgument);
}

TEST(SchedulerTest, StopTokenAndMaxNewTokensOne) {
  std::mt19937 rng(2);
  Request r;
  r.id = 1;
  r.promptTokens = randomTokens(rng, 20);
  r.maxNewTokens = 10;
  std::vector<int32_t> full = soloOutput(r);
  ASSERT_EQ(full.size(), 10u);
  // Stop on the first occurrence of the 4th token.
  size_t stopAt = std::find(full.begin(), full.end(), full[3]) - full.begin();
  Request stopReq = r;
  stopReq.id = 2;
  stopReq.stopTokens = {full[3], -5};
  Request one = r;
  one.id = 3;
  one.maxNewTokens = 1;
  SchedulerConfig cfg;
  cfg.numBlocks = 16;
  Outputs out = runAll(cfg, {r, stopReq, one});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].outputTokens, full);
  EXPECT_EQ(out[1].reason, FinishReason::Length);
  EXPECT_EQ(out[2].outputTokens,
            std::vector<int32_t>(full.begin(), full.begin() + stopAt + 1));
  EXPECT_EQ(out[2].reason, FinishReason::Stop);
  EXPECT_EQ(out[3].outputTokens, std::vector<int32_t>{full[0]});
  EXPECT_EQ(out[3].reason, FinishReason::Length);
}

std::vector<Request> makeWorkload(uint32_t seed, int32_t n, bool sharedPrefix) {
  std::mt19937 rng(seed);
  std::vector<std::vector<int32_t>> systems;
  for (int i = 0; i < 3; ++i)
    systems.push_back(randomTokens(rng, 40 + 8 * i));
  std::vector<Request> reqs;
  for (int32_t i = 0; i < n; ++i) {
    Request r;
    r.id = 1000 + i;
    if (sharedPrefix)
      r.promptTokens = systems[rng() % systems.size()];
    std::vector<int32_t> tail = randomTokens(rng, 1 + rng() % 60);
    r.promptTokens.insert(r.promptTokens.end(), tail.begin(), tail.end());
    r.maxNewTokens = 1 + rng() % 70;
    if (rng() % 4 == 0)
      r.stopTokens = {int32_t(rng() % kVocab)};
    r.sampling.seed = i;
    r.arrivalTime = i;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

void expectMatchesSolo(const std::vector<Request> &reqs, const Outputs &out,
                       int32_t blockSize) {
  ASSERT_EQ(out.size(), reqs.size());
  for (const Request &r : reqs) {
    auto it = out.find(r.id);
    ASSERT_NE(it, out.end()) << "request " << r.id << " never finished";
    EXPECT_EQ(it->second.outputTokens, soloOutput(r, blockSize))
        << "request " << r.id;
  }
}

TEST(SchedulerTest, OverloadPreemptsAndCompletesEverything) {
  std::vector<Request> reqs = makeWorkload(3, 64, /*sharedPrefix=*/false);
  SchedulerConfig cfg;
  cfg.numBlocks = 40; // 640 KV tokens for ~64 x 100 tokens of demand.
  cfg.blockSize = 16;
  cfg.maxNumBatchedTokens = 128;
  cfg.maxNumSeqs = 32;
  SchedulerStats stats;
  Outputs out = runAll(cfg, reqs, &stats);
  EXPECT_GT(stats.numPreemptions, 0);
  expectMatchesSolo(reqs, out, cfg.blockSize);
  int32_t preempted = 0;
  for (const auto &kv : out)
    preempted += kv.second.numPreemptions > 0;
  EXPECT_GT(preempted, 0);
}

TEST(SchedulerTest, OverloadSmallBlocksWithWatermark) {
  std::vector<Request> reqs = makeWorkload(4, 48, /*sharedPrefix=*/true);
  SchedulerConfig cfg;
  cfg.numBlocks = 90;
  cfg.blockSize = 8;
  cfg.maxNumBatchedTokens = 64;
  cfg.maxNumSeqs = 16;
  cfg.watermark = 0.05;
  SchedulerStats stats;
  Outputs out = runAll(cfg, reqs, &stats);
  EXPECT_GT(stats.numPreemptions, 0);
  expectMatchesSolo(reqs, out, cfg.blockSize);
}

TEST(SchedulerTest, PrefixSharingOnOffIdentical) {
  std::vector<Request> reqs = makeWorkload(5, 48, /*sharedPrefix=*/true);
  SchedulerConfig cfg;
  cfg.numBlocks = 200;
  cfg.maxNumBatchedTokens = 256;
  cfg.maxNumSeqs = 24;
  cfg.enablePrefixCaching = true;
  SchedulerStats on;
  Outputs withCache = runAll(cfg, reqs, &on);
  cfg.enablePrefixCaching = false;
  SchedulerStats off;
  Outputs without = runAll(cfg, reqs, &off);
  ASSERT_EQ(withCache.size(), reqs.size());
  ASSERT_EQ(without.size(), reqs.size());
  for (const Request &r : reqs)
    EXPECT_EQ(withCache[r.id].outputTokens, without[r.id].outputTokens);
  EXPECT_GT(on.numCachedPromptTokens, 0);
  EXPECT_EQ(off.numCachedPromptTokens, 0);
  EXPECT_LT(on.numScheduledTokens, off.numScheduledTokens);
  expectMatchesSolo(reqs, withCache, cfg.blockSize);
}

TEST(SchedulerTest, PrefixSharingUnderPressure) {
  // Cached blocks get evicted and preempted requests re-hit their prefix.
  std::vector<Request> reqs = makeWorkload(6, 64, /*sharedPrefix=*/true);
  SchedulerConfig cfg;
  cfg.numBlocks = 48;
  cfg.maxNumBatchedTokens = 96;
  cfg.maxNumSeqs = 32;
  SchedulerStats on, off;
  Outputs a = runAll(cfg, reqs, &on);
  cfg.enablePrefixCaching = false;
  Outputs b = runAll(cfg, reqs, &off);
  EXPECT_GT(on.numPreemptions, 0);
  EXPECT_GT(on.numCachedPromptTokens, 0);
  ASSERT_EQ(a.size(), reqs.size());
  for (const Request &r : reqs)
    EXPECT_EQ(a[r.id].outputTokens, b[r.id].outputTokens);
}

} // namespace

TEST(SchedulerTest, RunAheadMatchesLockstep) {
  // Stop tokens (dead rows), token limits, prefix sharing with evictions and
  // preemptions, and a roomy pool where decode runs ahead for long.
  struct Case {
    uint32_t seed;
    bool shared;
    int32_t blocks, budget, seqs;
  } cases[] = {
      {7, false, 400, 256, 8}, {8, true, 200, 256, 24}, {9, true, 48, 96, 32}};
  for (const Case &c : cases) {
    std::vector<Request> reqs = makeWorkload(c.seed, 40, c.shared);
    for (size_t i = 0; i < reqs.size(); i += 3)
      reqs[i].stopTokens.push_back(int32_t(i % kVocab));
    SchedulerConfig cfg;
    cfg.numBlocks = c.blocks;
    cfg.maxNumBatchedTokens = c.budget;
    cfg.maxNumSeqs = c.seqs;
    SchedulerStats lockStats, aheadStats;
    Outputs lock = runAll(cfg, reqs, &lockStats);
    int64_t aheadSteps = 0;
    Outputs ahead = runAll(cfg, reqs, &aheadStats, true, &aheadSteps);
    EXPECT_GT(aheadSteps, 0) << c.seed;
    ASSERT_EQ(ahead.size(), reqs.size()) << c.seed;
    int32_t stops = 0;
    for (const Request &r : reqs) {
      EXPECT_EQ(ahead[r.id].outputTokens, lock[r.id].outputTokens)
          << c.seed << " request " << r.id;
      EXPECT_EQ(ahead[r.id].reason, lock[r.id].reason) << r.id;
      stops += lock[r.id].reason == FinishReason::Stop;
    }
    EXPECT_GT(stops, 0) << c.seed;
    EXPECT_EQ(aheadStats.numCachedPromptTokens, lockStats.numCachedPromptTokens)
        << c.seed;
  }
}

TEST(SchedulerTest, ScheduleAheadNeedsAPendingDecodeOfEveryRow) {
  SchedulerConfig cfg;
  cfg.numBlocks = 64;
  Scheduler sched(cfg);
  std::mt19937 rng(11);
  Request r;
  r.id = 5;
  r.promptTokens = randomTokens(rng, 20);
  r.maxNewTokens = 4;
  ASSERT_TRUE(sched.addRequest(r).ok());
  StepBatch a, b;
  EXPECT_FALSE(sched.canScheduleAhead()); // nothing pending
  ASSERT_TRUE(sched.step(a).ok());
  EXPECT_FALSE(sched.canScheduleAhead()); // a prefill is pending
  EXPECT_FALSE(sched.scheduleAhead(b).ok());
  std::vector<FinishedRequest> fin;
  ASSERT_TRUE(sched.update(a, {7}, fin).ok());
  ASSERT_TRUE(sched.step(a).ok()); // decode of position 20
  ASSERT_TRUE(sched.canScheduleAhead());
  EXPECT_FALSE(sched.scheduleAhead(a).ok()); // the pending batch itself
  ASSERT_TRUE(sched.scheduleAhead(b).ok());
  EXPECT_EQ(b.tokenIds, std::vector<int32_t>{-1});
  EXPECT_EQ(b.positions, std::vector<int32_t>{21});
  EXPECT_EQ(b.contextLens, std::vector<int32_t>{22});
  EXPECT_FALSE(sched.canScheduleAhead());       // one step ahead at most
  EXPECT_FALSE(sched.update(b, {1}, fin).ok()); // a comes first
  ASSERT_TRUE(sched.update(a, {8}, fin).ok());
  // b samples token 3 of 4, so the step after it (token 4) may run ahead.
  ASSERT_TRUE(sched.canScheduleAhead());
  ASSERT_TRUE(sched.scheduleAhead(a).ok());
  EXPECT_EQ(a.positions, std::vector<int32_t>{22});
  ASSERT_TRUE(sched.update(b, {9}, fin).ok());
  // a samples the last token: nothing runs ahead of it.
  EXPECT_FALSE(sched.canScheduleAhead());
  ASSERT_TRUE(sched.update(a, {10}, fin).ok());
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].outputTokens, (std::vector<int32_t>{7, 8, 9, 10}));
  EXPECT_FALSE(sched.hasPendingWork());
}

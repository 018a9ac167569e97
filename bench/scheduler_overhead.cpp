//===- scheduler_overhead.cpp - Host cost of Scheduler step + update ------===//
//
// 256 sequences in decode; measures step() + update() per iteration and
// prints the median, p90 and max in microseconds. No model runs.
//
//===----------------------------------------------------------------------===//

#include "infer/runtime/Scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

using namespace infer;
using namespace infer::runtime;

int main(int argc, char **argv) {
  const int32_t numSeqs = argc > 1 ? std::atoi(argv[1]) : 256;
  const int32_t promptLen = argc > 2 ? std::atoi(argv[2]) : 512;
  const int32_t iters = argc > 3 ? std::atoi(argv[3]) : 2000;
  const int32_t blockSize = 16;

  SchedulerConfig cfg;
  cfg.blockSize = blockSize;
  cfg.maxNumSeqs = numSeqs;
  cfg.maxNumBatchedTokens = 8192;
  // Early sequences decode while later ones prefill: leave headroom.
  const int32_t maxNewTokens =
      iters + 64 + numSeqs + numSeqs * promptLen / cfg.maxNumBatchedTokens;
  cfg.numBlocks =
      numSeqs * ((promptLen + maxNewTokens + blockSize - 1) / blockSize + 1);
  Scheduler sched(cfg);
  for (int32_t i = 0; i < numSeqs; ++i) {
    Request r;
    r.id = i;
    r.promptTokens.resize(promptLen);
    for (int32_t p = 0; p < promptLen; ++p)
      r.promptTokens[p] = (i * 7919 + p * 31) % 32000; // No shared prefixes.
    r.maxNewTokens = maxNewTokens;
    r.stopTokens = {2};
    if (!sched.addRequest(std::move(r)).ok())
      return 1;
  }

  StepBatch batch;
  std::vector<int32_t> sampled;
  std::vector<FinishedRequest> finished;
  auto runStep = [&]() -> bool {
    Status st = sched.step(batch);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.toString().c_str());
      return false;
    }
    sampled.assign(batch.logitsIndices.size(), 0);
    for (size_t k = 0; k < sampled.size(); ++k)
      sampled[k] = 100 + (batch.stepId + k) % 1000; // Never a stop token.
    st = sched.update(batch, sampled, finished);
    return st.ok();
  };
  // Prefill until every sequence decodes.
  while (batch.numTokens() != numSeqs ||
         batch.logitsIndices.size() != static_cast<size_t>(numSeqs))
    if (!runStep())
      return 1;

  std::vector<double> us;
  us.reserve(iters);
  for (int32_t i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (!runStep())
      return 1;
    auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (batch.numSeqs() != numSeqs) {
      std::fprintf(stderr, "batch shrank to %d\n", batch.numSeqs());
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  BlockAllocatorStats st = sched.allocator().stats();
  std::printf("scheduler step+update: %d seqs in decode, context %d..%d, "
              "%d iters\n",
              numSeqs, promptLen, promptLen + iters, iters);
  std::printf("median %.2f us  p90 %.2f us  max %.2f us  (%.1f ns/seq)\n",
              us[us.size() / 2], us[us.size() * 9 / 10], us.back(),
              1000.0 * us[us.size() / 2] / numSeqs);
  std::printf("blocks used %d / %d, waste %.3f\n", st.numUsedBlocks,
              st.numBlocks, st.waste);
  return 0;
}

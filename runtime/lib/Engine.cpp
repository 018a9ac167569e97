//===- Engine.cpp - Scheduler + backend -----------------------------------===//

#include "infer/runtime/Engine.h"

#include <algorithm>
#include <cmath>
#include <thread>

using namespace infer;
using namespace infer::runtime;

namespace {
SchedulerConfig schedulerConfig(const Backend &backend,
                                const EngineOptions &o) {
  SchedulerConfig c;
  c.numBlocks = backend.numKvBlocks();
  c.blockSize = static_cast<int32_t>(backend.artifact().kvCache().blockSize);
  c.maxNumBatchedTokens = o.maxNumBatchedTokens;
  c.maxNumSeqs = o.maxNumSeqs;
  c.enablePrefixCaching = o.enablePrefixCaching;
  return c;
}
} // namespace

Engine::Engine(Backend &backend, const EngineOptions &options)
    : backend(backend), opts(options),
      scheduler(schedulerConfig(backend, options)),
      start(std::chrono::steady_clock::now()) {}

double Engine::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
             .count() +
         skippedS;
}

Status Engine::submit(Request r) {
  std::string name = "request " + std::to_string(r.id) + ": ";
  if (tracked.count(r.id))
    return invalidArgumentError(name + "id is already in flight; use unique "
                                       "request ids");
  const int64_t vocab = backend.artifact().model().vocabSize;
  for (int32_t t : r.promptTokens)
    if (t < 0 || t >= vocab)
      return invalidArgumentError(name + "prompt token " + std::to_string(t) +
                                  " is outside the vocabulary [0, " +
                                  std::to_string(vocab) + ")");
  const SamplingParams &s = r.sampling;
  if (!std::isfinite(s.temperature) || s.temperature < 0)
    return invalidArgumentError(name + "temperature must be >= 0");
  if (!(s.topP > 0.0f) || s.topP > 1.0f)
    return invalidArgumentError(name + "top_p must be in (0, 1]");
  Tracked t;
  t.arrivalS = r.arrivalTime > 0 ? r.arrivalTime : now();
  uint64_t id = r.id;
  INFER_RETURN_IF_ERROR(scheduler.addRequest(std::move(r)));
  tracked[id] = std::move(t);
  return okStatus();
}

Status Engine::step(std::vector<RequestResult> &finished) {
  INFER_RETURN_IF_ERROR(scheduler.step(batch));
  if (batch.empty())
    return okStatus();
  auto t0 = std::chrono::steady_clock::now();
  Status st = backend.step(batch, outputs);
  engineStats.busyS +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!st.ok())
    return st;
  const size_t numSamples = batch.logitsIndices.size();
  if (outputs.tokens.size() != numSamples)
    return internalError(
        "backend returned " + std::to_string(outputs.tokens.size()) +
        " tokens for " + std::to_string(numSamples) + " sampled rows");
  ++engineStats.numSteps;
  engineStats.numGeneratedTokens += static_cast<int64_t>(numSamples);
  double t = now();
  const int64_t vocab = outputs.vocabSize;
  for (size_t s = 0; s < numSamples; ++s) {
    uint64_t id = batch.requestIds[batch.sampleRows[s]];
    Tracked &tr = tracked[id];
    if (tr.firstTokenS < 0)
      tr.firstTokenS = t;
    if (opts.keepLogits &&
        outputs.logits.size() >= (s + 1) * static_cast<size_t>(vocab))
      tr.logits.insert(tr.logits.end(), outputs.logits.begin() + s * vocab,
                       outputs.logits.begin() + (s + 1) * vocab);
    if (onToken)
      onToken(id, outputs.tokens[s]);
  }
  int64_t decodes = 0;
  for (int64_t b = 0; b < batch.numSeqs(); ++b)
    decodes += batch.queryStartLoc[b + 1] - batch.queryStartLoc[b] == 1;
  engineStats.numPromptTokensComputed += batch.numTokens() - decodes;
  done.clear();
  INFER_RETURN_IF_ERROR(scheduler.update(batch, outputs.tokens, done));
  for (FinishedRequest &f : done) {
    auto it = tracked.find(f.id);
    RequestResult r;
    r.arrivalS = it->second.arrivalS;
    r.firstTokenS = it->second.firstTokenS;
    r.finishS = t;
    r.logits = std::move(it->second.logits);
    r.output = std::move(f);
    tracked.erase(it);
    finished.push_back(std::move(r));
  }
  return okStatus();
}

Status Engine::runToCompletion(std::vector<RequestResult> &finished) {
  while (scheduler.hasPendingWork())
    INFER_RETURN_IF_ERROR(step(finished));
  return okStatus();
}

Status Engine::runTrace(std::vector<Request> requests, bool simulateClock,
                        std::vector<RequestResult> &finished) {
  std::vector<size_t> order(requests.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].arrivalTime < requests[b].arrivalTime ||
           (requests[a].arrivalTime == requests[b].arrivalTime && a < b);
  });
  std::vector<Request> sorted;
  for (size_t i : order)
    sorted.push_back(std::move(requests[i]));
  requests.swap(sorted);
  const double base = std::max(now(), 1e-9);
  size_t next = 0;
  while (next < requests.size() || scheduler.hasPendingWork()) {
    double t = now() - base;
    while (next < requests.size() && requests[next].arrivalTime <= t) {
      Request r = std::move(requests[next++]);
      r.arrivalTime += base;
      INFER_RETURN_IF_ERROR(submit(std::move(r)));
    }
    if (!scheduler.hasPendingWork()) {
      double wait = requests[next].arrivalTime - t;
      if (simulateClock)
        skippedS += wait;
      else
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      continue;
    }
    INFER_RETURN_IF_ERROR(step(finished));
  }
  return okStatus();
}

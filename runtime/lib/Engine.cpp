//===- Engine.cpp - Scheduler + backend -----------------------------------===//

#include "infer/runtime/Engine.h"
#include "infer/runtime/Trace.h"

#include <algorithm>
#include <cmath>
#include <random>
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

Engine::~Engine() {
  if (submitted) {
    StepOutputs dropped;
    (void)backend.collect(dropped);
  }
}

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
  // Backend calls count in EngineStats::busyS.
  auto timed = [&](auto call) {
    auto t0 = std::chrono::steady_clock::now();
    Status st = call();
    engineStats.busyS +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    return st;
  };
  const bool runAhead = opts.runAhead && !opts.keepLogits;
  if (!submitted) {
    StepBatch &batch = batches[pending];
    INFER_RETURN_IF_ERROR(scheduler.step(batch));
    if (batch.empty())
      return okStatus();
    Status st = timed([&] {
      return runAhead ? backend.submit(batch, /*tokensFromPrevious=*/false)
                      : backend.step(batch, outputs);
    });
    if (!st.ok())
      return st;
    if (!runAhead)
      return consume(batch, finished);
    submitted = true;
  }
  // The pending step runs: schedule and submit the next one meanwhile when
  // it does not depend on what the pending step samples.
  StepBatch &batch = batches[pending];
  bool ahead = scheduler.canScheduleAhead() && backend.canRunAhead(batch);
  if (ahead) {
    StepBatch &next = batches[pending ^ 1];
    INFER_RETURN_IF_ERROR(scheduler.scheduleAhead(next));
    INFER_RETURN_IF_ERROR(backend.submit(next, /*tokensFromPrevious=*/true));
    ++stepsAhead;
  }
  Status st = timed([&] { return backend.collect(outputs); });
  submitted = ahead;
  if (!st.ok())
    return st;
  INFER_RETURN_IF_ERROR(consume(batch, finished));
  if (ahead)
    pending ^= 1;
  return okStatus();
}

Status Engine::consume(const StepBatch &batch,
                       std::vector<RequestResult> &finished) {
  const size_t numSamples = batch.logitsIndices.size();
  if (outputs.tokens.size() != numSamples)
    return internalError(
        "backend returned " + std::to_string(outputs.tokens.size()) +
        " tokens for " + std::to_string(numSamples) + " sampled rows");
  ++engineStats.numSteps;
  double t = now();
  const int64_t vocab = outputs.vocabSize;
  for (size_t s = 0; s < numSamples; ++s) {
    // A dead row of a step run ahead: its request has finished.
    if (!scheduler.isRowLive(batch.sampleRows[s]))
      continue;
    ++engineStats.numGeneratedTokens;
    auto it = tracked.find(batch.requestIds[batch.sampleRows[s]]);
    if (it == tracked.end())
      return internalError(
          "step sampled a row of request " +
          std::to_string(batch.requestIds[batch.sampleRows[s]]) +
          ", which the engine does not track");
    Tracked &tr = it->second;
    if (tr.firstTokenS < 0)
      tr.firstTokenS = t;
    if (opts.keepLogits &&
        outputs.logits.size() >= (s + 1) * static_cast<size_t>(vocab))
      tr.logits.insert(tr.logits.end(), outputs.logits.begin() + s * vocab,
                       outputs.logits.begin() + (s + 1) * vocab);
    if (onToken)
      onToken(it->first, outputs.tokens[s]);
  }
  int64_t decodes = 0;
  for (int64_t b = 0; b < batch.numSeqs(); ++b)
    decodes += batch.queryStartLoc[b + 1] - batch.queryStartLoc[b] == 1;
  engineStats.numPromptTokensComputed += batch.numTokens() - decodes;
  for (int32_t len : batch.contextLens)
    engineStats.numKvTokensRead += len;
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

//===----------------------------------------------------------------------===//
// Decode benchmark
//===----------------------------------------------------------------------===//

DecodeTraffic infer::runtime::decodeTraffic(const Artifact &art) {
  DecodeTraffic t;
  // Weight value id -> read in full by some op (not only gathered).
  std::map<int64_t, bool> readInFull;
  for (const GraphNode &n : art.nodes())
    if (n.kind == artifact::OpKind::Weight && !n.results.empty())
      readInFull[n.results[0]] = false;
  std::map<int64_t, bool> used;
  for (const GraphNode &n : art.nodes()) {
    if (n.kind == artifact::OpKind::Weight)
      continue;
    std::vector<int64_t> ins = n.operands;
    for (const auto &[role, id] : n.roles)
      ins.push_back(id);
    for (size_t i = 0; i < ins.size(); ++i) {
      auto it = readInFull.find(ins[i]);
      if (it == readInFull.end())
        continue;
      used[ins[i]] = true;
      // embed(tokens, table): the table (operand 1) is gathered.
      bool gathered =
          n.kind == artifact::OpKind::Embed && i == 1 && i < n.operands.size();
      if (!gathered)
        it->second = true;
    }
  }
  for (const auto &[id, full] : readInFull) {
    const ValueInfo *v = art.value(id);
    if (!v || !used[id])
      continue;
    const int64_t elem = static_cast<int64_t>(dtypeSize(v->dtype));
    if (full) {
      t.weightBytes += numElements(v->shape) * elem;
    } else {
      int64_t row = elem;
      for (size_t d = 1; d < v->shape.size(); ++d)
        row *= v->shape[d];
      t.embedRowBytes += row;
    }
  }
  const KvCacheInfo &kv = art.kvCache();
  t.kvBytesPerToken = kv.layers * 2 * kv.kvHeads * kv.headDim *
                      static_cast<int64_t>(dtypeSize(kv.dtype));
  if (kv.dtype == DType::I8)
    t.kvBytesPerToken += kv.layers * 2 * kv.kvHeads * 4;
  return t;
}

int32_t DecodeBenchOptions::maxNewTokens() const {
  // Decodes go first in a step's token budget; prefill chunks share the
  // rest. Each step admits or advances at least one prefill, so the prefill
  // of every sequence ends within this many steps.
  const int64_t budget = std::max<int64_t>(
      1, static_cast<int64_t>(engine.maxNumBatchedTokens) - batch);
  const int64_t prefillSteps =
      (static_cast<int64_t>(batch) * context + budget - 1) / budget + batch;
  return static_cast<int32_t>(
      std::min<int64_t>(INT32_MAX / 2, prefillSteps + warmupSteps + steps + 2));
}

double DecodeBenchResult::percentileMs(double p) const {
  return stepMs.empty() ? 0.0 : percentile(stepMs, p);
}

double DecodeBenchResult::medianMs() const { return percentileMs(50); }

double DecodeBenchResult::medianDeviceMs() const {
  return deviceMs.empty() ? 0.0 : percentile(deviceMs, 50);
}

StatusOr<DecodeBenchResult>
infer::runtime::benchmarkDecode(Backend &backend, const DecodeBenchOptions &o) {
  if (o.batch < 1 || o.context < 1 || o.steps < 1 || o.warmupSteps < 0)
    return invalidArgumentError(
        "decode benchmark: batch, context and steps must be >= 1 and warmup "
        ">= 0");
  const int64_t vocab = backend.artifact().model().vocabSize;
  if (vocab < 1)
    return invalidArgumentError("decode benchmark: the model has no "
                                "vocab_size");
  EngineOptions eo = o.engine;
  eo.maxNumSeqs = std::max(eo.maxNumSeqs, o.batch);
  eo.keepLogits = false;
  Engine engine(backend, eo);
  int32_t prefilled = 0;
  std::vector<bool> seen(static_cast<size_t>(o.batch), false);
  engine.setTokenCallback([&](uint64_t id, int32_t) {
    if (id < seen.size() && !seen[id]) {
      seen[id] = true;
      ++prefilled;
    }
  });

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> token(
      0, static_cast<int32_t>(std::min<int64_t>(vocab, INT32_MAX) - 1));
  const int32_t maxNew = o.maxNewTokens();
  for (int32_t b = 0; b < o.batch; ++b) {
    Request r;
    r.id = static_cast<uint64_t>(b);
    r.promptTokens.resize(static_cast<size_t>(o.context));
    for (int32_t &t : r.promptTokens)
      t = token(rng);
    r.maxNewTokens = maxNew;
    INFER_RETURN_IF_ERROR(engine.submit(std::move(r)));
  }

  DecodeBenchResult res;
  res.batch = o.batch;
  res.context = o.context;
  std::vector<RequestResult> finished;
  const double t0 = engine.now();
  while (prefilled < o.batch) {
    if (!engine.hasPendingWork() || !finished.empty())
      return internalError("decode benchmark: a request finished during "
                           "prefill");
    INFER_RETURN_IF_ERROR(engine.step(finished));
    ++res.prefillSteps;
  }
  res.prefillS = engine.now() - t0;

  int64_t kvTokens = 0;
  for (int32_t i = 0; i < o.warmupSteps + o.steps; ++i) {
    if (i == o.warmupSteps && o.beforeTimedSteps)
      o.beforeTimedSteps();
    const EngineStats before = engine.stats();
    auto s0 = std::chrono::steady_clock::now();
    INFER_RETURN_IF_ERROR(engine.step(finished));
    auto s1 = std::chrono::steady_clock::now();
    const EngineStats &after = engine.stats();
    if (after.numGeneratedTokens - before.numGeneratedTokens != o.batch ||
        after.numPromptTokensComputed != before.numPromptTokensComputed ||
        !finished.empty())
      return outOfMemoryError(
          "decode benchmark: step " + std::to_string(i) + " at batch " +
          std::to_string(o.batch) +
          " was not a pure decode step of every sequence (preempted for "
          "lack of KV blocks?); give the pool room for batch x (context + " +
          std::to_string(maxNew) + ") tokens");
    if (i < o.warmupSteps)
      continue;
    res.stepMs.push_back(
        std::chrono::duration<double, std::milli>(s1 - s0).count());
    if (o.lastStepDeviceMs)
      res.deviceMs.push_back(o.lastStepDeviceMs());
    kvTokens += after.numKvTokensRead - before.numKvTokensRead;
  }
  res.meanKvTokens = static_cast<double>(kvTokens) / o.steps;
  return res;
}

//===- Scheduler.cpp - Continuous batching scheduler ----------------------===//

#include "infer/runtime/Scheduler.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace infer;
using namespace infer::runtime;

Scheduler::Scheduler(const SchedulerConfig &config)
    : cfg(config),
      alloc(std::max(config.numBlocks, 0), std::max(config.blockSize, 1),
            config.enablePrefixCaching) {
  cfg.numBlocks = alloc.numBlocks();
  cfg.blockSize = alloc.blockSize();
  cfg.maxNumBatchedTokens = std::max(cfg.maxNumBatchedTokens, 1);
  cfg.maxNumSeqs = std::max(cfg.maxNumSeqs, 1);
  cfg.watermark = std::min(std::max(cfg.watermark, 0.0), 1.0);
  running.reserve(cfg.maxNumSeqs);
  scheduled.reserve(cfg.maxNumSeqs);
}

Status Scheduler::addRequest(Request request) {
  std::string name = "request " + std::to_string(request.id) + ": ";
  if (request.promptTokens.empty())
    return invalidArgumentError(name + "empty prompt");
  if (request.maxNewTokens < 1)
    return invalidArgumentError(name + "maxNewTokens must be >= 1");
  // The last sampled token never enters the KV pool.
  int64_t maxKv = static_cast<int64_t>(request.promptTokens.size()) +
                  request.maxNewTokens - 1;
  int64_t needBlocks = (maxKv + cfg.blockSize - 1) / cfg.blockSize;
  if (needBlocks > cfg.numBlocks)
    return invalidArgumentError(
        name + "needs " + std::to_string(needBlocks) + " KV blocks (prompt " +
        std::to_string(request.promptTokens.size()) + " + maxNewTokens " +
        std::to_string(request.maxNewTokens) + "), the pool has " +
        std::to_string(cfg.numBlocks));

  int32_t idx;
  if (!freeStates.empty()) {
    idx = freeStates.back();
    freeStates.pop_back();
  } else {
    idx = static_cast<int32_t>(states.size());
    states.emplace_back();
  }
  SeqState &s = states[idx];
  s = SeqState();
  s.active = true;
  s.serial = ++serialCounter;
  s.numPromptTokens = static_cast<int32_t>(request.promptTokens.size());
  s.tokens.reserve(static_cast<size_t>(maxKv) + 1);
  s.tokens = request.promptTokens;
  s.request = std::move(request);
  waiting.push_back(idx);
  return okStatus();
}

void Scheduler::preempt(int32_t idx) {
  SeqState &s = states[idx];
  // Recompute: drop the KV; prompt + generated becomes the new prompt.
  Status st = alloc.freeSequence(s.allocSeq);
  assert(st.ok());
  (void)st;
  s.allocSeq = -1;
  s.numComputed = 0;
  ++s.numPreemptions;
  ++schedStats.numPreemptions;
  preemptedThisStep = true;
  waiting.push_front(idx);
}

void Scheduler::emit(StepBatch &batch, int32_t idx, int32_t numNew) {
  SeqState &s = states[idx];
  const int32_t *toks = s.tokens.data() + s.numComputed;
  Status st = alloc.appendSlots(s.allocSeq, numNew, toks, batch.slotMapping,
                                batch.blockCopies);
  assert(st.ok() && "appendSlots after a successful capacity check");
  (void)st;
  int32_t row = static_cast<int32_t>(batch.requestIds.size());
  batch.requestIds.push_back(s.request.id);
  batch.tokenIds.insert(batch.tokenIds.end(), toks, toks + numNew);
  for (int32_t k = 0; k < numNew; ++k)
    batch.positions.push_back(s.numComputed + k);
  int32_t end = batch.queryStartLoc.back() + numNew;
  batch.queryStartLoc.push_back(end);
  int32_t ctx = s.numComputed + numNew;
  batch.contextLens.push_back(ctx);
  if (ctx == static_cast<int32_t>(s.tokens.size())) {
    batch.logitsIndices.push_back(end - 1);
    batch.sampleRows.push_back(row);
    batch.samplingParams.push_back(s.request.sampling);
  }
  s.scheduledStep = stepCounter;
  scheduled.push_back({idx, numNew, s.serial});
  schedStats.numScheduledTokens += numNew;
}

bool Scheduler::scheduleRunning(size_t i, int32_t numNew) {
  int32_t idx = running[i];
  SeqId seq = states[idx].allocSeq;
  while (alloc.numBlocksNeeded(seq, numNew) > alloc.numAvailableBlocks()) {
    // Preempt the newest running sequence not yet in this batch, else self.
    size_t victim = i;
    for (size_t j = running.size(); j-- > i + 1;) {
      if (states[running[j]].scheduledStep != stepCounter) {
        victim = j;
        break;
      }
    }
    preempt(running[victim]);
    running.erase(running.begin() + victim);
    if (victim == i)
      return false;
  }
  emit(*current, idx, numNew);
  return true;
}

Status Scheduler::step(StepBatch &batch) {
  if (awaitingUpdate)
    return invalidArgumentError("step() called again before update()");
  beginBatch(batch, ++stepCounter);
  scheduled.clear();
  current = &batch;
  preemptedThisStep = false;
  int32_t budget = cfg.maxNumBatchedTokens;

  // 1. Running decodes (one token each), oldest first.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    const SeqState &s = states[running[i]];
    if (static_cast<int32_t>(s.tokens.size()) - s.numComputed == 1) {
      if (!scheduleRunning(i, 1))
        continue; // Preempted itself; running[i] is the next one.
      --budget;
    }
    ++i;
  }
  // 2. Chunks of partially prefilled prompts.
  for (size_t i = 0; i < running.size() && budget > 0;) {
    const SeqState &s = states[running[i]];
    int32_t remaining = static_cast<int32_t>(s.tokens.size()) - s.numComputed;
    if (remaining > 1 && s.scheduledStep != stepCounter) {
      int32_t chunk = std::min(remaining, budget);
      if (!scheduleRunning(i, chunk))
        continue;
      budget -= chunk;
    }
    ++i;
  }
  // 3. Admit waiting requests while blocks remain (not after a preemption).
  int32_t watermarkBlocks =
      static_cast<int32_t>(std::ceil(cfg.watermark * cfg.numBlocks));
  while (!preemptedThisStep && budget > 0 && !waiting.empty() &&
         static_cast<int32_t>(running.size()) < cfg.maxNumSeqs) {
    int32_t idx = waiting.front();
    SeqState &s = states[idx];
    int32_t size = static_cast<int32_t>(s.tokens.size());
    BlockAllocator::NewSequence ns = alloc.addSequence(s.tokens.data(), size);
    int32_t chunk = std::min(size - ns.numCachedTokens, budget);
    int32_t reserve = running.empty() ? 0 : watermarkBlocks;
    if (alloc.numBlocksNeeded(ns.seq, chunk) + reserve >
        alloc.numAvailableBlocks()) {
      Status st = alloc.freeSequence(ns.seq);
      assert(st.ok());
      (void)st;
      break;
    }
    s.allocSeq = ns.seq;
    s.numComputed = ns.numCachedTokens;
    if (s.numCached < 0)
      s.numCached = ns.numCachedTokens;
    schedStats.numCachedPromptTokens += ns.numCachedTokens;
    waiting.pop_front();
    running.push_back(idx);
    emit(batch, idx, chunk);
    budget -= chunk;
  }

  if (batch.empty() && !waiting.empty())
    return internalError("scheduler made no progress with " +
                         std::to_string(waiting.size()) + " waiting requests");

  fillBlockTables(batch, scheduled);
  awaitingUpdate = !batch.empty();
  return okStatus();
}

void Scheduler::beginBatch(StepBatch &batch, uint64_t stepId) {
  ++schedStats.numSteps;
  batch.tokenIds.clear();
  batch.positions.clear();
  batch.slotMapping.clear();
  batch.queryStartLoc.clear();
  batch.queryStartLoc.push_back(0);
  batch.contextLens.clear();
  batch.blockTables.clear();
  batch.blockTableWidth = 0;
  batch.logitsIndices.clear();
  batch.sampleRows.clear();
  batch.samplingParams.clear();
  batch.blockCopies.clear();
  batch.requestIds.clear();
  batch.stepId = stepId;
}

void Scheduler::fillBlockTables(StepBatch &batch,
                                const std::vector<Scheduled> &rows) {
  int32_t width = 0;
  for (const Scheduled &r : rows)
    width = std::max<int32_t>(
        width, alloc.blockTable(states[r.state].allocSeq).size());
  batch.blockTableWidth = width;
  batch.blockTables.resize(rows.size() * width);
  int32_t *dst = batch.blockTables.data();
  for (const Scheduled &r : rows) {
    const std::vector<int32_t> &table =
        alloc.blockTable(states[r.state].allocSeq);
    int32_t *pad = std::copy(table.begin(), table.end(), dst);
    dst += width;
    std::fill(pad, dst, -1);
  }
}

bool Scheduler::canScheduleAhead() const {
  if (!awaitingUpdate || ahead || !waiting.empty() ||
      scheduled.size() != running.size())
    return false;
  int32_t blocksNeeded = 0;
  for (size_t i = 0; i < scheduled.size(); ++i) {
    const Scheduled &r = scheduled[i];
    const SeqState &s = states[r.state];
    if (r.state != running[i] || r.serial != s.serial || r.numNew != 1 ||
        s.numComputed + 1 != static_cast<int32_t>(s.tokens.size()))
      return false;
    // The pending step samples token number `generated + 1`; the request
    // must still want one more after it.
    int32_t generated =
        static_cast<int32_t>(s.tokens.size()) - s.numPromptTokens;
    if (generated + 1 >= s.request.maxNewTokens)
      return false;
    blocksNeeded += alloc.numBlocksNeeded(s.allocSeq, 1);
  }
  return blocksNeeded <= alloc.numAvailableBlocks() &&
         static_cast<int32_t>(scheduled.size()) <= cfg.maxNumBatchedTokens;
}

Status Scheduler::scheduleAhead(StepBatch &next) {
  if (!canScheduleAhead())
    return invalidArgumentError(
        "scheduleAhead() needs a pending decode step of every running "
        "sequence (check canScheduleAhead())");
  if (&next == current)
    return invalidArgumentError(
        "scheduleAhead() needs a batch other than the pending one");
  beginBatch(next, ++stepCounter);
  aheadRows.clear();
  for (const Scheduled &r : scheduled) {
    SeqState &s = states[r.state];
    // The slot's token is the pending step's sample: committed by update().
    Status st = alloc.appendSlots(s.allocSeq, 1, nullptr, next.slotMapping,
                                  next.blockCopies);
    if (!st.ok())
      return st;
    int32_t row = static_cast<int32_t>(next.requestIds.size());
    int32_t position = s.numComputed + 1;
    next.requestIds.push_back(s.request.id);
    next.tokenIds.push_back(-1);
    next.positions.push_back(position);
    next.queryStartLoc.push_back(row + 1);
    next.contextLens.push_back(position + 1);
    next.logitsIndices.push_back(row);
    next.sampleRows.push_back(row);
    next.samplingParams.push_back(s.request.sampling);
    aheadRows.push_back({r.state, 1, r.serial});
    schedStats.numScheduledTokens += 1;
  }
  fillBlockTables(next, aheadRows);
  ahead = &next;
  return okStatus();
}

Status Scheduler::update(const StepBatch &batch,
                         const std::vector<int32_t> &sampledTokens,
                         std::vector<FinishedRequest> &finished) {
  if (batch.empty() && !awaitingUpdate)
    return okStatus();
  if (!awaitingUpdate || &batch != current)
    return invalidArgumentError(
        "update() needs the batch of the oldest step not yet updated");
  if (sampledTokens.size() != batch.logitsIndices.size())
    return invalidArgumentError(
        "expected " + std::to_string(batch.logitsIndices.size()) +
        " sampled tokens, got " + std::to_string(sampledTokens.size()));
  awaitingUpdate = false;

  size_t k = 0;
  bool anyFinished = false;
  for (const Scheduled &r : scheduled) {
    SeqState &s = states[r.state];
    if (s.serial != r.serial) {
      ++k; // A dead decode row (run-ahead): its sequence has finished.
      continue;
    }
    s.numComputed += r.numNew;
    if (s.numComputed < static_cast<int32_t>(s.tokens.size()))
      continue; // Prefill chunk that does not finish the prompt.
    int32_t tok = sampledTokens[k++];
    s.tokens.push_back(tok);
    // The step scheduled ahead writes this token's KV.
    if (ahead) {
      Status st = alloc.commitTokens(s.allocSeq, &tok, 1);
      assert(st.ok());
      (void)st;
    }
    const std::vector<int32_t> &stops = s.request.stopTokens;
    bool stop = std::find(stops.begin(), stops.end(), tok) != stops.end();
    int32_t generated =
        static_cast<int32_t>(s.tokens.size()) - s.numPromptTokens;
    if (!stop && generated < s.request.maxNewTokens)
      continue;

    FinishedRequest out;
    out.id = s.request.id;
    out.outputTokens.assign(s.tokens.begin() + s.numPromptTokens,
                            s.tokens.end());
    out.reason = stop ? FinishReason::Stop : FinishReason::Length;
    out.numPromptTokens = s.numPromptTokens;
    out.numCachedPromptTokens = std::max(s.numCached, 0);
    out.numPreemptions = s.numPreemptions;
    finished.push_back(std::move(out));
    Status st = alloc.freeSequence(s.allocSeq);
    assert(st.ok());
    (void)st;
    s.allocSeq = -1;
    s.finished = true;
    anyFinished = true;
    ++schedStats.numFinished;
  }
  // The step scheduled ahead is now the one awaiting update().
  if (ahead) {
    current = ahead;
    ahead = nullptr;
    scheduled.swap(aheadRows);
    awaitingUpdate = true;
  }
  if (!anyFinished)
    return okStatus();
  auto it = std::remove_if(running.begin(), running.end(), [&](int32_t idx) {
    if (!states[idx].finished)
      return false;
    states[idx] = SeqState();
    freeStates.push_back(idx);
    return true;
  });
  running.erase(it, running.end());
  return okStatus();
}

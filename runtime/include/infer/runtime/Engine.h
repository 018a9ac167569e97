//===- Engine.h - Scheduler + backend: generate for many requests -*- C++
//-*-===//
//
// Feeds the Scheduler's batches to a Backend and its samples back to the
// Scheduler until every request finishes. Streams tokens through a callback
// and records per-request latency (TTFT, TPOT) on a steady clock, which a
// trace replay may advance by simulation instead of sleeping.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_ENGINE_H
#define INFER_RUNTIME_ENGINE_H

#include "infer/runtime/Backend.h"
#include "infer/runtime/Scheduler.h"

#include <chrono>
#include <functional>
#include <map>

namespace infer::runtime {

struct EngineOptions {
  int32_t maxNumBatchedTokens = 2048;
  int32_t maxNumSeqs = 256;
  bool enablePrefixCaching = true;
  /// Keep each request's sampled rows of logits in its result.
  bool keepLogits = false;
};

struct RequestResult {
  FinishedRequest output;
  double arrivalS = 0, firstTokenS = 0, finishS = 0; ///< Engine clock.
  double ttftS() const { return firstTokenS - arrivalS; }
  /// Mean time per output token after the first (0 for one token).
  double tpotS() const {
    size_t n = output.outputTokens.size();
    return n > 1 ? (finishS - firstTokenS) / static_cast<double>(n - 1) : 0.0;
  }
  std::vector<float> logits; ///< [outputTokens x vocab] with keepLogits.
};

struct EngineStats {
  int64_t numSteps = 0;
  int64_t numPromptTokensComputed = 0; ///< Scheduled tokens minus decodes.
  int64_t numGeneratedTokens = 0;
  double busyS = 0; ///< Time spent inside Backend::step.
};

/// Called for every generated token, in order per request.
using TokenCallback = std::function<void(uint64_t requestId, int32_t token)>;

class Engine {
public:
  Engine(Backend &backend, const EngineOptions &options);

  /// Validates and queues a request. Its arrival is request.arrivalTime on
  /// the engine clock when > 0, else now().
  Status submit(Request request);
  /// Runs one scheduler step; appends finished requests to `finished`.
  Status step(std::vector<RequestResult> &finished);
  bool hasPendingWork() const { return scheduler.hasPendingWork(); }
  /// Steps until every submitted request has finished.
  Status runToCompletion(std::vector<RequestResult> &finished);
  /// Replays requests at their arrivalTime (seconds from now). With
  /// `simulateClock` idle gaps are skipped instead of slept through.
  Status runTrace(std::vector<Request> requests, bool simulateClock,
                  std::vector<RequestResult> &finished);

  void setTokenCallback(TokenCallback cb) { onToken = std::move(cb); }
  /// Seconds since the engine was created (plus simulated skips).
  double now() const;
  const EngineStats &stats() const { return engineStats; }
  const Scheduler &schedulerState() const { return scheduler; }

private:
  struct Tracked {
    double arrivalS = 0, firstTokenS = -1;
    std::vector<float> logits;
  };

  Backend &backend;
  EngineOptions opts;
  Scheduler scheduler;
  StepBatch batch;
  StepOutputs outputs;
  std::vector<FinishedRequest> done;
  std::map<uint64_t, Tracked> tracked;
  TokenCallback onToken;
  std::chrono::steady_clock::time_point start;
  double skippedS = 0;
  EngineStats engineStats;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_ENGINE_H

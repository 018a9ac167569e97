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
  /// Run-ahead: while the backend runs a decode step, schedule and submit
  /// the next one (Scheduler::scheduleAhead, Backend::submit), so that the
  /// host's scheduling, packing and launches overlap the device's work.
  /// Off with keepLogits.
  bool runAhead = true;
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
  /// KV entries the steps attended to: each step's context lengths, summed.
  int64_t numKvTokensRead = 0;
};

/// Called for every generated token, in order per request.
using TokenCallback = std::function<void(uint64_t requestId, int32_t token)>;

class Engine {
public:
  Engine(Backend &backend, const EngineOptions &options);
  /// Collects a step still submitted ahead (its samples are dropped).
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  /// Validates and queues a request. Its arrival is request.arrivalTime on
  /// the engine clock when > 0, else now().
  Status submit(Request request);
  /// Runs one scheduler step, or collects the step submitted ahead by the
  /// last call (run-ahead); appends finished requests to `finished`.
  Status step(std::vector<RequestResult> &finished);
  bool hasPendingWork() const { return scheduler.hasPendingWork(); }
  /// Steps that ran ahead of their predecessor's samples (run-ahead).
  int64_t numStepsRunAhead() const { return stepsAhead; }
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

  /// Feeds the samples of `batch` to the scheduler and the callbacks.
  Status consume(const StepBatch &batch, std::vector<RequestResult> &finished);

  Backend &backend;
  EngineOptions opts;
  Scheduler scheduler;
  /// The pending step's batch and, with run-ahead, the next one's.
  StepBatch batches[2];
  int pending = 0;        ///< Index in `batches` of the step awaiting update
  bool submitted = false; ///< batches[pending] is submitted, not collected
  int64_t stepsAhead = 0;
  StepOutputs outputs;
  std::vector<FinishedRequest> done;
  std::map<uint64_t, Tracked> tracked;
  TokenCallback onToken;
  std::chrono::steady_clock::time_point start;
  double skippedS = 0;
  EngineStats engineStats;
};

//===----------------------------------------------------------------------===//
// Decode benchmark (infer-run --bench)
//===----------------------------------------------------------------------===//

/// The memory a step must move at the least: the numerator of the roofline
/// fraction (bytes / copy bandwidth).
struct DecodeTraffic {
  /// Weight tensors read once per step. A table used only by `embed` is
  /// excluded (it is gathered; see embedRowBytes); a table also used as the
  /// lm_head (tied embeddings) is counted in full.
  int64_t weightBytes = 0;
  /// One row of every gathered-only table, summed: read once per token.
  int64_t embedRowBytes = 0;
  /// K and V of one token in every layer (with i8 scales).
  int64_t kvBytesPerToken = 0;

  /// Bytes of a step over `tokens` tokens whose sequences attend to
  /// `kvTokens` KV entries in total.
  double stepBytes(int64_t tokens, int64_t kvTokens) const {
    return static_cast<double>(weightBytes) +
           static_cast<double>(tokens) * static_cast<double>(embedRowBytes) +
           static_cast<double>(kvTokens) * static_cast<double>(kvBytesPerToken);
  }
};

DecodeTraffic decodeTraffic(const Artifact &artifact);

struct DecodeBenchOptions {
  int32_t batch = 1;     ///< Sequences decoding together.
  int32_t context = 512; ///< Prompt tokens of each (random ids).
  int32_t warmupSteps = 3;
  int32_t steps = 50; ///< Timed decode steps.
  uint64_t seed = 0;  ///< Of the random prompts.
  /// The engine's options; maxNumSeqs is raised to `batch` if lower.
  EngineOptions engine;
  /// Device milliseconds of the backend's last step, when it measures them.
  std::function<double()> lastStepDeviceMs;
  /// Called once, after the warmup steps (e.g. to reset a kernel profile).
  std::function<void()> beforeTimedSteps;

  /// Tokens each request may generate: enough for the chunked prefill of
  /// every sequence (sequences prefilled first decode meanwhile), the warmup
  /// and the timed steps. Size the KV pool for batch * (context + this).
  int32_t maxNewTokens() const;
};

struct DecodeBenchResult {
  int32_t batch = 0, context = 0;
  int64_t prefillSteps = 0;
  double prefillS = 0;
  std::vector<double> stepMs;   ///< Host wall time of each timed step.
  std::vector<double> deviceMs; ///< Device time of each, when measured.
  /// KV entries read per timed step (all sequences), on average. Sequences
  /// prefilled early have decoded a few tokens more than `context`.
  double meanKvTokens = 0;

  double medianMs() const;
  double medianDeviceMs() const; ///< 0 without device times.
  double percentileMs(double p) const;
  double tokensPerS() const {
    double m = medianMs();
    return m > 0 ? batch * 1e3 / m : 0.0;
  }
};

/// Submits `batch` requests of `context` random prompt tokens (greedy, no
/// stop tokens), steps the engine until every one has its first token
/// (chunked prefill), then times `warmupSteps + steps` decode steps of one
/// token per sequence, through the scheduler as in serving. Fails if a timed
/// step is not a pure decode of all `batch` sequences (a preemption: the KV
/// pool is too small).
StatusOr<DecodeBenchResult> benchmarkDecode(Backend &backend,
                                            const DecodeBenchOptions &options);

} // namespace infer::runtime

#endif // INFER_RUNTIME_ENGINE_H

//===- Scheduler.h - Continuous batching scheduler --------------*- C++ -*-===//
//
// vLLM V1 style flat token view: each sequence has tokens (prompt + generated)
// of which numComputed are in the KV pool; a step computes a chunk of the
// rest. Decode is a chunk of 1, chunked prefill a longer one. Each step runs
// running decodes first, then partial prefills, then admits waiting requests,
// under a token budget. When blocks run out, the newest running sequence is
// preempted by recompute. Pure CPU; no model inside.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_SCHEDULER_H
#define INFER_RUNTIME_SCHEDULER_H

#include "infer/runtime/BlockAllocator.h"
#include "infer/runtime/Sequence.h"
#include "infer/runtime/Status.h"

#include <cstdint>
#include <deque>
#include <vector>

namespace infer::runtime {

struct SchedulerConfig {
  int32_t numBlocks = 0;
  int32_t blockSize = 16;
  int32_t maxNumBatchedTokens = 2048; ///< Token budget per step.
  int32_t maxNumSeqs = 256;           ///< Max running sequences.
  bool enablePrefixCaching = true;
  /// Fraction of the pool kept free when admitting a new request while
  /// others run (0 disables).
  double watermark = 0.0;
};

/// One step's inputs, as flat arrays (T tokens, B sequences, S samplers).
/// Rows are sequences; the vectors are reused from step to step.
struct StepBatch {
  std::vector<int32_t> tokenIds;    ///< [T]
  std::vector<int32_t> positions;   ///< [T] position in its sequence.
  std::vector<int32_t> slotMapping; ///< [T] KV slot to write.
  std::vector<int32_t>
      queryStartLoc;                ///< [B+1] row r owns tokens [q[r],q[r+1]).
  std::vector<int32_t> contextLens; ///< [B] KV length after this step.
  /// [B x blockTableWidth] row-major, padded with -1. Width is the longest
  /// table of this batch.
  std::vector<int32_t> blockTables;
  int32_t blockTableWidth = 0;
  std::vector<int32_t> logitsIndices; ///< [S] token index to sample from.
  std::vector<int32_t> sampleRows;    ///< [S] row of each logitsIndices entry.
  std::vector<SamplingParams> samplingParams; ///< [S]
  /// Copy these blocks before writing this step's KV. Slots written in this
  /// step may be read by other rows of it (prefix sharing): KV append must
  /// precede attention, as it does within every layer.
  std::vector<BlockCopy> blockCopies;
  std::vector<uint64_t> requestIds; ///< [B]
  uint64_t stepId = 0;

  int32_t numTokens() const { return static_cast<int32_t>(tokenIds.size()); }
  int32_t numSeqs() const { return static_cast<int32_t>(requestIds.size()); }
  bool empty() const { return requestIds.empty(); }
};

struct SchedulerStats {
  int64_t numSteps = 0;
  int64_t numPreemptions = 0;
  int64_t numCachedPromptTokens = 0; ///< Prefix-cache hits at admissions.
  int64_t numScheduledTokens = 0;
  int64_t numFinished = 0;
};

class Scheduler {
public:
  explicit Scheduler(const SchedulerConfig &config);

  /// Queues a request. InvalidArgument for an empty prompt, maxNewTokens < 1,
  /// or a request whose KV could never fit in the pool.
  Status addRequest(Request request);

  /// Fills `batch` for the next step (empty when there is nothing to do).
  /// Must alternate with update().
  Status step(StepBatch &batch);

  /// Consumes the step's samples (one per logitsIndices entry, in order) and
  /// appends the requests that finished to `finished`. With a step scheduled
  /// ahead, that step becomes the one awaiting update().
  Status update(const StepBatch &batch,
                const std::vector<int32_t> &sampledTokens,
                std::vector<FinishedRequest> &finished);

  /// Run-ahead: true when the step awaiting update() decodes one token of
  /// every running sequence, none reaches its token limit in it, nothing
  /// waits for admission and the pool has the next token's slots. The step
  /// after it is then known whatever it samples: the same rows, one position
  /// further.
  bool canScheduleAhead() const;
  /// Fills `next` with that step before update() of the pending one. Its
  /// token ids are -1: row r's input is the pending step's sample of row r
  /// (the backend feeds it). A sequence that stops at a stop token in the
  /// pending step leaves a dead row in `next`; update() drops its sample.
  Status scheduleAhead(StepBatch &next);
  bool hasScheduledAhead() const { return ahead != nullptr; }
  /// False for a dead row (see scheduleAhead) of the step awaiting update().
  bool isRowLive(int32_t row) const {
    const Scheduled &r = scheduled[static_cast<size_t>(row)];
    return states[static_cast<size_t>(r.state)].serial == r.serial;
  }

  /// Requests queued or running, or a step awaiting update().
  bool hasPendingWork() const {
    return !running.empty() || !waiting.empty() || awaitingUpdate;
  }
  int32_t numRunning() const { return static_cast<int32_t>(running.size()); }
  int32_t numWaiting() const { return static_cast<int32_t>(waiting.size()); }
  const SchedulerStats &stats() const { return schedStats; }
  const BlockAllocator &allocator() const { return alloc; }
  const SchedulerConfig &config() const { return cfg; }

private:
  struct SeqState {
    bool active = false;
    bool finished = false;
    Request request;
    std::vector<int32_t> tokens; ///< Prompt + generated.
    int32_t numPromptTokens = 0;
    int32_t numComputed = 0; ///< Tokens in the KV pool.
    int32_t numCached = -1;  ///< Prefix hits at first admission.
    int32_t numPreemptions = 0;
    SeqId allocSeq = -1;
    uint64_t scheduledStep = 0;
    uint64_t serial = 0; ///< Unique per request (0: free state).
  };
  struct Scheduled {
    int32_t state;
    int32_t numNew;
    uint64_t serial; ///< The row is dead once its state's serial differs.
  };

  bool scheduleRunning(size_t index, int32_t numNew);
  void preempt(int32_t state);
  void emit(StepBatch &batch, int32_t state, int32_t numNew);
  /// Starts `batch` as step `stepId` (clears its arrays).
  void beginBatch(StepBatch &batch, uint64_t stepId);
  /// Block tables of `rows`, padded with -1 to the longest.
  void fillBlockTables(StepBatch &batch, const std::vector<Scheduled> &rows);

  SchedulerConfig cfg;
  BlockAllocator alloc;
  std::vector<SeqState> states;
  std::vector<int32_t> freeStates;
  std::vector<int32_t> running; ///< Admission order, oldest first.
  std::deque<int32_t> waiting;
  std::vector<Scheduled> scheduled; ///< Rows of the current batch.
  StepBatch *current = nullptr;
  std::vector<Scheduled> aheadRows; ///< Rows of the batch scheduled ahead.
  StepBatch *ahead = nullptr;
  uint64_t serialCounter = 0;
  uint64_t stepCounter = 0;
  bool awaitingUpdate = false;
  bool preemptedThisStep = false;
  SchedulerStats schedStats;
};

} // namespace infer::runtime

#endif // INFER_RUNTIME_SCHEDULER_H

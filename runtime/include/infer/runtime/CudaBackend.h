//===- CudaBackend.h - Runs a compiled step on an NVIDIA GPU ----*- C++ -*-===//
//
// Executes an artifact compiled for CUDA (docs/artifact.md `kernels`, per node
// `launches`, docs/launch-plan.md) through the driver API loaded with dlopen:
//
//  - kernels: the cubin built for the device's architecture, else the PTX
//    (JIT-compiled by the driver);
//  - weights: each `weight` node's checkpoint tensors packed (rows
//    concatenated, converted to the value's dtype) into one device buffer;
//  - activations: one arena, buffers placed by liveness over the node order,
//    each sized for `maxNumTokens` rows;
//  - step inputs: fixed device buffers filled by one host-to-device copy from
//    pinned memory;
//  - the paged KV pool (layout of docs/artifact.md) sized from free memory;
//  - a step walks the nodes' launch groups, choosing each node's group by
//    token count, after applying copy-on-write block copies (one
//    device-to-device copy per block);
//  - pure decode steps (one token per sequence) are padded to a bucket and
//    replayed from a CUDA graph captured on the bucket's first use.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_CUDABACKEND_H
#define INFER_RUNTIME_CUDABACKEND_H

#include "infer/runtime/Artifact.h"
#include "infer/runtime/Backend.h"
#include "infer/runtime/CudaDriver.h"
#include "infer/runtime/SafeTensors.h"
#include "infer/runtime/Scheduler.h"
#include "infer/runtime/Status.h"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace infer::runtime {

struct CudaBackendOptions {
  int device = 0;
  /// Most tokens of one step (activation buffers are sized for it).
  int32_t maxNumTokens = 2048;
  /// Most sequences of one step.
  int32_t maxNumSeqs = 256;
  /// Longest sequence (KV tokens); 0 = the model's max_position.
  int32_t maxModelLen = 0;
  /// KV blocks to allocate; 0 = `kvMemoryFraction` of the free device memory
  /// left after weights, activations and workspace.
  int32_t numKvBlocks = 0;
  double kvMemoryFraction = 0.9;
  /// Capture and replay CUDA graphs for decode steps.
  bool useGraphs = true;
  /// Decode batch buckets with a graph each; pure decode steps are padded to
  /// the smallest that holds them, larger ones run eagerly.
  std::vector<int32_t> graphBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  /// Capture every bucket's graph at creation (capturing runs nothing), so
  /// that no decode step pays for a capture; else on a bucket's first use.
  bool captureAtCreation = true;
  /// Load the PTX even when a cubin for the device exists (tests the JIT).
  bool forcePtx = false;
  /// Launch kernels marked `programmatic` with programmatic stream
  /// serialization (they wait for the previous grid themselves), so each
  /// one's launch overlaps the previous kernel's tail.
  bool programmaticLaunch = true;
  /// Copy the S x V logits back after every step (StepOutputs::logits).
  /// Off, only the sampled tokens come back (benchmarks).
  bool copyLogits = true;
  /// Time every kernel between events (steps run eagerly, without graphs or
  /// programmatic launch, so each kernel runs alone); see kernelProfile().
  bool profileKernels = false;
  /// Run-ahead: a decode step whose predecessor samples every row on the
  /// GPU is launched at once, reading those samples in place (else it is
  /// launched when its predecessor completes).
  bool launchAhead = true;
  /// Weight binding progress.
  ProgressFn progress;
};

/// A step run as part of a larger one. `sampleOf[k]` is the index in the
/// original step's logitsIndices of this step's k-th sampled row, or -1 for
/// a row sampled only to keep the sub-step a pure decode step.
struct SubStep {
  StepBatch batch;
  std::vector<int32_t> sampleOf;
};

/// Splits a step for an artifact whose attention takes one query per
/// sequence (decode role): one sub-step per distinct token position, in
/// increasing order, holding every sequence's token at that position as a
/// one-token sequence (context = position + 1), every row sampled. Position
/// order keeps every dependency, also on keys another row of the same step
/// writes (prefix sharing). The first sub-step carries the block copies.
Status splitStepByPosition(const StepBatch &batch, std::vector<SubStep> &out);

/// Splits a step into consecutive ranges of at most `maxTokens` tokens; a
/// sequence cut at a boundary continues in the next range (its context in a
/// range ends at the range's last token). The first carries the block copies.
Status splitStepInChunks(const StepBatch &batch, int32_t maxTokens,
                         std::vector<SubStep> &out);

/// Device time of one kernel over the steps profiled so far.
struct KernelTime {
  std::string kernel;
  std::string op; ///< The decode op of the first node that launched it.
  int64_t launches = 0;
  double ms = 0;
};

/// One launch of a step as the kernels saw it (artifacts compiled with
/// `--target-options=timeline=1`): the earliest start and the latest end of
/// its blocks, %globaltimer nanoseconds.
struct TimelineEntry {
  size_t node = 0;
  std::string op, kernel;
  int64_t layer = -1; ///< the node's `layer` attribute, -1 if none
  uint64_t startNs = 0, endNs = 0;
};

struct CudaBackendStats {
  int64_t eagerSteps = 0;
  int64_t graphReplays = 0;
  int64_t graphCaptures = 0;
  int64_t kernelLaunches = 0; ///< Launches issued (captures included).
  int64_t blockCopies = 0;
  int64_t subSteps = 0; ///< Steps run as several (by position or chunks).
  size_t weightBytes = 0;
  size_t activationBytes = 0;
  size_t workspaceBytes = 0;
  size_t kvPoolBytes = 0;
  std::string kernelSource; ///< "cubin sm_90", "ptx sm_90", ...
};

class CudaBackend : public Backend {
public:
  /// Creates the backend on `options.device`: loads kernels, uploads the
  /// weights from `weights` and allocates buffers and the KV pool. Without
  /// a usable driver or GPU: Unavailable, with the reason.
  static StatusOr<std::unique_ptr<CudaBackend>>
  create(std::shared_ptr<const Artifact> artifact, const SafeTensors &weights,
         const CudaBackendOptions &options = {});
  /// Same, opening the safetensors file or checkpoint directory first.
  static StatusOr<std::unique_ptr<CudaBackend>>
  open(std::shared_ptr<const Artifact> artifact, const std::string &weightsPath,
       const CudaBackendOptions &options = {});
  ~CudaBackend() override;
  CudaBackend(const CudaBackend &) = delete;
  CudaBackend &operator=(const CudaBackend &) = delete;

  const char *name() const override { return "cuda"; }
  const Artifact &artifact() const override { return *art; }
  /// Usable KV blocks (ids 0 .. numKvBlocks()-1; the pool holds a few more
  /// for the padding rows of graph buckets).
  int32_t numKvBlocks() const override { return numBlocks; }
  /// Applies batch.blockCopies, then runs the step. `out.tokens` gets the S
  /// sampled tokens, `out.logits` the S x V logits (when copyLogits).
  /// Graphs with inputs beyond the fixed signature (`extras`) are not
  /// supported yet.
  Status step(const StepBatch &batch, StepOutputs &out,
              const StepExtras *extras) override;
  using Backend::step;
  /// Run-ahead: a step submitted while another runs is packed at once. Fed by
  /// that step's samples (`tokensFromPrevious`), it is launched at once and
  /// reads them in place when the GPU samples every row; else collect()
  /// launches it when that step completes, its samples written by the host.
  /// step() must not be called while steps are submitted and not collected.
  Status submit(const StepBatch &batch, bool tokensFromPrevious) override;
  Status collect(StepOutputs &out) override;
  /// The step runs as one launch plan (no sub-steps) and no kernel profile
  /// is taken.
  bool canRunAhead(const StepBatch &batch) const override;
  /// Overrides CudaBackendOptions::copyLogits from now on.
  void setCopyLogits(bool copy) { opts.copyLogits = copy; }

  int32_t blockSize() const { return static_cast<int32_t>(kv.blockSize); }
  int32_t maxNumTokens() const { return opts.maxNumTokens; }
  int32_t maxNumSeqs() const { return opts.maxNumSeqs; }
  int64_t vocabSize() const { return vocab; }
  const CudaDeviceInfo &deviceInfo() const { return ctx.info(); }
  const CudaBackendStats &stats() const { return backendStats; }
  const CudaContext &context() const { return ctx; }

  /// Reads the bytes of KV block `block` (all layers; tests).
  Status readKvBlock(int32_t block, std::vector<uint8_t> &bytes);
  /// Bytes of one block of all layers.
  size_t kvBlockBytes() const { return bytesPerBlock; }
  /// Reads the uploaded bytes of weight value `valueId` (tests).
  Status readWeight(int64_t valueId, std::vector<uint8_t> &bytes);

  /// Whether the artifact's kernels record a timeline (timeline=1).
  bool hasTimeline() const { return !timelineSlots.empty(); }
  /// Forgets the recorded times (queued on the stream: call between steps).
  Status resetTimeline();
  /// The launches that ran since resetTimeline(), by start; waits for the
  /// stream. Each slot keeps its earliest start and latest end, so reset
  /// before the one step to look at and read before the next one runs.
  StatusOr<std::vector<TimelineEntry>> timeline();

  /// Kernel times since the last reset (profileKernels), longest first.
  std::vector<KernelTime> kernelProfile() const;
  void resetKernelProfile() { kernelTimes.clear(); }

  /// Time the device spent on the last step (ms, between events on the
  /// stream, copies included).
  float lastStepDeviceMs() const { return lastDeviceMs; }

  // Implementation types (public for the .cpp's helpers).
  struct Launch;
  struct NodeGroup;
  struct NodePlan;
  struct StepShape {
    int32_t tokens = 0, seqs = 0, sampled = 0, width = 0;
  };

private:
  CudaBackend() = default;
  Status init(const SafeTensors &weights);
  Status loadKernels();
  Status planNodes();
  /// Encodes the TMA descriptor of a `tma:operand<i>:<rows>x<cols>` kernel
  /// argument (over the operand's buffer in valueAddr) into tensorMapHost;
  /// `index` gets its position.
  Status encodeTensorMap(const std::string &where, const std::string &arg,
                         const std::vector<int64_t> &operands, int64_t &index);
  Status uploadWeights(const SafeTensors &weights);
  Status planBuffers();
  Status allocateKvPool();

  /// One step as given (T <= maxStepTokens).
  Status runStep(const StepBatch &batch, StepOutputs &out);
  Status sampleLeftoverRows(const StepBatch &batch, StepOutputs &out);
  /// Runs `subs` (split from `batch`) in order and gathers `batch`'s
  /// sampled rows.
  Status runSubSteps(const StepBatch &batch, const std::vector<SubStep> &subs,
                     StepOutputs &out);
  Status packInputs(const StepBatch &batch, bool pad, int32_t bucket,
                    StepShape &shape, PinnedBuffer &staging);
  Status issueLaunches(const StepShape &shape);
  /// Host buffers and events of a step on the stream (two for run-ahead:
  /// one step is packed while the one before it runs).
  struct StepSlot {
    PinnedBuffer staging;       ///< inputs, in the input area's layout
    PinnedBuffer outputStaging; ///< sampled tokens
    CudaEvent start, end;
    std::vector<uint16_t> halfLogits; ///< bf16/f16 logits copied back
    StepShape shape;                  ///< of the packed step
    int32_t bucket = 0;               ///< its decode graph (0: eager launches)
  };
  /// Queues one step (no sub-steps) in `slot`: its copies, launches and the
  /// copy of its samples (and logits into `out`) back.
  Status enqueueStep(const StepBatch &batch, StepSlot &slot, StepOutputs &out);
  /// The host's part of enqueueStep: checks the batch, picks its graph and
  /// packs its inputs into the slot's staging.
  Status prepareStep(const StepBatch &batch, StepSlot &slot, StepOutputs &out);
  /// The rest: the step's copies and launches on the stream. With
  /// `tokensInPlace` the step's tokens are the previous step's samples,
  /// already in the input area (samplesInPlace).
  Status launchStep(const StepBatch &batch, StepSlot &slot, StepOutputs &out,
                    bool tokensInPlace = false);
  /// Whether the sampler may write where the step reads its tokens.
  bool samplesCanFeedTokens() const;
  /// Whether the GPU samples every row of `batch` (else some are -1).
  static bool samplesOnDevice(const StepBatch &batch);
  /// Waits for the step queued in `slot` and fills out.tokens.
  Status finishStep(const StepBatch &batch, StepSlot &slot, StepOutputs &out);
  /// Adds the times between the events of the last profiled step.
  Status collectKernelTimes();
  /// Captures the graph of decode bucket `bucket`.
  Status captureBucket(int32_t bucket);
  /// Group index of node plan `n` for `tokens` tokens.
  const NodeGroup *selectGroup(const NodePlan &plan, int32_t tokens) const;

  std::shared_ptr<const Artifact> art;
  CudaBackendOptions opts;
  CudaContext ctx;
  CudaStream stream;
  StepSlot stepSlots[2];
  /// Run-ahead: steps submitted and not collected, oldest first.
  struct Submitted {
    const StepBatch *batch = nullptr; ///< kept by the caller until collect()
    int slot = 0;
    bool done = false;    ///< ran inside submit(): `out` holds its outputs
    bool launched = true; ///< else packed only, launched by collect()
    bool tokensFromPrevious = false; ///< its tokens: the previous samples
    StepOutputs out;
  };
  std::deque<Submitted> submitted;
  /// The `tokens` output is the `tokens` input's slot of the input area.
  bool samplesInPlace = false;
  std::vector<std::pair<std::string, CudaModule>> modules; ///< By binary.
  std::map<std::string, cu::Function> functions;

  KvCacheInfo kv;
  int64_t vocab = 0;
  int32_t maxWidth = 0;     ///< Block table columns of graph steps.
  int32_t numBlocks = 0;    ///< Usable blocks.
  int32_t numPadBlocks = 0; ///< Blocks after them for graph padding rows.
  /// Attention kernels take one query per sequence (decode-role artifacts).
  bool oneQueryPerSeq = false;
  /// Most tokens one launch plan runs: maxNumTokens, or less when a node's
  /// largest kernel variant is smaller.
  int32_t maxStepTokens = 0;
  size_t bytesPerBlock = 0;

  std::vector<NodePlan> plans;
  /// Device address of every value id (0: none).
  std::vector<cu::DevicePtr> valueAddr;

  // Step inputs: offsets into the input area (host staging == device layout).
  struct InputSlot {
    int64_t valueId = -1;
    size_t offset = 0;
    size_t capacity = 0;
  };
  std::map<std::string, InputSlot> inputSlots;
  size_t inputBytes = 0;

  DeviceBuffer weightArena, activationArena, inputArea, workspace, kvPool;
  /// `counters` kernel argument: zeroed once; kernels leave it zero.
  DeviceBuffer counters;
  /// `timeline` kernel argument: two u64 per launch slot.
  DeviceBuffer timelineBuffer;
  /// Node, op, kernel and layer of each slot (its `launch` scalar).
  std::vector<TimelineEntry> timelineSlots;
  /// Bytes of timelineBuffer; an error naming the option without one.
  StatusOr<size_t> timelineBytes() const;
  /// TMA descriptors of `tma:` kernel arguments (weights), in device memory.
  std::vector<cu::TensorMap> tensorMapHost;
  DeviceBuffer tensorMaps;
  int64_t tokensOutput = -1, logitsOutput = -1;
  DType logitsDType = DType::F32;

  std::map<int32_t, CudaGraph> graphs; ///< By decode bucket.
  CudaBackendStats backendStats;
  float lastDeviceMs = 0.0f;
  /// profileKernels: one event before each launch of a step and one after
  /// the last; launchedKernels[i] is the (kernel, op) of launch i.
  std::vector<CudaEvent> profileEvents;
  std::vector<std::pair<const std::string *, const std::string *>>
      launchedKernels;
  std::map<std::string, KernelTime> kernelTimes;
  std::vector<void *> paramPtrs;
  std::vector<uint64_t> paramStorage;
};

/// Where the activations of a step live: one arena, each value produced by a
/// node (not weights, not the KV cache) at a 256-byte aligned offset, sized
/// for `maxTokens` rows (a second dynamic dimension: `maxWidth`), placed
/// first-fit by liveness over the node order. Exposed for tests.
struct ActivationPlan {
  std::vector<int64_t> offset;   ///< By value id; -1: not in the arena.
  std::vector<size_t> bytes;     ///< By value id (aligned).
  std::vector<int64_t> firstUse; ///< Defining node, -1 if none.
  std::vector<int64_t> lastUse;  ///< Last reading node (INT64_MAX: output).
  size_t totalBytes = 0;
};
StatusOr<ActivationPlan> planActivations(const Artifact &art, int64_t maxTokens,
                                         int64_t maxWidth);

/// CudaBackendOptions from the generic ones: numKvBlocks <= 0 sizes the
/// pool from free memory; environment overrides (for infer-run and
/// bench/gpu-check.sh): INFER_CUDA_DEVICE, INFER_CUDA_GRAPHS=0,
/// INFER_CUDA_FORCE_PTX=1, INFER_CUDA_MAX_TOKENS, INFER_CUDA_MAX_SEQS,
/// INFER_CUDA_KV_FRACTION, INFER_CUDA_LOGITS=0.
CudaBackendOptions cudaOptionsFrom(const BackendOptions &options);

// createCudaBackend(artifact, weights, BackendOptions), declared in
// Backend.h, is what createBackend(DeviceKind::Cuda, ...) calls.

} // namespace infer::runtime

#endif // INFER_RUNTIME_CUDABACKEND_H

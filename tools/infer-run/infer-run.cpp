//===- infer-run.cpp - Run a compiled artifact ----------------------------===//
//
// Generates tokens for one prompt, replays a JSONL request trace through the
// continuous-batching scheduler and reports serving metrics, or benchmarks
// decode steps at fixed batch sizes against the memory roofline.
//
//===----------------------------------------------------------------------===//

#include "infer/runtime/Backend.h"
#include "infer/runtime/CudaBackend.h"
#include "infer/runtime/CudaDriver.h"
#include "infer/runtime/Engine.h"
#include "infer/runtime/Trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

using namespace infer;
using namespace infer::runtime;

namespace {

const char *kUsage =
    R"(usage: infer-run <model.art> --weights <dir|file.safetensors> [options]

  --prompt-ids 1,2,3        prompt token ids (default: the model's BOS token)
  --max-tokens N            tokens to generate per request (default 16)
  --temperature T           0 = greedy (default 0)
  --top-k K                 0 = off (default 0)
  --top-p P                 1 = off (default 1)
  --seed S                  sampling seed (default 0)
  --ignore-eos              do not stop at the model's EOS tokens
  --device cpu|cuda         backend (default cpu)
  --trace requests.jsonl    replay a request trace, report TTFT/TPOT/throughput
  --real-time               trace: sleep until arrivals (default: simulated clock)
  --prefix-caching on|off   share KV blocks of common prompt prefixes (default on)
  --run-ahead on|off        schedule and launch the next decode step while the
                            current one runs (default on)
  --kv-blocks N             KV pool size in blocks (default: fits the requests)
  --max-batched-tokens N    token budget per step (default 2048)
  --threads N               CPU backend threads (default: all cores)
  --dump-logits out.bin     write the f32 logits of every generated token
                            (rows of vocab_size, in generation order)
  --progress                show weight loading progress even without a TTY
  --trace-output out.jsonl  write each request's output ids and latency, one
                            JSON line per request in id order: {"id",
                            "output_ids", "ttft_s", "tpot_s", ...}

Decode benchmark (random prompts; weights still come from --weights):
  --bench                   time decode steps of B sequences at a context
  --batch 1,16,64,128       batch sizes B (default 1)
  --context N               prompt tokens per sequence (default 512)
  --bench-steps N           timed decode steps per batch (default 50)
  --bench-warmup N          untimed decode steps first (default 3)
  --bench-json out.json     write the results as JSON
  --bench-kernels           cuda: also time each kernel of the timed steps
                            (they then run eagerly, one kernel at a time)
  --timeline out.jsonl      cuda: after each batch's timed steps, run one
                            more step alone and write when each of its
                            kernels started and ended on the GPU (graph and
                            programmatic launch as usual), one JSON line per
                            launch; the artifact must be compiled with
                            --target-options=timeline=1
  --copy-tbps X             device copy bandwidth in TB/s for the roofline
                            (default: measured on cuda, n/a on cpu)
)";

struct Options {
  std::string artifact, weights, trace, dumpLogits, traceOutput;
  std::vector<int32_t> promptIds;
  int32_t maxTokens = 16;
  SamplingParams sampling;
  bool ignoreEos = false, realTime = false, progress = false;
  bool benchKernels = false;
  DeviceKind device = DeviceKind::Cpu;
  bool prefixCaching = true;
  bool runAhead = true;
  int32_t kvBlocks = 0, maxBatchedTokens = 2048, threads = 0;
  bool bench = false;
  std::vector<int32_t> batches;
  int32_t context = 512, benchSteps = 50, benchWarmup = 3;
  std::string benchJson, timeline;
  double copyTBps = 0; ///< 0: measure (cuda) or n/a.
};

[[noreturn]] void fail(const std::string &msg, int code = 1) {
  std::fprintf(stderr, "infer-run: error: %s\n", msg.c_str());
  std::exit(code);
}

[[noreturn]] void usageError(const std::string &msg) {
  std::fprintf(stderr, "infer-run: error: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

long long parseInt(const std::string &flag, const std::string &v, long long lo,
                   long long hi) {
  errno = 0;
  char *end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < lo || x > hi)
    usageError(flag + " expects an integer in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "], got '" + v + "'");
  return x;
}

double parseFloat(const std::string &flag, const std::string &v, double lo,
                  double hi) {
  errno = 0;
  char *end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno || !(x >= lo && x <= hi))
    usageError(flag + " expects a number in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "], got '" + v + "'");
  return x;
}

std::vector<int32_t> parseIntList(const std::string &flag, const std::string &v,
                                  long long lo, long long hi) {
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    size_t comma = v.find(',', pos);
    if (comma == std::string::npos)
      comma = v.size();
    out.push_back(static_cast<int32_t>(
        parseInt(flag, v.substr(pos, comma - pos), lo, hi)));
    pos = comma + 1;
  }
  return out;
}

Options parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usageError(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--weights") {
      o.weights = value();
    } else if (a == "--prompt-ids") {
      o.promptIds = parseIntList(a, value(), 0, INT32_MAX);
    } else if (a == "--max-tokens") {
      o.maxTokens = static_cast<int32_t>(parseInt(a, value(), 1, 1 << 20));
    } else if (a == "--temperature") {
      o.sampling.temperature =
          static_cast<float>(parseFloat(a, value(), 0, 1e6));
    } else if (a == "--top-k") {
      o.sampling.topK =
          static_cast<int32_t>(parseInt(a, value(), 0, INT32_MAX));
    } else if (a == "--top-p") {
      o.sampling.topP = static_cast<float>(parseFloat(a, value(), 1e-9, 1));
    } else if (a == "--seed") {
      o.sampling.seed =
          static_cast<uint64_t>(parseInt(a, value(), 0, INT64_MAX));
    } else if (a == "--ignore-eos") {
      o.ignoreEos = true;
    } else if (a == "--device") {
      std::string v = value();
      if (!parseDeviceKind(v, o.device))
        usageError("--device expects cpu or cuda, got '" + v + "'");
    } else if (a == "--trace") {
      o.trace = value();
    } else if (a == "--real-time") {
      o.realTime = true;
    } else if (a == "--prefix-caching") {
      std::string v = value();
      if (v != "on" && v != "off")
        usageError("--prefix-caching expects on or off, got '" + v + "'");
      o.prefixCaching = v == "on";
    } else if (a == "--run-ahead") {
      std::string v = value();
      if (v != "on" && v != "off")
        usageError("--run-ahead expects on or off, got '" + v + "'");
      o.runAhead = v == "on";
    } else if (a == "--kv-blocks") {
      o.kvBlocks = static_cast<int32_t>(parseInt(a, value(), 1, INT32_MAX));
    } else if (a == "--max-batched-tokens") {
      o.maxBatchedTokens =
          static_cast<int32_t>(parseInt(a, value(), 1, INT32_MAX));
    } else if (a == "--threads") {
      o.threads = static_cast<int32_t>(parseInt(a, value(), 0, 4096));
    } else if (a == "--dump-logits") {
      o.dumpLogits = value();
    } else if (a == "--progress") {
      o.progress = true;
    } else if (a == "--trace-output") {
      o.traceOutput = value();
    } else if (a == "--bench") {
      o.bench = true;
    } else if (a == "--batch") {
      o.batches = parseIntList(a, value(), 1, 1 << 16);
    } else if (a == "--context") {
      o.context = static_cast<int32_t>(parseInt(a, value(), 1, 1 << 24));
    } else if (a == "--bench-steps") {
      o.benchSteps = static_cast<int32_t>(parseInt(a, value(), 1, 1 << 20));
    } else if (a == "--bench-warmup") {
      o.benchWarmup = static_cast<int32_t>(parseInt(a, value(), 0, 1 << 20));
    } else if (a == "--bench-json") {
      o.benchJson = value();
    } else if (a == "--bench-kernels") {
      o.benchKernels = true;
    } else if (a == "--timeline") {
      o.timeline = value();
    } else if (a == "--copy-tbps") {
      o.copyTBps = parseFloat(a, value(), 1e-6, 1e6);
    } else if (!a.empty() && a[0] == '-') {
      usageError("unknown option '" + a + "'");
    } else if (o.artifact.empty()) {
      o.artifact = a;
    } else {
      usageError("unexpected argument '" + a + "' (one artifact only)");
    }
  }
  if (o.artifact.empty())
    usageError("missing the artifact (<model.art>)");
  if (o.weights.empty())
    usageError("missing --weights <dir|file.safetensors>");
  if (!o.trace.empty() && !o.promptIds.empty())
    usageError("--trace and --prompt-ids are exclusive");
  if (o.bench) {
    if (!o.trace.empty() || !o.promptIds.empty() || !o.dumpLogits.empty() ||
        !o.traceOutput.empty())
      usageError("--bench makes its own prompts: it excludes --trace, "
                 "--prompt-ids, --dump-logits and --trace-output");
    if (o.batches.empty())
      o.batches = {1};
  } else if (!o.batches.empty() || !o.benchJson.empty() || o.copyTBps > 0 ||
             o.benchKernels || !o.timeline.empty()) {
    usageError("--batch, --bench-json, --bench-kernels, --timeline and "
               "--copy-tbps need --bench");
  }
  if (!o.timeline.empty() && o.benchKernels)
    usageError("--timeline times the graph as it runs; --bench-kernels runs "
               "kernels one at a time: use one of them");
  return o;
}

template <typename T> T check(StatusOr<T> v) {
  if (!v.ok())
    fail(v.status().message());
  return std::move(v).value();
}

void check(const Status &s) {
  if (!s.ok())
    fail(s.message());
}

int32_t blocksFor(const Request &r, int64_t blockSize) {
  int64_t kv = static_cast<int64_t>(r.promptTokens.size()) + r.maxNewTokens;
  return static_cast<int32_t>((kv + blockSize - 1) / blockSize);
}

/// Weight loading progress on stderr (with --progress or a TTY), else none.
ProgressFn progressFn(const Options &opt) {
  if (!opt.progress && !::isatty(2))
    return nullptr;
  return [last = -1](size_t done, size_t all) mutable {
    int pct = all ? static_cast<int>(100.0 * done / all) : 100;
    if (pct == last && done != all)
      return;
    last = pct;
    std::fprintf(stderr, "\rinfer-run: loading weights %3d%% (%.1f / %.1f MiB)",
                 pct, done / 1048576.0, all / 1048576.0);
    if (done == all)
      std::fputc('\n', stderr);
  };
}

/// Device-to-device copy bandwidth in TB/s, (read + write bytes) / time,
/// the median of 20 copies of `bytes` (as bench/e2e/torch_decode.py).
StatusOr<double> measureCopyTBps(const CudaContext &ctx, size_t bytes) {
  INFER_RETURN_IF_ERROR(ctx.makeCurrent());
  const CudaDriver &drv = ctx.driver();
  INFER_ASSIGN_OR_RETURN(DeviceBuffer src,
                         DeviceBuffer::allocate(drv, bytes, "copy source"));
  INFER_ASSIGN_OR_RETURN(DeviceBuffer dst,
                         DeviceBuffer::allocate(drv, bytes, "copy target"));
  INFER_ASSIGN_OR_RETURN(CudaStream stream, CudaStream::create(drv));
  INFER_ASSIGN_OR_RETURN(CudaEvent start, CudaEvent::create(drv));
  INFER_ASSIGN_OR_RETURN(CudaEvent end, CudaEvent::create(drv));
  INFER_CUDA_RETURN_IF_ERROR(drv, cuMemsetD8(src.ptr(), 1, bytes));
  std::vector<double> ms;
  for (int i = 0; i < 23; ++i) {
    INFER_RETURN_IF_ERROR(start.record(stream.get()));
    INFER_CUDA_RETURN_IF_ERROR(
        drv, cuMemcpyDtoDAsync(dst.ptr(), src.ptr(), bytes, stream.get()));
    INFER_RETURN_IF_ERROR(end.record(stream.get()));
    INFER_RETURN_IF_ERROR(end.synchronize());
    INFER_ASSIGN_OR_RETURN(float t, CudaEvent::elapsedMs(start, end));
    if (i >= 3) // Warm-up copies first.
      ms.push_back(t);
  }
  double median = percentile(ms, 50);
  if (!(median > 0))
    return internalError("copy bandwidth: the copies took no time");
  return 2.0 * static_cast<double>(bytes) / (median * 1e-3) / 1e12;
}

std::string fmtOrNa(double v, const char *fmt) {
  if (!(v > 0))
    return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

/// Prints the kernels of `profile` per step (longest first, the top 24) and
/// returns them all as JSON.
nlohmann::json reportKernels(const std::vector<KernelTime> &profile,
                             int32_t steps) {
  double total = 0;
  for (const KernelTime &k : profile)
    total += k.ms;
  nlohmann::json all = nlohmann::json::array();
  std::printf("  %-52s %-22s %8s %10s %6s\n", "kernel", "op", "launches",
              "us/step", "share");
  for (size_t i = 0; i < profile.size(); ++i) {
    const KernelTime &k = profile[i];
    const double us = k.ms * 1e3 / steps;
    if (i < 24)
      std::printf("  %-52.52s %-22.22s %8.1f %10.1f %5.1f%%\n",
                  k.kernel.c_str(), k.op.c_str(),
                  static_cast<double>(k.launches) / steps, us,
                  total > 0 ? k.ms / total * 100 : 0.0);
    all.push_back(
        {{"kernel", k.kernel},
         {"op", k.op},
         {"launches_per_step", static_cast<double>(k.launches) / steps},
         {"us_per_step", us}});
  }
  std::printf("  %-52s %-22s %8s %10.1f\n", "(all kernels)", "", "",
              total * 1e3 / steps);
  return all;
}

/// Runs one more decode step of `o`'s batch alone (lockstep) and writes
/// when each of its launches started and ended, one JSON line each.
void writeTimeline(Backend &backend, CudaBackend &cuda, DecodeBenchOptions o,
                   std::ofstream &out) {
  o.steps = 1;
  o.engine.runAhead = false;
  o.beforeTimedSteps = [&cuda] { check(cuda.resetTimeline()); };
  check(benchmarkDecode(backend, o));
  std::vector<TimelineEntry> entries = check(cuda.timeline());
  if (entries.empty())
    fail("--timeline: no kernel of the step recorded a time");
  const uint64_t t0 = entries.front().startNs;
  for (size_t i = 0; i < entries.size(); ++i) {
    const TimelineEntry &e = entries[i];
    nlohmann::json line = {{"batch", o.batch},
                           {"index", i},
                           {"node", e.node},
                           {"op", e.op},
                           {"kernel", e.kernel},
                           {"start_us", (e.startNs - t0) / 1e3},
                           {"end_us", (e.endNs - t0) / 1e3}};
    if (e.layer >= 0)
      line["layer"] = e.layer;
    out << line.dump() << "\n";
  }
  out.flush();
  if (!out)
    fail("--timeline: write failed");
}

/// --bench: one backend, one engine per batch size.
int runBench(const Options &opt, std::shared_ptr<const Artifact> art,
             std::shared_ptr<const SafeTensors> weights,
             const BackendOptions &baseOptions) {
  const ModelInfo &model = art->model();
  const int64_t blockSize = std::max<int64_t>(art->kvCache().blockSize, 1);
  DecodeBenchOptions base;
  base.context = opt.context;
  base.steps = opt.benchSteps;
  base.warmupSteps = opt.benchWarmup;
  base.engine.enablePrefixCaching = opt.prefixCaching;
  base.engine.maxNumBatchedTokens = opt.maxBatchedTokens;
  base.engine.runAhead = opt.runAhead;
  int64_t needBlocks = 1;
  for (int32_t b : opt.batches) {
    DecodeBenchOptions o = base;
    o.batch = b;
    int64_t perSeq =
        (static_cast<int64_t>(opt.context) + o.maxNewTokens() + blockSize - 1) /
        blockSize;
    needBlocks = std::max<int64_t>(needBlocks, b * perSeq + 1);
  }
  if (model.maxPosition > 0 && opt.context >= model.maxPosition)
    usageError("--context " + std::to_string(opt.context) +
               " leaves no room below the model's max_position " +
               std::to_string(model.maxPosition));
  BackendOptions bo = baseOptions;
  bo.profileKernels = opt.benchKernels;
  bo.numKvBlocks =
      opt.kvBlocks
          ? opt.kvBlocks
          : static_cast<int32_t>(std::min<int64_t>(needBlocks, INT32_MAX));
  std::unique_ptr<Backend> backend =
      check(createBackend(opt.device, art, weights, bo));

  DecodeTraffic traffic = decodeTraffic(*art);
  double copyTBps = opt.copyTBps;
  std::string copySource = copyTBps > 0 ? "argument" : "n/a";
  auto *cuda = dynamic_cast<CudaBackend *>(backend.get());
  if (cuda) {
    cuda->setCopyLogits(false); // Only the sampled tokens come back.
    base.lastStepDeviceMs = [cuda] {
      return static_cast<double>(cuda->lastStepDeviceMs());
    };
    base.beforeTimedSteps = [cuda] { cuda->resetKernelProfile(); };
    if (copyTBps <= 0) {
      for (size_t bytes : {size_t(1) << 30, size_t(256) << 20}) {
        StatusOr<double> bw = measureCopyTBps(cuda->context(), bytes);
        if (bw.ok()) {
          copyTBps = *bw;
          copySource = "measured";
          break;
        }
        std::fprintf(stderr,
                     "infer-run: copy bandwidth (%zu MiB) not measured: %s\n",
                     bytes >> 20, bw.status().message().c_str());
      }
    }
  }

  std::ofstream timelineOut;
  if (!opt.timeline.empty()) {
    if (!cuda)
      usageError("--timeline needs --device cuda");
    if (!cuda->hasTimeline())
      fail(opt.artifact + ": its kernels record no timeline; compile it with "
                          "infer-compile ... --target cuda "
                          "--target-options=timeline=1");
    timelineOut.open(opt.timeline);
    if (!timelineOut)
      fail(opt.timeline + ": cannot write");
  }

  std::printf("infer-run: bench on %s: %s, %lld layers, context %d, %d "
              "timed steps; weights read per step %.3f GB, KV %lld B/token, "
              "copy bandwidth %s TB/s (%s)\n",
              backend->name(), art->model().family.c_str(),
              static_cast<long long>(model.numLayers), opt.context,
              opt.benchSteps, traffic.weightBytes / 1e9,
              static_cast<long long>(traffic.kvBytesPerToken),
              fmtOrNa(copyTBps, "%.3f").c_str(), copySource.c_str());

  nlohmann::json out = {
      {"device", backend->name()},
      {"artifact", opt.artifact},
      {"model",
       {{"family", model.family},
        {"num_layers", model.numLayers},
        {"hidden_size", model.hiddenSize},
        {"vocab_size", model.vocabSize}}},
      {"context", opt.context},
      {"steps", opt.benchSteps},
      {"warmup_steps", opt.benchWarmup},
      {"weight_bytes", traffic.weightBytes},
      {"embed_row_bytes", traffic.embedRowBytes},
      {"kv_bytes_per_token", traffic.kvBytesPerToken},
      {"copy_TBps", copyTBps > 0 ? nlohmann::json(copyTBps) : nullptr},
      {"copy_source", copySource},
      {"batches", nlohmann::json::array()}};
  if (cuda)
    out["gpu"] = cuda->deviceInfo().name;

  std::printf("%6s %10s %10s %10s %9s %10s %9s\n", "batch", "ms/step", "tok/s",
              "device ms", "mean ctx", "floor ms", "roofline");
  bool failed = false;
  for (int32_t b : opt.batches) {
    DecodeBenchOptions o = base;
    o.batch = b;
    StatusOr<DecodeBenchResult> r = benchmarkDecode(*backend, o);
    if (!r.ok()) {
      std::fprintf(stderr, "infer-run: bench batch %d failed: %s\n", b,
                   r.status().message().c_str());
      out["batches"].push_back({{"batch", b}, {"error", r.status().message()}});
      failed = true;
      continue;
    }
    const double ms = r->medianMs();
    const double bytes = traffic.stepBytes(b, std::llround(r->meanKvTokens));
    const double floorMs = copyTBps > 0 ? bytes / (copyTBps * 1e12) * 1e3 : 0;
    const double frac = floorMs > 0 && ms > 0 ? floorMs / ms : 0;
    std::printf("%6d %10.3f %10.1f %10s %9.1f %10s %9s\n", b, ms,
                r->tokensPerS(), fmtOrNa(r->medianDeviceMs(), "%.3f").c_str(),
                r->meanKvTokens / b, fmtOrNa(floorMs, "%.3f").c_str(),
                frac > 0 ? fmtOrNa(frac * 100, "%.1f%%").c_str() : "n/a");
    std::fflush(stdout);
    nlohmann::json j = {{"batch", b},
                        {"ms_median", ms},
                        {"ms_p10", r->percentileMs(10)},
                        {"ms_p90", r->percentileMs(90)},
                        {"tok_s", r->tokensPerS()},
                        {"mean_context", r->meanKvTokens / b},
                        {"bytes_per_step", bytes},
                        {"prefill_s", r->prefillS},
                        {"prefill_steps", r->prefillSteps},
                        {"step_ms", r->stepMs}};
    if (!r->deviceMs.empty())
      j["device_ms_median"] = r->medianDeviceMs();
    j["floor_ms"] = floorMs > 0 ? nlohmann::json(floorMs) : nullptr;
    j["roofline_frac"] = frac > 0 ? nlohmann::json(frac) : nullptr;
    if (cuda && opt.benchKernels)
      j["kernels"] = reportKernels(cuda->kernelProfile(), opt.benchSteps);
    if (timelineOut.is_open())
      writeTimeline(*backend, *cuda, o, timelineOut);
    out["batches"].push_back(j);
    out["b" + std::to_string(b) + "_ms"] = ms;
  }
  if (!opt.benchJson.empty()) {
    std::ofstream f(opt.benchJson);
    f << out.dump(1) << "\n";
    f.close();
    if (!f)
      fail(opt.benchJson + ": write failed");
    std::fprintf(stderr, "infer-run: wrote %s\n", opt.benchJson.c_str());
  }
  return failed ? 1 : 0;
}

/// --trace-output: one JSON line per request, in id order.
void writeTraceOutput(const std::string &path,
                      const std::vector<RequestResult> &results) {
  std::vector<const RequestResult *> sorted;
  for (const RequestResult &r : results)
    sorted.push_back(&r);
  std::sort(sorted.begin(), sorted.end(),
            [](auto *a, auto *b) { return a->output.id < b->output.id; });
  std::ofstream f(path);
  if (!f)
    fail(path + ": cannot create: " + std::strerror(errno));
  for (const RequestResult *r : sorted) {
    nlohmann::json j = {
        {"id", r->output.id},
        {"output_ids", r->output.outputTokens},
        {"ttft_s", r->ttftS()},
        {"tpot_s", r->tpotS()},
        {"e2e_s", r->finishS - r->arrivalS},
        {"num_prompt_tokens", r->output.numPromptTokens},
        {"num_cached_prompt_tokens", r->output.numCachedPromptTokens},
        {"num_preemptions", r->output.numPreemptions},
        {"finish_reason",
         r->output.reason == FinishReason::Stop ? "stop" : "length"}};
    f << j.dump() << "\n";
  }
  f.close();
  if (!f)
    fail(path + ": write failed");
  std::fprintf(stderr, "infer-run: wrote %zu requests to %s\n", sorted.size(),
               path.c_str());
}

} // namespace

int main(int argc, char **argv) {
  Options opt = parseArgs(argc, argv);
  std::shared_ptr<const Artifact> art = check(Artifact::load(opt.artifact));
  const ModelInfo &model = art->model();

  if (opt.bench) {
    std::shared_ptr<const SafeTensors> weights =
        check(SafeTensors::open(opt.weights));
    BackendOptions bo;
    bo.numThreads = opt.threads;
    bo.progress = progressFn(opt);
    return runBench(opt, art, weights, bo);
  }

  std::vector<Request> requests;
  if (!opt.trace.empty()) {
    requests = check(loadTrace(opt.trace));
  } else {
    Request r;
    r.promptTokens = opt.promptIds;
    if (r.promptTokens.empty()) {
      if (!model.bosTokenId)
        usageError("the model has no bos_token_id; pass --prompt-ids");
      r.promptTokens = {static_cast<int32_t>(*model.bosTokenId)};
    }
    r.maxNewTokens = opt.maxTokens;
    r.sampling = opt.sampling;
    requests.push_back(std::move(r));
  }
  if (!opt.ignoreEos)
    for (Request &r : requests)
      if (r.stopTokens.empty())
        for (int64_t e : model.eosTokenIds)
          r.stopTokens.push_back(static_cast<int32_t>(e));

  // KV pool: room for every request at once, within 4 GiB.
  const int64_t blockSize = std::max<int64_t>(art->kvCache().blockSize, 1);
  int32_t largest = 1;
  int64_t total = 0;
  for (const Request &r : requests) {
    largest = std::max(largest, blocksFor(r, blockSize));
    total += blocksFor(r, blockSize);
  }
  int32_t kvBlocks = opt.kvBlocks;
  if (kvBlocks == 0) {
    size_t bytes = std::max<size_t>(kvBlockBytes(art->kvCache()), 1);
    int64_t budget = static_cast<int64_t>((size_t(4) << 30) / bytes);
    kvBlocks = static_cast<int32_t>(
        std::max<int64_t>(largest, std::min<int64_t>(total + 1, budget)));
  }

  std::shared_ptr<const SafeTensors> weights =
      check(SafeTensors::open(opt.weights));
  BackendOptions bo;
  bo.numKvBlocks = kvBlocks;
  bo.numThreads = opt.threads;
  bo.progress = progressFn(opt);
  std::unique_ptr<Backend> backend =
      check(createBackend(opt.device, art, weights, bo));

  EngineOptions eo;
  eo.enablePrefixCaching = opt.prefixCaching;
  eo.maxNumBatchedTokens = opt.maxBatchedTokens;
  eo.keepLogits = !opt.dumpLogits.empty();
  eo.runAhead = opt.runAhead;
  // Logits come back only to be dumped (rows the GPU does not sample are
  // copied one by one).
  if (auto *cuda = dynamic_cast<CudaBackend *>(backend.get()))
    cuda->setCopyLogits(eo.keepLogits);
  Engine engine(*backend, eo);
  std::vector<RequestResult> results;

  if (!opt.trace.empty()) {
    double t0 = engine.now();
    check(engine.runTrace(std::move(requests), !opt.realTime, results));
    double duration = engine.now() - t0;
    std::fputs(formatSummary(summarize(results, duration)).c_str(), stdout);
  } else {
    check(engine.submit(requests[0]));
    check(engine.runToCompletion(results));
    const RequestResult &r = results.at(0);
    std::string ids;
    for (int32_t t : r.output.outputTokens)
      ids += (ids.empty() ? "" : ",") + std::to_string(t);
    std::printf("%s\n", ids.c_str());
    std::fprintf(
        stderr,
        "infer-run: %s backend, prompt %d tokens, generated %zu "
        "(%s), TTFT %.2f ms, TPOT %.2f ms\n",
        backend->name(), r.output.numPromptTokens, r.output.outputTokens.size(),
        r.output.reason == FinishReason::Stop ? "stop token" : "max tokens",
        r.ttftS() * 1e3, r.tpotS() * 1e3);
  }

  if (!opt.traceOutput.empty())
    writeTraceOutput(opt.traceOutput, results);

  if (!opt.dumpLogits.empty()) {
    FILE *f = std::fopen(opt.dumpLogits.c_str(), "wb");
    if (!f)
      fail(opt.dumpLogits + ": cannot create: " + std::strerror(errno));
    size_t rows = 0;
    for (const RequestResult &r : results) {
      std::fwrite(r.logits.data(), sizeof(float), r.logits.size(), f);
      rows += r.logits.size() / std::max<int64_t>(model.vocabSize, 1);
    }
    if (std::fclose(f) != 0)
      fail(opt.dumpLogits + ": write failed");
    std::fprintf(stderr, "infer-run: wrote %zu x %lld f32 logits to %s\n", rows,
                 static_cast<long long>(model.vocabSize),
                 opt.dumpLogits.c_str());
  }
  return 0;
}

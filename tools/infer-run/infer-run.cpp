//===- infer-run.cpp - Run a compiled artifact ----------------------------===//
//
// Generates tokens for one prompt, or replays a JSONL request trace through
// the continuous-batching scheduler and reports serving metrics.
//
//===----------------------------------------------------------------------===//

#include "infer/runtime/Backend.h"
#include "infer/runtime/Engine.h"
#include "infer/runtime/Trace.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  --kv-blocks N             KV pool size in blocks (default: fits the requests)
  --max-batched-tokens N    token budget per step (default 2048)
  --threads N               CPU backend threads (default: all cores)
  --dump-logits out.bin     write the f32 logits of every generated token
                            (rows of vocab_size, in generation order)
  --progress                show weight loading progress even without a TTY
)";

struct Options {
  std::string artifact, weights, trace, dumpLogits;
  std::vector<int32_t> promptIds;
  int32_t maxTokens = 16;
  SamplingParams sampling;
  bool ignoreEos = false, realTime = false, progress = false;
  DeviceKind device = DeviceKind::Cpu;
  bool prefixCaching = true;
  int32_t kvBlocks = 0, maxBatchedTokens = 2048, threads = 0;
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
      std::string v = value();
      size_t pos = 0;
      while (pos <= v.size()) {
        size_t comma = v.find(',', pos);
        if (comma == std::string::npos)
          comma = v.size();
        o.promptIds.push_back(static_cast<int32_t>(parseInt(
            "--prompt-ids", v.substr(pos, comma - pos), 0, INT32_MAX)));
        pos = comma + 1;
      }
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

} // namespace

int main(int argc, char **argv) {
  Options opt = parseArgs(argc, argv);
  std::shared_ptr<const Artifact> art = check(Artifact::load(opt.artifact));
  const ModelInfo &model = art->model();

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
  bool showProgress = opt.progress || ::isatty(2);
  if (showProgress)
    bo.progress = [last = -1](size_t done, size_t all) mutable {
      int pct = all ? static_cast<int>(100.0 * done / all) : 100;
      if (pct == last && done != all)
        return;
      last = pct;
      std::fprintf(stderr,
                   "\rinfer-run: loading weights %3d%% (%.1f / %.1f MiB)", pct,
                   done / 1048576.0, all / 1048576.0);
      if (done == all)
        std::fputc('\n', stderr);
    };
  std::unique_ptr<Backend> backend =
      check(createBackend(opt.device, art, weights, bo));

  EngineOptions eo;
  eo.enablePrefixCaching = opt.prefixCaching;
  eo.maxNumBatchedTokens = opt.maxBatchedTokens;
  eo.keepLogits = !opt.dumpLogits.empty();
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

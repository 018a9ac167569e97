//===- Trace.cpp - Request traces and serving benchmark summary -----------===//

#include "infer/runtime/Trace.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

using namespace infer;
using namespace infer::runtime;
using json = nlohmann::json;

namespace {
Status intList(const json &j, const std::string &where,
               std::vector<int32_t> &out) {
  if (!j.is_array())
    return invalidArgumentError(where + " must be an array of integers");
  for (const json &e : j) {
    if (!e.is_number_integer() || e.get<int64_t>() < 0 ||
        e.get<int64_t>() > INT32_MAX)
      return invalidArgumentError(where +
                                  " must hold non-negative 32-bit integers");
    out.push_back(static_cast<int32_t>(e.get<int64_t>()));
  }
  return okStatus();
}
} // namespace

StatusOr<std::vector<Request>>
infer::runtime::parseTrace(const std::string &text, const std::string &source) {
  std::vector<Request> out;
  std::set<uint64_t> ids;
  size_t pos = 0, lineNo = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = source + ":" + std::to_string(lineNo);
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return invalidArgumentError(where + ": not a JSON object");
    Request r;
    r.id = out.size();
    if (auto it = j.find("id"); it != j.end()) {
      if (!it->is_number_unsigned())
        return invalidArgumentError(where + ": 'id' must be a non-negative "
                                            "integer");
      r.id = it->get<uint64_t>();
    }
    if (!ids.insert(r.id).second)
      return invalidArgumentError(where + ": duplicate id " +
                                  std::to_string(r.id));
    auto prompt = j.find("prompt_ids");
    if (prompt == j.end())
      return invalidArgumentError(where + ": missing 'prompt_ids'");
    INFER_RETURN_IF_ERROR(
        intList(*prompt, where + ": 'prompt_ids'", r.promptTokens));
    if (r.promptTokens.empty())
      return invalidArgumentError(where + ": 'prompt_ids' is empty");
    if (auto it = j.find("stop_ids"); it != j.end())
      INFER_RETURN_IF_ERROR(intList(*it, where + ": 'stop_ids'", r.stopTokens));
    auto num = [&](const char *k, double &v, double lo, double hi) -> Status {
      auto it = j.find(k);
      if (it == j.end())
        return okStatus();
      if (!it->is_number() || !(it->get<double>() >= lo) ||
          !(it->get<double>() <= hi))
        return invalidArgumentError(where + ": '" + k +
                                    "' must be a number "
                                    "in [" +
                                    std::to_string(lo) + ", " +
                                    std::to_string(hi) + "]");
      v = it->get<double>();
      return okStatus();
    };
    double maxTokens = r.maxNewTokens, arrival = 0, temp = 0, topK = 0,
           topP = 1, seed = 0;
    INFER_RETURN_IF_ERROR(num("max_tokens", maxTokens, 1, INT32_MAX));
    INFER_RETURN_IF_ERROR(num("arrival_s", arrival, 0, 1e9));
    INFER_RETURN_IF_ERROR(num("temperature", temp, 0, 1e6));
    INFER_RETURN_IF_ERROR(num("top_k", topK, -1, INT32_MAX));
    INFER_RETURN_IF_ERROR(num("top_p", topP, 1e-9, 1));
    r.maxNewTokens = static_cast<int32_t>(maxTokens);
    r.arrivalTime = arrival;
    r.sampling.temperature = static_cast<float>(temp);
    r.sampling.topK = static_cast<int32_t>(topK);
    r.sampling.topP = static_cast<float>(topP);
    if (auto it = j.find("seed"); it != j.end()) {
      if (!it->is_number_integer())
        return invalidArgumentError(where + ": 'seed' must be an integer");
      r.sampling.seed = it->get<uint64_t>();
    }
    (void)seed;
    out.push_back(std::move(r));
  }
  if (out.empty())
    return invalidArgumentError(source + ": the trace holds no requests");
  return out;
}

StatusOr<std::vector<Request>>
infer::runtime::loadTrace(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return notFoundError(path + ": cannot open trace: " + std::strerror(errno));
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  return parseTrace(text, path);
}

double infer::runtime::percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0.0;
  std::sort(v.begin(), v.end());
  double rank = p / 100.0 * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

BenchmarkSummary
infer::runtime::summarize(const std::vector<RequestResult> &results,
                          double durationS) {
  BenchmarkSummary s;
  s.numRequests = results.size();
  s.durationS = durationS;
  std::vector<double> ttft, tpot, e2e;
  for (const RequestResult &r : results) {
    s.inputTokens += r.output.numPromptTokens;
    s.outputTokens += static_cast<int64_t>(r.output.outputTokens.size());
    ttft.push_back(r.ttftS() * 1e3);
    e2e.push_back((r.finishS - r.arrivalS) * 1e3);
    if (r.output.outputTokens.size() > 1)
      tpot.push_back(r.tpotS() * 1e3);
  }
  auto mean = [](const std::vector<double> &v) {
    double sum = 0;
    for (double x : v)
      sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
  };
  if (durationS > 0) {
    s.requestThroughput = static_cast<double>(s.numRequests) / durationS;
    s.outputThroughput = static_cast<double>(s.outputTokens) / durationS;
    s.totalThroughput =
        static_cast<double>(s.inputTokens + s.outputTokens) / durationS;
  }
  s.ttftMeanMs = mean(ttft);
  s.ttftP50Ms = percentile(ttft, 50);
  s.ttftP99Ms = percentile(ttft, 99);
  s.tpotMeanMs = mean(tpot);
  s.tpotP50Ms = percentile(tpot, 50);
  s.tpotP99Ms = percentile(tpot, 99);
  s.e2eMeanMs = mean(e2e);
  s.e2eP50Ms = percentile(e2e, 50);
  s.e2eP99Ms = percentile(e2e, 99);
  return s;
}

std::string infer::runtime::formatSummary(const BenchmarkSummary &s) {
  char buf[2048];
  std::snprintf(buf, sizeof(buf),
                "============ Serving Benchmark Result ============\n"
                "Successful requests:                     %zu\n"
                "Benchmark duration (s):                  %.2f\n"
                "Total input tokens:                      %lld\n"
                "Total generated tokens:                  %lld\n"
                "Request throughput (req/s):              %.2f\n"
                "Output token throughput (tok/s):         %.2f\n"
                "Total token throughput (tok/s):          %.2f\n"
                "---------------Time to First Token----------------\n"
                "Mean TTFT (ms):                          %.2f\n"
                "Median TTFT (ms):                        %.2f\n"
                "P99 TTFT (ms):                           %.2f\n"
                "-----Time per Output Token (excl. 1st token)------\n"
                "Mean TPOT (ms):                          %.2f\n"
                "Median TPOT (ms):                        %.2f\n"
                "P99 TPOT (ms):                           %.2f\n"
                "----------------End-to-end Latency----------------\n"
                "Mean E2EL (ms):                          %.2f\n"
                "Median E2EL (ms):                        %.2f\n"
                "P99 E2EL (ms):                           %.2f\n"
                "==================================================\n",
                s.numRequests, s.durationS,
                static_cast<long long>(s.inputTokens),
                static_cast<long long>(s.outputTokens), s.requestThroughput,
                s.outputThroughput, s.totalThroughput, s.ttftMeanMs,
                s.ttftP50Ms, s.ttftP99Ms, s.tpotMeanMs, s.tpotP50Ms,
                s.tpotP99Ms, s.e2eMeanMs, s.e2eP50Ms, s.e2eP99Ms);
  return buf;
}

//===- Trace.h - Request traces and serving benchmark summary ---*- C++ -*-===//
//
// A trace is JSONL, one request per line:
//   {"id": 0, "prompt_ids": [1, 2, 3], "max_tokens": 32, "arrival_s": 0.5,
//    "temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0,
//    "stop_ids": [2]}
// Only "prompt_ids" is required. The summary follows vLLM's
// benchmark_serving: throughput plus TTFT / TPOT / ITL-free percentiles.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_TRACE_H
#define INFER_RUNTIME_TRACE_H

#include "infer/runtime/Engine.h"

#include <string>
#include <vector>

namespace infer::runtime {

/// Parses JSONL text; `source` names the file in errors (with line numbers).
StatusOr<std::vector<Request>> parseTrace(const std::string &text,
                                          const std::string &source);
/// Reads and parses a trace file.
StatusOr<std::vector<Request>> loadTrace(const std::string &path);

/// Percentile p in [0, 100] with linear interpolation (numpy's default).
double percentile(std::vector<double> values, double p);

struct BenchmarkSummary {
  size_t numRequests = 0;
  double durationS = 0;
  int64_t inputTokens = 0, outputTokens = 0;
  double requestThroughput = 0, outputThroughput = 0, totalThroughput = 0;
  double ttftMeanMs = 0, ttftP50Ms = 0, ttftP99Ms = 0;
  double tpotMeanMs = 0, tpotP50Ms = 0, tpotP99Ms = 0;
  double e2eMeanMs = 0, e2eP50Ms = 0, e2eP99Ms = 0;
};

BenchmarkSummary summarize(const std::vector<RequestResult> &results,
                           double durationS);
std::string formatSummary(const BenchmarkSummary &s);

} // namespace infer::runtime

#endif // INFER_RUNTIME_TRACE_H

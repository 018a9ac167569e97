//===- ArtifactFormat.h - Constants of the .art container -------*- C++ -*-===//
//
// The reader's copy of docs/artifact.md. lib/Target/Artifact is the writer.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_ARTIFACTFORMAT_H
#define INFER_RUNTIME_ARTIFACTFORMAT_H

#include <cstddef>
#include <cstdint>

namespace infer::runtime::artifact {

inline constexpr char kMagic[8] = {'I', 'N', 'F', 'E', 'R', 'A', 'R', 'T'};
inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kVersionOffset = 8;
inline constexpr size_t kHeaderLengthOffset = 16;
inline constexpr size_t kHeaderOffset = 24;
inline constexpr size_t kBlobAlignment = 256;

/// Names of the step inputs in `graph.inputs`, in signature order.
inline constexpr const char *kInputNames[] = {
    "tokens",       "positions",   "slots",          "block_tables",
    "context_lens", "query_start", "logits_indices", "temperature",
    "top_k",        "top_p",       "seeds",          "kv_cache"};
inline constexpr size_t kNumInputs = 12;

/// Op kinds of the graph (`op` without the `decode.` prefix).
enum class OpKind {
  Weight,
  Embed,
  RmsNorm,
  Add,
  SiluMul,
  Slice,
  GatherTokens,
  Linear,
  Rope,
  KvAppend,
  RopeAppend,
  PagedAttention,
  Sample,
  SpecAccept,
};

struct OpSpec {
  OpKind kind;
  const char *name;
  int minOperands; ///< Positional operands (optional ones go by role).
  int maxOperands;
  int numResults;
};

inline constexpr OpSpec kOpSpecs[] = {
    {OpKind::Weight, "weight", 0, 0, 1},
    {OpKind::Embed, "embed", 2, 2, 1},
    {OpKind::RmsNorm, "rms_norm", 2, 2, 1},
    {OpKind::Add, "add", 2, 2, 1},
    {OpKind::SiluMul, "silu_mul", 1, 2, 1},
    {OpKind::Slice, "slice", 1, 1, 1},
    {OpKind::GatherTokens, "gather_tokens", 2, 2, 1},
    {OpKind::Linear, "linear", 2, 5, 1},
    {OpKind::Rope, "rope", 2, 2, 1},
    {OpKind::KvAppend, "kv_append", 4, 4, 1},
    {OpKind::RopeAppend, "rope_append", 4, 4, 2},
    {OpKind::PagedAttention, "paged_attention", 5, 5, 1},
    {OpKind::Sample, "sample", 5, 5, 1},
    {OpKind::SpecAccept, "spec_accept", 2, 4, 2},
};

} // namespace infer::runtime::artifact

#endif // INFER_RUNTIME_ARTIFACTFORMAT_H

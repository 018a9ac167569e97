//===- CpuBackendOps.cpp - The CPU backend's step and op dispatch ---------===//

#include "infer/runtime/CpuBackend.h"
#include "infer/runtime/Sampling.h"

#include <algorithm>
#include <cmath>

using namespace infer;
using namespace infer::runtime;
using artifact::OpKind;
using json = nlohmann::json;

namespace {
cpu::RopeParams::Scaling scalingOf(const std::string &k) {
  return k == "llama3" ? cpu::RopeParams::Scaling::Llama3
                       : cpu::RopeParams::Scaling::Linear;
}

Status ropeParams(const json &attrs, cpu::RopeParams &p,
                  const std::string &where) {
  double theta = 0;
  getFloatAttr(attrs, "theta", theta);
  p.theta = theta;
  auto it = attrs.find("scaling");
  if (it == attrs.end())
    it = attrs.find("rope_scaling");
  if (it == attrs.end() || it->is_null())
    return okStatus();
  auto kind = it->is_object() ? it->find("kind") : it->end();
  if (kind == it->end() || !kind->is_string() ||
      (kind->get<std::string>() != "linear" &&
       kind->get<std::string>() != "llama3"))
    return invalidArgumentError(where + ": rope scaling needs 'kind' "
                                        "\"linear\" or \"llama3\"");
  p.scaling = scalingOf(kind->get<std::string>());
  if (!getFloatAttr(*it, "factor", p.factor) || !(p.factor > 0))
    return invalidArgumentError(where + ": rope scaling needs a positive "
                                        "'factor'");
  getFloatAttr(*it, "low_freq_factor", p.lowFreqFactor);
  getFloatAttr(*it, "high_freq_factor", p.highFreqFactor);
  getFloatAttr(*it, "original_max_position", p.originalMaxPosition);
  if (p.scaling == cpu::RopeParams::Scaling::Llama3 &&
      !(p.highFreqFactor > p.lowFreqFactor))
    return invalidArgumentError(where + ": llama3 rope scaling needs "
                                        "high_freq_factor > low_freq_factor");
  return okStatus();
}

Status expectRank(const std::string &where, const char *what,
                  const std::vector<int64_t> &shape, size_t rank) {
  if (shape.size() != rank)
    return invalidArgumentError(where + ": " + what + " must have rank " +
                                std::to_string(rank) + ", got shape " +
                                shapeToString(shape));
  return okStatus();
}
} // namespace

Status CpuBackend::step(const StepBatch &batch, StepOutputs &out,
                        const StepExtras *extras) {
  const KvCacheInfo &kv = art->kvCache();
  size_t blockElems = static_cast<size_t>(kv.blockElements());
  for (const BlockCopy &c : batch.blockCopies) {
    if (c.srcBlock < 0 || c.srcBlock >= numBlocks || c.dstBlock < 0 ||
        c.dstBlock >= numBlocks)
      return invalidArgumentError("block copy " + std::to_string(c.srcBlock) +
                                  " -> " + std::to_string(c.dstBlock) +
                                  " is outside the pool of " +
                                  std::to_string(numBlocks) + " blocks");
    std::copy_n(pool.begin() + c.srcBlock * blockElems, blockElems,
                pool.begin() + c.dstBlock * blockElems);
  }
  INFER_RETURN_IF_ERROR(setInputs(batch, extras));
  const auto &nodes = art->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const GraphNode &n = nodes[i];
    if (n.kind == OpKind::Weight)
      continue;
    Status st = runNode(n);
    if (!st.ok())
      return Status(st.code(),
                    "node " + std::to_string(i) + ": " + st.message());
    // Results must agree with the static dims the artifact declares.
    for (int64_t id : n.results) {
      const ValueInfo *v = art->value(id);
      const HostTensor &t = vals[id];
      if (v->dtype == DType::KVCache)
        continue;
      bool ok = v->shape.size() == t.shape.size();
      for (size_t d = 0; ok && d < v->shape.size(); ++d)
        ok = v->shape[d] < 0 || v->shape[d] == t.shape[d];
      if (!ok)
        return internalError(
            "node " + std::to_string(i) + " (" + n.op + ") produced shape " +
            shapeToString(t.shape) + " for value " + std::to_string(id) +
            ", the artifact declares " + shapeToString(v->shape));
    }
    auto release = [&](int64_t id) {
      if (lastUse[id] == static_cast<int64_t>(i)) {
        vals[id].f.clear();
        vals[id].i.clear();
        vals[id].l.clear();
      }
    };
    for (int64_t id : n.operands)
      release(id);
    for (const auto &r : n.roles)
      release(r.second);
  }
  out.tokens.clear();
  out.logits.clear();
  out.extra.clear();
  out.vocabSize = art->model().vocabSize;
  for (const auto &[name, id] : art->outputs()) {
    HostTensor &t = vals[id];
    if (name == "tokens" && t.dtype == DType::I32)
      out.tokens = t.i;
    else if (name == "logits" && isFloatDType(t.dtype)) {
      out.logits = t.f;
      if (t.shape.size() == 2)
        out.vocabSize = t.shape[1];
    } else if (t.dtype != DType::KVCache)
      out.extra[name] = t;
  }
  return okStatus();
}

Status CpuBackend::runNode(const GraphNode &n) {
  const std::string &where = n.op;
  const json &at = n.attrs;
  Operand a, b;
  switch (n.kind) {
  case OpKind::Weight:
    return okStatus();
  case OpKind::Embed: {
    const HostTensor *tok;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[0], tok));
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "table", a.shape, 2));
    const int64_t T = tok->numel(), V = a.shape[0], H = a.shape[1];
    HostTensor &r = result(n, 0);
    r.shape = {T, H};
    r.f.resize(static_cast<size_t>(T * H));
    cpu::MatrixRef m = a.matrix();
    for (int64_t t = 0; t < T; ++t) {
      int32_t id = tok->i[t];
      if (id < 0 || id >= V)
        return invalidArgumentError("embed: token id " + std::to_string(id) +
                                    " is outside the vocabulary [0, " +
                                    std::to_string(V) + ")");
      m.row(id, r.f.data() + t * H);
      for (int64_t e = 0; e < H; ++e)
        r.f[t * H + e] = roundTo(r.dtype, r.f[t * H + e]);
    }
    return okStatus();
  }
  case OpKind::RmsNorm: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], b));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    if (b.shape != std::vector<int64_t>{a.shape[1]})
      return invalidArgumentError(where + ": weight shape " +
                                  shapeToString(b.shape) +
                                  " does not match the input width");
    double eps = 0;
    getFloatAttr(at, "epsilon", eps);
    std::vector<float> w = b.toVector();
    std::vector<float> x = a.tensor->f;
    HostTensor &r = result(n, 0);
    r.shape = a.shape;
    r.f.resize(x.size());
    cpu::rmsNorm(x.data(), a.shape[0], a.shape[1], w.data(),
                 static_cast<float>(eps), r.dtype, r.f.data());
    return okStatus();
  }
  case OpKind::Add: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], b));
    if (a.shape != b.shape || !a.tensor || !b.tensor)
      return invalidArgumentError(where + ": operand shapes " +
                                  shapeToString(a.shape) + " and " +
                                  shapeToString(b.shape) + " differ");
    std::vector<float> x = a.tensor->f, y = b.tensor->f;
    HostTensor &r = result(n, 0);
    r.shape = a.shape;
    r.f.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      r.f[i] = roundTo(r.dtype, x[i] + y[i]);
    return okStatus();
  }
  case OpKind::SiluMul: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    std::vector<float> g = a.tensor->f, u;
    int64_t rows = a.shape[0], width, gs = a.shape[1], us;
    const float *up;
    if (n.operands.size() == 2) {
      INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], b));
      if (b.shape != a.shape)
        return invalidArgumentError(where + ": gate and up shapes differ");
      u = b.tensor->f;
      width = a.shape[1];
      up = u.data();
      us = width;
    } else {
      if (a.shape[1] % 2)
        return invalidArgumentError(where + ": packed [gate | up] width " +
                                    std::to_string(a.shape[1]) + " is odd");
      width = a.shape[1] / 2;
      up = g.data() + width;
      us = gs;
    }
    HostTensor &r = result(n, 0);
    r.shape = {rows, width};
    r.f.resize(static_cast<size_t>(rows * width));
    cpu::siluMul(g.data(), gs, up, us, rows, width, r.dtype, r.f.data());
    return okStatus();
  }
  case OpKind::Slice: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    int64_t off = 0;
    getIntAttr(at, "offset", off);
    const ValueInfo *v = art->value(n.results[0]);
    int64_t width = v->shape.size() == 2 ? v->shape[1] : -1;
    if (width < 0 || off + width > a.shape[1])
      return invalidArgumentError(where + ": columns [" + std::to_string(off) +
                                  ", " + std::to_string(off + width) +
                                  ") are not inside the input width " +
                                  std::to_string(a.shape[1]));
    std::vector<float> x = a.tensor->f;
    HostTensor &r = result(n, 0);
    r.shape = {a.shape[0], width};
    r.f.resize(static_cast<size_t>(a.shape[0] * width));
    for (int64_t t = 0; t < a.shape[0]; ++t)
      for (int64_t c = 0; c < width; ++c)
        r.f[t * width + c] = roundTo(r.dtype, x[t * a.shape[1] + off + c]);
    return okStatus();
  }
  case OpKind::GatherTokens: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    const HostTensor *idx;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[1], idx));
    std::vector<float> x = a.tensor->f;
    std::vector<int32_t> rows = idx->i;
    const int64_t H = a.shape[1];
    HostTensor &r = result(n, 0);
    r.shape = {static_cast<int64_t>(rows.size()), H};
    r.f.resize(rows.size() * H);
    for (size_t s = 0; s < rows.size(); ++s) {
      if (rows[s] < 0 || rows[s] >= a.shape[0])
        return invalidArgumentError(where + ": index " +
                                    std::to_string(rows[s]) +
                                    " is not a row of the input");
      for (int64_t c = 0; c < H; ++c)
        r.f[s * H + c] = roundTo(r.dtype, x[rows[s] * H + c]);
    }
    return okStatus();
  }
  case OpKind::Linear: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], b));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    INFER_RETURN_IF_ERROR(expectRank(where, "weight", b.shape, 2));
    const int64_t T = a.shape[0], K = a.shape[1], N = b.shape[0];
    if (b.shape[1] != K)
      return invalidArgumentError(where + ": input width " + std::to_string(K) +
                                  " != weight K " + std::to_string(b.shape[1]));
    std::vector<float> x = a.tensor->f, bias, residual;
    Operand o;
    double eps = 0;
    bool hasEps = getFloatAttr(at, "norm_epsilon", eps);
    if (int64_t id = n.role("norm_weight"); id >= 0 || hasEps) {
      // Without norm_weight (folded into the weight's columns) only the RMS
      // scale applies.
      std::vector<float> w;
      if (id >= 0) {
        INFER_RETURN_IF_ERROR(floatOperand(n, id, o));
        w = o.toVector();
        if (static_cast<int64_t>(w.size()) != K)
          return invalidArgumentError(where + ": norm weight length != K");
      }
      std::vector<float> xn(x.size());
      cpu::rmsNorm(x.data(), T, K, w.empty() ? nullptr : w.data(),
                   static_cast<float>(eps), a.dtype, xn.data());
      x.swap(xn);
    }
    if (int64_t id = n.role("bias"); id >= 0) {
      INFER_RETURN_IF_ERROR(floatOperand(n, id, o));
      bias = o.toVector();
      if (static_cast<int64_t>(bias.size()) != N)
        return invalidArgumentError(where + ": bias length != N");
    }
    if (int64_t id = n.role("residual"); id >= 0) {
      INFER_RETURN_IF_ERROR(floatOperand(n, id, o));
      if (o.shape != std::vector<int64_t>{T, N})
        return invalidArgumentError(where + ": residual shape " +
                                    shapeToString(o.shape) + " != result " +
                                    shapeToString({T, N}));
      residual = o.toVector();
    }
    // activation = "silu_mul": the [T, N] output as above (rounded to the
    // result dtype), then silu_mul of its [gate | up] halves. Artifact
    // validation guarantees the value, no residual and an even N.
    const bool gated = at.contains("activation");
    cpu::MatrixRef w = b.matrix();
    HostTensor &r = result(n, 0);
    std::vector<float> y(gated ? static_cast<size_t>(T * N) : 0);
    if (!gated) {
      r.shape = {T, N};
      r.f.resize(static_cast<size_t>(T * N));
    }
    cpu::linear(x.data(), T, w, bias.empty() ? nullptr : bias.data(),
                residual.empty() ? nullptr : residual.data(), r.dtype,
                gated ? y.data() : r.f.data(), numThreads);
    if (gated) {
      const int64_t half = N / 2;
      r.shape = {T, half};
      r.f.resize(static_cast<size_t>(T * half));
      cpu::siluMul(y.data(), N, y.data() + half, N, T, half, r.dtype,
                   r.f.data());
    }
    return okStatus();
  }
  case OpKind::Rope: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "input", a.shape, 2));
    const HostTensor *pos;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[1], pos));
    int64_t hd = 0;
    getIntAttr(at, "head_dim", hd);
    if (hd % 2 || a.shape[1] % hd || pos->numel() != a.shape[0])
      return invalidArgumentError(where + ": input " + shapeToString(a.shape) +
                                  " is not whole heads of even head_dim " +
                                  std::to_string(hd) +
                                  " with one position "
                                  "per row");
    cpu::RopeParams p;
    INFER_RETURN_IF_ERROR(ropeParams(at, p, where));
    std::vector<float> x = a.tensor->f;
    std::vector<int32_t> positions = pos->i;
    HostTensor &r = result(n, 0);
    r.shape = a.shape;
    r.f = std::move(x);
    cpu::rope(r.f.data(), a.shape[1], a.shape[0], a.shape[1] / hd, hd,
              positions.data(), cpu::ropeInvFreq(hd, p), r.dtype);
    return okStatus();
  }
  case OpKind::KvAppend:
  case OpKind::RopeAppend: {
    cpu::KvPool kvp = kvPoolRef();
    const int64_t rowSize = kvp.kvHeads * kvp.headDim;
    int64_t layer = 0;
    getIntAttr(at, "layer", layer);
    const HostTensor *slots;
    if (n.kind == OpKind::KvAppend) {
      INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], a));
      INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[2], b));
      INFER_RETURN_IF_ERROR(intOperand(n, n.operands[3], slots));
      if (a.shape != std::vector<int64_t>{slots->numel(), rowSize} ||
          b.shape != a.shape)
        return invalidArgumentError(
            where + ": key/value must be [tokens, kv_heads*head_dim] = " +
            shapeToString({slots->numel(), rowSize}) + ", got " +
            shapeToString(a.shape) + " and " + shapeToString(b.shape));
      INFER_RETURN_IF_ERROR(cpu::kvAppend(kvp, layer, a.tensor->f.data(),
                                          rowSize, b.tensor->f.data(), rowSize,
                                          slots->i.data(), slots->numel()));
      result(n, 0);
      return okStatus();
    }
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[1], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "qkv", a.shape, 2));
    const HostTensor *pos;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[2], pos));
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[3], slots));
    int64_t nh = 0;
    getIntAttr(at, "num_heads", nh);
    const int64_t T = a.shape[0], qw = nh * kvp.headDim,
                  width = qw + 2 * rowSize;
    if (a.shape[1] != width || pos->numel() != T || slots->numel() != T)
      return invalidArgumentError(
          where +
          ": qkv must be [tokens, (num_heads + 2*kv_heads) * "
          "head_dim] = " +
          shapeToString({T, width}) +
          " with a position and slot per row, "
          "got " +
          shapeToString(a.shape));
    cpu::RopeParams p;
    INFER_RETURN_IF_ERROR(ropeParams(at, p, where));
    std::vector<float> qkv = a.tensor->f;
    std::vector<float> inv = cpu::ropeInvFreq(kvp.headDim, p);
    cpu::rope(qkv.data(), width, T, nh, kvp.headDim, pos->i.data(), inv,
              a.dtype);
    cpu::rope(qkv.data() + qw, width, T, kvp.kvHeads, kvp.headDim,
              pos->i.data(), inv, a.dtype);
    INFER_RETURN_IF_ERROR(cpu::kvAppend(kvp, layer, qkv.data() + qw, width,
                                        qkv.data() + qw + rowSize, width,
                                        slots->i.data(), T));
    HostTensor &q = result(n, 0);
    q.shape = {T, qw};
    q.f.resize(static_cast<size_t>(T * qw));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < qw; ++c)
        q.f[t * qw + c] = roundTo(q.dtype, qkv[t * width + c]);
    result(n, 1);
    return okStatus();
  }
  case OpKind::PagedAttention: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "query", a.shape, 2));
    const HostTensor *bt, *ctx, *qs;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[2], bt));
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[3], ctx));
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[4], qs));
    cpu::KvPool kvp = kvPoolRef();
    cpu::AttentionArgs args;
    getIntAttr(at, "layer", args.layer);
    getIntAttr(at, "num_heads", args.numHeads);
    double scale = 0;
    getFloatAttr(at, "scale", scale);
    args.scale = static_cast<float>(scale);
    getIntAttr(at, "sliding_window", args.slidingWindow);
    args.numSeqs = ctx->numel();
    args.tableWidth = bt->shape.size() == 2 ? bt->shape[1] : 0;
    if (qs->numel() != args.numSeqs + 1 || bt->shape.size() != 2 ||
        bt->shape[0] != args.numSeqs)
      return invalidArgumentError(where + ": needs B block-table rows, B "
                                          "context lengths and B+1 query "
                                          "starts");
    if (a.shape[1] != args.numHeads * kvp.headDim)
      return invalidArgumentError(where + ": query width " +
                                  std::to_string(a.shape[1]) +
                                  " != num_heads * head_dim");
    args.blockTables = bt->i.data();
    args.contextLens = ctx->i.data();
    args.queryStart = qs->i.data();
    std::vector<float> q = a.tensor->f;
    HostTensor &r = result(n, 0);
    r.shape = a.shape;
    r.f.resize(q.size());
    return cpu::pagedAttention(kvp, q.data(), a.shape[0], args, r.dtype,
                               r.f.data());
  }
  case OpKind::Sample: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "logits", a.shape, 2));
    const HostTensor &temp = vals[n.operands[1]], &topP = vals[n.operands[3]],
                     &seeds = vals[n.operands[4]];
    const HostTensor *topK;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[2], topK));
    const int64_t S = a.shape[0], V = a.shape[1];
    if (static_cast<int64_t>(temp.f.size()) != S ||
        static_cast<int64_t>(topP.f.size()) != S || topK->numel() != S ||
        static_cast<int64_t>(seeds.l.size()) != S)
      return invalidArgumentError(where + ": temperature, top_k, top_p and "
                                          "seeds need one entry per row");
    std::vector<float> logits =
        a.matrix().dtype == DType::F32 && a.tensor ? a.tensor->f : a.toVector();
    HostTensor &r = result(n, 0);
    r.shape = {S};
    r.i.resize(static_cast<size_t>(S));
    for (int64_t s = 0; s < S; ++s)
      r.i[s] = sampleRow(logits.data() + s * V, V, temp.f[s], topK->i[s],
                         topP.f[s], static_cast<uint64_t>(seeds.l[s]));
    return okStatus();
  }
  case OpKind::SpecAccept: {
    INFER_RETURN_IF_ERROR(floatOperand(n, n.operands[0], a));
    INFER_RETURN_IF_ERROR(expectRank(where, "target_logits", a.shape, 3));
    const HostTensor *draft;
    INFER_RETURN_IF_ERROR(intOperand(n, n.operands[1], draft));
    const int64_t B = a.shape[0], K = a.shape[1] - 1, V = a.shape[2];
    if (draft->shape != std::vector<int64_t>{B, K})
      return invalidArgumentError(where + ": draft_tokens must be " +
                                  shapeToString({B, K}));
    bool rejection = at.value("mode", std::string()) == "rejection";
    std::vector<float> logits = a.toVector(), probs;
    const HostTensor *seeds = nullptr;
    if (rejection) {
      int64_t pid = n.role("draft_probs"), sid = n.role("seeds");
      if (pid < 0 || sid < 0)
        return invalidArgumentError(where + ": rejection mode needs the "
                                            "'draft_probs' and 'seeds' roles");
      Operand p;
      INFER_RETURN_IF_ERROR(floatOperand(n, pid, p));
      if (p.shape != std::vector<int64_t>{B, K, V})
        return invalidArgumentError(where + ": draft_probs must be " +
                                    shapeToString({B, K, V}));
      probs = p.toVector();
      seeds = &vals[sid];
      if (static_cast<int64_t>(seeds->l.size()) != B)
        return invalidArgumentError(where + ": seeds must be i64 [B]");
    }
    HostTensor &acc = result(n, 0);
    acc.shape = {B};
    acc.i.resize(static_cast<size_t>(B));
    HostTensor &bonus = result(n, 1);
    bonus.shape = {B};
    bonus.i.resize(static_cast<size_t>(B));
    for (int64_t s = 0; s < B; ++s) {
      const float *lg = logits.data() + s * (K + 1) * V;
      SpecAcceptResult res =
          rejection ? specAcceptRejection(lg, probs.data() + s * K * V,
                                          draft->i.data() + s * K, K, V,
                                          static_cast<uint64_t>(seeds->l[s]))
                    : specAcceptGreedy(lg, draft->i.data() + s * K, K, V);
      acc.i[s] = res.accepted;
      bonus.i[s] = res.bonus;
    }
    return okStatus();
  }
  }
  return internalError("unhandled op " + n.op);
}

//===- CpuBackend.cpp - Reference backend: the graph in plain C++ --------===//

#include "infer/runtime/CpuBackend.h"
#include "infer/runtime/Sampling.h"

#include <algorithm>
#include <cmath>

using namespace infer;
using namespace infer::runtime;
using artifact::OpKind;
using json = nlohmann::json;

namespace {
bool isFloatActivation(DType d) {
  return d == DType::BF16 || d == DType::F16 || d == DType::F32;
}

} // namespace

cpu::MatrixRef CpuBackend::Operand::matrix() const {
  cpu::MatrixRef m;
  m.rows = shape.empty() ? 0 : shape[0];
  m.cols = shape.size() > 1 ? shape[1] : 1;
  if (weight) {
    m.dtype = weight->dtype;
    m.data = weight->data;
  } else {
    m.dtype = DType::F32;
    m.data = reinterpret_cast<const uint8_t *>(tensor->f.data());
  }
  return m;
}

std::vector<float> CpuBackend::Operand::toVector() const {
  if (tensor)
    return tensor->f;
  cpu::MatrixRef m = matrix();
  int64_t n = numElements(shape);
  std::vector<float> v(static_cast<size_t>(n));
  m.rows = 1;
  m.cols = n;
  m.row(0, v.data());
  return v;
}

cpu::KvPool CpuBackend::kvPoolRef() {
  const KvCacheInfo &kv = art->kvCache();
  cpu::KvPool p;
  p.data = pool.data();
  p.numBlocks = numBlocks;
  p.layers = kv.layers;
  p.kvHeads = kv.kvHeads;
  p.blockSize = kv.blockSize;
  p.headDim = kv.headDim;
  return p;
}

StatusOr<std::unique_ptr<CpuBackend>>
CpuBackend::create(std::shared_ptr<const Artifact> artifact,
                   std::shared_ptr<const SafeTensors> weights,
                   const BackendOptions &options) {
  if (!artifact || !weights)
    return invalidArgumentError("CpuBackend needs an artifact and weights");
  std::unique_ptr<CpuBackend> b(new CpuBackend());
  b->art = std::move(artifact);
  b->checkpoint = std::move(weights);
  b->numThreads = options.numThreads;
  const KvCacheInfo &kv = b->art->kvCache();
  bool needsKv = false;
  for (const GraphNode &n : b->art->nodes())
    needsKv |= n.kind == OpKind::KvAppend || n.kind == OpKind::RopeAppend ||
               n.kind == OpKind::PagedAttention;
  if (needsKv) {
    if (kv.dtype != DType::BF16)
      return invalidArgumentError(
          b->art->name() +
          ": the CPU backend supports a bf16 KV cache only, "
          "this artifact uses " +
          dtypeName(kv.dtype));
    if (options.numKvBlocks <= 0)
      return invalidArgumentError("the KV pool needs at least one block "
                                  "(--kv-blocks)");
    size_t elems = static_cast<size_t>(options.numKvBlocks) *
                   static_cast<size_t>(kv.blockElements());
    b->pool.assign(elems, 0);
  }
  b->numBlocks = std::max(options.numKvBlocks, 0);
  INFER_RETURN_IF_ERROR(b->bindWeights(*b->checkpoint, options.progress));

  // Last reader of every value, so that intermediate buffers can be dropped.
  b->lastUse.assign(b->art->maxValueId() + 1, -1);
  const auto &nodes = b->art->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int64_t id : nodes[i].operands)
      b->lastUse[id] = static_cast<int64_t>(i);
    for (const auto &r : nodes[i].roles)
      b->lastUse[r.second] = static_cast<int64_t>(i);
  }
  for (const auto &o : b->art->outputs())
    b->lastUse[o.second] = static_cast<int64_t>(nodes.size());
  b->vals.resize(b->art->maxValueId() + 1);
  return b;
}

Status CpuBackend::bindWeights(const SafeTensors &st,
                               const ProgressFn &progress) {
  weightsById.resize(art->maxValueId() + 1);
  size_t total = 0, done = 0;
  for (const GraphNode &n : art->nodes())
    if (n.kind == OpKind::Weight) {
      const ValueInfo *v = art->value(n.results[0]);
      total += static_cast<size_t>(numElements(v->shape)) * dtypeSize(v->dtype);
    }
  const auto &nodes = art->nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const GraphNode &n = nodes[i];
    if (n.kind != OpKind::Weight)
      continue;
    const ValueInfo *v = art->value(n.results[0]);
    std::string where = art->name() + ": weight node " + std::to_string(i);
    if (!isFloatActivation(v->dtype))
      return invalidArgumentError(where + " has dtype " + dtypeName(v->dtype) +
                                  "; the CPU backend binds bf16, f16 and f32 "
                                  "weights only");
    std::vector<const TensorView *> parts;
    std::vector<std::string> names;
    int64_t rows = 0;
    for (const json &j : n.attrs["names"]) {
      std::string name = j.get<std::string>();
      const TensorView *t = st.find(name);
      if (!t)
        return notFoundError(where + ": checkpoint tensor '" + name +
                             "' not found in the weights (are they the "
                             "checkpoint this artifact was compiled from?)");
      if (!isFloatActivation(t->dtype))
        return invalidArgumentError(
            where + ": checkpoint tensor '" + name + "' has dtype " +
            safeTensorsDTypeName(t->dtype) + "; expected BF16, F16 or F32");
      bool shapeOk = t->shape.size() == v->shape.size();
      if (shapeOk && v->shape.size() == 2)
        shapeOk = t->shape[1] == v->shape[1];
      if (shapeOk && n.attrs["names"].size() == 1)
        shapeOk = t->shape == v->shape;
      if (!shapeOk)
        return invalidArgumentError(
            where + ": checkpoint tensor '" + name + "' has shape " +
            shapeToString(t->shape) + ", the artifact expects " +
            (n.attrs["names"].size() == 1 ? shapeToString(v->shape)
             : v->shape.size() == 2
                 ? "rows of width " + std::to_string(v->shape[1])
                 : std::string("rank 1")) +
            " (artifact compiled for a different config?)");
      rows += t->shape[0];
      parts.push_back(t);
      names.push_back(name);
    }
    if (rows != v->shape[0])
      return invalidArgumentError(
          where + ": packed tensors have " + std::to_string(rows) +
          " rows in all, the artifact expects " + std::to_string(v->shape[0]));
    auto w = std::make_unique<BoundWeight>();
    w->dtype = v->dtype;
    w->shape = v->shape;
    auto scaleName = n.attrs.find("column_scale");
    if (scaleName != n.attrs.end()) {
      // The folded norm weight: scaled copies, never zero copy.
      INFER_ASSIGN_OR_RETURN(std::vector<float> scale,
                             readColumnScale(st, scaleName->get<std::string>(),
                                             v->shape[1], where));
      size_t elemSize = dtypeSize(v->dtype);
      w->owned.resize(static_cast<size_t>(numElements(v->shape)) * elemSize);
      uint8_t *dst = w->owned.data();
      for (size_t p = 0; p < parts.size(); ++p) {
        if (!scaleColumns(*parts[p], scale, v->dtype, dst))
          return invalidArgumentError(where +
                                      ": cannot scale checkpoint "
                                      "tensor '" +
                                      names[p] + "' by its column scale");
        dst += static_cast<size_t>(parts[p]->numel()) * elemSize;
      }
      w->data = w->owned.data();
    } else if (parts.size() == 1 && parts[0]->dtype == v->dtype) {
      w->data = parts[0]->data; // Zero copy: the mapped checkpoint.
    } else {
      size_t elemSize = dtypeSize(v->dtype);
      w->owned.resize(static_cast<size_t>(numElements(v->shape)) * elemSize);
      uint8_t *dst = w->owned.data();
      for (const TensorView *t : parts) {
        if (t->dtype == v->dtype) {
          std::memcpy(dst, t->data, t->byteSize);
          dst += t->byteSize;
          continue;
        }
        for (int64_t e = 0; e < t->numel(); ++e, dst += elemSize) {
          float f = t->getFloat(e);
          if (v->dtype == DType::F32) {
            std::memcpy(dst, &f, 4);
          } else {
            uint16_t bits =
                v->dtype == DType::BF16 ? floatToBf16(f) : floatToF16(f);
            std::memcpy(dst, &bits, 2);
          }
        }
      }
      w->data = w->owned.data();
    }
    weightsById[n.results[0]] = std::move(w);
    done += static_cast<size_t>(numElements(v->shape)) * dtypeSize(v->dtype);
    if (progress)
      progress(done, total);
  }
  return okStatus();
}

Status CpuBackend::setInputs(const StepBatch &b, const StepExtras *extras) {
  const int64_t T = b.numTokens(), B = b.numSeqs(),
                S = static_cast<int64_t>(b.logitsIndices.size());
  auto mismatch = [](const std::string &what) {
    return invalidArgumentError("step batch: " + what);
  };
  if (static_cast<int64_t>(b.positions.size()) != T ||
      static_cast<int64_t>(b.slotMapping.size()) != T)
    return mismatch("positions and slotMapping need one entry per token");
  if (static_cast<int64_t>(b.queryStartLoc.size()) != B + 1 ||
      static_cast<int64_t>(b.contextLens.size()) != B)
    return mismatch("queryStartLoc needs B+1 and contextLens B entries");
  if (static_cast<int64_t>(b.blockTables.size()) !=
      B * static_cast<int64_t>(b.blockTableWidth))
    return mismatch("blockTables must hold B x blockTableWidth entries");
  if (static_cast<int64_t>(b.samplingParams.size()) != S)
    return mismatch("samplingParams needs one entry per logitsIndices entry");
  for (int32_t i : b.logitsIndices)
    if (i < 0 || i >= T)
      return mismatch("logits index " + std::to_string(i) +
                      " is not a token of the step");

  for (HostTensor &v : vals) {
    v.shape.clear();
    v.f.clear();
    v.i.clear();
    v.l.clear();
  }
  for (const auto &[name, id] : art->inputs()) {
    HostTensor &t = vals[id];
    t.dtype = DType::I32;
    if (name == "tokens") {
      t.shape = {T};
      t.i = b.tokenIds;
    } else if (name == "positions") {
      t.shape = {T};
      t.i = b.positions;
    } else if (name == "slots") {
      t.shape = {T};
      t.i = b.slotMapping;
    } else if (name == "block_tables") {
      t.shape = {B, b.blockTableWidth};
      t.i = b.blockTables;
    } else if (name == "context_lens") {
      t.shape = {B};
      t.i = b.contextLens;
    } else if (name == "query_start") {
      t.shape = {B + 1};
      t.i = b.queryStartLoc;
    } else if (name == "logits_indices") {
      t.shape = {S};
      t.i = b.logitsIndices;
    } else if (name == "temperature" || name == "top_p") {
      t.dtype = DType::F32;
      t.shape = {S};
      for (const SamplingParams &p : b.samplingParams)
        t.f.push_back(name == "top_p" ? p.topP : p.temperature);
    } else if (name == "top_k") {
      t.shape = {S};
      for (const SamplingParams &p : b.samplingParams)
        t.i.push_back(p.topK);
    } else if (name == "seeds") {
      t.dtype = DType::I64;
      t.shape = {S};
      for (int64_t s = 0; s < S; ++s)
        t.l.push_back(static_cast<int64_t>(sampleSeed(
            b.samplingParams[s].seed, b.positions[b.logitsIndices[s]] + 1)));
    } else if (name == "kv_cache") {
      t.dtype = DType::KVCache;
    } else {
      const HostTensor *given = nullptr;
      if (extras) {
        auto it = extras->inputs.find(name);
        if (it != extras->inputs.end())
          given = &it->second;
      }
      if (!given)
        return invalidArgumentError("the step graph needs input '" + name +
                                    "', which this call did not provide "
                                    "(pass it in StepExtras)");
      t = *given;
    }
  }
  return okStatus();
}

Status CpuBackend::floatOperand(const GraphNode &node, int64_t id,
                                Operand &op) {
  op = Operand();
  if (id >= 0 && static_cast<size_t>(id) < weightsById.size() &&
      weightsById[id]) {
    op.weight = weightsById[id].get();
    op.dtype = op.weight->dtype;
    op.shape = op.weight->shape;
    return okStatus();
  }
  const HostTensor &t = vals[id];
  if (!isFloatActivation(t.dtype) ||
      static_cast<int64_t>(t.f.size()) != t.numel())
    return internalError(node.op + ": operand " + std::to_string(id) +
                         " is not a computed float tensor");
  op.tensor = &t;
  op.dtype = t.dtype;
  op.shape = t.shape;
  return okStatus();
}

Status CpuBackend::intOperand(const GraphNode &node, int64_t id,
                              const HostTensor *&t) {
  t = &vals[id];
  if (t->dtype != DType::I32 || static_cast<int64_t>(t->i.size()) != t->numel())
    return invalidArgumentError(node.op + ": operand " + std::to_string(id) +
                                " must be an i32 tensor");
  return okStatus();
}

HostTensor &CpuBackend::result(const GraphNode &node, size_t i) {
  HostTensor &t = vals[node.results[i]];
  t.dtype = art->value(node.results[i])->dtype;
  return t;
}

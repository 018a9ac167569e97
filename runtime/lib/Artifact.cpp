//===- Artifact.cpp - Reader of the .art container and graph -------------===//

#include "infer/runtime/Artifact.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

using namespace infer;
using namespace infer::runtime;
using json = nlohmann::json;

namespace {
uint64_t readLE(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

const artifact::OpSpec *findOp(const std::string &name) {
  for (const artifact::OpSpec &s : artifact::kOpSpecs)
    if (name == s.name)
      return &s;
  return nullptr;
}

bool getInt(const json &obj, const char *key, int64_t &out) {
  if (!obj.is_object())
    return false;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer())
    return false;
  out = it->get<int64_t>();
  return true;
}

std::string knownOps() {
  std::string s;
  for (const artifact::OpSpec &o : artifact::kOpSpecs)
    s += (s.empty() ? "" : ", ") + std::string(o.name);
  return s;
}
} // namespace

bool infer::runtime::getIntAttr(const json &attrs, const char *name,
                                int64_t &out) {
  return getInt(attrs, name, out);
}

bool infer::runtime::getFloatAttr(const json &attrs, const char *name,
                                  double &out) {
  if (!attrs.is_object())
    return false;
  auto it = attrs.find(name);
  if (it == attrs.end() || !it->is_number())
    return false;
  out = it->get<double>();
  return true;
}

StatusOr<std::shared_ptr<Artifact>> Artifact::load(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return notFoundError(
        path + ": cannot open artifact: " + std::strerror(errno) +
        " (produce one with infer-compile <model> -o " + path + ")");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return parse(std::move(bytes), path);
}

StatusOr<std::shared_ptr<Artifact>> Artifact::parse(std::vector<uint8_t> bytes,
                                                    const std::string &name) {
  std::shared_ptr<Artifact> a(new Artifact());
  a->bytes = std::move(bytes);
  a->sourceName = name;
  INFER_RETURN_IF_ERROR(a->validate());
  return a;
}

const ValueInfo *Artifact::value(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(values.size()) || !values[id])
    return nullptr;
  return &*values[id];
}

Status Artifact::validate() {
  auto bad = [&](const std::string &msg) {
    return dataLossError(sourceName + ": " + msg);
  };
  if (bytes.size() < artifact::kHeaderOffset ||
      std::memcmp(bytes.data(), artifact::kMagic, 8) != 0)
    return bad("not an infer artifact (magic 'INFERART' missing); produce "
               "one with infer-compile");
  uint32_t version =
      static_cast<uint32_t>(readLE(bytes.data() + artifact::kVersionOffset, 4));
  if (version != artifact::kVersion)
    return bad("format version " + std::to_string(version) +
               " is not supported (this runtime reads version " +
               std::to_string(artifact::kVersion) +
               "); recompile with a matching infer-compile");
  uint64_t headerLen = readLE(bytes.data() + artifact::kHeaderLengthOffset, 8);
  if (headerLen > bytes.size() - artifact::kHeaderOffset)
    return bad("header length " + std::to_string(headerLen) +
               " runs past the end of the " + std::to_string(bytes.size()) +
               "-byte file (truncated?)");
  const char *h =
      reinterpret_cast<const char *>(bytes.data() + artifact::kHeaderOffset);
  headerJson = json::parse(h, h + headerLen, nullptr, false);
  if (headerJson.is_discarded() || !headerJson.is_object())
    return bad("header is not a JSON object");

  // model
  auto m = headerJson.find("model");
  if (m == headerJson.end() || !m->is_object())
    return bad("header field 'model' is missing or not an object");
  if (!getInt(*m, "vocab_size", modelInfo.vocabSize) ||
      modelInfo.vocabSize <= 0)
    return bad("model.vocab_size must be a positive integer");
  if (auto fam = m->find("family"); fam != m->end() && fam->is_string())
    modelInfo.family = fam->get<std::string>();
  getInt(*m, "hidden_size", modelInfo.hiddenSize);
  getInt(*m, "num_layers", modelInfo.numLayers);
  getInt(*m, "num_heads", modelInfo.numHeads);
  getInt(*m, "num_kv_heads", modelInfo.numKvHeads);
  getInt(*m, "head_dim", modelInfo.headDim);
  getInt(*m, "intermediate_size", modelInfo.intermediateSize);
  getInt(*m, "max_position", modelInfo.maxPosition);
  int64_t bos;
  if (getInt(*m, "bos_token_id", bos))
    modelInfo.bosTokenId = bos;
  if (auto eos = m->find("eos_token_ids"); eos != m->end()) {
    if (!eos->is_array())
      return bad("model.eos_token_ids must be an array of integers");
    for (const json &e : *eos) {
      if (!e.is_number_integer())
        return bad("model.eos_token_ids must be an array of integers");
      modelInfo.eosTokenIds.push_back(e.get<int64_t>());
    }
  }
  if (auto t = m->find("tie_word_embeddings"); t != m->end() && t->is_boolean())
    modelInfo.tieWordEmbeddings = t->get<bool>();

  // kv_cache
  bool hasKv = false;
  if (auto kv = headerJson.find("kv_cache"); kv != headerJson.end()) {
    hasKv = true;
    if (!kv->is_object() || !getInt(*kv, "layers", kvInfo.layers) ||
        !getInt(*kv, "kv_heads", kvInfo.kvHeads) ||
        !getInt(*kv, "head_dim", kvInfo.headDim) ||
        !getInt(*kv, "block_size", kvInfo.blockSize) || kvInfo.layers <= 0 ||
        kvInfo.kvHeads <= 0 || kvInfo.headDim <= 0 || kvInfo.blockSize <= 0)
      return bad("kv_cache needs positive integers 'layers', 'kv_heads', "
                 "'head_dim' and 'block_size'");
    auto dt = kv->find("dtype");
    if (dt == kv->end() || !dt->is_string() ||
        !parseDType(dt->get<std::string>(), kvInfo.dtype))
      return bad("kv_cache.dtype must be one of bf16, f8E4M3FN, i8");
  }

  auto g = headerJson.find("graph");
  if (g == headerJson.end() || !g->is_object())
    return bad("header field 'graph' is missing or not an object");
  INFER_RETURN_IF_ERROR(parseGraph(*g));
  for (const GraphNode &n : graphNodes)
    if ((n.kind == artifact::OpKind::KvAppend ||
         n.kind == artifact::OpKind::RopeAppend ||
         n.kind == artifact::OpKind::PagedAttention) &&
        !hasKv)
      return bad("graph uses '" + n.op + "' but the header has no kv_cache");

  // kernels
  if (auto ks = headerJson.find("kernels"); ks != headerJson.end()) {
    if (!ks->is_array())
      return bad("'kernels' must be an array");
    for (size_t i = 0; i < ks->size(); ++i) {
      const json &k = (*ks)[i];
      std::string where = "kernels[" + std::to_string(i) + "]";
      if (!k.is_object())
        return bad(where + " is not an object");
      KernelInfo info;
      info.raw = k;
      if (auto nm = k.find("name"); nm != k.end() && nm->is_string())
        info.name = nm->get<std::string>();
      if (auto ar = k.find("arch"); ar != k.end() && ar->is_string())
        info.arch = ar->get<std::string>();
      for (const char *field : {"cubin", "ptx", "fatbin", "llvm"}) {
        auto b = k.find(field);
        if (b == k.end())
          continue;
        int64_t off, size;
        if (!getInt(*b, "offset", off) || !getInt(*b, "size", size) ||
            off < 0 || size < 0)
          return bad(where + "." + field +
                     " needs non-negative integers 'offset' and 'size'");
        if (static_cast<uint64_t>(off) > bytes.size() ||
            static_cast<uint64_t>(size) > bytes.size() - off)
          return bad(where + "." + field + " blob [" + std::to_string(off) +
                     ", " + std::to_string(off + size) + ") lies outside the " +
                     std::to_string(bytes.size()) + "-byte file (truncated?)");
        if (off % artifact::kBlobAlignment != 0)
          return bad(where + "." + field + " offset " + std::to_string(off) +
                     " is not 256-byte aligned");
        BlobRange r{static_cast<uint64_t>(off), static_cast<uint64_t>(size)};
        info.blobs[field] = r;
        if (std::string(field) == "cubin")
          info.cubin = r;
        else if (std::string(field) == "ptx")
          info.ptx = r;
      }
      kernelInfos.push_back(std::move(info));
    }
  }
  return okStatus();
}

Status Artifact::parseGraph(const json &g) {
  auto bad = [&](const std::string &msg) {
    return dataLossError(sourceName + ": graph: " + msg);
  };
  auto vs = g.find("values");
  if (vs == g.end() || !vs->is_array())
    return bad("'values' must be an array");
  for (size_t i = 0; i < vs->size(); ++i) {
    const json &v = (*vs)[i];
    std::string where = "values[" + std::to_string(i) + "]";
    ValueInfo info;
    if (!getInt(v, "id", info.id) || info.id < 0 || info.id > (1 << 24))
      return bad(where + " needs a non-negative integer 'id'");
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string() ||
        !parseDType(dt->get<std::string>(), info.dtype))
      return bad(where + " (id " + std::to_string(info.id) +
                 ") has an unknown dtype; expected bf16, f16, f32, i32, i64 "
                 "or kv_cache");
    if (auto sh = v.find("shape"); sh != v.end()) {
      if (!sh->is_array())
        return bad(where + ".shape must be an array");
      for (const json &d : *sh) {
        if (!d.is_number_integer() || d.get<int64_t>() < -1)
          return bad(where + ".shape entries must be integers >= -1");
        info.shape.push_back(d.get<int64_t>());
      }
    }
    if (info.id >= static_cast<int64_t>(values.size()))
      values.resize(info.id + 1);
    if (values[info.id])
      return bad("value id " + std::to_string(info.id) + " is listed twice");
    values[info.id] = std::move(info);
  }

  std::vector<bool> defined(values.size(), false);
  auto checkId = [&](const json &j, const std::string &where,
                     int64_t &id) -> Status {
    if (!j.is_number_integer())
      return bad(where + " must be a value id (integer)");
    id = j.get<int64_t>();
    if (!value(id))
      return bad(where + " refers to value " + std::to_string(id) +
                 ", which is not in 'values'");
    return okStatus();
  };

  for (const char *which : {"inputs", "outputs"}) {
    auto io = g.find(which);
    if (io == g.end() || !io->is_object())
      return bad(std::string("'") + which + "' must be an object");
    bool isInput = std::string(which) == "inputs";
    auto &dst = isInput ? graphInputs : graphOutputs;
    for (auto it = io->begin(); it != io->end(); ++it) {
      int64_t id;
      INFER_RETURN_IF_ERROR(
          checkId(it.value(), std::string(which) + "." + it.key(), id));
      dst[it.key()] = id;
      if (isInput)
        defined[id] = true;
    }
  }
  if (graphOutputs.empty())
    return bad("'outputs' is empty; the step must return at least 'tokens'");

  auto ns = g.find("nodes");
  if (ns == g.end() || !ns->is_array())
    return bad("'nodes' must be an array");
  for (size_t i = 0; i < ns->size(); ++i) {
    const json &n = (*ns)[i];
    std::string where = "nodes[" + std::to_string(i) + "]";
    if (!n.is_object())
      return bad(where + " is not an object");
    auto op = n.find("op");
    if (op == n.end() || !op->is_string())
      return bad(where + " needs a string 'op'");
    GraphNode node;
    node.op = op->get<std::string>();
    if (node.op.rfind("decode.", 0) == 0)
      node.op = node.op.substr(7);
    const artifact::OpSpec *spec = findOp(node.op);
    if (!spec)
      return bad(where + ": unknown op '" + node.op + "' (known: " +
                 knownOps() + "); this runtime is older than the compiler");
    node.kind = spec->kind;
    where += " (" + node.op + ")";
    if (auto a = n.find("attrs"); a != n.end()) {
      if (!a->is_object())
        return bad(where + ".attrs must be an object");
      node.attrs = *a;
    }
    std::set<int64_t> roleIds;
    if (auto r = n.find("operand_roles"); r != n.end()) {
      if (!r->is_object())
        return bad(where + ".operand_roles must be an object");
      for (auto it = r->begin(); it != r->end(); ++it) {
        int64_t id;
        INFER_RETURN_IF_ERROR(
            checkId(it.value(), where + ".operand_roles." + it.key(), id));
        node.roles[it.key()] = id;
        roleIds.insert(id);
      }
    }
    auto ops = n.find("operands");
    if (ops != n.end() && !ops->is_array())
      return bad(where + ".operands must be an array");
    std::vector<int64_t> all;
    if (ops != n.end())
      for (size_t k = 0; k < ops->size(); ++k) {
        int64_t id;
        INFER_RETURN_IF_ERROR(checkId(
            (*ops)[k], where + ".operands[" + std::to_string(k) + "]", id));
        all.push_back(id);
      }
    // Operands past the positional ones must be named by a role.
    size_t positional = all.size();
    if (!node.roles.empty()) {
      while (positional > static_cast<size_t>(spec->minOperands) &&
             roleIds.count(all[positional - 1]))
        --positional;
    }
    node.operands.assign(all.begin(), all.begin() + positional);
    int numOperands =
        static_cast<int>(node.operands.size() + node.roles.size());
    if (static_cast<int>(node.operands.size()) < spec->minOperands ||
        numOperands > spec->maxOperands)
      return bad(where + " has " + std::to_string(numOperands) +
                 " operands, expected " + std::to_string(spec->minOperands) +
                 (spec->maxOperands != spec->minOperands
                      ? " to " + std::to_string(spec->maxOperands)
                      : std::string()));
    for (int64_t id : node.operands)
      if (!defined[id])
        return bad(where + " uses value " + std::to_string(id) +
                   " before it is defined");
    for (const auto &kv : node.roles)
      if (!defined[kv.second])
        return bad(where + " uses value " + std::to_string(kv.second) +
                   " (role " + kv.first + ") before it is defined");
    auto rs = n.find("results");
    if (rs == n.end() || !rs->is_array() ||
        static_cast<int>(rs->size()) != spec->numResults)
      return bad(where + " needs 'results' with " +
                 std::to_string(spec->numResults) + " value id(s)");
    for (size_t k = 0; k < rs->size(); ++k) {
      int64_t id;
      INFER_RETURN_IF_ERROR(
          checkId((*rs)[k], where + ".results[" + std::to_string(k) + "]", id));
      if (defined[id])
        return bad(where + " redefines value " + std::to_string(id));
      defined[id] = true;
      node.results.push_back(id);
    }
    // Attributes the executor needs.
    const json &at = node.attrs;
    int64_t iv;
    double fv;
    auto needInt = [&](const char *k, int64_t min) -> Status {
      if (!getInt(at, k, iv) || iv < min)
        return bad(where + ": attribute '" + k +
                   "' must be an integer >= " + std::to_string(min));
      return okStatus();
    };
    auto needPosFloat = [&](const char *k) -> Status {
      if (!getFloatAttr(at, k, fv) || !(fv > 0))
        return bad(where + ": attribute '" + k + "' must be a positive number");
      return okStatus();
    };
    switch (node.kind) {
    case artifact::OpKind::Weight: {
      auto names = at.find("names");
      if (names == at.end() || !names->is_array() || names->empty())
        return bad(where + ": attribute 'names' must be a non-empty array of "
                           "checkpoint tensor names");
      for (const json &s : *names)
        if (!s.is_string() || s.get<std::string>().empty())
          return bad(where + ": 'names' entries must be non-empty strings");
      const ValueInfo *v = value(node.results[0]);
      if (v->shape.empty() || v->shape.size() > 2)
        return bad(where + ": weight value must have rank 1 or 2");
      for (int64_t d : v->shape)
        if (d < 0)
          return bad(where + ": weight shape must be static");
      if (auto scale = at.find("column_scale"); scale != at.end()) {
        if (!scale->is_string() || scale->get<std::string>().empty())
          return bad(where + ": attribute 'column_scale' must be a non-empty "
                             "checkpoint tensor name");
        if (v->shape.size() != 2)
          return bad(where +
                     ": attribute 'column_scale' needs a rank-2 "
                     "weight, the value has shape " +
                     shapeToString(v->shape));
      }
      break;
    }
    case artifact::OpKind::RmsNorm:
      INFER_RETURN_IF_ERROR(needPosFloat("epsilon"));
      break;
    case artifact::OpKind::Slice:
      INFER_RETURN_IF_ERROR(needInt("offset", 0));
      break;
    case artifact::OpKind::Linear:
      for (const auto &kv : node.roles)
        if (kv.first != "bias" && kv.first != "residual" &&
            kv.first != "norm_weight")
          return bad(where + ": unknown operand role '" + kv.first + "'");
      // norm_epsilon alone: RMS scale without a weight.
      if (node.role("norm_weight") >= 0 || at.contains("norm_epsilon"))
        INFER_RETURN_IF_ERROR(needPosFloat("norm_epsilon"));
      if (auto act = at.find("activation"); act != at.end()) {
        // silu_mul: the weight packs [gate | up] rows; the result is
        // silu(gate) * up, half as wide.
        if (!act->is_string() || act->get<std::string>() != "silu_mul")
          return bad(where +
                     ": attribute 'activation' must be \"silu_mul\" "
                     "(the only accepted value), got " +
                     act->dump());
        if (node.role("residual") >= 0)
          return bad(where + ": attribute 'activation' cannot be combined "
                             "with the 'residual' role");
        const ValueInfo *w = value(node.operands[1]);
        const ValueInfo *r = value(node.results[0]);
        int64_t rows = w->shape.size() == 2 ? w->shape[0] : -1;
        int64_t cols = r->shape.size() == 2 ? r->shape[1] : -1;
        if (rows >= 0 && rows % 2)
          return bad(where +
                     ": attribute 'activation' \"silu_mul\" needs an even "
                     "number of weight rows ([gate | up]), the weight has " +
                     std::to_string(rows));
        if (rows >= 0 && cols >= 0 && rows != 2 * cols)
          return bad(where +
                     ": attribute 'activation' \"silu_mul\" needs weight "
                     "rows = 2 x result columns, the weight has " +
                     std::to_string(rows) + " rows and the result " +
                     std::to_string(cols) + " columns");
      }
      break;
    case artifact::OpKind::Rope:
      INFER_RETURN_IF_ERROR(needInt("head_dim", 1));
      INFER_RETURN_IF_ERROR(needPosFloat("theta"));
      break;
    case artifact::OpKind::KvAppend:
      INFER_RETURN_IF_ERROR(needInt("layer", 0));
      break;
    case artifact::OpKind::RopeAppend:
      INFER_RETURN_IF_ERROR(needInt("layer", 0));
      INFER_RETURN_IF_ERROR(needInt("num_heads", 1));
      INFER_RETURN_IF_ERROR(needPosFloat("theta"));
      break;
    case artifact::OpKind::PagedAttention:
      INFER_RETURN_IF_ERROR(needInt("layer", 0));
      INFER_RETURN_IF_ERROR(needInt("num_heads", 1));
      INFER_RETURN_IF_ERROR(needPosFloat("scale"));
      break;
    case artifact::OpKind::SpecAccept: {
      auto mode = at.find("mode");
      if (mode == at.end() || !mode->is_string() ||
          (mode->get<std::string>() != "greedy" &&
           mode->get<std::string>() != "rejection"))
        return bad(where + ": attribute 'mode' must be \"greedy\" or "
                           "\"rejection\"");
      break;
    }
    default:
      break;
    }
    if ((node.kind == artifact::OpKind::KvAppend ||
         node.kind == artifact::OpKind::RopeAppend ||
         node.kind == artifact::OpKind::PagedAttention)) {
      getInt(at, "layer", iv);
      if (headerJson.contains("kv_cache") && iv >= kvInfo.layers)
        return bad(where + ": layer " + std::to_string(iv) +
                   " is out of range; kv_cache has " +
                   std::to_string(kvInfo.layers) + " layers");
    }
    graphNodes.push_back(std::move(node));
  }
  for (const auto &kv : graphOutputs)
    if (!defined[kv.second])
      return bad("output '" + kv.first + "' (value " +
                 std::to_string(kv.second) + ") is never defined");
  return okStatus();
}

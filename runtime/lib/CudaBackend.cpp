//===- CudaBackend.cpp - Runs a compiled step on an NVIDIA GPU ------------===//

#include "infer/runtime/CudaBackend.h"

#include "infer/runtime/BlockAllocator.h"
#include "infer/runtime/Sampling.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>

namespace infer::runtime {

namespace {
constexpr size_t kAlign = 256;

size_t alignUp(size_t n, size_t a = kAlign) { return (n + a - 1) / a * a; }

/// Grid scales: the extent is grid * n, or ceil(grid / n) for the Per ones.
enum class Scale { One, Tokens, Seqs, Sampled, PerTokens, PerSeqs };
enum class ScalarKind { Tokens, Seqs, Sampled, Width, Layer, Launch };

bool parseScale(const std::string &s, Scale &out) {
  if (s == "one")
    out = Scale::One;
  else if (s == "tokens")
    out = Scale::Tokens;
  else if (s == "seqs")
    out = Scale::Seqs;
  else if (s == "sampled")
    out = Scale::Sampled;
  else if (s == "per_tokens")
    out = Scale::PerTokens;
  else if (s == "per_seqs")
    out = Scale::PerSeqs;
  else
    return false;
  return true;
}

bool parseScalar(const std::string &s, ScalarKind &out) {
  if (s == "tokens")
    out = ScalarKind::Tokens;
  else if (s == "seqs")
    out = ScalarKind::Seqs;
  else if (s == "sampled")
    out = ScalarKind::Sampled;
  else if (s == "block_table_width")
    out = ScalarKind::Width;
  else if (s == "layer")
    out = ScalarKind::Layer;
  else if (s == "launch")
    out = ScalarKind::Launch;
  else
    return false;
  return true;
}

/// Parses "operand12" style names.
bool parseIndexed(const std::string &s, const char *prefix, size_t &index) {
  size_t n = std::strlen(prefix);
  if (s.size() <= n || s.compare(0, n, prefix) != 0)
    return false;
  index = 0;
  for (size_t i = n; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    index = index * 10 + static_cast<size_t>(s[i] - '0');
  }
  return true;
}

bool readInt3(const nlohmann::json &j, int64_t out[3]) {
  if (!j.is_array() || j.size() != 3)
    return false;
  for (size_t i = 0; i < 3; ++i) {
    if (!j[i].is_number_integer())
      return false;
    out[i] = j[i].get<int64_t>();
  }
  return true;
}

int64_t intOr(const nlohmann::json &obj, const char *key, int64_t dflt) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer())
    return dflt;
  return it->get<int64_t>();
}

/// "decode_kernels::linear_0" or "@decode_kernels::@linear_0" ->
/// ("decode_kernels", "linear_0").
void splitKernelName(std::string name, std::string &module,
                     std::string &function) {
  name.erase(std::remove(name.begin(), name.end(), '@'), name.end());
  size_t sep = name.rfind("::");
  if (sep == std::string::npos) {
    module.clear();
    function = name;
    return;
  }
  module = name.substr(0, sep);
  function = name.substr(sep + 2);
}

/// "sm_90a" -> (9, 0, true).
bool parseArch(const std::string &arch, int &major, int &minor,
               bool &specific) {
  if (arch.size() < 5 || arch.compare(0, 3, "sm_") != 0)
    return false;
  std::string digits = arch.substr(3);
  specific = !digits.empty() && (digits.back() == 'a' || digits.back() == 'f');
  if (specific)
    digits.pop_back();
  if (digits.size() < 2)
    return false;
  for (char c : digits)
    if (c < '0' || c > '9')
      return false;
  major = std::stoi(digits.substr(0, digits.size() - 1));
  minor = digits.back() - '0';
  return true;
}

/// Converts `count` elements from `src` (dtype `from`) to `to` into `dst`.
bool convertElements(const TensorView &src, DType to, uint8_t *dst) {
  int64_t count = src.numel();
  if (src.dtype == to) {
    std::memcpy(dst, src.data, src.byteSize);
    return true;
  }
  if (!isFloatDType(src.dtype))
    return false;
  for (int64_t i = 0; i < count; ++i) {
    float f = src.getFloat(i);
    switch (to) {
    case DType::BF16: {
      uint16_t b = floatToBf16(f);
      std::memcpy(dst + 2 * i, &b, 2);
      break;
    }
    case DType::F16: {
      uint16_t h = floatToF16(f);
      std::memcpy(dst + 2 * i, &h, 2);
      break;
    }
    case DType::F32:
      std::memcpy(dst + 4 * i, &f, 4);
      break;
    default:
      return false;
    }
  }
  return true;
}
/// Widens 16-bit logits (bf16 or f16, as the step's logits value is typed).
void widenLogits(DType dtype, const uint16_t *in, float *out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out[i] = dtype == DType::BF16 ? bf16ToFloat(in[i]) : f16ToFloat(in[i]);
}

} // namespace

//===----------------------------------------------------------------------===//
// Plan types
//===----------------------------------------------------------------------===//

struct CudaBackend::Launch {
  std::string kernel;
  cu::Function function = nullptr;
  int64_t grid[3] = {1, 1, 1};
  Scale gridScale[3] = {Scale::One, Scale::One, Scale::One};
  int64_t block[3] = {1, 1, 1};
  int64_t sharedBytes = 0;
  int64_t workspaceBytes = 0;
  int64_t workspaceBytesPerToken = 0;
  bool programmatic = false; ///< may overlap the previous kernel (PDL)
  struct Param {
    bool isScalar = false;
    ScalarKind scalar = ScalarKind::Tokens;
    int32_t layer = 0; ///< ScalarKind::Layer: the node's `layer` attribute.
    int32_t slot = 0;  ///< ScalarKind::Launch: the launch's timeline slot.
    bool isTimeline = false; ///< `timeline` (the buffer is bound later)
    cu::DevicePtr ptr = 0;
    int64_t valueId = -1;   ///< -1: workspace (pointers are bound later).
    int64_t tensorMap = -1; ///< index into tensorMapHost (`tma:` args)
  };
  std::vector<Param> params;
};

struct CudaBackend::NodeGroup {
  int64_t maxTokens = 0; ///< 0: any.
  std::vector<Launch> launches;
};

struct CudaBackend::NodePlan {
  size_t node = 0;
  std::string op;
  std::vector<NodeGroup> groups; ///< Sorted by maxTokens, 0 ("any") last.
};

//===----------------------------------------------------------------------===//
// Activation planning
//===----------------------------------------------------------------------===//

StatusOr<ActivationPlan> planActivations(const Artifact &art, int64_t maxTokens,
                                         int64_t maxWidth) {
  const auto &nodes = art.nodes();
  const auto &nodesJson = art.header()["graph"]["nodes"];
  if (!nodesJson.is_array() || nodesJson.size() != nodes.size())
    return internalError("artifact graph nodes and header disagree");
  const size_t numValues = static_cast<size_t>(art.maxValueId() + 1);
  auto bytesAtMax = [&](const ValueInfo &v) -> size_t {
    int64_t n = 1;
    bool first = true;
    for (int64_t dim : v.shape) {
      if (dim < 0) {
        n *= first ? maxTokens : maxWidth;
        first = false;
      } else {
        n *= dim;
      }
    }
    return static_cast<size_t>(n) * dtypeSize(v.dtype);
  };

  ActivationPlan plan;
  plan.offset.assign(numValues, -1);
  plan.bytes.assign(numValues, 0);
  // Liveness over the node order: a value dies after its last reader (graph
  // outputs live to the end); results never alias operands of their node.
  std::vector<int64_t> lastUse(numValues, -1), def(numValues, -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    const GraphNode &node = nodes[n];
    if (node.kind == artifact::OpKind::Weight)
      continue;
    for (int64_t r : node.results) {
      const ValueInfo *v = art.value(r);
      if (!v)
        return invalidArgumentError("node " + std::to_string(n) +
                                    " has an unknown result");
      if (v->dtype == DType::KVCache)
        continue;
      def[static_cast<size_t>(r)] = static_cast<int64_t>(n);
      lastUse[static_cast<size_t>(r)] = static_cast<int64_t>(n);
      plan.bytes[static_cast<size_t>(r)] =
          alignUp(std::max<size_t>(bytesAtMax(*v), 1));
    }
    // Every present operand (the raw list includes the optional ones).
    const auto &raw = nodesJson[n];
    auto ops = raw.find("operands");
    if (ops != raw.end() && ops->is_array())
      for (const auto &o : *ops)
        if (o.is_number_integer()) {
          int64_t id = o.get<int64_t>();
          if (id >= 0 && static_cast<size_t>(id) < numValues)
            lastUse[static_cast<size_t>(id)] = static_cast<int64_t>(n);
        }
  }
  for (const auto &out : art.outputs())
    if (out.second >= 0 && static_cast<size_t>(out.second) < numValues)
      lastUse[static_cast<size_t>(out.second)] =
          std::numeric_limits<int64_t>::max();

  // First fit among the live buffers, in node order.
  struct Live {
    size_t offset, bytes;
    int64_t value;
  };
  std::vector<Live> live; // Sorted by offset.
  for (size_t n = 0; n < nodes.size(); ++n) {
    live.erase(std::remove_if(live.begin(), live.end(),
                              [&](const Live &l) {
                                return lastUse[static_cast<size_t>(l.value)] <
                                       static_cast<int64_t>(n);
                              }),
               live.end());
    for (int64_t r : nodes[n].results) {
      if (r < 0 || def[static_cast<size_t>(r)] != static_cast<int64_t>(n))
        continue;
      size_t bytes = plan.bytes[static_cast<size_t>(r)];
      size_t cursor = 0, insertAt = live.size();
      for (size_t i = 0; i < live.size(); ++i) {
        if (live[i].offset >= cursor + bytes) {
          insertAt = i;
          break;
        }
        cursor = std::max(cursor, live[i].offset + live[i].bytes);
      }
      live.insert(live.begin() + static_cast<ptrdiff_t>(insertAt),
                  Live{cursor, bytes, r});
      plan.offset[static_cast<size_t>(r)] = static_cast<int64_t>(cursor);
      plan.totalBytes = std::max(plan.totalBytes, cursor + bytes);
    }
  }
  plan.firstUse = std::move(def);
  plan.lastUse = std::move(lastUse);
  return plan;
}

//===----------------------------------------------------------------------===//
// Creation
//===----------------------------------------------------------------------===//

CudaBackend::~CudaBackend() {
  // Owners free their resources; make the context current for them.
  if (ctx.get())
    (void)ctx.makeCurrent();
  graphs.clear();
}

StatusOr<std::unique_ptr<CudaBackend>>
CudaBackend::create(std::shared_ptr<const Artifact> artifact,
                    const SafeTensors &weights,
                    const CudaBackendOptions &options) {
  if (!artifact)
    return invalidArgumentError("CudaBackend: null artifact");
  std::unique_ptr<CudaBackend> b(new CudaBackend());
  b->art = std::move(artifact);
  b->opts = options;
  INFER_RETURN_IF_ERROR(b->init(weights));
  return b;
}

StatusOr<std::unique_ptr<CudaBackend>>
CudaBackend::open(std::shared_ptr<const Artifact> artifact,
                  const std::string &weightsPath,
                  const CudaBackendOptions &options) {
  INFER_RETURN_IF_ERROR(CudaDriver::available());
  INFER_ASSIGN_OR_RETURN(std::unique_ptr<SafeTensors> weights,
                         SafeTensors::open(weightsPath));
  return create(std::move(artifact), *weights, options);
}

CudaBackendOptions cudaOptionsFrom(const BackendOptions &options) {
  CudaBackendOptions o;
  o.numKvBlocks = std::max(options.numKvBlocks, 0);
  o.progress = options.progress;
  o.profileKernels = options.profileKernels;
  auto envInt = [](const char *name, int64_t &out) {
    const char *v = std::getenv(name);
    if (!v || !*v)
      return false;
    char *end = nullptr;
    long long x = std::strtoll(v, &end, 10);
    if (*end)
      return false;
    out = x;
    return true;
  };
  int64_t x = 0;
  if (envInt("INFER_CUDA_DEVICE", x))
    o.device = static_cast<int>(x);
  if (envInt("INFER_CUDA_GRAPHS", x))
    o.useGraphs = x != 0;
  if (envInt("INFER_CUDA_FORCE_PTX", x))
    o.forcePtx = x != 0;
  if (envInt("INFER_CUDA_PDL", x))
    o.programmaticLaunch = x != 0;
  if (envInt("INFER_CUDA_MAX_TOKENS", x) && x > 0)
    o.maxNumTokens = static_cast<int32_t>(x);
  if (envInt("INFER_CUDA_MAX_SEQS", x) && x > 0)
    o.maxNumSeqs = static_cast<int32_t>(x);
  if (envInt("INFER_CUDA_LOGITS", x))
    o.copyLogits = x != 0;
  if (envInt("INFER_CUDA_PROFILE", x))
    o.profileKernels = x != 0;
  if (envInt("INFER_CUDA_LAUNCH_AHEAD", x))
    o.launchAhead = x != 0;
  if (const char *f = std::getenv("INFER_CUDA_KV_FRACTION"); f && *f) {
    double v = std::strtod(f, nullptr);
    if (v > 0 && v <= 1)
      o.kvMemoryFraction = v;
  }
  return o;
}

StatusOr<std::unique_ptr<Backend>>
createCudaBackend(std::shared_ptr<const Artifact> artifact,
                  std::shared_ptr<const SafeTensors> weights,
                  const BackendOptions &options) {
  if (!weights)
    return invalidArgumentError("createCudaBackend: null weights");
  INFER_RETURN_IF_ERROR(CudaDriver::available());
  INFER_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> b,
                         CudaBackend::create(std::move(artifact), *weights,
                                             cudaOptionsFrom(options)));
  return std::unique_ptr<Backend>(std::move(b));
}

Status CudaBackend::init(const SafeTensors &weights) {
  if (opts.maxNumTokens < 1 || opts.maxNumSeqs < 1)
    return invalidArgumentError(
        "CudaBackend: maxNumTokens and maxNumSeqs must be positive");
  opts.maxNumSeqs = std::min(opts.maxNumSeqs, opts.maxNumTokens);
  if (art->kernels().empty())
    return invalidArgumentError(
        "artifact '" + art->name() +
        "' holds no kernels: it was not compiled for CUDA (compile it with "
        "`infer-compile ... --target cuda`)");

  for (const auto &[name, id] : art->inputs()) {
    (void)id;
    if (std::find(std::begin(artifact::kInputNames),
                  std::end(artifact::kInputNames),
                  name) == std::end(artifact::kInputNames))
      return invalidArgumentError(
          "the step graph takes input '" + name +
          "' beyond the fixed signature; the CUDA backend does not support "
          "extra inputs (speculative verification) yet");
  }

  INFER_ASSIGN_OR_RETURN(ctx, CudaContext::create(opts.device));
  const CudaDriver &d = ctx.driver();
  INFER_ASSIGN_OR_RETURN(stream, CudaStream::create(d));
  for (StepSlot &slot : stepSlots) {
    INFER_ASSIGN_OR_RETURN(slot.start, CudaEvent::create(d));
    INFER_ASSIGN_OR_RETURN(slot.end, CudaEvent::create(d));
  }

  kv = art->kvCache();
  vocab = art->model().vocabSize;
  int64_t maxLen =
      opts.maxModelLen > 0 ? opts.maxModelLen : art->model().maxPosition;
  if (maxLen <= 0)
    maxLen = 4096;
  if (kv.blockSize <= 0)
    return invalidArgumentError("artifact kv_cache.block_size must be > 0");
  maxWidth = static_cast<int32_t>((maxLen + kv.blockSize - 1) / kv.blockSize);
  if (kv.dtype == DType::I8)
    return invalidArgumentError(
        "CudaBackend: i8 KV caches (with a scale pool) are not supported");
  size_t kvElem = dtypeSize(kv.dtype);
  if (kvElem == 0)
    return invalidArgumentError(std::string("CudaBackend: KV dtype ") +
                                dtypeName(kv.dtype) + " has no element size");
  bytesPerBlock = static_cast<size_t>(kv.blockElements()) * kvElem;

  // Graph buckets that fit the step limits.
  std::vector<int32_t> buckets;
  for (int32_t bkt : opts.graphBuckets)
    if (bkt >= 1 && bkt <= opts.maxNumSeqs)
      buckets.push_back(bkt);
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  opts.graphBuckets = buckets;
  int32_t maxBucket = buckets.empty() ? 0 : buckets.back();
  numPadBlocks =
      static_cast<int32_t>((maxBucket + kv.blockSize - 1) / kv.blockSize);

  valueAddr.assign(static_cast<size_t>(art->maxValueId() + 1), 0);
  INFER_RETURN_IF_ERROR(loadKernels());
  INFER_RETURN_IF_ERROR(uploadWeights(weights));
  INFER_RETURN_IF_ERROR(planBuffers());
  INFER_RETURN_IF_ERROR(allocateKvPool());
  INFER_RETURN_IF_ERROR(planNodes());
  if (opts.useGraphs && opts.captureAtCreation && !opts.profileKernels) {
    for (size_t i = 0; i < opts.graphBuckets.size(); ++i) {
      Status st = captureBucket(opts.graphBuckets[i]);
      if (st.code() == StatusCode::InvalidArgument) {
        // Some node has no kernel variant this large: such steps cannot
        // run at all; keep the buckets below.
        opts.graphBuckets.resize(i);
        break;
      }
      INFER_RETURN_IF_ERROR(st);
    }
  }
  return stream.synchronize();
}

Status CudaBackend::captureBucket(int32_t bucket) {
  const CudaDriver &d = ctx.driver();
  StepShape shape;
  shape.tokens = shape.seqs = shape.sampled = bucket;
  shape.width = maxWidth;
  INFER_RETURN_IF_ERROR(CudaGraph::beginCapture(d, stream.get()));
  Status st = issueLaunches(shape);
  StatusOr<CudaGraph> g = CudaGraph::endCapture(d, stream.get());
  INFER_RETURN_IF_ERROR(st);
  if (!g.ok())
    return g.status();
  graphs[bucket] = std::move(*g);
  ++backendStats.graphCaptures;
  return okStatus();
}

Status CudaBackend::loadKernels() {
  const CudaDriver &d = ctx.driver();
  const CudaDeviceInfo &dev = ctx.info();
  // Size of the artifact file: the reader validates cubin and PTX ranges but
  // not fatbin ones, which are checked here against the file.
  std::optional<uint64_t> fileSize;
  struct stat st;
  if (::stat(art->name().c_str(), &st) == 0 && S_ISREG(st.st_mode))
    fileSize = static_cast<uint64_t>(st.st_size);

  // Kernel entries by binary (gpu.module) name.
  std::map<std::string, std::vector<const KernelInfo *>> byName;
  for (const KernelInfo &k : art->kernels())
    byName[k.name].push_back(&k);

  std::vector<std::string> sources;
  for (auto &entry : byName) {
    const std::string &name = entry.first;
    const std::vector<const KernelInfo *> &entries = entry.second;
    struct Candidate {
      const KernelInfo *info;
      const char *format; ///< "cubin", "fatbin" or "ptx".
      BlobRange range;
    };
    std::vector<Candidate> cubins, fatbins, ptxs;
    std::string archs;
    for (const KernelInfo *k : entries) {
      archs += (archs.empty() ? "" : ", ") + k->arch;
      int major = 0, minor = 0;
      bool specific = false;
      if (!parseArch(k->arch, major, minor, specific))
        continue;
      // A cubin runs on its major version at an equal or newer minor; an
      // arch-specific (sm_90a) one only on exactly that chip.
      bool cubinFits = major == dev.ccMajor &&
                       (specific ? minor == dev.ccMinor : minor <= dev.ccMinor);
      // PTX JIT-compiles for any newer chip, except arch-specific PTX.
      bool ptxFits =
          specific ? (major == dev.ccMajor && minor == dev.ccMinor)
                   : (major * 10 + minor <= dev.ccMajor * 10 + dev.ccMinor);
      if (k->cubin && cubinFits)
        cubins.push_back({k, "cubin", *k->cubin});
      if (k->ptx && ptxFits)
        ptxs.push_back({k, "ptx", *k->ptx});
      // A fatbin holds cubins and/or PTX; the driver picks what fits.
      auto fb = k->raw.find("fatbin");
      if (fb != k->raw.end() && fb->is_object() && ptxFits) {
        int64_t off = intOr(*fb, "offset", -1), size = intOr(*fb, "size", -1);
        if (off < 0 || size <= 0 || off % 256 != 0)
          return invalidArgumentError("kernel module '" + name + "' (" +
                                      k->arch + "): bad fatbin range");
        if (!fileSize)
          return invalidArgumentError(
              "kernel module '" + name +
              "': fatbin ranges can only be checked for artifacts loaded "
              "from a file");
        if (static_cast<uint64_t>(off) > *fileSize ||
            static_cast<uint64_t>(size) > *fileSize - off)
          return invalidArgumentError(
              "kernel module '" + name + "': fatbin [" + std::to_string(off) +
              ", " + std::to_string(off + size) + ") lies outside the " +
              std::to_string(*fileSize) + "-byte artifact (truncated?)");
        fatbins.push_back({k, "fatbin",
                           BlobRange{static_cast<uint64_t>(off),
                                     static_cast<uint64_t>(size)}});
      }
    }
    // Exact-arch cubins (the newest minor, arch-specific first) lead.
    std::sort(cubins.begin(), cubins.end(),
              [&](const Candidate &a, const Candidate &b) {
                return a.info->arch > b.info->arch;
              });
    std::vector<Candidate> order;
    if (opts.forcePtx) {
      order = ptxs;
      order.insert(order.end(), cubins.begin(), cubins.end());
      order.insert(order.end(), fatbins.begin(), fatbins.end());
    } else {
      order = cubins;
      order.insert(order.end(), fatbins.begin(), fatbins.end());
      order.insert(order.end(), ptxs.begin(), ptxs.end());
    }
    if (order.empty())
      return notFoundError("kernel module '" + name +
                           "' has no cubin, fatbin or PTX usable on " +
                           dev.name + " (" + dev.arch() +
                           "); the artifact has: " + archs);
    std::string errors;
    bool loaded = false;
    for (const Candidate &c : order) {
      const uint8_t *data = art->blob(c.range);
      bool isPtx = std::strcmp(c.format, "ptx") == 0;
      std::string what = name + " " + c.format + " " + c.info->arch;
      StatusOr<CudaModule> m = [&]() -> StatusOr<CudaModule> {
        if (!isPtx)
          return CudaModule::load(d, data, false, what);
        // The JIT needs a NUL-terminated string.
        std::string text(reinterpret_cast<const char *>(data), c.range.size);
        return CudaModule::load(d, text.c_str(), true, what);
      }();
      if (!m.ok()) {
        errors += (errors.empty() ? "" : "; ") + m.status().message();
        continue;
      }
      // Resolve every function the entry lists (the rest on first use).
      auto fnList = c.info->raw.find("functions");
      if (fnList != c.info->raw.end() && fnList->is_array()) {
        for (const auto &fn : *fnList) {
          if (!fn.is_string())
            continue;
          INFER_ASSIGN_OR_RETURN(cu::Function f,
                                 m->function(fn.get<std::string>()));
          functions[name + "::" + fn.get<std::string>()] = f;
        }
      }
      sources.push_back(std::string(c.format) + " " + c.info->arch);
      modules.emplace_back(name, std::move(*m));
      loaded = true;
      break;
    }
    if (!loaded)
      return internalError("could not load kernel module '" + name +
                           "': " + errors);
  }
  for (const std::string &src : sources)
    backendStats.kernelSource +=
        (backendStats.kernelSource.empty() ? "" : ", ") + src;
  return okStatus();
}

Status CudaBackend::uploadWeights(const SafeTensors &weights) {
  const CudaDriver &d = ctx.driver();
  // Lay out every weight value in one arena.
  struct Item {
    size_t node;
    int64_t value;
    size_t offset, bytes;
  };
  std::vector<Item> items;
  size_t total = 0;
  for (size_t n = 0; n < art->nodes().size(); ++n) {
    const GraphNode &node = art->nodes()[n];
    if (node.kind != artifact::OpKind::Weight)
      continue;
    if (node.results.size() != 1)
      return invalidArgumentError("weight node " + std::to_string(n) +
                                  " must have one result");
    const ValueInfo *v = art->value(node.results[0]);
    if (!v)
      return invalidArgumentError("weight node " + std::to_string(n) +
                                  " names an unknown value");
    for (int64_t dim : v->shape)
      if (dim < 0)
        return invalidArgumentError("weight value " + std::to_string(v->id) +
                                    " has a dynamic shape");
    size_t bytes =
        static_cast<size_t>(numElements(v->shape)) * dtypeSize(v->dtype);
    items.push_back({n, v->id, total, bytes});
    total += alignUp(bytes);
  }
  INFER_ASSIGN_OR_RETURN(weightArena,
                         DeviceBuffer::allocate(d, total, "weights"));
  backendStats.weightBytes = total;

  std::vector<uint8_t> converted;
  size_t done = 0;
  for (const Item &it : items) {
    const GraphNode &node = art->nodes()[it.node];
    const ValueInfo &v = *art->value(it.value);
    auto names = node.attrs.find("names");
    if (names == node.attrs.end() || !names->is_array() || names->empty())
      return invalidArgumentError("weight node " + std::to_string(it.node) +
                                  " has no 'names'");
    size_t elem = dtypeSize(v.dtype);
    size_t offset = 0;
    std::string where = "weight node " + std::to_string(it.node);
    std::optional<std::vector<float>> scale;
    // Artifact validation guarantees a name and a rank-2 weight.
    if (auto s = node.attrs.find("column_scale"); s != node.attrs.end()) {
      INFER_ASSIGN_OR_RETURN(
          scale,
          readColumnScale(weights, s->get<std::string>(), v.shape[1], where));
    }
    for (const auto &nameJson : *names) {
      if (!nameJson.is_string())
        return invalidArgumentError("weight node " + std::to_string(it.node) +
                                    ": names must be strings");
      std::string name = nameJson.get<std::string>();
      const TensorView *t = weights.find(name);
      if (!t && name == "lm_head.weight" && art->model().tieWordEmbeddings)
        t = weights.find("model.embed_tokens.weight");
      if (!t)
        return notFoundError("weight '" + name + "' is not in the checkpoint");
      size_t bytes = static_cast<size_t>(t->numel()) * elem;
      if (offset + bytes > it.bytes)
        return invalidArgumentError(
            "weight '" + name + "' " + shapeToString(t->shape) +
            " overflows its packed value " + shapeToString(v.shape));
      cu::DevicePtr dst = weightArena.ptr() + it.offset + offset;
      if (scale) {
        // The folded norm weight; a tied lm_head scales its own copy.
        converted.resize(bytes);
        if (t->shape.size() != 2 || t->shape[1] != v.shape[1] ||
            !scaleColumns(*t, *scale, v.dtype, converted.data()))
          return invalidArgumentError(
              where + ": cannot scale weight '" + name + "' " +
              dtypeName(t->dtype) + " " + shapeToString(t->shape) +
              " by its column scale into " + dtypeName(v.dtype) + " rows of " +
              std::to_string(v.shape[1]));
        INFER_CUDA_RETURN_IF_ERROR(d,
                                   cuMemcpyHtoD(dst, converted.data(), bytes));
      } else if (t->dtype == v.dtype) {
        INFER_CUDA_RETURN_IF_ERROR(d, cuMemcpyHtoD(dst, t->data, bytes));
      } else {
        converted.resize(bytes);
        if (!convertElements(*t, v.dtype, converted.data()))
          return invalidArgumentError(
              std::string("weight '") + name + "': cannot convert " +
              dtypeName(t->dtype) + " to " + dtypeName(v.dtype));
        INFER_CUDA_RETURN_IF_ERROR(d,
                                   cuMemcpyHtoD(dst, converted.data(), bytes));
      }
      offset += bytes;
    }
    if (offset != it.bytes)
      return invalidArgumentError(
          "weight node " + std::to_string(it.node) + ": packed tensors hold " +
          std::to_string(offset) + " bytes, the value " +
          shapeToString(v.shape) + " needs " + std::to_string(it.bytes));
    valueAddr[static_cast<size_t>(it.value)] = weightArena.ptr() + it.offset;
    done += alignUp(it.bytes);
    if (opts.progress)
      opts.progress(done, total);
  }
  return okStatus();
}

Status CudaBackend::planBuffers() {
  const CudaDriver &d = ctx.driver();
  const int64_t maxT = opts.maxNumTokens;
  // Step inputs, in a fixed layout shared by the pinned staging buffer and
  // the device input area. Block tables go last: a step copies the prefix.
  const std::pair<const char *, size_t> inputCapacity[] = {
      {"tokens", static_cast<size_t>(maxT)},
      {"positions", static_cast<size_t>(maxT)},
      {"slots", static_cast<size_t>(maxT)},
      {"context_lens", static_cast<size_t>(opts.maxNumSeqs)},
      {"query_start", static_cast<size_t>(opts.maxNumSeqs) + 1},
      {"logits_indices", static_cast<size_t>(maxT)},
      {"temperature", static_cast<size_t>(maxT)},
      {"top_k", static_cast<size_t>(maxT)},
      {"top_p", static_cast<size_t>(maxT)},
      {"seeds", static_cast<size_t>(maxT)},
      {"block_tables",
       static_cast<size_t>(opts.maxNumSeqs) * static_cast<size_t>(maxWidth)},
  };
  size_t offset = 0;
  for (auto [name, count] : inputCapacity) {
    auto it = art->inputs().find(name);
    if (it == art->inputs().end())
      return invalidArgumentError(std::string("artifact graph has no input '") +
                                  name + "'");
    const ValueInfo *v = art->value(it->second);
    if (!v)
      return invalidArgumentError(std::string("input '") + name +
                                  "' names an unknown value");
    std::string nm(name);
    DType want = nm == "temperature" || nm == "top_p" ? DType::F32
                 : nm == "seeds"                      ? DType::I64
                                                      : DType::I32;
    if (v->dtype != want)
      return invalidArgumentError("input '" + nm + "' is " +
                                  dtypeName(v->dtype) + ", expected " +
                                  dtypeName(want) + " (docs/artifact.md)");
    InputSlot slot;
    slot.valueId = v->id;
    slot.offset = offset;
    slot.capacity = count * dtypeSize(v->dtype);
    offset += alignUp(slot.capacity);
    inputSlots[name] = slot;
  }
  inputBytes = offset;
  INFER_ASSIGN_OR_RETURN(inputArea,
                         DeviceBuffer::allocate(d, inputBytes, "step inputs"));
  for (StepSlot &slot : stepSlots) {
    INFER_ASSIGN_OR_RETURN(slot.staging, PinnedBuffer::allocate(d, inputBytes));
    std::memset(slot.staging.data(), 0, inputBytes);
    INFER_ASSIGN_OR_RETURN(
        slot.outputStaging,
        PinnedBuffer::allocate(d, static_cast<size_t>(maxT) * sizeof(int32_t)));
  }
  for (auto &[name, slot] : inputSlots)
    valueAddr[static_cast<size_t>(slot.valueId)] =
        inputArea.ptr() + slot.offset;

  auto outTokens = art->outputs().find("tokens");
  auto outLogits = art->outputs().find("logits");
  if (outTokens == art->outputs().end())
    return invalidArgumentError("artifact graph has no output 'tokens'");
  tokensOutput = outTokens->second;
  logitsOutput = outLogits == art->outputs().end() ? -1 : outLogits->second;
  const ValueInfo *tv = art->value(tokensOutput);
  if (!tv || tv->dtype != DType::I32)
    return invalidArgumentError("the 'tokens' output must be i32");
  if (logitsOutput >= 0) {
    const ValueInfo *lv = art->value(logitsOutput);
    if (!lv || (lv->dtype != DType::F32 && lv->dtype != DType::BF16 &&
                lv->dtype != DType::F16))
      return invalidArgumentError("the 'logits' output must be f32, bf16 or "
                                  "f16");
    logitsDType = lv->dtype;
    if (lv->shape.size() == 2 && lv->shape[1] > 0)
      vocab = lv->shape[1];
  }

  INFER_ASSIGN_OR_RETURN(ActivationPlan plan,
                         planActivations(*art, maxT, maxWidth));
  INFER_ASSIGN_OR_RETURN(
      activationArena,
      DeviceBuffer::allocate(d, std::max<size_t>(plan.totalBytes, kAlign),
                             "activations"));
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemsetD8(activationArena.ptr(), 0, activationArena.size()));
  backendStats.activationBytes = activationArena.size();
  for (size_t id = 0; id < plan.offset.size() && id < valueAddr.size(); ++id)
    if (plan.offset[id] >= 0)
      valueAddr[id] =
          activationArena.ptr() + static_cast<uint64_t>(plan.offset[id]);
  // The samples land where the next step reads its tokens, when every node
  // that reads the tokens runs before the one that samples: a decode step
  // launched ahead then reads its predecessor's samples in place.
  samplesInPlace = samplesCanFeedTokens();
  if (samplesInPlace)
    valueAddr[static_cast<size_t>(tokensOutput)] =
        inputArea.ptr() + inputSlots["tokens"].offset;

  // Workspace: the largest need of any group (they run one at a time); the
  // counters likewise (each kernel leaves them zero).
  size_t ws = kAlign, counterBytes = kAlign;
  for (size_t n = 0; n < art->nodes().size(); ++n) {
    const auto &raw = art->header()["graph"]["nodes"][n];
    auto launches = raw.find("launches");
    if (launches == raw.end() || !launches->is_array())
      continue;
    std::map<int64_t, size_t> perGroup;
    for (const auto &l : *launches) {
      if (!l.is_object())
        continue;
      int64_t need = intOr(l, "workspace_bytes", 0) +
                     intOr(l, "workspace_bytes_per_token", 0) * maxT;
      int64_t words = intOr(l, "counter_words_per_token", 0) * maxT;
      counterBytes = std::max(
          counterBytes,
          alignUp(static_cast<size_t>(std::max<int64_t>(words * 4, 0))));
      size_t &g = perGroup[intOr(l, "max_tokens", 0)];
      g = std::max(g, static_cast<size_t>(std::max<int64_t>(need, 0)));
    }
    for (auto &[k, bytes] : perGroup)
      ws = std::max(ws, alignUp(bytes));
  }
  INFER_ASSIGN_OR_RETURN(workspace, DeviceBuffer::allocate(d, ws, "workspace"));
  backendStats.workspaceBytes = ws;
  INFER_ASSIGN_OR_RETURN(counters,
                         DeviceBuffer::allocate(d, counterBytes, "counters"));
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemsetD8Async(counters.ptr(), 0, counterBytes, stream.get()));
  INFER_RETURN_IF_ERROR(stream.synchronize());
  return okStatus();
}

Status CudaBackend::allocateKvPool() {
  const CudaDriver &d = ctx.driver();
  int32_t blocks = opts.numKvBlocks;
  if (blocks <= 0) {
    size_t freeBytes = 0, totalBytes = 0;
    INFER_RETURN_IF_ERROR(ctx.memoryInfo(freeBytes, totalBytes));
    int32_t fit = BlockAllocator::numBlocksFor(freeBytes, opts.kvMemoryFraction,
                                               bytesPerBlock);
    // More blocks than every sequence at full length could hold only serve
    // the prefix cache; cap there.
    int64_t cap = static_cast<int64_t>(opts.maxNumSeqs) * maxWidth;
    blocks = static_cast<int32_t>(
        std::min<int64_t>(static_cast<int64_t>(fit) - numPadBlocks, cap));
    if (blocks < 1)
      return outOfMemoryError("no device memory left for the KV pool: " +
                              std::to_string(freeBytes) + " bytes free, " +
                              std::to_string(bytesPerBlock) +
                              " bytes per block");
  }
  numBlocks = blocks;
  size_t total = static_cast<size_t>(numBlocks + numPadBlocks) * bytesPerBlock;
  INFER_ASSIGN_OR_RETURN(kvPool, DeviceBuffer::allocate(d, total, "KV pool"));
  // Zero the pool: kernels that read a whole vector of a partly filled block
  // and mask it must not meet NaN bit patterns.
  INFER_CUDA_RETURN_IF_ERROR(d, cuMemsetD8(kvPool.ptr(), 0, total));
  backendStats.kvPoolBytes = total;
  for (size_t id = 0; id < valueAddr.size(); ++id) {
    const ValueInfo *v = art->value(static_cast<int64_t>(id));
    if (v && v->dtype == DType::KVCache)
      valueAddr[id] = kvPool.ptr();
  }
  return okStatus();
}

Status CudaBackend::encodeTensorMap(const std::string &where,
                                    const std::string &arg,
                                    const std::vector<int64_t> &operands,
                                    int64_t &index) {
  // "tma:operand<i>:<rows>x<cols>": boxes of rows x cols elements of the
  // 2-D bf16/f16 operand i (weights, or activations at their fixed arena
  // slots), 128-byte swizzle, zero fill out of bounds.
  size_t operand = 0;
  unsigned rows = 0, cols = 0;
  size_t colon = arg.find(':', 4);
  if (colon == std::string::npos ||
      !parseIndexed(arg.substr(4, colon - 4), "operand", operand) ||
      std::sscanf(arg.c_str() + colon + 1, "%ux%u", &rows, &cols) != 2 ||
      rows == 0 || rows > 256 || cols == 0 || cols > 256)
    return invalidArgumentError(where + ": bad tensor-map argument '" + arg +
                                "' (expected tma:operand<i>:<rows>x<cols>)");
  if (cols * 2 != 128)
    return invalidArgumentError(
        where + ": " + arg + ": a 128-byte swizzled box is 64 elements wide");
  if (operand >= operands.size())
    return invalidArgumentError(where + ": " + arg + " out of range");
  int64_t id = operands[operand];
  const ValueInfo *v = art->value(id);
  if (!v || v->shape.size() != 2 || v->shape[0] == 0 || v->shape[1] <= 0 ||
      (v->dtype != DType::BF16 && v->dtype != DType::F16) ||
      static_cast<size_t>(id) >= valueAddr.size() ||
      !valueAddr[static_cast<size_t>(id)])
    return invalidArgumentError(where + ": " + arg +
                                " needs a static 2-D bf16/f16 operand with a "
                                "device buffer");
  // A dynamic row count (activations) spans the buffer's capacity.
  int64_t rowsCap = v->shape[0] < 0 ? opts.maxNumTokens : v->shape[0];
  const uint64_t dims[2] = {static_cast<uint64_t>(v->shape[1]),
                            static_cast<uint64_t>(rowsCap)};
  const uint64_t strides[1] = {dims[0] * 2};
  const unsigned box[2] = {cols, rows}, unit[2] = {1, 1};
  cu::TensorMap map{};
  const CudaDriver &d = ctx.driver();
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuTensorMapEncodeTiled(
             &map,
             v->dtype == DType::BF16 ? cu::TENSOR_MAP_DATA_TYPE_BFLOAT16
                                     : cu::TENSOR_MAP_DATA_TYPE_FLOAT16,
             2, reinterpret_cast<void *>(valueAddr[static_cast<size_t>(id)]),
             dims, strides, box, unit, cu::TENSOR_MAP_INTERLEAVE_NONE,
             cu::TENSOR_MAP_SWIZZLE_128B, cu::TENSOR_MAP_L2_PROMOTION_L2_256B,
             cu::TENSOR_MAP_FLOAT_OOB_FILL_NONE));
  index = static_cast<int64_t>(tensorMapHost.size());
  tensorMapHost.push_back(map);
  return okStatus();
}

Status CudaBackend::planNodes() {
  const CudaDriver &d = ctx.driver();
  const auto &nodesJson = art->header()["graph"]["nodes"];
  const auto &nodes = art->nodes();
  if (!nodesJson.is_array() || nodesJson.size() != nodes.size())
    return internalError("artifact graph nodes and header disagree");
  std::map<cu::Function, int64_t> maxShared;

  for (size_t n = 0; n < nodes.size(); ++n) {
    const GraphNode &node = nodes[n];
    const auto &raw = nodesJson[n];
    std::string where = "node " + std::to_string(n) + " (" + node.op + ")";
    if (node.kind == artifact::OpKind::Weight)
      continue;
    auto launches = raw.find("launches");
    if (launches == raw.end() || !launches->is_array() || launches->empty())
      return invalidArgumentError(
          where + " has no launches: the CUDA backend cannot run it (ops "
                  "that run on the host, like spec_accept, are not "
                  "supported yet)");
    std::vector<int64_t> operands, results;
    if (raw.contains("operands"))
      for (const auto &o : raw["operands"])
        operands.push_back(o.get<int64_t>());
    if (raw.contains("results"))
      for (const auto &r : raw["results"])
        results.push_back(r.get<int64_t>());
    auto addrOf = [&](int64_t id, cu::DevicePtr &out) -> Status {
      if (id < 0 || static_cast<size_t>(id) >= valueAddr.size() ||
          !valueAddr[static_cast<size_t>(id)])
        return internalError(where + ": value " + std::to_string(id) +
                             " has no device buffer");
      out = valueAddr[static_cast<size_t>(id)];
      return okStatus();
    };

    NodePlan plan;
    plan.node = n;
    plan.op = node.op;
    for (const auto &l : *launches) {
      if (!l.is_object() || !l.contains("kernel") || !l["kernel"].is_string())
        return invalidArgumentError(where + ": a launch has no kernel name");
      Launch launch;
      launch.kernel = l["kernel"].get<std::string>();
      std::string module, function;
      splitKernelName(launch.kernel, module, function);
      auto fit = functions.find(module + "::" + function);
      if (fit == functions.end()) {
        // Entries without a function list: look in the named module.
        for (const auto &[moduleName, m] : modules) {
          if (!module.empty() && moduleName != module)
            continue;
          StatusOr<cu::Function> f = m.function(function);
          if (f.ok()) {
            fit = functions.emplace(module + "::" + function, *f).first;
            break;
          }
        }
      }
      if (fit == functions.end())
        return notFoundError(where + ": kernel '" + launch.kernel +
                             "' is in no loaded module");
      launch.function = fit->second;
      if (!readInt3(l.value("grid", nlohmann::json()), launch.grid) ||
          !readInt3(l.value("block", nlohmann::json()), launch.block))
        return invalidArgumentError(where + ": launch of '" + launch.kernel +
                                    "' needs 3-element 'grid' and 'block'");
      auto scales = l.find("grid_scale");
      if (scales != l.end()) {
        if (!scales->is_array() || scales->size() != 3)
          return invalidArgumentError(where + ": grid_scale must have 3 "
                                              "entries");
        for (size_t i = 0; i < 3; ++i)
          if (!(*scales)[i].is_string() ||
              !parseScale((*scales)[i].get<std::string>(), launch.gridScale[i]))
            return invalidArgumentError(where + ": bad grid_scale entry " +
                                        (*scales)[i].dump());
      }
      int64_t threads = launch.block[0] * launch.block[1] * launch.block[2];
      if (threads < 1 || threads > 1024)
        return invalidArgumentError(where + ": block of " +
                                    std::to_string(threads) + " threads");
      launch.sharedBytes = intOr(l, "shared_bytes", 0);
      launch.workspaceBytes = intOr(l, "workspace_bytes", 0);
      launch.workspaceBytesPerToken = intOr(l, "workspace_bytes_per_token", 0);
      if (auto pdl = l.find("programmatic"); pdl != l.end()) {
        if (!pdl->is_boolean())
          return invalidArgumentError(where + ": 'programmatic' must be a "
                                              "boolean");
        launch.programmatic =
            pdl->get<bool>() && opts.programmaticLaunch && !opts.profileKernels;
      }
      if (launch.sharedBytes > ctx.info().maxSharedPerBlockOptin)
        return invalidArgumentError(
            where + ": '" + launch.kernel + "' asks for " +
            std::to_string(launch.sharedBytes) +
            " bytes of shared memory; the device allows " +
            std::to_string(ctx.info().maxSharedPerBlockOptin));
      int64_t &ms = maxShared[launch.function];
      ms = std::max(ms, launch.sharedBytes);

      for (const auto &a : l.value("args", nlohmann::json::array())) {
        if (!a.is_string())
          return invalidArgumentError(where + ": args must be strings");
        std::string arg = a.get<std::string>();
        Launch::Param p;
        size_t index = 0;
        if (parseIndexed(arg, "operand", index)) {
          if (index >= operands.size())
            return invalidArgumentError(where + ": " + arg + " out of range");
          p.valueId = operands[index];
          INFER_RETURN_IF_ERROR(addrOf(p.valueId, p.ptr));
        } else if (parseIndexed(arg, "result", index)) {
          if (index >= results.size())
            return invalidArgumentError(where + ": " + arg + " out of range");
          p.valueId = results[index];
          INFER_RETURN_IF_ERROR(addrOf(p.valueId, p.ptr));
        } else if (arg.compare(0, 4, "tma:") == 0) {
          INFER_RETURN_IF_ERROR(
              encodeTensorMap(where, arg, operands, p.tensorMap));
        } else if (arg == "workspace") {
          p.ptr = workspace.ptr();
        } else if (arg == "counters") {
          p.ptr = counters.ptr();
        } else if (arg == "timeline") {
          p.isTimeline = true;
        } else if (parseScalar(arg, p.scalar)) {
          p.isScalar = true;
          if (p.scalar == ScalarKind::Launch) {
            int64_t layer = -1;
            getIntAttr(node.attrs, "layer", layer);
            p.slot = static_cast<int32_t>(timelineSlots.size());
            timelineSlots.push_back(
                TimelineEntry{n, node.op, launch.kernel, layer, 0, 0});
          }
          int64_t layer = 0;
          if (p.scalar == ScalarKind::Layer &&
              (!getIntAttr(node.attrs, "layer", layer) || layer < 0 ||
               layer > std::numeric_limits<int32_t>::max()))
            return invalidArgumentError(where + ": kernel argument 'layer' "
                                                "needs a valid `layer` "
                                                "attribute");
          p.layer = static_cast<int32_t>(layer);
        } else {
          return invalidArgumentError(where + ": unknown kernel argument '" +
                                      arg + "'");
        }
        launch.params.push_back(p);
      }
      bool timeline = false, slot = false;
      for (const Launch::Param &p : launch.params) {
        timeline = timeline || p.isTimeline;
        slot = slot || (p.isScalar && p.scalar == ScalarKind::Launch);
      }
      if (timeline && !slot)
        return invalidArgumentError(
            where + ": launch of '" + launch.kernel +
            "' has a 'timeline' argument without its slot: 'timeline' needs "
            "a 'launch' scalar (recompile with --target-options=timeline=1)");
      int64_t maxTokens = intOr(l, "max_tokens", 0);
      auto g = std::find_if(
          plan.groups.begin(), plan.groups.end(),
          [&](const NodeGroup &x) { return x.maxTokens == maxTokens; });
      if (g == plan.groups.end()) {
        plan.groups.push_back(NodeGroup{maxTokens, {}});
        g = plan.groups.end() - 1;
      }
      g->launches.push_back(std::move(launch));
    }
    // maxTokens are distinct within a node.
    std::sort(plan.groups.begin(), plan.groups.end(),
              [](const NodeGroup &a, const NodeGroup &b) {
                auto key = [](int64_t m) {
                  return m == 0 ? std::numeric_limits<int64_t>::max() : m;
                };
                return key(a.maxTokens) < key(b.maxTokens);
              });
    plans.push_back(std::move(plan));
  }
  // Limits the launch plan puts on one step.
  maxStepTokens = opts.maxNumTokens;
  for (const NodePlan &plan : plans) {
    bool any = false;
    int64_t largest = 0;
    for (const NodeGroup &g : plan.groups) {
      any = any || g.maxTokens == 0;
      largest = std::max(largest, g.maxTokens);
      // Attention whose grid scales by sequences only (no token scale) runs
      // one query per sequence: the artifact was compiled for decode.
      if (plan.op != "paged_attention")
        continue;
      bool bySeqs = false, byTokens = false;
      for (const Launch &l : g.launches)
        for (Scale sc : l.gridScale) {
          bySeqs = bySeqs || sc == Scale::Seqs || sc == Scale::PerSeqs;
          byTokens = byTokens || sc == Scale::Tokens || sc == Scale::PerTokens;
        }
      if (bySeqs && !byTokens)
        oneQueryPerSeq = true;
    }
    if (!any)
      maxStepTokens =
          static_cast<int32_t>(std::min<int64_t>(maxStepTokens, largest));
  }
  // Timeline slots (timeline=1 artifacts): a zeroed u64 pair each.
  if (hasTimeline()) {
    INFER_ASSIGN_OR_RETURN(size_t bytes, timelineBytes());
    INFER_ASSIGN_OR_RETURN(timelineBuffer,
                           DeviceBuffer::allocate(d, bytes, "timeline"));
    INFER_CUDA_RETURN_IF_ERROR(d, cuMemsetD8(timelineBuffer.ptr(), 0, bytes));
    for (NodePlan &plan : plans)
      for (NodeGroup &g : plan.groups)
        for (Launch &l : g.launches)
          for (Launch::Param &p : l.params)
            if (p.isTimeline)
              p.ptr = timelineBuffer.ptr();
  }
  // The descriptors go to device memory once; kernels get their address.
  if (!tensorMapHost.empty()) {
    size_t bytes = tensorMapHost.size() * sizeof(cu::TensorMap);
    INFER_ASSIGN_OR_RETURN(tensorMaps,
                           DeviceBuffer::allocate(d, bytes, "tensor maps"));
    INFER_CUDA_RETURN_IF_ERROR(
        d, cuMemcpyHtoD(tensorMaps.ptr(), tensorMapHost.data(), bytes));
    for (NodePlan &plan : plans)
      for (NodeGroup &g : plan.groups)
        for (Launch &l : g.launches)
          for (Launch::Param &p : l.params)
            if (p.tensorMap >= 0)
              p.ptr =
                  tensorMaps.ptr() + static_cast<cu::DevicePtr>(p.tensorMap) *
                                         sizeof(cu::TensorMap);
  }
  // Static and dynamic shared memory together may not pass 48 KB without
  // the attribute, so every kernel with dynamic shared memory gets it.
  for (auto &[fn, bytes] : maxShared)
    if (bytes > 0)
      INFER_CUDA_RETURN_IF_ERROR(
          d, cuFuncSetAttribute(fn, cu::FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                static_cast<int>(bytes)));
  return okStatus();
}

//===----------------------------------------------------------------------===//
// Steps
//===----------------------------------------------------------------------===//

const CudaBackend::NodeGroup *CudaBackend::selectGroup(const NodePlan &plan,
                                                       int32_t tokens) const {
  for (const NodeGroup &g : plan.groups)
    if (g.maxTokens == 0 || tokens <= g.maxTokens)
      return &g;
  return nullptr;
}

Status CudaBackend::packInputs(const StepBatch &batch, bool pad, int32_t bucket,
                               StepShape &shape, PinnedBuffer &staging) {
  const int32_t T = batch.numTokens();
  const int32_t B = static_cast<int32_t>(batch.contextLens.size());
  const int32_t S = static_cast<int32_t>(batch.logitsIndices.size());
  const int32_t W = batch.blockTableWidth;
  uint8_t *base = staging.as<uint8_t>();
  auto at = [&](const char *name) -> uint8_t * {
    return base + inputSlots[name].offset;
  };
  auto fits = [&](const char *name, size_t bytes) {
    return bytes <= inputSlots[name].capacity;
  };

  shape.tokens = pad ? bucket : T;
  shape.seqs = pad ? bucket : B;
  shape.sampled = pad ? bucket : S;
  shape.width = pad ? maxWidth : W;
  const size_t Tn = static_cast<size_t>(shape.tokens);
  const size_t Bn = static_cast<size_t>(shape.seqs);
  const size_t Sn = static_cast<size_t>(shape.sampled);
  const size_t Wn = static_cast<size_t>(shape.width);
  if (!fits("tokens", Tn * 4) || !fits("context_lens", Bn * 4) ||
      !fits("query_start", (Bn + 1) * 4) || !fits("logits_indices", Sn * 4) ||
      !fits("block_tables", Bn * Wn * 4) || shape.width > maxWidth)
    return invalidArgumentError(
        "step too large for the CUDA backend's buffers: " + std::to_string(T) +
        " tokens (max " + std::to_string(opts.maxNumTokens) + "), " +
        std::to_string(B) + " sequences (max " +
        std::to_string(opts.maxNumSeqs) + "), block table width " +
        std::to_string(W) + " (max " + std::to_string(maxWidth) + ")");

  std::memcpy(at("tokens"), batch.tokenIds.data(), T * 4u);
  std::memcpy(at("positions"), batch.positions.data(), T * 4u);
  std::memcpy(at("slots"), batch.slotMapping.data(), T * 4u);
  std::memcpy(at("context_lens"), batch.contextLens.data(), B * 4u);
  std::memcpy(at("query_start"), batch.queryStartLoc.data(), (B + 1) * 4u);
  std::memcpy(at("logits_indices"), batch.logitsIndices.data(), S * 4u);
  auto *temperature = reinterpret_cast<float *>(at("temperature"));
  auto *topK = reinterpret_cast<int32_t *>(at("top_k"));
  auto *topP = reinterpret_cast<float *>(at("top_p"));
  auto *seeds = reinterpret_cast<int64_t *>(at("seeds"));
  for (int32_t i = 0; i < S; ++i) {
    const SamplingParams &sp = batch.samplingParams[static_cast<size_t>(i)];
    temperature[i] = sp.temperature;
    topK[i] = sp.topK;
    topP[i] = sp.topP;
    // The sample op's per-row seed (Sampling.h): the position the new
    // token takes.
    seeds[i] = static_cast<int64_t>(
        sampleSeed(sp.seed, batch.positions[static_cast<size_t>(
                                batch.logitsIndices[static_cast<size_t>(i)])] +
                                1));
  }
  auto *tables = reinterpret_cast<int32_t *>(at("block_tables"));
  if (!pad) {
    std::memcpy(tables, batch.blockTables.data(),
                static_cast<size_t>(B) * static_cast<size_t>(W) * 4u);
    return okStatus();
  }

  // Graph step: rows re-laid out at the fixed width, then padding rows that
  // each own one slot of the padding blocks (past the usable pool).
  std::fill(tables, tables + Bn * Wn, -1);
  for (int32_t r = 0; r < B; ++r)
    std::memcpy(tables + static_cast<size_t>(r) * Wn,
                batch.blockTables.data() + static_cast<size_t>(r) * W,
                static_cast<size_t>(W) * 4u);
  auto *tok = reinterpret_cast<int32_t *>(at("tokens"));
  auto *pos = reinterpret_cast<int32_t *>(at("positions"));
  auto *slot = reinterpret_cast<int32_t *>(at("slots"));
  auto *ctxLens = reinterpret_cast<int32_t *>(at("context_lens"));
  auto *qs = reinterpret_cast<int32_t *>(at("query_start"));
  auto *li = reinterpret_cast<int32_t *>(at("logits_indices"));
  const int32_t bs = static_cast<int32_t>(kv.blockSize);
  for (int32_t j = B; j < bucket; ++j) {
    int32_t block = numBlocks + j / bs;
    int32_t offset = j % bs;
    tok[j] = 0;
    pos[j] = offset;
    slot[j] = block * bs + offset;
    ctxLens[j] = offset + 1;
    qs[j + 1] = j + 1;
    li[j] = j;
    tables[static_cast<size_t>(j) * Wn] = block;
    temperature[j] = 0.0f;
    topK[j] = 0;
    topP[j] = 1.0f;
    seeds[j] = 0;
  }
  return okStatus();
}

Status CudaBackend::issueLaunches(const StepShape &shape) {
  const CudaDriver &d = ctx.driver();
  const int64_t quantity[4] = {1, shape.tokens, shape.seqs, shape.sampled};
  auto extent = [&](int64_t grid, Scale s) -> int64_t {
    switch (s) {
    case Scale::PerTokens:
      return shape.tokens > 0 ? (grid + shape.tokens - 1) / shape.tokens : 0;
    case Scale::PerSeqs:
      return shape.seqs > 0 ? (grid + shape.seqs - 1) / shape.seqs : 0;
    default:
      return grid * quantity[static_cast<int>(s)];
    }
  };
  launchedKernels.clear();
  // Records profile event `i` (created on first use).
  auto mark = [&](size_t i) -> Status {
    if (profileEvents.size() <= i) {
      INFER_ASSIGN_OR_RETURN(CudaEvent e, CudaEvent::create(d));
      profileEvents.push_back(std::move(e));
    }
    return profileEvents[i].record(stream.get());
  };
  for (const NodePlan &plan : plans) {
    const NodeGroup *group = selectGroup(plan, shape.tokens);
    if (!group)
      return invalidArgumentError("node " + std::to_string(plan.node) + " (" +
                                  plan.op + ") has no kernel variant for " +
                                  std::to_string(shape.tokens) + " tokens");
    for (const Launch &l : group->launches) {
      unsigned grid[3];
      bool empty = false;
      for (int i = 0; i < 3; ++i) {
        int64_t g = extent(l.grid[i], l.gridScale[i]);
        if (g <= 0)
          empty = true;
        grid[i] = static_cast<unsigned>(g);
      }
      if (empty)
        continue;
      paramStorage.resize(l.params.size());
      paramPtrs.resize(l.params.size());
      for (size_t i = 0; i < l.params.size(); ++i) {
        const Launch::Param &p = l.params[i];
        if (p.isScalar) {
          int32_t v = 0;
          switch (p.scalar) {
          case ScalarKind::Tokens:
            v = shape.tokens;
            break;
          case ScalarKind::Seqs:
            v = shape.seqs;
            break;
          case ScalarKind::Sampled:
            v = shape.sampled;
            break;
          case ScalarKind::Width:
            v = shape.width;
            break;
          case ScalarKind::Layer:
            v = p.layer;
            break;
          case ScalarKind::Launch:
            v = p.slot;
            break;
          }
          paramStorage[i] = 0;
          std::memcpy(&paramStorage[i], &v, sizeof(v));
        } else {
          paramStorage[i] = p.ptr;
        }
        paramPtrs[i] = &paramStorage[i];
      }
      void **params = paramPtrs.empty() ? nullptr : paramPtrs.data();
      if (opts.profileKernels) {
        INFER_RETURN_IF_ERROR(mark(launchedKernels.size()));
        launchedKernels.emplace_back(&l.kernel, &plan.op);
      }
      cu::Result r;
      if (l.programmatic) {
        // The kernel begins with griddepcontrol.wait: it may be scheduled
        // while the previous kernel finishes.
        cu::LaunchAttribute pdl;
        pdl.id = cu::LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        pdl.value.programmaticStreamSerializationAllowed = 1;
        cu::LaunchConfig config{grid[0],
                                grid[1],
                                grid[2],
                                static_cast<unsigned>(l.block[0]),
                                static_cast<unsigned>(l.block[1]),
                                static_cast<unsigned>(l.block[2]),
                                static_cast<unsigned>(l.sharedBytes),
                                stream.get(),
                                &pdl,
                                1};
        r = d.cuLaunchKernelEx(&config, l.function, params, nullptr);
      } else {
        r = d.cuLaunchKernel(l.function, grid[0], grid[1], grid[2],
                             static_cast<unsigned>(l.block[0]),
                             static_cast<unsigned>(l.block[1]),
                             static_cast<unsigned>(l.block[2]),
                             static_cast<unsigned>(l.sharedBytes), stream.get(),
                             params, nullptr);
      }
      if (r != cu::SUCCESS)
        return d.check(r, ("cuLaunchKernel(" + l.kernel + ", node " +
                           std::to_string(plan.node) + " " + plan.op + ")")
                              .c_str());
      ++backendStats.kernelLaunches;
    }
  }
  if (opts.profileKernels)
    return mark(launchedKernels.size());
  return okStatus();
}

StatusOr<size_t> CudaBackend::timelineBytes() const {
  if (!hasTimeline())
    return invalidArgumentError(
        "the artifact's kernels record no timeline: compile it with "
        "--target-options=timeline=1");
  return timelineSlots.size() * 2 * sizeof(uint64_t);
}

Status CudaBackend::resetTimeline() {
  INFER_ASSIGN_OR_RETURN(size_t bytes, timelineBytes());
  const CudaDriver &d = ctx.driver();
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemsetD8Async(timelineBuffer.ptr(), 0, bytes, stream.get()));
  return okStatus();
}

StatusOr<std::vector<TimelineEntry>> CudaBackend::timeline() {
  INFER_ASSIGN_OR_RETURN(size_t bytes, timelineBytes());
  const CudaDriver &d = ctx.driver();
  INFER_CUDA_RETURN_IF_ERROR(d, cuStreamSynchronize(stream.get()));
  std::vector<uint64_t> raw(bytes / sizeof(uint64_t));
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemcpyDtoH(raw.data(), timelineBuffer.ptr(), bytes));
  std::vector<TimelineEntry> out;
  for (size_t i = 0; i < timelineSlots.size(); ++i) {
    if (raw[2 * i + 1] == 0) // did not run
      continue;
    TimelineEntry e = timelineSlots[i];
    e.startNs = ~raw[2 * i];
    e.endNs = raw[2 * i + 1];
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TimelineEntry &a, const TimelineEntry &b) {
                     return a.startNs < b.startNs;
                   });
  return out;
}

Status CudaBackend::collectKernelTimes() {
  for (size_t i = 0; i < launchedKernels.size(); ++i) {
    INFER_ASSIGN_OR_RETURN(
        float ms, CudaEvent::elapsedMs(profileEvents[i], profileEvents[i + 1]));
    const auto &[kernel, op] = launchedKernels[i];
    KernelTime &t = kernelTimes[*kernel];
    if (t.launches == 0) {
      t.kernel = *kernel;
      t.op = *op;
    }
    ++t.launches;
    t.ms += ms;
  }
  launchedKernels.clear();
  return okStatus();
}

std::vector<KernelTime> CudaBackend::kernelProfile() const {
  std::vector<KernelTime> out;
  for (const auto &entry : kernelTimes)
    out.push_back(entry.second);
  std::stable_sort(
      out.begin(), out.end(),
      [](const KernelTime &a, const KernelTime &b) { return a.ms > b.ms; });
  return out;
}

Status CudaBackend::step(const StepBatch &batch, StepOutputs &out,
                         const StepExtras *extras) {
  (void)extras; // Extra inputs are rejected at creation.
  if (!submitted.empty())
    return invalidArgumentError(
        "step() while submitted steps are not collected; collect() them "
        "first");
  out.tokens.clear();
  out.logits.clear();
  out.extra.clear();
  out.vocabSize = vocab;
  const int32_t T = batch.numTokens();
  const int32_t B = static_cast<int32_t>(batch.contextLens.size());
  if (T == 0)
    return okStatus();
  if (batch.queryStartLoc.size() != static_cast<size_t>(B) + 1 ||
      batch.queryStartLoc[0] != 0 ||
      batch.queryStartLoc[static_cast<size_t>(B)] != T)
    return invalidArgumentError("malformed StepBatch: queryStartLoc must "
                                "hold B + 1 offsets from 0 to T");
  bool oneTokenPerSeq = T == B;
  for (int32_t r = 0; r < B && oneTokenPerSeq; ++r)
    oneTokenPerSeq = batch.queryStartLoc[static_cast<size_t>(r) + 1] -
                         batch.queryStartLoc[static_cast<size_t>(r)] ==
                     1;
  if (oneQueryPerSeq && !oneTokenPerSeq) {
    // The attention kernels take one query per sequence (decode artifact).
    std::vector<SubStep> subs;
    INFER_RETURN_IF_ERROR(splitStepByPosition(batch, subs));
    return runSubSteps(batch, subs, out);
  }
  if (T > maxStepTokens) {
    std::vector<SubStep> subs;
    INFER_RETURN_IF_ERROR(splitStepInChunks(batch, maxStepTokens, subs));
    return runSubSteps(batch, subs, out);
  }
  return runStep(batch, out);
}

//===----------------------------------------------------------------------===//
// Splitting steps
//===----------------------------------------------------------------------===//

namespace {
/// Checks the array sizes of `batch` and maps every token to its row and to
/// its sampled index (-1: not sampled).
Status indexBatch(const StepBatch &batch, std::vector<int32_t> &rowOf,
                  std::vector<int32_t> &sampleOf) {
  const int32_t T = batch.numTokens();
  const int32_t B = static_cast<int32_t>(batch.contextLens.size());
  const size_t W = static_cast<size_t>(batch.blockTableWidth);
  if (batch.positions.size() != static_cast<size_t>(T) ||
      batch.slotMapping.size() != static_cast<size_t>(T) ||
      batch.queryStartLoc.size() != static_cast<size_t>(B) + 1 ||
      batch.samplingParams.size() != batch.logitsIndices.size() ||
      batch.blockTables.size() != static_cast<size_t>(B) * W)
    return invalidArgumentError("malformed StepBatch: array sizes disagree");
  rowOf.assign(static_cast<size_t>(T), -1);
  for (int32_t r = 0; r < B; ++r) {
    int32_t begin = batch.queryStartLoc[static_cast<size_t>(r)];
    int32_t end = batch.queryStartLoc[static_cast<size_t>(r) + 1];
    if (begin < 0 || end > T || begin > end)
      return invalidArgumentError("malformed StepBatch: queryStartLoc");
    for (int32_t t = begin; t < end; ++t)
      rowOf[static_cast<size_t>(t)] = r;
  }
  sampleOf.assign(static_cast<size_t>(T), -1);
  for (size_t s = 0; s < batch.logitsIndices.size(); ++s) {
    int32_t t = batch.logitsIndices[s];
    if (t < 0 || t >= T)
      return invalidArgumentError("logits index " + std::to_string(t) +
                                  " is not a token of the step");
    sampleOf[static_cast<size_t>(t)] = static_cast<int32_t>(s);
  }
  return okStatus();
}

/// Opens a sub-step of `batch` (the first one takes the block copies).
SubStep &newSubStep(const StepBatch &batch, std::vector<SubStep> &out) {
  out.emplace_back();
  SubStep &sub = out.back();
  sub.batch.stepId = batch.stepId;
  sub.batch.blockTableWidth = batch.blockTableWidth;
  sub.batch.queryStartLoc.push_back(0);
  if (out.size() == 1)
    sub.batch.blockCopies = batch.blockCopies;
  return sub;
}

/// Appends token `t` of `batch` to `sub`.
void appendToken(const StepBatch &batch, int32_t t, SubStep &sub) {
  sub.batch.tokenIds.push_back(batch.tokenIds[static_cast<size_t>(t)]);
  sub.batch.positions.push_back(batch.positions[static_cast<size_t>(t)]);
  sub.batch.slotMapping.push_back(batch.slotMapping[static_cast<size_t>(t)]);
}

/// Closes a row of `sub` that ends at token `t` of `batch`'s row `row`.
void closeRow(const StepBatch &batch, int32_t row, int32_t t, SubStep &sub) {
  const size_t W = static_cast<size_t>(batch.blockTableWidth);
  StepBatch &b = sub.batch;
  b.queryStartLoc.push_back(b.numTokens());
  b.contextLens.push_back(batch.positions[static_cast<size_t>(t)] + 1);
  b.blockTables.insert(b.blockTables.end(),
                       batch.blockTables.begin() +
                           static_cast<ptrdiff_t>(static_cast<size_t>(row) * W),
                       batch.blockTables.begin() +
                           static_cast<ptrdiff_t>((row + 1) * W));
  b.requestIds.push_back(row < static_cast<int32_t>(batch.requestIds.size())
                             ? batch.requestIds[static_cast<size_t>(row)]
                             : static_cast<uint64_t>(row));
}

/// Samples the last token of `sub`, as `batch`'s sampled index `s` (-1: a
/// row sampled only to keep the sub-step a pure decode step).
void sampleLast(const StepBatch &batch, int32_t s, SubStep &sub) {
  StepBatch &b = sub.batch;
  b.logitsIndices.push_back(b.numTokens() - 1);
  b.sampleRows.push_back(static_cast<int32_t>(b.contextLens.size()) - 1);
  b.samplingParams.push_back(
      s >= 0 ? batch.samplingParams[static_cast<size_t>(s)] : SamplingParams{});
  sub.sampleOf.push_back(s);
}
} // namespace

Status splitStepByPosition(const StepBatch &batch, std::vector<SubStep> &out) {
  out.clear();
  std::vector<int32_t> rowOf, sampleOf;
  INFER_RETURN_IF_ERROR(indexBatch(batch, rowOf, sampleOf));
  std::vector<int32_t> order(rowOf.size());
  std::iota(order.begin(), order.end(), 0);
  // By position, then flat order (a total order: the sort is stable).
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    int32_t pa = batch.positions[static_cast<size_t>(a)];
    int32_t pb = batch.positions[static_cast<size_t>(b)];
    return pa != pb ? pa < pb : a < b;
  });
  for (size_t i = 0; i < order.size();) {
    SubStep &sub = newSubStep(batch, out);
    int32_t pos = batch.positions[static_cast<size_t>(order[i])];
    for (; i < order.size() &&
           batch.positions[static_cast<size_t>(order[i])] == pos;
         ++i) {
      int32_t t = order[i];
      appendToken(batch, t, sub);
      closeRow(batch, rowOf[static_cast<size_t>(t)], t, sub);
      sampleLast(batch, sampleOf[static_cast<size_t>(t)], sub);
    }
  }
  return okStatus();
}

Status splitStepInChunks(const StepBatch &batch, int32_t maxTokens,
                         std::vector<SubStep> &out) {
  out.clear();
  if (maxTokens < 1)
    return invalidArgumentError("splitStepInChunks: maxTokens must be >= 1");
  std::vector<int32_t> rowOf, sampleOf;
  INFER_RETURN_IF_ERROR(indexBatch(batch, rowOf, sampleOf));
  const int32_t T = batch.numTokens();
  for (int32_t begin = 0; begin < T; begin += maxTokens) {
    int32_t end = std::min(T, begin + maxTokens);
    SubStep &sub = newSubStep(batch, out);
    for (int32_t t = begin; t < end; ++t) {
      appendToken(batch, t, sub);
      int32_t s = sampleOf[static_cast<size_t>(t)];
      if (s >= 0) {
        StepBatch &b = sub.batch;
        b.logitsIndices.push_back(b.numTokens() - 1);
        b.sampleRows.push_back(static_cast<int32_t>(b.contextLens.size()));
        b.samplingParams.push_back(
            batch.samplingParams[static_cast<size_t>(s)]);
        sub.sampleOf.push_back(s);
      }
      int32_t row = rowOf[static_cast<size_t>(t)];
      bool rowEnds = t + 1 == batch.queryStartLoc[static_cast<size_t>(row) + 1];
      if (rowEnds || t + 1 == end)
        closeRow(batch, row, t, sub);
    }
  }
  return okStatus();
}

Status CudaBackend::runSubSteps(const StepBatch &batch,
                                const std::vector<SubStep> &subs,
                                StepOutputs &out) {
  const size_t S = batch.logitsIndices.size();
  const size_t V = static_cast<size_t>(vocab);
  out.tokens.assign(S, 0);
  const bool wantLogits = opts.copyLogits && logitsOutput >= 0;
  if (wantLogits)
    out.logits.assign(S * V, 0.0f);
  StepOutputs subOut;
  for (const SubStep &sub : subs) {
    INFER_RETURN_IF_ERROR(runStep(sub.batch, subOut));
    for (size_t k = 0; k < sub.sampleOf.size(); ++k) {
      int32_t s = sub.sampleOf[k];
      if (s < 0)
        continue;
      out.tokens[static_cast<size_t>(s)] = subOut.tokens[k];
      if (wantLogits)
        std::copy_n(subOut.logits.begin() + static_cast<ptrdiff_t>(k * V), V,
                    out.logits.begin() +
                        static_cast<ptrdiff_t>(static_cast<size_t>(s) * V));
    }
    ++backendStats.subSteps;
  }
  return okStatus();
}

Status CudaBackend::runStep(const StepBatch &batch, StepOutputs &out) {
  INFER_RETURN_IF_ERROR(enqueueStep(batch, stepSlots[0], out));
  return finishStep(batch, stepSlots[0], out);
}

bool CudaBackend::samplesCanFeedTokens() const {
  const int64_t tokensInput = inputSlots.at("tokens").valueId;
  bool sampled = false;
  for (const GraphNode &n : art->nodes()) {
    bool reads = std::find(n.operands.begin(), n.operands.end(), tokensInput) !=
                 n.operands.end();
    for (const auto &[role, id] : n.roles)
      reads = reads || id == tokensInput;
    if (reads && sampled)
      return false;
    for (int64_t r : n.results)
      sampled = sampled || r == tokensOutput;
    if (reads && sampled)
      return false; // the sampling node reads the tokens itself
  }
  return sampled;
}

bool CudaBackend::samplesOnDevice(const StepBatch &batch) {
  // The rows the GPU sampler takes (Sample.cpp): greedy, or top-k <= 64.
  for (const SamplingParams &sp : batch.samplingParams)
    if (sp.temperature > 0.0f && (sp.topK <= 0 || sp.topK > 64))
      return false;
  return true;
}

bool CudaBackend::canRunAhead(const StepBatch &batch) const {
  // One launch plan (no sub-steps), and no per-kernel profile.
  return !opts.profileKernels && !batch.empty() &&
         batch.numTokens() == batch.numSeqs() &&
         batch.numTokens() <= maxStepTokens;
}

Status CudaBackend::submit(const StepBatch &batch, bool tokensFromPrevious) {
  if (submitted.size() >= 2)
    return invalidArgumentError(
        "submit(): two steps are already submitted; collect() one first");
  Submitted sub;
  sub.batch = &batch;
  if (!canRunAhead(batch)) {
    // Sub-steps (or a profile): run it now.
    if (tokensFromPrevious || !submitted.empty())
      return invalidArgumentError(
          "submit(): a step that runs as sub-steps must be submitted alone");
    INFER_RETURN_IF_ERROR(step(batch, sub.out));
    sub.done = true;
    submitted.push_back(std::move(sub));
    return okStatus();
  }
  if (tokensFromPrevious &&
      (submitted.empty() || submitted.back().done ||
       submitted.back().batch->numSeqs() != batch.numSeqs()))
    return invalidArgumentError(
        "submit(): a step fed by the previous step's samples must follow a "
        "submitted decode step of the same rows");
  // With a step running, this one is packed now. It is launched at once
  // when it reads that step's samples in place (all sampled on the GPU),
  // else when that step completes, its samples written by the host.
  sub.slot = submitted.empty() ? 0 : 1 - submitted.back().slot;
  sub.tokensFromPrevious = tokensFromPrevious;
  StepSlot &slot = stepSlots[sub.slot];
  INFER_RETURN_IF_ERROR(prepareStep(batch, slot, sub.out));
  const bool inPlace = tokensFromPrevious && samplesInPlace &&
                       opts.launchAhead && submitted.back().launched &&
                       samplesOnDevice(*submitted.back().batch);
  sub.launched = submitted.empty() || submitted.back().done || inPlace;
  if (sub.launched)
    INFER_RETURN_IF_ERROR(launchStep(batch, slot, sub.out, inPlace));
  submitted.push_back(std::move(sub));
  return okStatus();
}

Status CudaBackend::collect(StepOutputs &out) {
  if (submitted.empty())
    return invalidArgumentError("collect(): no step was submitted");
  Submitted sub = std::move(submitted.front());
  submitted.pop_front();
  out = std::move(sub.out);
  if (!sub.done)
    INFER_RETURN_IF_ERROR(finishStep(*sub.batch, stepSlots[sub.slot], out));
  // The step packed while this one ran starts now, on its samples.
  if (submitted.empty() || submitted.front().launched)
    return okStatus();
  Submitted &next = submitted.front();
  StepSlot &slot = stepSlots[next.slot];
  if (next.tokensFromPrevious) {
    if (out.tokens.size() != static_cast<size_t>(next.batch->numTokens()))
      return internalError("run-ahead: the previous step's samples do not "
                           "match the next step's rows");
    std::memcpy(slot.staging.as<uint8_t>() + inputSlots["tokens"].offset,
                out.tokens.data(), out.tokens.size() * sizeof(int32_t));
  }
  next.launched = true;
  return launchStep(*next.batch, slot, next.out);
}

Status CudaBackend::enqueueStep(const StepBatch &batch, StepSlot &slot,
                                StepOutputs &out) {
  INFER_RETURN_IF_ERROR(prepareStep(batch, slot, out));
  return launchStep(batch, slot, out);
}

Status CudaBackend::prepareStep(const StepBatch &batch, StepSlot &slot,
                                StepOutputs &out) {
  const int32_t T = batch.numTokens();
  const int32_t B = static_cast<int32_t>(batch.contextLens.size());
  const int32_t S = static_cast<int32_t>(batch.logitsIndices.size());
  out.tokens.clear();
  out.logits.clear();
  out.extra.clear();
  out.vocabSize = vocab;
  // step() answers an empty batch itself; sub-steps and run-ahead steps
  // have tokens.
  if (T == 0)
    return internalError("prepareStep: a step without tokens");
  if (batch.positions.size() != static_cast<size_t>(T) ||
      batch.slotMapping.size() != static_cast<size_t>(T) ||
      batch.queryStartLoc.size() != static_cast<size_t>(B) + 1 ||
      batch.samplingParams.size() != static_cast<size_t>(S) ||
      batch.blockTables.size() !=
          static_cast<size_t>(B) * static_cast<size_t>(batch.blockTableWidth))
    return invalidArgumentError("malformed StepBatch: array sizes disagree");
  for (int32_t i : batch.logitsIndices)
    if (i < 0 || i >= T)
      return invalidArgumentError("logits index " + std::to_string(i) +
                                  " is not a token of the step");
  for (int32_t s : batch.slotMapping)
    if (s < 0 || s >= numBlocks * static_cast<int32_t>(kv.blockSize))
      return invalidArgumentError("slot " + std::to_string(s) +
                                  " is outside the KV pool (" +
                                  std::to_string(numBlocks) + " blocks)");

  // A pure decode step (one query token per sequence, every row sampled in
  // order) runs from the graph of its bucket.
  int32_t bucket = 0;
  if (opts.useGraphs && !opts.profileKernels && T == B && S == B) {
    bool decode = true;
    for (int32_t i = 0; i < B && decode; ++i)
      decode = batch.queryStartLoc[static_cast<size_t>(i)] == i &&
               batch.logitsIndices[static_cast<size_t>(i)] == i;
    decode = decode && batch.queryStartLoc[static_cast<size_t>(B)] == B &&
             batch.blockTableWidth <= maxWidth;
    if (decode)
      for (int32_t bkt : opts.graphBuckets)
        if (bkt >= B) {
          bucket = bkt;
          break;
        }
  }

  slot.bucket = bucket;
  return packInputs(batch, bucket > 0, bucket, slot.shape, slot.staging);
}

Status CudaBackend::launchStep(const StepBatch &batch, StepSlot &slot,
                               StepOutputs &out, bool tokensInPlace) {
  const bool wantLogits = opts.copyLogits && logitsOutput >= 0;
  const CudaDriver &d = ctx.driver();
  INFER_RETURN_IF_ERROR(ctx.makeCurrent());
  const int32_t S = static_cast<int32_t>(batch.logitsIndices.size());
  const int32_t bucket = slot.bucket;
  const StepShape &shape = slot.shape;
  cu::Stream s = stream.get();
  INFER_RETURN_IF_ERROR(slot.start.record(s));

  for (const BlockCopy &c : batch.blockCopies) {
    if (c.srcBlock < 0 || c.srcBlock >= numBlocks || c.dstBlock < 0 ||
        c.dstBlock >= numBlocks)
      return invalidArgumentError("block copy " + std::to_string(c.srcBlock) +
                                  " -> " + std::to_string(c.dstBlock) +
                                  " is outside the KV pool");
    INFER_CUDA_RETURN_IF_ERROR(
        d, cuMemcpyDtoDAsync(kvPool.ptr() + c.dstBlock * bytesPerBlock,
                             kvPool.ptr() + c.srcBlock * bytesPerBlock,
                             bytesPerBlock, s));
    ++backendStats.blockCopies;
  }

  // One copy of the input area up to the end of the used block tables.
  size_t used = inputSlots["block_tables"].offset +
                static_cast<size_t>(shape.seqs) *
                    static_cast<size_t>(shape.width) * sizeof(int32_t);
  // Tokens in place: the previous step's samples, already in the area.
  size_t from = tokensInPlace ? inputSlots["positions"].offset : 0;
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemcpyHtoDAsync(inputArea.ptr() + from,
                           slot.staging.as<uint8_t>() + from, used - from, s));

  if (bucket > 0) {
    auto it = graphs.find(bucket);
    if (it == graphs.end()) {
      INFER_RETURN_IF_ERROR(captureBucket(bucket));
      it = graphs.find(bucket);
    }
    INFER_RETURN_IF_ERROR(it->second.launch(s));
    ++backendStats.graphReplays;
  } else {
    INFER_RETURN_IF_ERROR(issueLaunches(shape));
    ++backendStats.eagerSteps;
  }

  if (S > 0)
    INFER_CUDA_RETURN_IF_ERROR(
        d, cuMemcpyDtoHAsync(slot.outputStaging.data(),
                             valueAddr[static_cast<size_t>(tokensOutput)],
                             static_cast<size_t>(S) * sizeof(int32_t), s));
  slot.halfLogits.clear();
  if (wantLogits && S > 0) {
    size_t n = static_cast<size_t>(S) * static_cast<size_t>(vocab);
    out.logits.resize(n);
    cu::DevicePtr src = valueAddr[static_cast<size_t>(logitsOutput)];
    if (logitsDType == DType::F32) {
      INFER_CUDA_RETURN_IF_ERROR(
          d, cuMemcpyDtoHAsync(out.logits.data(), src, n * sizeof(float), s));
    } else {
      slot.halfLogits.resize(n);
      INFER_CUDA_RETURN_IF_ERROR(
          d, cuMemcpyDtoHAsync(slot.halfLogits.data(), src, n * 2, s));
    }
  }
  return slot.end.record(s);
}

Status CudaBackend::finishStep(const StepBatch &batch, StepSlot &slot,
                               StepOutputs &out) {
  const size_t S = batch.logitsIndices.size();
  INFER_RETURN_IF_ERROR(slot.end.synchronize());
  StatusOr<float> ms = CudaEvent::elapsedMs(slot.start, slot.end);
  lastDeviceMs = ms.ok() ? *ms : 0.0f;
  if (opts.profileKernels)
    INFER_RETURN_IF_ERROR(collectKernelTimes());
  out.tokens.assign(slot.outputStaging.as<int32_t>(),
                    slot.outputStaging.as<int32_t>() + S);
  widenLogits(logitsDType, slot.halfLogits.data(), out.logits.data(),
              slot.halfLogits.size());
  return sampleLeftoverRows(batch, out);
}

/// The GPU sampler leaves -1 in rows it does not handle (temperature > 0 with
/// top_k off or above its limit, docs/launch-plan.md); sample those on the
/// host from the row's logits with the same definition (Sampling.h).
Status CudaBackend::sampleLeftoverRows(const StepBatch &batch,
                                       StepOutputs &out) {
  std::vector<float> row;
  std::vector<uint16_t> half;
  for (size_t s = 0; s < out.tokens.size(); ++s) {
    if (out.tokens[s] != -1)
      continue;
    if (logitsOutput < 0)
      return internalError("the GPU sampler left row " + std::to_string(s) +
                           " unsampled and the step has no logits output");
    const float *logits = nullptr;
    if (out.logits.size() == out.tokens.size() * static_cast<size_t>(vocab)) {
      logits = out.logits.data() + s * static_cast<size_t>(vocab);
    } else {
      const CudaDriver &d = ctx.driver();
      size_t elem = logitsDType == DType::F32 ? 4 : 2;
      cu::DevicePtr src = valueAddr[static_cast<size_t>(logitsOutput)] +
                          s * static_cast<size_t>(vocab) * elem;
      row.resize(static_cast<size_t>(vocab));
      if (elem == 4) {
        INFER_CUDA_RETURN_IF_ERROR(
            d, cuMemcpyDtoH(row.data(), src, row.size() * sizeof(float)));
      } else {
        half.resize(row.size());
        INFER_CUDA_RETURN_IF_ERROR(
            d, cuMemcpyDtoH(half.data(), src, half.size() * 2));
        widenLogits(logitsDType, half.data(), row.data(), half.size());
      }
      logits = row.data();
    }
    const SamplingParams &sp = batch.samplingParams[s];
    int32_t position =
        batch.positions[static_cast<size_t>(batch.logitsIndices[s])];
    out.tokens[s] = sampleRow(logits, vocab, sp.temperature, sp.topK, sp.topP,
                              sampleSeed(sp.seed, position + 1));
  }
  return okStatus();
}

Status CudaBackend::readKvBlock(int32_t block, std::vector<uint8_t> &bytes) {
  if (block < 0 || block >= numBlocks + numPadBlocks)
    return invalidArgumentError("block " + std::to_string(block) +
                                " is outside the KV pool");
  INFER_RETURN_IF_ERROR(ctx.makeCurrent());
  INFER_RETURN_IF_ERROR(stream.synchronize());
  bytes.resize(bytesPerBlock);
  const CudaDriver &d = ctx.driver();
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemcpyDtoH(bytes.data(), kvPool.ptr() + block * bytesPerBlock,
                      bytesPerBlock));
  return okStatus();
}

Status CudaBackend::readWeight(int64_t valueId, std::vector<uint8_t> &bytes) {
  bool isWeight = false;
  for (const GraphNode &n : art->nodes())
    isWeight |= n.kind == artifact::OpKind::Weight && n.results[0] == valueId;
  if (!isWeight)
    return invalidArgumentError("value " + std::to_string(valueId) +
                                " is not a weight");
  const ValueInfo &v = *art->value(valueId);
  INFER_RETURN_IF_ERROR(ctx.makeCurrent());
  INFER_RETURN_IF_ERROR(stream.synchronize());
  bytes.resize(static_cast<size_t>(numElements(v.shape)) * dtypeSize(v.dtype));
  const CudaDriver &d = ctx.driver();
  INFER_CUDA_RETURN_IF_ERROR(
      d, cuMemcpyDtoH(bytes.data(), valueAddr[static_cast<size_t>(valueId)],
                      bytes.size()));
  return okStatus();
}

} // namespace infer::runtime

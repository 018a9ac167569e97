//===- SafeTensors.cpp - Memory-mapped safetensors ------------------------===//

#include "infer/runtime/SafeTensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace infer;
using namespace infer::runtime;
using json = nlohmann::json;

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status readText(const std::string &path, std::string &out) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return notFoundError(path + ": cannot open: " + std::strerror(errno));
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, n);
  std::fclose(f);
  return okStatus();
}
} // namespace

StatusOr<std::shared_ptr<MappedFile>>
MappedFile::open(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return notFoundError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalidArgumentError(path + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->filePath = path;
  file->length = static_cast<size_t>(st.st_size);
  if (file->length > 0) {
    void *p = ::mmap(nullptr, file->length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return internalError(path + ": mmap failed: " + std::strerror(errno));
    }
    ::madvise(p, file->length, MADV_WILLNEED); // Start reading ahead.
    file->base = static_cast<const uint8_t *>(p);
  }
  ::close(fd);
  return file;
}

MappedFile::~MappedFile() {
  if (base)
    ::munmap(const_cast<uint8_t *>(base), length);
}

Status SafeTensors::addFile(std::shared_ptr<MappedFile> file) {
  const std::string &path = file->path();
  auto bad = [&](const std::string &msg) {
    return dataLossError(path + ": " + msg +
                         " (is this a complete .safetensors file? "
                         "re-download or re-export it)");
  };
  if (file->size() < 8)
    return bad("file is " + std::to_string(file->size()) +
               " bytes, shorter than the 8-byte header length");
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | file->data()[i];
  if (headerLen > kMaxHeaderBytes || headerLen > file->size() - 8)
    return bad("header length " + std::to_string(headerLen) +
               " exceeds the file size " + std::to_string(file->size()));
  const char *hdr = reinterpret_cast<const char *>(file->data() + 8);
  json header = json::parse(hdr, hdr + headerLen, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return bad("header is not a JSON object");
  const uint8_t *dataStart = file->data() + 8 + headerLen;
  uint64_t dataSize = file->size() - 8 - headerLen;

  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  size_t fileIndex = files.size();
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string &name = it.key();
    if (name == "__metadata__")
      continue;
    const json &e = it.value();
    std::string where = "tensor '" + name + "': ";
    if (!e.is_object())
      return bad(where + "entry is not an object");
    auto dt = e.find("dtype"), sh = e.find("shape"),
         off = e.find("data_offsets");
    if (dt == e.end() || !dt->is_string() || sh == e.end() || !sh->is_array() ||
        off == e.end() || !off->is_array() || off->size() != 2)
      return bad(where + "needs 'dtype' (string), 'shape' (array) and "
                         "'data_offsets' ([begin, end])");
    DType dtype;
    if (!parseSafeTensorsDType(dt->get<std::string>(), dtype))
      return bad(where + "unknown dtype '" + dt->get<std::string>() + "'");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const json &d : *sh) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        return bad(where + "shape entries must be non-negative integers");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t(1) << 62) / v)
        return bad(where + "shape is too large");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      return bad(where + "data_offsets must be non-negative integers");
    uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end || end > dataSize)
      return bad(where + "data_offsets [" + std::to_string(begin) + ", " +
                 std::to_string(end) + ") fall outside the " +
                 std::to_string(dataSize) + "-byte data section");
    if (end - begin != numel * dtypeSize(dtype))
      return bad(where + "shape " + shapeToString(shape) + " of " +
                 safeTensorsDTypeName(dtype) + " needs " +
                 std::to_string(numel * dtypeSize(dtype)) +
                 " bytes but data_offsets span " + std::to_string(end - begin));
    if (tensors.count(name))
      return invalidArgumentError(
          path + ": tensor '" + name + "' also appears in " +
          files[tensors[name].file]->path() + "; remove the duplicate shard");
    TensorView view;
    view.dtype = dtype;
    view.shape = std::move(shape);
    view.data = dataStart + begin;
    view.byteSize = end - begin;
    tensors[name] = Entry{std::move(view), fileIndex};
    spans.push_back({begin, end, name});
  }
  std::sort(spans.begin(), spans.end(),
            [](const Span &a, const Span &b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      return bad("tensors '" + spans[i - 1].name + "' and '" + spans[i].name +
                 "' overlap");
  files.push_back(std::move(file));
  return okStatus();
}

StatusOr<std::unique_ptr<SafeTensors>>
SafeTensors::fromFile(std::shared_ptr<MappedFile> file) {
  std::unique_ptr<SafeTensors> st(new SafeTensors());
  INFER_RETURN_IF_ERROR(st->addFile(std::move(file)));
  return st;
}

StatusOr<std::unique_ptr<SafeTensors>>
SafeTensors::open(const std::string &path) {
  std::vector<std::string> paths;
  if (!isDirectory(path)) {
    if (!fileExists(path))
      return notFoundError(path +
                           ": no such file or directory; pass a "
                           ".safetensors file or a checkpoint directory");
    paths.push_back(path);
  } else {
    std::string index = path + "/model.safetensors.index.json";
    if (fileExists(index)) {
      std::string text;
      INFER_RETURN_IF_ERROR(readText(index, text));
      json j = json::parse(text, nullptr, false);
      auto wm = j.is_object() ? j.find("weight_map") : j.end();
      if (j.is_discarded() || !j.is_object() || wm == j.end() ||
          !wm->is_object())
        return dataLossError(index + ": expected a JSON object with a "
                                     "'weight_map' object");
      std::set<std::string> shards;
      for (const json &v : *wm) {
        if (!v.is_string())
          return dataLossError(index +
                               ": weight_map values must be file names");
        shards.insert(v.get<std::string>());
      }
      for (const std::string &s : shards)
        paths.push_back(path + "/" + s);
    } else {
      DIR *dir = ::opendir(path.c_str());
      if (!dir)
        return notFoundError(path + ": cannot list directory");
      while (struct dirent *ent = ::readdir(dir)) {
        std::string name = ent->d_name;
        if (endsWith(name, ".safetensors"))
          paths.push_back(path + "/" + name);
      }
      ::closedir(dir);
      std::sort(paths.begin(), paths.end());
    }
    if (paths.empty())
      return notFoundError(path + ": no *.safetensors files in the directory");
  }
  std::unique_ptr<SafeTensors> st(new SafeTensors());
  for (const std::string &p : paths) {
    INFER_ASSIGN_OR_RETURN(std::shared_ptr<MappedFile> file,
                           MappedFile::open(p));
    INFER_RETURN_IF_ERROR(st->addFile(std::move(file)));
  }
  return st;
}

const TensorView *SafeTensors::find(const std::string &name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second.view;
}

std::string SafeTensors::fileOf(const std::string &name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? std::string() : files[it->second.file]->path();
}

std::vector<std::string> SafeTensors::names() const {
  std::vector<std::string> out;
  for (const auto &kv : tensors)
    out.push_back(kv.first);
  return out;
}

size_t SafeTensors::totalBytes() const {
  size_t n = 0;
  for (const auto &kv : tensors)
    n += kv.second.view.byteSize;
  return n;
}

StatusOr<std::vector<float>>
infer::runtime::readColumnScale(const SafeTensors &weights,
                                const std::string &name, int64_t cols,
                                const std::string &where) {
  const TensorView *t = weights.find(name);
  if (!t)
    return notFoundError(where + ": column scale '" + name +
                         "' not found in the weights (are they the "
                         "checkpoint this artifact was compiled from?)");
  if ((t->dtype != DType::BF16 && t->dtype != DType::F16 &&
       t->dtype != DType::F32) ||
      t->shape != std::vector<int64_t>{cols})
    return invalidArgumentError(
        where + ": column scale '" + name + "' is " +
        safeTensorsDTypeName(t->dtype) + " " + shapeToString(t->shape) +
        "; expected a BF16, F16 or F32 vector of length " +
        std::to_string(cols) + " (the weight's columns)");
  std::vector<float> scale(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c)
    scale[c] = t->getFloat(c);
  return scale;
}

Status
infer::runtime::writeSafeTensors(const std::string &path,
                                 const std::vector<SafeTensorsEntry> &entries) {
  json header = json::object();
  uint64_t offset = 0;
  for (const SafeTensorsEntry &e : entries) {
    if (static_cast<uint64_t>(numElements(e.shape)) * dtypeSize(e.dtype) !=
        e.bytes.size())
      return invalidArgumentError("writeSafeTensors: '" + e.name +
                                  "' has a byte size that does not match its "
                                  "shape");
    header[e.name] = {{"dtype", safeTensorsDTypeName(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = header.dump();
  while (text.size() % 8)
    text.push_back(' ');
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return notFoundError(path + ": cannot create: " + std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(uint64_t(text.size()) >> (8 * i));
  bool ok = std::fwrite(len, 1, 8, f) == 8 &&
            std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const SafeTensorsEntry &e : entries)
    ok = ok &&
         std::fwrite(e.bytes.data(), 1, e.bytes.size(), f) == e.bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok)
    return dataLossError(path + ": write failed");
  return okStatus();
}

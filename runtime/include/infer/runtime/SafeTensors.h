//===- SafeTensors.h - Memory-mapped Hugging Face safetensors ---*- C++ -*-===//
//
// Maps one `.safetensors` file, or every shard of a checkpoint directory
// (listed by model.safetensors.index.json, else all *.safetensors files), and
// gives typed views of its tensors by name. Headers are fully validated:
// length, JSON, dtype, shape x dtype size == byte span, offsets inside the
// file and non-overlapping.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_SAFETENSORS_H
#define INFER_RUNTIME_SAFETENSORS_H

#include "infer/runtime/Status.h"
#include "infer/runtime/Tensor.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace infer::runtime {

/// A read-only memory-mapped file.
class MappedFile {
public:
  static StatusOr<std::shared_ptr<MappedFile>> open(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return base; }
  size_t size() const { return length; }
  const std::string &path() const { return filePath; }

private:
  MappedFile() = default;
  const uint8_t *base = nullptr;
  size_t length = 0;
  std::string filePath;
};

class SafeTensors {
public:
  /// Opens a file or a checkpoint directory.
  static StatusOr<std::unique_ptr<SafeTensors>> open(const std::string &path);
  /// Parses one file already in memory (`name` is used in errors).
  static StatusOr<std::unique_ptr<SafeTensors>>
  fromFile(std::shared_ptr<MappedFile> file);

  /// The tensor called `name`, or null.
  const TensorView *find(const std::string &name) const;
  /// The file that holds `name` (empty if absent).
  std::string fileOf(const std::string &name) const;
  std::vector<std::string> names() const;
  size_t size() const { return tensors.size(); }
  size_t totalBytes() const;

private:
  struct Entry {
    TensorView view;
    size_t file;
  };
  Status addFile(std::shared_ptr<MappedFile> file);

  std::vector<std::shared_ptr<MappedFile>> files;
  std::map<std::string, Entry> tensors;
};

/// The `column_scale` tensor `name` of a weight with `cols` columns, as f32
/// (`where` names the weight node in errors). NotFound when absent;
/// InvalidArgument unless it is a bf16/f16/f32 vector of `cols` elements.
StatusOr<std::vector<float>> readColumnScale(const SafeTensors &weights,
                                             const std::string &name,
                                             int64_t cols,
                                             const std::string &where);

/// One tensor to write: name, dtype, shape and raw little-endian bytes.
struct SafeTensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Writes a safetensors file (tests, examples, logits dumps).
Status writeSafeTensors(const std::string &path,
                        const std::vector<SafeTensorsEntry> &entries);

} // namespace infer::runtime

#endif // INFER_RUNTIME_SAFETENSORS_H

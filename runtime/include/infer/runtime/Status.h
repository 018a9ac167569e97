//===- Status.h - Error reporting without exceptions ------------*- C++ -*-===//
//
// A small Status / StatusOr<T> pair for the runtime, which is built without
// exceptions. Errors carry a code and a human-readable message.
//
//===----------------------------------------------------------------------===//

#ifndef INFER_RUNTIME_STATUS_H
#define INFER_RUNTIME_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace infer {

enum class StatusCode {
  Ok,
  InvalidArgument,
  OutOfMemory,
  NotFound,
  DataLoss,
  Unavailable,
  Internal,
};

inline const char *statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::Ok:
    return "Ok";
  case StatusCode::InvalidArgument:
    return "InvalidArgument";
  case StatusCode::OutOfMemory:
    return "OutOfMemory";
  case StatusCode::NotFound:
    return "NotFound";
  case StatusCode::DataLoss:
    return "DataLoss";
  case StatusCode::Unavailable:
    return "Unavailable";
  case StatusCode::Internal:
    return "Internal";
  }
  return "Unknown";
}

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : statusCode(code), msg(std::move(message)) {}

  bool ok() const { return statusCode == StatusCode::Ok; }
  StatusCode code() const { return statusCode; }
  const std::string &message() const { return msg; }
  std::string toString() const {
    if (ok())
      return "Ok";
    return std::string(statusCodeName(statusCode)) + ": " + msg;
  }

private:
  StatusCode statusCode = StatusCode::Ok;
  std::string msg;
};

inline Status okStatus() { return Status(); }
inline Status invalidArgumentError(std::string msg) {
  return Status(StatusCode::InvalidArgument, std::move(msg));
}
inline Status outOfMemoryError(std::string msg) {
  return Status(StatusCode::OutOfMemory, std::move(msg));
}
inline Status notFoundError(std::string msg) {
  return Status(StatusCode::NotFound, std::move(msg));
}
inline Status dataLossError(std::string msg) {
  return Status(StatusCode::DataLoss, std::move(msg));
}
inline Status unavailableError(std::string msg) {
  return Status(StatusCode::Unavailable, std::move(msg));
}
inline Status internalError(std::string msg) {
  return Status(StatusCode::Internal, std::move(msg));
}

/// Either a value or a non-Ok Status. Accessing the value of an error is a
/// programming error (asserts).
template <typename T> class [[nodiscard]] StatusOr {
public:
  StatusOr(Status status) : st(std::move(status)) {
    assert(!st.ok() && "StatusOr constructed from an Ok status");
    if (st.ok())
      st = internalError("StatusOr constructed from an Ok status");
  }
  StatusOr(T value) : val(std::move(value)) {}

  bool ok() const { return st.ok(); }
  const Status &status() const { return st; }

  T &value() & {
    assert(ok());
    return *val;
  }
  const T &value() const & {
    assert(ok());
    return *val;
  }
  T &&value() && {
    assert(ok());
    return std::move(*val);
  }
  T &operator*() & { return value(); }
  const T &operator*() const & { return value(); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }

private:
  Status st;
  std::optional<T> val;
};

namespace detail {
inline const Status &toStatus(const Status &status) { return status; }
template <typename T> const Status &toStatus(const StatusOr<T> &statusOr) {
  return statusOr.status();
}
} // namespace detail

} // namespace infer

#define INFER_STATUS_CONCAT_IMPL(a, b) a##b
#define INFER_STATUS_CONCAT(a, b) INFER_STATUS_CONCAT_IMPL(a, b)

/// Returns the Status of `expr` (a Status or StatusOr) from the enclosing
/// function if it is not Ok.
#define INFER_RETURN_IF_ERROR(expr)                                            \
  do {                                                                         \
    const auto &inferStatusRef = (expr);                                       \
    if (!::infer::detail::toStatus(inferStatusRef).ok())                       \
      return ::infer::detail::toStatus(inferStatusRef);                        \
  } while (false)

/// `INFER_ASSIGN_OR_RETURN(auto x, makeX());` declares/assigns the value or
/// returns the error.
#define INFER_ASSIGN_OR_RETURN(lhs, expr)                                      \
  INFER_ASSIGN_OR_RETURN_IMPL(INFER_STATUS_CONCAT(inferStatusOr, __LINE__),    \
                              lhs, expr)
#define INFER_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                            \
  auto tmp = (expr);                                                           \
  if (!tmp.ok())                                                               \
    return tmp.status();                                                       \
  lhs = std::move(tmp).value()

#endif // INFER_RUNTIME_STATUS_H

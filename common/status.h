#ifndef CS_COMMON_STATUS_H_
#define CS_COMMON_STATUS_H_

// The few status helpers Abseil 20220623 lacks.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CS_STATUS_CONCAT_INNER_(a, b) a##b
#define CS_STATUS_CONCAT_(a, b) CS_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    const ::absl::Status cs_status_ = (expr);        \
    if (!cs_status_.ok()) return cs_status_;         \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Foo()); declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CS_ASSIGN_OR_RETURN_IMPL_(CS_STATUS_CONCAT_(cs_statusor_, __LINE__), lhs, expr)

#define CS_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // CS_COMMON_STATUS_H_

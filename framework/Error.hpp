#pragma once
// Two tiers of errors (docs/architecture.md, "Errors"): UserError for bad input (params, data files,
// command line), printed once in main as one clear message with a non-zero exit; InternalError for bugs.
#include <stdexcept>
#include <string>

namespace laminar {

// Where a value came from: a params file position, the command line, or a data file.
struct Location {
  std::string file;  // params file, data file, or "command line"
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown

  std::string str() const {
    std::string s = file.empty() ? std::string("<params>") : file;
    if (line > 0) s += ":" + std::to_string(line);
    if (line > 0 && column > 0) s += ":" + std::to_string(column);
    return s;
  }
};

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
  UserError(const Location& where, const std::string& message)
      : std::runtime_error(where.str() + ": " + message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message)
      : std::logic_error("internal error (please report): " + message) {}
};

}  // namespace laminar

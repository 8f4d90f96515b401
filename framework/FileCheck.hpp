#pragma once
// Checks every loader makes before opening an input file (params, data, labels, fonts, weights).
#include <filesystem>
#include <string>

#include "framework/Error.hpp"

namespace laminar {

// Refuses a path that names a character or block device, a FIFO or a socket (/dev/zero,
// /dev/urandom, a named pipe): reading one never ends (a generic out-of-memory, naming no file)
// or blocks forever (opening a FIFO for reading waits for a writer). Checked with stat, which
// follows symbolic links and opens nothing. A missing path or a folder passes: each loader has its
// own message for those.
inline void require_regular_file(const std::string& path) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (ec) return;  // not found, or not reachable: the loader's own error says so
  switch (st.type()) {
    case std::filesystem::file_type::character:
    case std::filesystem::file_type::block:
    case std::filesystem::file_type::fifo:
    case std::filesystem::file_type::socket:
      throw UserError(path + ": not a regular file (a device, FIFO or socket); give a file");
    default: return;
  }
}

}  // namespace laminar

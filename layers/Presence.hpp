#pragma once
// Per-batch-element presence of an input modality (Layer::present()), shared by input layers:
// a labels-CSV column whose cells say whether an item's modality is there.
#include <algorithm>
#include <string>

#include "framework/ImageIO.hpp"
#include "framework/Params.hpp"

namespace laminar {

// "1", "true", "yes", "y", "present" (any case) -> 1; "0", "false", "no", "n", "absent", "" -> 0;
// anything else -> -1 (not a presence value).
inline int parse_presence_cell(std::string v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (v == "1" || v == "true" || v == "yes" || v == "y" || v == "present") return 1;
  if (v.empty() || v == "0" || v == "false" || v == "no" || v == "n" || v == "absent") return 0;
  return -1;
}

// The index of `column` in `table`; a user error at `key` of `p` if absent or if any row's cell is
// not a presence value (so `laminar check` reports a bad cell before a run starts).
inline std::size_t presence_column(const LabelTable& table, const std::string& column, const ParamSet& p,
                                   const std::string& key, const std::string& csv) {
  auto it = std::find(table.columns.begin(), table.columns.end(), column);
  if (it == table.columns.end()) {
    std::string have;
    for (const auto& c : table.columns) have += (have.empty() ? "" : ", ") + c;
    p.fail(key, csv + ": no column '" + column + "'" + did_you_mean(column, table.columns) + " (columns: " + have + ")");
  }
  const std::size_t c = std::size_t(it - table.columns.begin());
  for (const auto& [file, cells] : table.rows)
    if (parse_presence_cell(cells[c]) < 0)
      p.fail(key, csv + ": row '" + file + "': column '" + column + "' holds '" + cells[c] +
                      "'; expected 1/0, true/false, yes/no or empty (absent)");
  return c;
}

// Presence of `file` by its row: present when the cell says so; a file without a row is absent.
inline char presence_of(const LabelTable& table, std::size_t column, const std::string& file) {
  auto it = table.rows.find(file);
  return it != table.rows.end() && parse_presence_cell(it->second[column]) == 1 ? 1 : 0;
}

// About the memory a labels CSV takes once read (its cells and the map's nodes), for the memory estimate.
inline double label_table_bytes(const LabelTable& t) {
  double b = 0;
  for (const auto& c : t.columns) b += 32.0 + double(c.size());
  for (const auto& [file, cells] : t.rows) {
    b += 96.0 + double(file.size());  // a map node and its key
    for (const auto& c : cells) b += 32.0 + double(c.size());
  }
  return b;
}

}  // namespace laminar

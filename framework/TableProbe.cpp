#include "framework/TableProbe.hpp"

#include <iomanip>
#include <sstream>

namespace laminar {

void TableProbe::open(Output& out, const SimulationConfig& sim) {
  batch_ = sim.batch_size;
  csv_ = sim.write_csv;
  out.attribute("probes/" + name_, "type", type_);
  out.declare("probes/" + name_ + "/step", {"sample"}, "the step of each sample (0-based; the sample follows it)");
  for (const auto& c : columns())
    out.declare("probes/" + name_ + "/" + c, {"sample", "batch"}, type_ + " " + c + " per sample and batch element");
  if (csv_) {
    std::string header = "step,batch";
    for (const auto& c : columns()) header += "," + c;
    out.csv(name_, header);
  }
}

void TableProbe::sample(long step, Output& out) {
  collect();
  if (!out.writer()) return;
  const auto cols = columns();
  last_.assign(cols.size(), std::vector<double>(batch_, 0.0));
  compute(last_);
  const std::int64_t s = step;
  out.append("probes/" + name_ + "/step", &s, {});
  for (std::size_t c = 0; c < cols.size(); ++c)
    out.append("probes/" + name_ + "/" + cols[c], last_[c].data(), {std::size_t(batch_)});
  if (csv_) {
    std::ostringstream f;
    f << std::setprecision(9);
    for (int b = 0; b < batch_; ++b) {
      f << step << "," << b;
      for (std::size_t c = 0; c < cols.size(); ++c) f << "," << last_[c][b];
      f << "\n";
    }
    out.csv_append(name_, f.str());
  }
}

std::vector<double> TableProbe::saved_state() const {
  std::vector<double> v;
  for (const auto& c : last_) v.insert(v.end(), c.begin(), c.end());
  return v;
}

void TableProbe::restore_state(const std::vector<double>& v) {
  last_.clear();
  const std::size_t cols = columns().size();
  if (v.size() != cols * std::size_t(batch_)) return;  // no sample before the checkpoint
  for (std::size_t c = 0; c < cols; ++c) last_.emplace_back(v.begin() + c * batch_, v.begin() + (c + 1) * batch_);
}

std::optional<double> TableProbe::headline() const {
  int c = headline_column();
  if (c < 0 || last_.empty()) return std::nullopt;
  double sum = 0;
  for (double v : last_[c]) sum += v;
  return sum / double(last_[c].size());
}

}  // namespace laminar

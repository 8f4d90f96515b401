#pragma once
// Base for probes that write one row of named scalar columns per batch element per sample:
// HDF5 `probes/<name>/<column>` of shape [samples, batch] plus `probes/<name>/step`, and a CSV
// `<output>/<name>.csv` with columns step,batch,<columns...>.
#include <string>
#include <vector>

#include "framework/Output.hpp"
#include "framework/Probe.hpp"
#include "framework/Registry.hpp"

namespace laminar {

class TableProbe : public Probe {
 public:
  using Probe::Probe;
  void open(Output& out, const SimulationConfig& sim) override;
  void sample(long step, Output& out) override;
  std::optional<double> headline() const override;
  // The last sample's values (columns x batch, flattened) for the progress line after a resume.
  std::vector<double> saved_state() const override;
  void restore_state(const std::vector<double>& v) override;

 protected:
  // Column names, fixed after resolve().
  virtual std::vector<std::string> columns() const = 0;
  // Called on every process before compute(), which runs on the writer (rank 0) only: probes
  // that read layers gather them here (Layer::gathered, collective under MPI).
  virtual void collect() {}
  // values[column][batch] for the current state (the whole batch).
  virtual void compute(std::vector<std::vector<double>>& values) const = 0;
  // Which column feeds the progress line (-1: none).
  virtual int headline_column() const { return -1; }
  int batch_ = 1;
  bool csv_ = true;
  std::vector<std::vector<double>> last_;
};

}  // namespace laminar

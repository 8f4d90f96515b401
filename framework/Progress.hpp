#pragma once
// Progress on long runs: a live line with step, rate, ETA and energy on a terminal; plain
// periodic log lines (every 10% or 30 s) when stdout is not a terminal.
#include <chrono>
#include <optional>
#include <string>

namespace laminar {

class Progress {
 public:
  // `first_step`: where a resumed run starts (the rate counts the steps run here).
  Progress(long total_steps, bool quiet, long first_step = 0);
  void update(long step_done, std::optional<double> value, const std::string& label);
  void finish(std::optional<double> value, const std::string& label);

 private:
  std::string line(long done, std::optional<double> value, const std::string& label) const;
  long total_;
  bool quiet_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
  long next_log_step_ = 0;
  long first_ = 0;
};

std::string format_duration(double seconds);

}  // namespace laminar

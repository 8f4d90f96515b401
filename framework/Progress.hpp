#pragma once
// Progress on long runs: a live line with step, rate, ETA and the settled energy of the last
// finished display period on a terminal; plain log lines at display-period boundaries (about every
// 10% or 30 s) when stdout is not a terminal; or one JSON object per line (`--progress jsonl`) for
// programs: {"step", "steps", "percent", "rate", "eta_s", "elapsed_s", "inputs", "period",
// "energy", "label", "final"}, at display-period boundaries (at most every 0.5 s) and at the end.
#include <chrono>
#include <optional>
#include <string>

namespace laminar {

enum class ProgressMode { Auto, Log, Jsonl, None };

class Progress {
 public:
  // `first_step`: where a resumed run starts (the rate counts the steps run here); `display_period`
  // and `batch`: how many inputs a step shows (inputs = finished periods x batch).
  Progress(long total_steps, ProgressMode mode, long first_step = 0, long display_period = 1, long batch = 1);
  // After step `step_done` steps; `settled`: the headline value (e.g. energy) at the end of the last
  // finished display period, if any; `period_end`: this step ended a display period.
  void update(long step_done, std::optional<double> settled, const std::string& label, bool period_end);
  void finish(std::optional<double> settled, const std::string& label);

 private:
  std::string line(long done, std::optional<double> value, const std::string& label) const;
  std::string json(long done, std::optional<double> value, const std::string& label, bool final) const;
  long total_;
  ProgressMode mode_;
  bool tty_;
  long display_period_ = 1, batch_ = 1;
  std::chrono::steady_clock::time_point start_, last_;
  long next_log_step_ = 0;
  long first_ = 0;
};

std::string format_duration(double seconds);

}  // namespace laminar

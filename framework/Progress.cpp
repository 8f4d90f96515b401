#include "framework/Progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace laminar {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

Progress::Progress(long total_steps, bool quiet, long first_step)
    : total_(total_steps), quiet_(quiet), tty_(isatty(STDOUT_FILENO)),
      start_(std::chrono::steady_clock::now()), last_(start_), next_log_step_(first_step), first_(first_step) {}

std::string Progress::line(long done, std::optional<double> value, const std::string& label) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? (done - first_) / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done) / rate : NAN;
  std::ostringstream s;
  s << "step " << done << "/" << total_ << " (" << int(100.0 * done / std::max(1L, total_)) << "%)";
  s.precision(rate >= 100 ? 0 : 1);
  s << std::fixed << "  " << rate << " steps/s";
  s << "  elapsed " << format_duration(elapsed) << "  ETA " << format_duration(eta);
  if (value) {
    s.unsetf(std::ios::fixed);
    s.precision(6);
    s << "  " << label << " " << *value;
  }
  return s.str();
}

void Progress::update(long done, std::optional<double> value, const std::string& label) {
  if (quiet_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (tty_) {
    if (since < 0.2 && done < total_) return;
    std::cout << "\r\033[K" << line(done, value, label) << std::flush;
    last_ = now;
  } else if (done >= next_log_step_ || since >= 30.0) {
    std::cout << line(done, value, label) << std::endl;
    last_ = now;
    next_log_step_ = done + std::max(1L, total_ / 10);
  }
}

void Progress::finish(std::optional<double> value, const std::string& label) {
  if (quiet_) return;
  if (tty_) std::cout << "\r\033[K";
  std::cout << line(total_, value, label) << std::endl;
}

}  // namespace laminar

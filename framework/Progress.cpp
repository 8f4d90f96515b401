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

Progress::Progress(long total_steps, ProgressMode mode, long first_step, long display_period, long batch)
    : total_(total_steps), mode_(mode), tty_(isatty(STDOUT_FILENO)), display_period_(std::max(1L, display_period)),
      batch_(std::max(1L, batch)), start_(std::chrono::steady_clock::now()), last_(start_),
      next_log_step_(first_step), first_(first_step) {
  if (mode_ == ProgressMode::Auto) mode_ = tty_ ? ProgressMode::Auto : ProgressMode::Log;
}

std::string Progress::line(long done, std::optional<double> value, const std::string& label) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? (done - first_) / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done) / rate : NAN;
  const long periods = done / display_period_;
  std::ostringstream s;
  s << "step " << done << "/" << total_ << " (" << int(100.0 * done / std::max(1L, total_)) << "%)";
  s << "  " << periods * batch_ << " inputs";
  s.precision(rate >= 100 ? 0 : 1);
  s << std::fixed << "  " << rate << " steps/s";
  s << "  elapsed " << format_duration(elapsed) << "  ETA " << format_duration(eta);
  if (value) {
    s.unsetf(std::ios::fixed);
    s.precision(6);
    s << "  settled " << label << " " << *value << " (period " << periods << ")";
  }
  return s.str();
}

std::string Progress::json(long done, std::optional<double> value, const std::string& label, bool final) const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? (done - first_) / elapsed : 0.0;
  double eta = rate > 0 ? (total_ - done) / rate : NAN;
  std::ostringstream s;
  s.precision(9);
  auto num = [&](double v) {
    std::ostringstream t;
    t.precision(9);
    if (std::isfinite(v)) t << v;
    else t << "null";
    return t.str();
  };
  std::string esc;
  for (char c : label) {
    if (c == '"' || c == '\\') esc += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) esc += c;
  }
  s << "{\"step\": " << done << ", \"steps\": " << total_ << ", \"percent\": " << num(100.0 * done / std::max(1L, total_))
    << ", \"rate\": " << num(rate) << ", \"eta_s\": " << num(eta) << ", \"elapsed_s\": " << num(elapsed)
    << ", \"inputs\": " << (done / display_period_) * batch_ << ", \"period\": " << done / display_period_
    << ", \"energy\": " << (value ? num(*value) : std::string("null")) << ", \"label\": \"" << esc
    << "\", \"final\": " << (final ? "true" : "false") << "}";
  return s.str();
}

void Progress::update(long done, std::optional<double> value, const std::string& label, bool period_end) {
  if (mode_ == ProgressMode::None) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_).count();
  if (done >= total_ && mode_ != ProgressMode::Auto) return;  // finish() writes the last line
  if (mode_ == ProgressMode::Jsonl) {
    if (!period_end || since < 0.5) return;
    std::cout << json(done, value, label, false) << std::endl;
    last_ = now;
  } else if (mode_ == ProgressMode::Auto) {  // a terminal: one live line
    if (since < 0.2 && done < total_) return;
    std::cout << "\r\033[K" << line(done, value, label) << std::flush;
    last_ = now;
  } else if (period_end && (done >= next_log_step_ || since >= 30.0)) {  // logs: at display-period ends
    std::cout << line(done, value, label) << std::endl;
    last_ = now;
    next_log_step_ = done + std::max(1L, total_ / 10);
  }
}

void Progress::finish(std::optional<double> value, const std::string& label) {
  if (mode_ == ProgressMode::None) return;
  if (mode_ == ProgressMode::Jsonl) {
    std::cout << json(total_, value, label, true) << std::endl;
    return;
  }
  if (mode_ == ProgressMode::Auto) std::cout << "\r\033[K";
  std::cout << line(total_, value, label) << std::endl;
}

}  // namespace laminar

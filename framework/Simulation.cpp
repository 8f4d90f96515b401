#include "framework/Simulation.hpp"

#include <omp.h>

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>
#include <fstream>
#include <csignal>
#include <iostream>
#include <limits>
#include <sstream>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "framework/Checkpoint.hpp"
#include "framework/Communicator.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Progress.hpp"

namespace laminar {

Simulation::Simulation(Network& net, Output& out, RunOptions options)
    : net_(net), out_(&out), options_(options) {}
Simulation::Simulation(Network& net, RunOptions options) : net_(net), options_(options) {}

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_signal != 0) {  // a second signal: stop now, the default way
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}

// SIGINT and SIGTERM set g_signal while a run lasts; the previous handlers come back afterwards.
class StopSignals {
 public:
  StopSignals() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

}  // namespace

struct Simulation::Snapshot {
  long step = -1;
  std::vector<Tensor> activity, membrane;
  std::vector<std::vector<Tensor>> buffers;  // Layer::state_buffers()
  std::vector<std::vector<std::pair<std::string, long long>>> counters;
  std::vector<std::vector<std::vector<float>>> connections;  // plastic connections' state arrays
  long weight_changes = -1;  // Simulation::weight_changes_ when `connections` was copied
  std::vector<std::vector<double>> probes;
  OutputMark mark;
};

void Simulation::take_snapshot(Snapshot& s, long step) {
  const auto& layers = net_.layers();
  s.step = step;
  s.activity.resize(layers.size());
  s.membrane.resize(layers.size());
  s.counters.resize(layers.size());
  s.buffers.resize(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    s.activity[i] = layers[i]->activity();
    if (layers[i]->has_membrane()) s.membrane[i] = layers[i]->membrane();
    const auto buffers = layers[i]->state_buffers();
    s.buffers[i].resize(buffers.size());
    for (std::size_t k = 0; k < buffers.size(); ++k) s.buffers[i][k] = *buffers[k].second;
    s.counters[i] = layers[i]->counters();
  }
  if (s.weight_changes == weight_changes_) return finish_snapshot(s);  // the weights did not change
  s.weight_changes = weight_changes_;
  s.connections.resize(net_.connections().size());
  for (std::size_t i = 0; i < net_.connections().size(); ++i) {
    const Connection& c = *net_.connections()[i];
    if (!c.plastic()) continue;
    const auto arrays = c.state();
    s.connections[i].resize(arrays.size());
    for (std::size_t k = 0; k < arrays.size(); ++k) {
      std::size_t n = 1;
      for (std::size_t d : arrays[k].shape) n *= d;
      s.connections[i][k].assign(arrays[k].data, arrays[k].data + n);
    }
  }
  finish_snapshot(s);
}

void Simulation::finish_snapshot(Snapshot& s) {
  s.probes.resize(net_.probes().size());
  for (std::size_t i = 0; i < net_.probes().size(); ++i) s.probes[i] = net_.probes()[i]->saved_state();
  s.mark = out_->mark();
}

void Simulation::restore_snapshot(const Snapshot& s) {
  const auto& layers = net_.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    Layer& l = *layers[i];
    l.resume(s.step);
    for (const auto& [name, value] : s.counters[i]) l.set_counter(name, value);
    l.activity().buffer() = s.activity[i].buffer();  // device to device for a device-resident run
    if (l.has_membrane()) l.membrane().buffer() = s.membrane[i].buffer();
    const auto buffers = l.state_buffers();
    for (std::size_t k = 0; k < buffers.size(); ++k) buffers[k].second->buffer() = s.buffers[i][k].buffer();
  }
  for (std::size_t i = 0; i < net_.connections().size(); ++i) {
    Connection& c = *net_.connections()[i];
    if (!c.plastic()) continue;
    const auto arrays = c.state();
    for (std::size_t k = 0; k < arrays.size(); ++k) c.set_state(arrays[k].name, s.connections[i][k].data());
  }
  for (std::size_t i = 0; i < net_.probes().size(); ++i) net_.probes()[i]->restore_state(s.probes[i]);
}

long Simulation::find_nonfinite(bool& is_nan) const {
  // code = ((schedule position * 2 + buffer) * batch + global batch element) * 2 + (Inf ? 1 : 0); the smallest wins.
  const long batch = net_.sim().batch_size;
  long found = -1;
  const auto& order = net_.schedule();
  // Per batch element of every buffer, where the buffers live (a device reads back one array, not the
  // layers): a sum is finite exactly when every value is (|sum| <= n * FLT_MAX << DBL_MAX).
  std::vector<ReduceItem> buffers;
  for (const Layer* l : order) {
    buffers.push_back({Reduction::Sum, &l->activity()});
    if (l->has_membrane()) buffers.push_back({Reduction::Sum, &l->membrane()});
  }
  std::vector<double> all;
  net_.backend().reduce_many(buffers, all);
  std::size_t at = 0;
  for (std::size_t i = 0; i < order.size() && found < 0; ++i) {
    const Layer& l = *order[i];
    for (int buf = 0; buf < (l.has_membrane() ? 2 : 1) && found < 0; ++buf) {
      const Tensor& t = buf == 0 ? l.activity() : l.membrane();
      const double* sums = all.data() + at;
      at += std::size_t(t.batch());
      for (int b = 0; b < t.batch() && found < 0; ++b) {
        const double sum = sums[b];
        if (std::isfinite(sum)) continue;
        const long gb = (l.tile().nx > 0 ? l.tile().b0 : 0) + b;
        found = ((long(i) * 2 + buf) * batch + gb) * 2 + (std::isnan(sum) ? 0 : 1);
      }
    }
  }
  Communicator& comm = Communicator::world();
  if (comm.size() > 1) {
    const double m = comm.max_all(found < 0 ? -std::numeric_limits<double>::max() : -double(found));
    found = m < -1e300 ? -1 : long(-m);
  }
  if (found >= 0) is_nan = found % 2 == 0;
  return found < 0 ? -1 : found / 2;
}

void Simulation::resume(const CheckpointInfo& info) {
  resumed_from_checkpoint_ = true;
  if (!initialized_) initialize();
  restore_checkpoint(net_, info);
  ++weight_changes_;
  start_ = info.step;
}

void Simulation::prepare() {
  if (prepared_) return;
  const SimulationConfig& sim = net_.sim();
  if (sim.threads > 0) omp_set_num_threads(sim.threads);
  for (auto& l : net_.layers()) l->initialize(sim);
  for (auto& c : net_.connections()) c->initialize(sim);
  prepared_ = true;
}

void Simulation::initialize() {
  if (!out_) throw InternalError("Simulation::initialize before an output was attached");
  prepare();
  const SimulationConfig& sim = net_.sim();
  out_->attribute("/", "params", net_.spec().resolved_yaml);
  out_->attribute("/", "params_file", net_.spec().file);
  out_->attribute("/", "laminar_version", LAMINAR_VERSION);
  out_->attribute("/", "schedule", net_.describe_schedule());
  const Communicator& comm = Communicator::world();
  const Decomposition& d = comm.decomposition();
  out_->attribute("/", "mpi_ranks", comm.size());
  out_->attribute("/", "mpi_decomposition", std::to_string(d.rows) + "x" + std::to_string(d.columns) + "x" +
                                                 std::to_string(d.batch_groups));
  out_->attribute("/", "omp_threads", omp_get_max_threads());
  out_->attribute("/", "backend", net_.backend().name());
  for (const auto& [key, value] : options_.provenance) out_->attribute("/", key, value);
  {
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    out_->attribute("/", "hdf5_version", std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel));
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0) out_->attribute("/", "host", std::string(host));
    const std::time_t now = std::time(nullptr);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    out_->attribute("/", resumed_from_checkpoint_ ? "resumed_at" : "started_at", std::string(when));
  }
  // The resolved params beside the output, as a file a person (or `laminar run`) can use again.
  if (out_->writer()) {
    const std::string p = out_->path("params.yaml");
    std::ofstream f(p, std::ios::trunc);
    f << "# The resolved params of this run (every default filled in), written by laminar " LAMINAR_VERSION "\n"
      << net_.spec().resolved_yaml;
    if (!f.good()) throw UserError(p + ": cannot write the run's params (" + io_error_cause(errno) + ")");
  }
  for (auto& p : net_.probes()) p->open(*out_, sim);
  initialized_ = true;
}

namespace {
using Clock = std::chrono::steady_clock;
// Runs `f`, adding its wall time and one call to `item` when profiling.
template <class F>
void timed(std::vector<ProfileItem>& profile, std::size_t item, F&& f) {
  if (profile.empty()) {
    f();
    return;
  }
  const auto t0 = Clock::now();
  f();
  profile[item].seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  ++profile[item].calls;
}
}  // namespace

void Simulation::setup_profile() {
  profile_.clear();
  if (!options_.profile) return;
  const auto& order = net_.schedule();
  layer_item_.resize(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    layer_item_[i] = profile_.size();
    profile_.push_back({"input/begin " + order[i]->name()});
    profile_.push_back({"update " + order[i]->name() + " (" + order[i]->type() + ")"});
  }
  for (auto& c : net_.connections()) {
    conn_item_[c.get()] = profile_.size();
    profile_.push_back({"deliver " + c->name() + " (" + c->type() + " " + c->pre_name() + " -> " + c->post_name() + ")"});
    profile_.push_back({"learn " + c->name()});
  }
  probe_item_ = profile_.size();
  for (auto& p : net_.probes()) profile_.push_back({"probe " + p->name() + " (" + p->type() + ")"});
  clear_item_ = profile_.size();
  profile_.push_back({"clear input channels (every layer)"});
  nan_item_ = profile_.size();
  profile_.push_back({"NaN check"});
  checkpoint_item_ = profile_.size();
  profile_.push_back({"checkpoints"});
  flush_item_ = profile_.size();
  profile_.push_back({"output flushes"});
}

void Simulation::step(long n) {
  const auto& order = net_.schedule();
  for (std::size_t i = 0; i < order.size(); ++i)
    timed(profile_, profile_.empty() ? 0 : layer_item_[i], [&] { order[i]->begin_step(n); });
  for (std::size_t k = 0; k < net_.probes().size(); ++k)
    timed(profile_, probe_item_ + k, [&] { net_.probes()[k]->begin_step(n); });
  for (std::size_t i = 0; i < order.size(); ++i) {
    Layer* layer = order[i];
    timed(profile_, clear_item_, [&] { layer->clear_channels(); });
    for (Connection* c : net_.incoming(*layer))
      timed(profile_, profile_.empty() ? 0 : conn_item_[c], [&] { c->deliver(layer->channel(c->channel())); });
    timed(profile_, profile_.empty() ? 0 : layer_item_[i] + 1, [&] { layer->update(n); });
  }
  for (auto& c : net_.connections())
    if (c->plastic())
      timed(profile_, profile_.empty() ? 0 : conn_item_[c.get()] + 1, [&] {
        if (c->learn(n)) ++weight_changes_;
      });
  for (std::size_t k = 0; k < net_.probes().size(); ++k)
    if (net_.probes()[k]->due(n)) timed(profile_, probe_item_ + k, [&] { net_.probes()[k]->sample(n, *out_); });
}

std::string Simulation::profile_table() const {
  if (profile_.empty()) return {};
  double items = 0.0;
  for (const auto& p : profile_) items += p.seconds;
  const long steps = net_.steps() - start_;
  std::ostringstream s;
  char line[256];
  std::snprintf(line, sizeof line, "profile: %.3f s in %ld steps (%.3f ms per step)%s\n", loop_seconds_, steps,
                steps > 0 ? 1e3 * loop_seconds_ / double(steps) : 0.0,
                Communicator::world().size() > 1 ? ", this process" : "");
  s << line;
  std::snprintf(line, sizeof line, "  %-58s %9s %10s %10s %6s\n", "item", "calls", "total s", "ms/call", "share");
  s << line;
  std::vector<const ProfileItem*> rows;
  for (const auto& p : profile_)
    if (p.calls > 0) rows.push_back(&p);
  std::stable_sort(rows.begin(), rows.end(), [](const ProfileItem* a, const ProfileItem* b) { return a->seconds > b->seconds; });
  auto row = [&](const std::string& what, long calls, double secs) {
    std::snprintf(line, sizeof line, "  %-58s %9ld %10.3f %10.4f %5.1f%%\n", what.substr(0, 58).c_str(), calls, secs,
                  calls > 0 ? 1e3 * secs / double(calls) : 0.0, loop_seconds_ > 0 ? 100.0 * secs / loop_seconds_ : 0.0);
    s << line;
  };
  for (const ProfileItem* p : rows) row(p->what, p->calls, p->seconds);
  row("other (progress, signals, the loop itself)", 0, std::max(0.0, loop_seconds_ - items));
  if (halo_seconds_ > 0) row("of the deliveries: halo exchange", 0, halo_seconds_);
  return s.str();
}

void Simulation::write_profile() {
  if (profile_.empty() || !out_->writer()) return;
  std::vector<double> secs;
  std::vector<std::int64_t> calls;
  std::string names;
  for (const auto& p : profile_) {
    secs.push_back(p.seconds);
    calls.push_back(p.calls);
    names += (names.empty() ? "" : "\n") + p.what;
  }
  out_->write("profile/seconds", secs.data(), {secs.size()});
  out_->write("profile/calls", calls.data(), {calls.size()});
  out_->label_dimensions("profile/seconds", {"item"}, "wall time of each profile item over the run (s)");
  out_->label_dimensions("profile/calls", {"item"}, "how often each profile item ran");
  out_->attribute("profile", "items", names);
  out_->attribute("profile", "loop_seconds", loop_seconds_);
  out_->attribute("profile", "halo_seconds", halo_seconds_);
}

void Simulation::finish() {
  for (auto& p : net_.probes()) p->finish(*out_);
  for (auto& c : net_.connections()) {
    if (!c->has_weights() || !c->plastic()) continue;
    WeightsView w = c->weights();
    out_->write("connections/" + c->name() + "/final_weights", w.data,
               {std::size_t(w.kernels), std::size_t(w.patch_y), std::size_t(w.patch_x), std::size_t(w.features)});
    out_->label_dimensions("connections/" + c->name() + "/final_weights", {"kernel", "y", "x", "feature"},
                           "the learned weights at the end of the run");
    write_kernel_attributes(*out_, "connections/" + c->name() + "/final_weights", *c);
  }
  out_->flush();
}

long Simulation::run() {
  if (!initialized_) initialize();
  const long steps = net_.steps();
  const SimulationConfig& cfg = net_.sim();
  Progress progress(steps, options_.quiet ? ProgressMode::None : options_.progress, start_, cfg.display_period,
                    cfg.batch_size);
  std::optional<double> settled;  // the headline at the end of the last finished display period
  const Probe* headline = nullptr;
  for (auto& p : net_.probes())
    if (!headline && p->headline()) headline = p.get();
  auto value = [&]() { return headline ? headline->headline() : std::nullopt; };
  auto label = [&]() { return headline ? headline->headline_label() : std::string(); };

  auto last_flush = std::chrono::steady_clock::now();
  const SimulationConfig& sim = net_.sim();
  CheckpointWriter checkpoints(sim.output, sim.checkpoint_keep, out_->run_id());
  Communicator& comm = Communicator::world();
  const double halo_before = comm.halo_seconds;
  const auto t0 = std::chrono::steady_clock::now();
  StopSignals signals;
  setup_profile();
  const long guard = sim.nan_check;
  Snapshot good;
  if (guard > 0) take_snapshot(good, start_);
  for (long n = start_; n < steps; ++n) {
    step(n);
    const bool checkpoint_due = sim.checkpoint_every > 0 && ((n + 1) % sim.checkpoint_every == 0 || n + 1 == steps);
    if (guard > 0 && ((n + 1 - start_) % guard == 0 || checkpoint_due || n + 1 == steps)) {
      bool is_nan = false;
      long where = -1;
      timed(profile_, nan_item_, [&] { where = find_nonfinite(is_nan); });
      if (where >= 0) {
        const long batch = sim.batch_size;
        const Layer& l = *net_.schedule()[std::size_t(where / (2 * batch))];
        const bool membrane = (where / batch) % 2 == 1;
        std::string msg = std::string(is_nan ? "NaN" : "Inf") + " in layer '" + l.name() + "' (" +
                          (membrane ? "membrane" : "activity") + ") at step " + std::to_string(n) +
                          ", batch element " + std::to_string(where % batch) + "; ";
        out_->flush();
        restore_snapshot(good);
        if (good.step > 0) {
          const std::string path = checkpoints.write(net_, good.step, good.mark, "non-finite");
          msg += "the last good state (after " + std::to_string(good.step) + " steps) is saved in " + path +
                 " (resume with --restart after changing the params, e.g. a smaller dt/tau or learning_rate)";
        } else {
          msg += "no step completed with finite values, no checkpoint written (check the input data and the "
                 "params, e.g. dt/tau, learning_rate, init weights)";
        }
        throw RunStopped(4, msg);
      }
      timed(profile_, nan_item_, [&] { take_snapshot(good, n + 1); });
    }
    if (checkpoint_due) {
      timed(profile_, flush_item_, [&] { out_->flush(); });  // the output up to the checkpoint is on disk first
      timed(profile_, checkpoint_item_,
            [&] { checkpoints.write(net_, n + 1, out_->mark(), n + 1 == steps ? "end" : "periodic"); });
    }
    int sig = g_signal;
    if (comm.size() > 1) sig = int(comm.max_all(double(sig)));  // every process stops at the same step
    if (sig != 0 && n + 1 < steps) {
      out_->flush();
      const std::string path = checkpoints.write(net_, n + 1, out_->mark(), "interrupted");
      throw RunStopped(128 + sig, std::string("interrupted by ") + signal_name(sig) + " after " +
                                      std::to_string(n + 1) + " of " + std::to_string(steps) +
                                      " steps; checkpoint written: " + path +
                                      " (continue with the same command and --resume)");
    }
    if (!headline)
      for (auto& p : net_.probes())
        if (!headline && p->headline()) headline = p.get();
    const bool period_end = (n + 1) % cfg.display_period == 0;
    if (period_end && headline && headline->due(n))
      if (auto v = value()) settled = v;
    progress.update(n + 1, settled, label(), period_end || n + 1 == steps);
    auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_flush).count() > 10.0) {
      timed(profile_, flush_item_, [&] { out_->flush(); });  // a killed run keeps what it wrote up to the last flush
      last_flush = now;
    }
  }
  // Wall time of the loop and the largest time any process spent in halo exchanges (benchmarks).
  loop_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();  // this process
  halo_seconds_ = comm.halo_seconds - halo_before;
  out_->attribute("/", "run_seconds", comm.max_all(loop_seconds_));
  out_->attribute("/", "halo_seconds", comm.max_all(halo_seconds_));
  write_profile();
  finish();
  progress.finish(settled, label());
  return steps;
}

}  // namespace laminar

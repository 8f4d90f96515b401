#include "framework/Simulation.hpp"

#include <omp.h>

#include <iostream>

#include "framework/Checkpoint.hpp"
#include "framework/Communicator.hpp"
#include "framework/ImageIO.hpp"
#include "framework/Progress.hpp"

namespace laminar {

Simulation::Simulation(Network& net, Output& out, RunOptions options)
    : net_(net), out_(out), options_(options) {}

void Simulation::initialize() {
  const SimulationConfig& sim = net_.sim();
  if (sim.threads > 0) omp_set_num_threads(sim.threads);
  out_.attribute("/", "params", net_.spec().resolved_yaml);
  out_.attribute("/", "params_file", net_.spec().file);
  out_.attribute("/", "laminar_version", LAMINAR_VERSION);
  out_.attribute("/", "schedule", net_.describe_schedule());
  const Communicator& comm = Communicator::world();
  const Decomposition& d = comm.decomposition();
  out_.attribute("/", "mpi_ranks", std::to_string(comm.size()));
  out_.attribute("/", "mpi_decomposition", std::to_string(d.rows) + "x" + std::to_string(d.columns) + "x" +
                                                std::to_string(d.batch_groups));
  out_.attribute("/", "omp_threads", std::to_string(omp_get_max_threads()));
  for (auto& l : net_.layers()) l->initialize(sim);
  for (auto& c : net_.connections()) c->initialize(sim);
  for (auto& p : net_.probes()) p->open(out_, sim);
  initialized_ = true;
}

void Simulation::step(long n) {
  for (Layer* layer : net_.schedule()) layer->begin_step(n);
  for (auto& p : net_.probes()) p->begin_step(n);
  for (Layer* layer : net_.schedule()) {
    layer->clear_channels();
    for (Connection* c : net_.incoming(*layer)) c->deliver(layer->channel(c->channel()));
    layer->update(n);
  }
  for (auto& c : net_.connections())
    if (c->plastic()) c->learn(n);
  for (auto& p : net_.probes())
    if (p->due(n)) p->sample(n, out_);
}

void Simulation::finish() {
  for (auto& p : net_.probes()) p->finish(out_);
  for (auto& c : net_.connections()) {
    if (!c->has_weights() || !c->plastic()) continue;
    WeightsView w = c->weights();
    out_.write("connections/" + c->name() + "/final_weights", w.data,
               {std::size_t(w.kernels), std::size_t(w.patch_y), std::size_t(w.patch_x), std::size_t(w.features)});
    if (out_.writer()) write_dictionary_png(w, out_.path(c->name() + "-dictionary.png"));
  }
  out_.flush();
}

long Simulation::run() {
  if (!initialized_) initialize();
  const long steps = net_.steps();
  Progress progress(steps, options_.quiet);
  const Probe* headline = nullptr;
  for (auto& p : net_.probes())
    if (!headline && p->headline()) headline = p.get();
  auto value = [&]() { return headline ? headline->headline() : std::nullopt; };
  auto label = [&]() { return headline ? headline->headline_label() : std::string(); };

  auto last_flush = std::chrono::steady_clock::now();
  const SimulationConfig& sim = net_.sim();
  CheckpointWriter checkpoints(sim.output, sim.checkpoint_keep);
  Communicator& comm = Communicator::world();
  const double halo_before = comm.halo_seconds;
  const auto t0 = std::chrono::steady_clock::now();
  for (long n = 0; n < steps; ++n) {
    step(n);
    if (sim.checkpoint_every > 0 && ((n + 1) % sim.checkpoint_every == 0 || n + 1 == steps)) {
      out_.flush();  // the output up to the checkpoint is on disk before the checkpoint is
      checkpoints.write(net_, n + 1);
    }
    if (!headline)
      for (auto& p : net_.probes())
        if (!headline && p->headline()) headline = p.get();
    progress.update(n + 1, value(), label());
    auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_flush).count() > 10.0) {
      out_.flush();  // a killed run keeps what it wrote up to the last flush
      last_flush = now;
    }
  }
  // Wall time of the loop and the largest time any process spent in halo exchanges (benchmarks).
  const double loop = comm.max_all(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  const double halo = comm.max_all(comm.halo_seconds - halo_before);
  out_.attribute("/", "run_seconds", std::to_string(loop));
  out_.attribute("/", "halo_seconds", std::to_string(halo));
  finish();
  progress.finish(value(), label());
  return steps;
}

}  // namespace laminar

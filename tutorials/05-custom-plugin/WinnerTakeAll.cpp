// A Laminar plugin with one probe kind, WinnerTakeAll: for each batch element, which feature of a
// layer wins (the largest score over the layer's positions), its score, and its share of all the
// features' scores. A feature's score is the sum over positions of |activity| (`score: sum`) or
// the largest |activity| at any position (`score: max`). Ties go to the lower feature index; a
// layer that is all zero has winner -1, score 0 and share 0.
//
// Everything here is Laminar's ordinary kind API (the same as probes/StatsProbe.cpp); the only
// plugin-specific line is LAMINAR_PLUGIN at the bottom.
#include <cmath>
#include <vector>

#include "framework/Network.hpp"
#include "framework/Plugin.hpp"
#include "framework/TableProbe.hpp"

namespace {

using namespace laminar;

class WinnerTakeAll : public TableProbe {
 public:
  using TableProbe::TableProbe;

  void resolve(Network& net) override {
    // Names a layer; a wrong name is a user error at this probe's `layer:` key with a hint.
    layer_ = &net.layer(params_.string("layer"), params_, "layer");
    use_max_ = params_.string("score") == "max";
  }

 protected:
  // One HDF5 dataset probes/<name>/<column> [samples, batch] and one CSV column each.
  std::vector<std::string> columns() const override { return {"winner", "score", "share"}; }

  // Runs on every MPI process: gathers the whole layer on the writer (rank 0).
  void collect() override { whole_ = &layer_->gathered(layer_->activity(), scratch_); }

  // Runs on the writer only: values[column][batch element].
  void compute(std::vector<std::vector<double>>& values) const override {
    const Tensor& a = *whole_;
    const int nf = a.geometry().nf;
    for (int b = 0; b < batch_; ++b) {
      std::vector<double> score(nf, 0.0);
      auto e = a.element(b);  // ny x nx x nf, feature fastest
      for (std::size_t i = 0; i < e.size(); ++i) {
        double v = std::fabs(double(e[i]));
        double& s = score[i % nf];
        s = use_max_ ? std::max(s, v) : s + v;
      }
      int winner = -1;
      double best = 0.0, total = 0.0;
      for (int f = 0; f < nf; ++f) {
        total += score[f];
        if (score[f] > best) best = score[f], winner = f;
      }
      values[0][b] = winner;
      values[1][b] = best;
      values[2][b] = total > 0 ? best / total : 0.0;
    }
  }

 private:
  Layer* layer_ = nullptr;
  bool use_max_ = false;
  Tensor scratch_;
  const Tensor* whole_ = nullptr;
};

}  // namespace

LAMINAR_PLUGIN(registry) {
  // The schema: the keys every probe takes (`period`) plus this kind's own. `laminar describe
  // --plugin winner_take_all.so WinnerTakeAll` prints the reference generated from it.
  Schema s = Probe::common_schema();
  s.string("layer", std::nullopt, "Layer whose activity competes.")
      .choice("score", {"sum", "max"}, std::string("sum"),
              "A feature's score: sum of |activity| over positions, or the largest |activity|.");
  register_probe<WinnerTakeAll>(
      registry,
      KindInfo{Category::Probe, "WinnerTakeAll",
               "The winning feature of a layer per batch element, its score and its share of all scores.",
               "Writes `probes/<name>/{winner,score,share}` (samples x batch) and `<name>.csv`. A feature's score "
               "is the sum (or max) over positions of |activity|; ties go to the lower feature; an all-zero layer "
               "has winner -1.",
               "Winner:\n  type: WinnerTakeAll\n  layer: V1\n  period: 100",
               {"Stats", "ActivityRecorder"},
               s});
}

// A plugin registering a probe kind whose name (CLASH_NAME) is already taken.
#include "framework/Plugin.hpp"
#include "framework/TableProbe.hpp"

namespace {
class Clash : public laminar::TableProbe {
 public:
  using TableProbe::TableProbe;
  void resolve(laminar::Network&) override {}

 protected:
  std::vector<std::string> columns() const override { return {"x"}; }
  void compute(std::vector<std::vector<double>>&) const override {}
};
}  // namespace

LAMINAR_PLUGIN(registry) {
  laminar::register_probe<Clash>(registry, laminar::KindInfo{laminar::Category::Probe, CLASH_NAME, "clash", "", "", {},
                                                             laminar::Probe::common_schema()});
}

#pragma once
// The reference of every kind, generated from the registry's declarations (`laminar describe`),
// and the network summary of `laminar check`.
#include <string>

#include "framework/Network.hpp"
#include "framework/Registry.hpp"

namespace laminar {

// Markdown for one kind: description, YAML example, parameters table, related kinds.
std::string describe_kind(const KindInfo& kind);
// Markdown for the simulation section's parameters.
std::string describe_simulation();
// The whole reference as one Markdown document (what docs/reference/kinds.md holds).
std::string describe_all(const Registry& registry);
// A one-screen summary of a resolved network: layers, connections, probes, memory, schedule.
std::string summarize(const Network& net);

}  // namespace laminar

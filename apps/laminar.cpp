// The `laminar` command: run, check and describe networks declared in YAML params files.
#include <CLI/CLI.hpp>
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <optional>

#include "framework/Checkpoint.hpp"
#include "framework/Communicator.hpp"
#include "framework/Describe.hpp"
#include "framework/Network.hpp"
#include "framework/Output.hpp"
#include "framework/Plugin.hpp"
#include "framework/Simulation.hpp"

using namespace laminar;

namespace {

// `registry` is a copy of the built-in one with the --plugin libraries loaded; the params file's
// own `plugins:` are loaded into it here, before the document is validated. The spec points into
// `registry`, which must outlive it.
NetworkSpec load_spec(Registry& registry, const std::string& file, const std::vector<std::string>& sets,
                      const std::string& steps, const std::string& output, bool gpu, const std::string& invocation) {
  ParamsDocument doc = ParamsDocument::load(file);
  for (const auto& s : sets) doc.set_override(s);
  if (gpu) doc.set_override("simulation.backend=cuda", "--gpu");
  if (!steps.empty()) doc.set_override("simulation.steps=" + steps, "--steps " + steps);
  if (!output.empty()) {  // single-quoted, so a path such as '#out' or 'a: b' stays a plain string
    std::string quoted;
    for (char c : output) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    doc.set_override("simulation.output='" + quoted + "'", "--output " + output);
  }
  load_params_plugins(registry, doc);
  NetworkSpec spec = NetworkSpec::from(doc, registry);
  // Under mpirun every process must have read the same network (a params file edited while the
  // processes started, or different --set/--steps per process, would otherwise corrupt memory or hang):
  // compared before anything is built or any other collective runs. The hash covers the resolved
  // params (--set, --steps, --output included), the plugins loaded, the command and the version.
  std::string fingerprint = std::string("laminar ") + LAMINAR_VERSION + "\n" + invocation + "\nplugins:";
  for (const auto& p : registry.plugins()) fingerprint += " " + p;
  fingerprint += "\n" + spec.resolved_yaml;
  Communicator::world().agree(fnv1a64(fingerprint), "params",
                              "the params file or --set/--steps/--plugin options differ between processes (or the "
                              "file changed while they started); give every process the same params file and options");
  return spec;
}

int run_main(int argc, char** argv) {
  CLI::App app{"Laminar: sparse-coding neural networks (LCA, error layers, convolutional dictionaries) from YAML params."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("laminar ") + LAMINAR_VERSION + " (commit " + LAMINAR_GIT_COMMIT + ")");

  std::string params_file, steps, output;
  std::vector<std::string> sets, plugins;
  bool quiet = false, verbose = false, gpu = false;
  std::string restart;
  bool resume = false, overwrite = false;

  auto* run = app.add_subcommand("run", "Run a network: learn, infer and record what its probes ask for.");
  run->add_option("params", params_file, "YAML params file")->required();
  run->add_option("--steps", steps, "Override simulation.steps");
  run->add_option("--output,-o", output, "Override simulation.output (output directory)");
  run->add_option("--set", sets, "Override any value: --set layers.V1.lambda=0.2 (repeatable)");
  run->add_option("--plugin", plugins, "Load kinds from this plugin (shared library; repeatable; relative to the current folder)")->allow_extra_args(false);
  run->add_flag("--gpu", gpu, "Run on the GPU (as --set simulation.backend=cuda); an error where none can be used");
  run->add_flag("--quiet,-q", quiet, "No progress output");
  bool profile = false;
  run->add_flag("--profile", profile,
                "Time every schedule item (each connection's delivery, each layer's update, learning, probes, "
                "NaN checks, checkpoints, output flushes): a table at the end, and profile/ in laminar.h5");
  std::string progress_mode = "auto";
  run->add_option("--progress", progress_mode,
                  "How progress is shown: auto (a live line on a terminal, else log lines), log (a line at "
                  "display-period ends, about every 10%), jsonl (one JSON object per line, for programs), none")
      ->check(CLI::IsMember({"auto", "log", "jsonl", "none"}));
  run->add_flag("--verbose,-v", verbose, "Print the resolved network before running");
  run->add_option("--restart", restart,
                  "Continue from this checkpoint file, or the newest complete checkpoint in this folder");
  run->add_flag("--resume", resume,
                "Continue from the newest complete checkpoint in the output directory if there is one "
                "(else start); the output so far is kept (as simulation.resume: true)");
  run->add_flag("--overwrite", overwrite,
                "Replace the run already in the output directory (its laminar.h5, tables and checkpoints); "
                "without it a used folder is refused");

  auto* check = app.add_subcommand("check", "Validate a params file and print the resolved network and its schedule.");
  check->add_option("params", params_file, "YAML params file")->required();
  check->add_option("--set", sets, "Override any value (as for run)");
  check->add_option("--plugin", plugins, "Load kinds from this plugin (shared library; repeatable; relative to the current folder)")->allow_extra_args(false);

  std::string kind, schedule_file;
  bool markdown = false;
  auto* describe = app.add_subcommand("describe", "Reference of every kind and parameter, or a network's schedule.");
  describe->add_option("type", kind, "A layer, connection or probe type (default: all)");
  describe->add_option("--schedule", schedule_file, "Print the update schedule of this params file");
  describe->add_flag("--markdown", markdown, "The whole reference as Markdown (as in docs/reference/kinds.md)");
  describe->add_option("--set", sets, "Override any value (with --schedule)");
  describe->add_option("--plugin", plugins, "Also document (and accept) the kinds of this plugin (repeatable)")->allow_extra_args(false);

  // An unknown command word: CLI11 would only say "A subcommand is required".
  const std::vector<std::string> commands{"run", "check", "describe"};
  if (argc > 1 && argv[1][0] != '-' &&
      std::find(commands.begin(), commands.end(), std::string(argv[1])) == commands.end())
    throw UserError(std::string("unknown command '") + argv[1] + "'" + did_you_mean(argv[1], commands) +
                    "; expected run, check or describe (see `laminar --help`)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Usage errors are user errors like any other: one `laminar: error:` line, exit 2.
    const CLI::App* sub = nullptr;
    for (const CLI::App* s : {run, check, describe})
      if (s->parsed()) sub = s;
    std::string msg = e.what();
    if (!sub && msg == "A subcommand is required") msg = "a command is required: run, check or describe";
    if (sub) {  // a misspelt option gets a hint: --stpes -> --steps
      std::vector<std::string> names;
      for (const CLI::Option* o : sub->get_options())
        for (const auto& n : o->get_lnames()) names.push_back("--" + n);
      for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) == 0 && std::find(names.begin(), names.end(), a.substr(0, a.find('='))) == names.end()) {
          msg += did_you_mean(a.substr(0, a.find('=')), names);
          break;
        }
      }
    }
    if (sub && !msg.empty() && msg.find(sub->get_name()) == std::string::npos) msg = sub->get_name() + ": " + msg;
    throw UserError(msg + " (see `laminar " + (sub ? sub->get_name() + " " : std::string()) + "--help`)");
  }

  // The built-in kinds plus the plugins' (lives as long as every spec and network made from it).
  Registry registry = Registry::builtin();
  for (const auto& p : plugins) registry.load_plugin(p, "--plugin " + p);

  if (*run) {
    if (run->count("--output") && output.empty())  // else ignored: the params file's output would be used
      throw UserError("--output: expected an output folder, got an empty string");
    if (run->count("--steps") && steps.empty())
      throw UserError("--steps: expected a number of steps, got an empty string");
    NetworkSpec spec = load_spec(registry, params_file, sets, steps, output, gpu,
                                 "run" + (restart.empty() ? std::string() : " --restart " + restart) +
                                     (resume ? " --resume" : ""));
    Network net(spec);
    // Under mpirun every process runs its part; rank 0 alone writes the output and reports.
    const Communicator& comm = Communicator::world();
    // Machine-readable progress owns stdout: the informational lines go to stderr then.
    std::ostream& say = progress_mode == "jsonl" ? std::cerr : std::cout;
    if (!comm.root()) quiet = true, verbose = false;
    if (verbose) say << summarize(net);
    if (!quiet && comm.size() > 1)
      say << "laminar: " << comm.size() << " MPI processes, " << comm.decomposition().str() << "\n";
    if (!quiet && net.backend().memory())
      say << "laminar: backend " << net.backend().name() << " (" << net.backend().description() << ")\n";
    // Which checkpoint to continue from, checked against this network before the output is touched.
    std::string from;
    const bool resuming = resume || net.sim().resume;
    if (overwrite && (resuming || !restart.empty()))
      throw UserError("--overwrite replaces the run in the output folder; it cannot be combined with --resume, "
                      "--restart or simulation.resume");
    if (!restart.empty()) {
      from = find_checkpoint(restart);
      if (from.empty()) throw UserError(restart + ": no complete checkpoint in this folder");
    } else if (resuming) {
      std::error_code ec;
      if (std::filesystem::is_directory(net.sim().output, ec)) from = find_checkpoint(net.sim().output);
    }
    std::optional<CheckpointInfo> info;
    if (!from.empty()) info = inspect_checkpoint(from, net);
    OutputOptions oo;
    oo.writer = comm.root();
    oo.overwrite = overwrite;
    oo.params = net.spec().resolved_yaml;
    if (info) {
      oo.resume = &info->mark;
      oo.run_id = info->run_id;
    } else if (resuming && comm.root()) {
      // Nothing to resume from: an earlier try of this same run that stopped before its first
      // checkpoint is started over; anything else in the folder is refused by Output.
      const OutputHeader h = read_output_header(net.sim().output);
      if (h.exists && h.readable && !h.params.empty()) {
        const std::string diff = params_difference(h.params, net.spec().resolved_yaml);
        if (!diff.empty())
          throw UserError(net.sim().output + ": holds the output of a different network (" + diff +
                          ") and no checkpoint to resume; write elsewhere with --output NEW, or replace it with "
                          "--overwrite");
        oo.overwrite = true;
      }
    }
    // Every input (e.g. weights from a file in this folder) is read before the output is created.
    RunOptions run_options{quiet, verbose};
    run_options.profile = profile;
    {
      std::string command;
      for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        const bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789-_./=:,+@%") == std::string::npos;
        std::string quoted = "'";
        for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        command += (i ? " " : "") + (plain ? a : quoted + "'");
      }
      run_options.provenance = {{"command_line", command},
                                {"working_directory", std::filesystem::current_path().string()},
                                {"git_commit", LAMINAR_GIT_COMMIT},
                                {"build", LAMINAR_BUILD_OPTIONS}};
    }
    run_options.progress = progress_mode == "jsonl" ? ProgressMode::Jsonl
                           : progress_mode == "log"  ? ProgressMode::Log
                           : progress_mode == "none" ? ProgressMode::None
                                                     : ProgressMode::Auto;
    Simulation sim(net, run_options);
    sim.prepare();
    Output out(net.sim().output, oo);
    sim.attach(out);
    if (info) {
      sim.resume(*info);
      if (!quiet) {
        say << "laminar: resuming at step " << info->step << " from " << info->path << "\n";
        if (!out.resumed())
          say << "laminar: note: " << out.file_path() << " did not exist; the new one holds the output from step "
                    << info->step << " on\n";
      }
    }
    long n = sim.run() - sim.first_step();
    out.close();
    if (!quiet) say << "laminar: ran " << n << " steps; output in " << out.file_path() << "\n";
    if (profile && comm.root()) say << "laminar: " << sim.profile_table();
    if (!quiet && net.backend().memory()) {
      const DeviceMemory::Traffic& t = net.backend().memory()->traffic;
      say << "laminar: host<->device transfers: " << t.uploads << " uploads (" << (t.upload_bytes >> 10)
                << " KiB), " << t.downloads << " downloads (" << (t.download_bytes >> 10) << " KiB)\n";
    }
    return 0;
  }
  if (*check) {
    NetworkSpec spec = load_spec(registry, params_file, sets, "", "", false, "check");
    Network net(spec, Network::Mode::Plan);  // everything checked, nothing allocated
    // Under mpirun (to see the per-process numbers of a decomposition) rank 0 reports.
    if (Communicator::world().root()) {
      std::cout << params_file << ": OK\n";
      for (const auto& p : registry.plugins()) std::cout << "plugin: " << p << "\n";
      std::cout << summarize(net);
    }
    return 0;
  }
  if (*describe) {
    const Registry& reg = registry;
    if (!schedule_file.empty()) {
      Network net(load_spec(registry, schedule_file, sets, "", "", false, "describe --schedule"), Network::Mode::Plan);
      std::cout << net.describe_schedule();
      return 0;
    }
    if (!kind.empty()) {
      if (kind == "simulation") {
        std::cout << describe_simulation();
        return 0;
      }
      std::vector<std::string> all;
      for (Category c : {Category::Layer, Category::Connection, Category::Probe})
        for (const auto& n : reg.names(c)) {
          all.push_back(n);
          if (n == kind) {
            std::cout << describe_kind(*reg.find(c, n));
            return 0;
          }
        }
      throw UserError("describe: no kind named '" + kind + "'" + did_you_mean(kind, all) +
                      "; run `laminar describe` for the list");
    }
    if (markdown) {
      std::cout << describe_all(reg);
      return 0;
    }
    std::cout << "Kinds (laminar describe TYPE for one, --markdown for the full reference):\n";
    for (Category c : {Category::Layer, Category::Connection, Category::Probe}) {
      std::cout << "\n" << category_section(c) << ":\n";
      for (const auto& n : reg.names(c)) std::cout << "  " << n << std::string(n.size() < 18 ? 18 - n.size() : 1, ' ')
                                                   << reg.find(c, n)->summary << "\n";
    }
    return 0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Files are closed explicitly (Output::close, the destructors); HDF5's own exit-time cleanup would
  // retry a close that failed on a full disk and crash in it.
  H5dont_atexit();
  CommunicatorSession session(&argc, &argv);  // MPI when started by mpirun
  Communicator& comm = Communicator::world();
  // Under MPI a failing process names itself and stops every process (MPI_Abort), so that no
  // rank waits forever in a collective for it.
  const std::string who = comm.size() > 1 ? " (rank " + std::to_string(comm.rank()) + " of " +
                                                std::to_string(comm.size()) + ")" : "";
  int code = 0;
  try {
    return run_main(argc, argv);
  } catch (const RunStopped& e) {
    // Every process stopped at the same step (a collective decision): a clean exit, no MPI_Abort.
    if (comm.root()) std::cerr << "laminar: stopped: " << e.what() << std::endl;
    return e.code();
  } catch (const RanksDisagree& e) {
    // Found by every process together: each says so, then all exit (no MPI_Abort, which would cut
    // the other processes' messages off); one write each, so that their lines do not interleave.
    std::cerr << ("laminar: error" + who + ": " + e.what() + "\n") << std::flush;
    comm.barrier();
    return 2;
  } catch (const UserError& e) {
    std::cerr << "laminar: error" << who << ": " << e.what() << std::endl;
    code = 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "laminar: error" << who << ": out of memory (the network or its data do not fit; `laminar check` "
                 "shows the network's size)" << std::endl;
    code = 2;
  } catch (const std::exception& e) {
    std::cerr << "laminar" << who << ": " << e.what() << std::endl;
    code = 3;
  }
  if (comm.size() > 1) comm.abort(code);
  return code;
}

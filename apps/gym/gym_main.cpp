// `tranova gym`: ProteinGym-style evaluation over an HDF5 dataset. Nested commands, one
// command file each: ingest and add (data_cmds.cpp), eval (eval_cmd.cpp), clinical
// (clinical_cmd.cpp). Option parsing only; the work is in src/gym/.
#include "cli.hpp"
#include "gym_cmd.hpp"

namespace {

int main_gym(int argc, char** argv) {
    static const std::vector<tranova::cli::nested_command> table = {
        {"ingest", "build a gym HDF5 file from ProteinGym reference + assay CSVs", tranova::gym_cmd::main_ingest},
        {"add", "attach one model's predictions (official merge rules)", tranova::gym_cmd::main_add},
        {"eval", "metrics, official tables, Markdown/MultiQC/SVG report", tranova::gym_cmd::main_eval},
        {"clinical", "clinical-variant benchmark (per-gene AUC, mean over genes)", tranova::gym_cmd::main_clinical},
    };
    return tranova::cli::dispatch_nested("gym", table, argc, argv);
}

}  // namespace

TRANOVA_REGISTER_COMMAND(gym, {"gym", "Evaluation", "ProteinGym-style evaluation over HDF5 datasets", main_gym})

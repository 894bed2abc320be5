// `tranova denovo <command>`: the nested command table of the de novo group.
#include "cli.hpp"

int main_denovo_eval(int argc, char** argv);
int main_denovo_sequence_entry(int argc, char** argv);
int main_denovo_train_entry(int argc, char** argv);

namespace {

int main_denovo(int argc, char** argv) {
    static const std::vector<tranova::cli::nested_command> table = {
        {"eval", "evaluate de novo predictions against annotated spectra", main_denovo_eval},
        {"sequence", "de novo peptide sequencing (Casanovo / PrimeNovo / CrossNovo-style models)", main_denovo_sequence_entry},
        {"train", "train a Casanovo / PrimeNovo / CrossNovo model on annotated spectra", main_denovo_train_entry},
    };
    return tranova::cli::dispatch_nested("denovo", table, argc, argv);
}

}  // namespace

TRANOVA_REGISTER_COMMAND(denovo, {"denovo", "De novo", "de novo peptide sequencing from MS/MS spectra", main_denovo})

// `tranova convert --arch casanovo|primenovo|crossnovo`: official checkpoints (Lightning
// .ckpt, PyTorch zip, safetensors) -> tranova weight file. The rows of the arch table in
// apps/convert/arch_table.cpp point here.
//  casanovo  : Casanovo v3/v4 (depthcharge 0.2) Spec2Pep state_dict; decoder.* -> ar_decoder.*
//  primenovo : PrimeNovo Spec2Pep state_dict; decoder.* -> nar_decoder.*
//  crossnovo : assembled (no official weights exist): encoder + AR decoder from the Casanovo
//              checkpoint given as --checkpoint, NAR decoder from config.json's
//              "nar_checkpoint" (a PrimeNovo checkpoint of the same dim_model), plus
//              randomly initialised cross-decoder parameters (seeded; docs/denovo-model.md).
// n_head cannot be read from tensor shapes: it comes from the Lightning hyper_parameters or
// config.json ("n_head"). Decoding defaults (max_length, precursor_mass_tol,
// isotope_error_range, min_peptide_len, n_beams, mass_control_tol) are copied from the
// hyper_parameters when present.
#pragma once

#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"

#include <string>
#include <vector>

namespace tranova::denovo_model {

core::weights convert_casanovo(const core::checkpoint& ck, const core::json_value& config,
                               std::vector<std::string>& notes);
core::weights convert_primenovo(const core::checkpoint& ck, const core::json_value& config,
                                std::vector<std::string>& notes);
core::weights convert_crossnovo(const core::checkpoint& ck, const core::json_value& config,
                                std::vector<std::string>& notes);

}  // namespace tranova::denovo_model

#include "arch_table.hpp"

#include "tranception/convert.hpp"
#include "denovo_model/convert.hpp"

namespace tranova::convert {

const std::vector<arch_entry>& arch_table() {
    static const std::vector<arch_entry> kArchTable = {
        {"tranception", "Tranception (OATML, HF pytorch_model.bin / model.safetensors + config.json)", true,
         tranception::convert_checkpoint},
        {"casanovo", "Casanovo v3/v4 Spec2Pep (.ckpt / safetensors)", false, denovo_model::convert_casanovo},
        {"primenovo", "PrimeNovo Spec2Pep, NAR/CTC (.ckpt / safetensors)", false, denovo_model::convert_primenovo},
        {"crossnovo", "CrossNovo-style hybrid assembled from a Casanovo checkpoint + config.json nar_checkpoint",
         true, denovo_model::convert_crossnovo},
    };
    return kArchTable;
}

}  // namespace tranova::convert

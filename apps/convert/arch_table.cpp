#include "arch_table.hpp"

#include "core/convert.hpp"

namespace tranova::convert {

const std::vector<arch_entry>& arch_table() {
    static const std::vector<arch_entry> kArchTable = {
        {"tranception", "Tranception (OATML, HF pytorch_model.bin / model.safetensors + config.json)", true,
         core::convert_tranception},
    };
    return kArchTable;
}

}  // namespace tranova::convert

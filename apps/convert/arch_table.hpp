// The architectures `tranova convert --arch` knows: one row each. To add one, write a
// converter (checkpoint + config.json -> core::weights) in its own file and add a row to
// kArchTable in arch_table.cpp.
#pragma once

#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"

#include <string>
#include <vector>

namespace tranova::convert {

struct arch_entry {
    const char* name;         // --arch value
    const char* description;  // one line for --help
    bool needs_config;        // config.json required (else optional; null json passed)
    core::weights (*convert)(const core::checkpoint& ck, const core::json_value& config,
                             std::vector<std::string>& notes);
};

const std::vector<arch_entry>& arch_table();

}  // namespace tranova::convert

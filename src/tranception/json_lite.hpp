// A minimal JSON reader for the two JSON files Tranception needs: a checkpoint's
// config.json and a safetensors header. Objects, arrays, strings (basic escapes),
// numbers, true/false/null. Not a general-purpose library; errors throw tranova::error.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::tranception::json {

struct value {
    enum kind_t { null_v, bool_v, number_v, string_v, array_v, object_v } kind = null_v;
    bool b = false;
    double num = 0;
    std::string str;
    std::vector<value> arr;
    std::vector<std::pair<std::string, value>> obj;  // in file order

    const value* find(std::string_view key) const {
        for (const auto& [k, v] : obj)
            if (k == key) return &v;
        return nullptr;
    }
};

// Parses `text`; `what` names the source in error messages.
value parse(std::string_view text, const std::string& what);

}  // namespace tranova::tranception::json

// The JSON reader for the few JSON files tranova reads (HF config.json, safetensors
// headers, converter configs): nlohmann-json's parser (strict RFC 8259, UTF-8 checked)
// driven through its SAX interface into a small json_value tree. Objects keep their key
// order; Python's NaN / Infinity / -Infinity tokens are accepted as numbers. Hostile-input
// bounds: depth (64 levels), value count (2^22) and file size (256 MiB); malformed input
// (also a lone UTF-16 surrogate or invalid UTF-8) throws tranova::error naming the source
// label and byte offset.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tranova::core {

struct json_value {
    enum kind_t { null_v, bool_v, number_v, string_v, array_v, object_v } kind = null_v;
    bool b = false;
    double num = 0;
    bool is_integer = false;  // number token had no '.', 'e' or 'E' (and fits int64)
    long long integer = 0;
    std::string str;          // string value, or the raw number token
    std::vector<json_value> items;                           // array
    std::vector<std::pair<std::string, json_value>> members;  // object, in file order

    // Declared here, defined in json.cpp: clang with libstdc++ cannot instantiate the
    // implicit ones for a type holding a vector of pairs of itself.
    json_value();
    ~json_value();
    json_value(const json_value&);
    json_value(json_value&&) noexcept;
    json_value& operator=(const json_value&);
    json_value& operator=(json_value&&) noexcept;

    const json_value* find(const std::string& key) const;
    std::string dump() const;  // compact re-serialisation (for storing arrays as text)
};

json_value json_parse(const char* data, size_t size, const std::string& label);
json_value json_parse_file(const std::string& path);

}  // namespace tranova::core

// safetensors and HDF5 weight-file I/O (see tensors.hpp).
#include "denovo_model/tensors.hpp"

#include "util/error.hpp"
#include "util/h5.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>

namespace tranova::denovo_model {

namespace {

// Just enough JSON for a safetensors header: objects, arrays, strings, numbers.
struct json_value {
    enum kind_t { null_v, number_v, string_v, array_v, object_v } kind = null_v;
    double number = 0;
    std::string str;
    std::vector<json_value> items;
    std::vector<std::pair<std::string, json_value>> members;
    const json_value* get(const std::string& key) const {
        for (auto& m : members)
            if (m.first == key) return &m.second;
        return nullptr;
    }
};

class json_parser {
public:
    json_parser(const std::string& text, const std::string& path) : s_(text), path_(path) {}
    json_value parse() {
        json_value v = value();
        ws();
        TRANOVA_CHECK(i_ == s_.size(), "{}: trailing bytes after the safetensors JSON header", path_);
        return v;
    }

private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    [[noreturn]] void fail(const char* what) {
        TRANOVA_FAIL("{}: bad safetensors header ({} at byte {})", path_, what, i_ + 8);
    }
    std::string string_lit() {
        if (s_[i_] != '"') fail("expected a string");
        ++i_;
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\') {
                ++i_;
                if (i_ >= s_.size()) fail("bad escape");
                char c = s_[i_];
                if (c == 'n') out += '\n';
                else if (c == 't') out += '\t';
                else if (c == 'u') {  // keep \uXXXX as-is (names are ASCII in practice)
                    out += "\\u";
                } else out += c;
                ++i_;
            } else out += s_[i_++];
        }
        if (i_ >= s_.size()) fail("unterminated string");
        ++i_;
        return out;
    }
    json_value value() {
        ws();
        if (i_ >= s_.size()) fail("unexpected end");
        json_value v;
        char c = s_[i_];
        if (c == '{') {
            v.kind = json_value::object_v;
            ++i_;
            ws();
            if (s_[i_] == '}') { ++i_; return v; }
            while (true) {
                ws();
                std::string key = string_lit();
                ws();
                if (s_[i_] != ':') fail("expected ':'");
                ++i_;
                v.members.emplace_back(key, value());
                ws();
                if (s_[i_] == ',') { ++i_; continue; }
                if (s_[i_] == '}') { ++i_; break; }
                fail("expected ',' or '}'");
            }
        } else if (c == '[') {
            v.kind = json_value::array_v;
            ++i_;
            ws();
            if (s_[i_] == ']') { ++i_; return v; }
            while (true) {
                v.items.push_back(value());
                ws();
                if (s_[i_] == ',') { ++i_; continue; }
                if (s_[i_] == ']') { ++i_; break; }
                fail("expected ',' or ']'");
            }
        } else if (c == '"') {
            v.kind = json_value::string_v;
            v.str = string_lit();
        } else if (c == 'n' && s_.compare(i_, 4, "null") == 0) {
            i_ += 4;
        } else {
            size_t j = i_;
            while (j < s_.size() && (std::isdigit((unsigned char)s_[j]) || s_[j] == '-' || s_[j] == '+' ||
                                     s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E'))
                ++j;
            if (j == i_) fail("unexpected character");
            v.kind = json_value::number_v;
            v.number = std::stod(s_.substr(i_, j - i_));
            i_ = j;
        }
        return v;
    }
    const std::string& s_;
    std::string path_;
    size_t i_ = 0;
};

}  // namespace

tensor_map read_safetensors(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    TRANOVA_CHECK(in, "{}: cannot open safetensors file", path);
    unsigned char len_bytes[8];
    in.read(reinterpret_cast<char*>(len_bytes), 8);
    TRANOVA_CHECK(in.gcount() == 8, "{}: file too short for a safetensors header", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | len_bytes[i];
    TRANOVA_CHECK(hlen > 1 && hlen < (1u << 28), "{}: implausible safetensors header length {}", path, hlen);
    std::string header(hlen, '\0');
    in.read(header.data(), std::streamsize(hlen));
    TRANOVA_CHECK(uint64_t(in.gcount()) == hlen, "{}: truncated safetensors header", path);
    std::vector<char> body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json_value root = json_parser(header, path).parse();
    TRANOVA_CHECK(root.kind == json_value::object_v, "{}: safetensors header is not a JSON object", path);
    tensor_map out;
    for (auto& [name, info] : root.members) {
        if (name == "__metadata__") continue;
        const json_value* dtype = info.get("dtype");
        const json_value* shape = info.get("shape");
        const json_value* offs = info.get("data_offsets");
        TRANOVA_CHECK(dtype && shape && offs && offs->items.size() == 2, "{}: tensor '{}' lacks dtype/shape/offsets",
                      path, name);
        TRANOVA_CHECK(dtype->str == "F32", "{}: tensor '{}' has dtype {} (only F32 is supported)", path, name,
                      dtype->str);
        tensor t;
        for (auto& s : shape->items) t.shape.push_back(int64_t(s.number));
        uint64_t a = uint64_t(offs->items[0].number), b = uint64_t(offs->items[1].number);
        TRANOVA_CHECK(b >= a && b <= body.size() && (b - a) == uint64_t(t.numel()) * 4,
                      "{}: tensor '{}' has inconsistent data offsets", path, name);
        t.data.resize(size_t(t.numel()));
        if (b > a) std::memcpy(t.data.data(), body.data() + a, b - a);
        out.emplace(name, std::move(t));
    }
    return out;
}

namespace {

void write_string_attr(hid_t obj, const std::string& name, const std::string& value) {
    h5_handle type(TRANOVA_H5_CHECK(H5Tcopy(H5T_C_S1), "H5Tcopy"));
    TRANOVA_H5_CHECK(H5Tset_size(type, value.empty() ? 1 : value.size()), "H5Tset_size");
    TRANOVA_H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLTERM), "H5Tset_strpad");
    h5_handle space(TRANOVA_H5_CHECK(H5Screate(H5S_SCALAR), "H5Screate"));
    h5_handle attr(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                                    "cannot create attribute {}", name));
    std::string buf = value.empty() ? std::string(1, '\0') : value;
    TRANOVA_H5_CHECK(H5Awrite(attr, type, buf.data()), "cannot write attribute {}", name);
}

std::string read_string_attr(hid_t attr) {
    h5_handle type(TRANOVA_H5_CHECK(H5Aget_type(attr), "H5Aget_type"));
    if (H5Tget_class(type) != H5T_STRING) return {};
    if (H5Tis_variable_str(type) > 0) {
        char* s = nullptr;
        h5_handle mem(H5Tcopy(H5T_C_S1));
        H5Tset_size(mem, H5T_VARIABLE);
        TRANOVA_H5_CHECK(H5Aread(attr, mem, &s), "H5Aread");
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
    }
    size_t n = H5Tget_size(type);
    std::string buf(n, '\0');
    TRANOVA_H5_CHECK(H5Aread(attr, type, buf.data()), "H5Aread");
    auto z = buf.find('\0');
    if (z != std::string::npos) buf.resize(z);
    return buf;
}

}  // namespace

void write_weight_file(const std::string& path, const weight_file& wf) {
    h5_quiet();
    h5_handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    TRANOVA_CHECK(file.valid(), "{}: cannot create HDF5 weight file", path);
    write_string_attr(file, "tranova.format", "tranova-denovo-weights");
    write_string_attr(file, "tranova.format_version", std::to_string(weight_format_version));
    write_string_attr(file, "tranova.arch", wf.arch);
    for (auto& [k, v] : wf.config) write_string_attr(file, "config." + k, v);
    h5_handle group(TRANOVA_H5_CHECK(H5Gcreate2(file, "tensors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot create /tensors", path));
    for (auto& [name, t] : wf.tensors) {
        std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
        h5_handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                                     : H5Screate_simple(int(dims.size()), dims.data(), nullptr));
        h5_handle ds(TRANOVA_H5_CHECK(
            H5Dcreate2(group, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            "{}: cannot create dataset {}", path, name));
        if (!t.data.empty())
            TRANOVA_H5_CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()),
                             "{}: cannot write dataset {}", path, name);
    }
    TRANOVA_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), "{}: flush failed", path);
}

namespace {
struct read_ctx {
    tensor_map* out;
    std::string path;
    std::string error;
};

herr_t visit_dataset(hid_t group, const char* name, const H5L_info_t*, void* op) {
    auto* ctx = static_cast<read_ctx*>(op);
    h5_handle ds(H5Dopen2(group, name, H5P_DEFAULT));
    if (!ds.valid()) {
        ctx->error = fmt::format("{}: cannot open dataset /tensors/{}", ctx->path, name);
        return -1;
    }
    h5_handle space(H5Dget_space(ds));
    int nd = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
    if (nd > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    tensor t;
    for (auto d : dims) t.shape.push_back(int64_t(d));
    t.data.resize(size_t(t.numel()));
    if (!t.data.empty() && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data()) < 0) {
        ctx->error = fmt::format("{}: cannot read dataset /tensors/{}", ctx->path, name);
        return -1;
    }
    ctx->out->emplace(name, std::move(t));
    return 0;
}

herr_t visit_attr(hid_t obj, const char* name, const H5A_info_t*, void* op) {
    auto* attrs = static_cast<std::map<std::string, std::string>*>(op);
    h5_handle a(H5Aopen(obj, name, H5P_DEFAULT));
    if (!a.valid()) return -1;
    (*attrs)[name] = read_string_attr(a);
    return 0;
}
}  // namespace

weight_file read_weight_file(const std::string& path) {
    h5_quiet();
    FILE* probe = std::fopen(path.c_str(), "rb");
    TRANOVA_CHECK(probe, "{}: cannot open model file", path);
    std::fclose(probe);
    TRANOVA_CHECK(H5Fis_hdf5(path.c_str()) > 0,
                  "{}: not an HDF5 weight file (convert checkpoints with `tranova convert --arch ...`)", path);
    h5_handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    TRANOVA_CHECK(file.valid(), "{}: cannot open HDF5 file", path);
    std::map<std::string, std::string> attrs;
    TRANOVA_H5_CHECK(H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, visit_attr, &attrs),
                     "{}: cannot read root attributes", path);
    TRANOVA_CHECK(attrs["tranova.format"] == "tranova-denovo-weights",
                  "{}: not a tranova de novo weight file (tranova.format = '{}')", path, attrs["tranova.format"]);
    TRANOVA_CHECK(attrs["tranova.format_version"] == std::to_string(weight_format_version),
                  "{}: weight format version {} is not supported (expected {}); re-run tranova convert", path,
                  attrs["tranova.format_version"], weight_format_version);
    weight_file wf;
    wf.arch = attrs["tranova.arch"];
    for (auto& [k, v] : attrs)
        if (k.rfind("config.", 0) == 0) wf.config[k.substr(7)] = v;
    TRANOVA_CHECK(H5Lexists(file, "tensors", H5P_DEFAULT) > 0, "{}: no /tensors group", path);
    h5_handle group(TRANOVA_H5_CHECK(H5Gopen2(file, "tensors", H5P_DEFAULT), "{}: cannot open /tensors", path));
    read_ctx ctx{&wf.tensors, path, {}};
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, visit_dataset, &ctx) < 0)
        TRANOVA_FAIL("{}", ctx.error.empty() ? path + ": cannot list /tensors" : ctx.error);
    return wf;
}

}  // namespace tranova::denovo_model

// Training-state checkpoint file (contract: core/train_state.hpp; layout:
// docs/training-core.md).
#include "core/train_state.hpp"

#include "util/error.hpp"
#include "util/h5.hpp"
#include "util/output_file.hpp"

#include <hdf5.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

namespace tranova::core {

namespace {
constexpr const char* kFormatMarker = "tranova-train-state";
// The tensor blocks of the arena saved, as HDF5 groups.
constexpr const char* kBlocks[] = {"params", "adam_m", "adam_v"};

// 64-bit FNV-1a over 8-byte words (a trailing 4-byte word zero-extended): detects a
// corrupted tensor, costs ~0.1 s per GB.
uint64_t checksum(const float* data, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const size_t words = n / 2;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        std::memcpy(&w, data + 2 * i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    if (n % 2) {
        uint32_t w;
        std::memcpy(&w, data + n - 1, 4);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return h;
}

// --- attribute helpers (scalar attributes on a file, group or dataset) -----------------
void put_attr(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, const void* v,
              const std::string& path) {
    h5_handle space(H5Screate(H5S_SCALAR));
    h5_handle a(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                                 "{}: cannot create attribute '{}'", path, name));
    TRANOVA_H5_CHECK(H5Awrite(a, mem_type, v), "{}: cannot write attribute '{}'", path, name);
}
void put_i64(hid_t obj, const std::string& name, int64_t v, const std::string& path) {
    put_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, path);
}
void put_u64(hid_t obj, const std::string& name, uint64_t v, const std::string& path) {
    put_attr(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v, path);
}
void put_f64(hid_t obj, const std::string& name, double v, const std::string& path) {
    put_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, path);
}
void put_str(hid_t obj, const std::string& name, const std::string& s, const std::string& path) {
    h5_handle t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t, std::max<size_t>(s.size(), 1));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    std::string buf = s.empty() ? std::string(1, '\0') : s;
    put_attr(obj, name, t, t, buf.data(), path);
}

h5_handle open_attr(hid_t obj, const std::string& name, const std::string& where, const std::string& path) {
    TRANOVA_CHECK(H5Aexists(obj, name.c_str()) > 0, "{}: {} has no '{}' attribute (not a complete training state)",
                  path, where, name);
    return h5_handle(TRANOVA_H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "{}: cannot open attribute '{}'",
                                      path, name));
}
template <class T>
T get_num(hid_t obj, const std::string& name, hid_t mem_type, H5T_class_t cls, const std::string& where,
          const std::string& path) {
    h5_handle a = open_attr(obj, name, where, path);
    h5_handle t(H5Aget_type(a));
    TRANOVA_CHECK(H5Tget_class(t) == cls, "{}: attribute '{}' of {} has the wrong type", path, name, where);
    T v{};
    TRANOVA_H5_CHECK(H5Aread(a, mem_type, &v), "{}: cannot read attribute '{}'", path, name);
    return v;
}
int64_t get_i64(hid_t obj, const std::string& name, const std::string& where, const std::string& path) {
    return get_num<int64_t>(obj, name, H5T_NATIVE_INT64, H5T_INTEGER, where, path);
}
std::string get_str(hid_t obj, const std::string& name, const std::string& where, const std::string& path) {
    h5_handle a = open_attr(obj, name, where, path);
    h5_handle t(H5Aget_type(a));
    TRANOVA_CHECK(H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) <= 0,
                  "{}: attribute '{}' of {} is not a fixed-length string", path, name, where);
    const size_t n = H5Tget_size(t);
    std::string s(n, '\0');
    TRANOVA_H5_CHECK(H5Aread(a, t, s.data()), "{}: cannot read attribute '{}'", path, name);
    s.resize(strnlen(s.c_str(), n));
    return s;
}

// Names of the links in a group, sorted.
std::vector<std::string> list_group(hid_t g, const std::string& where, const std::string& path) {
    H5G_info_t info;
    TRANOVA_H5_CHECK(H5Gget_info(g, &info), "{}: cannot list {}", path, where);
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        ssize_t n = TRANOVA_H5_CHECK(H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                                     "{}: cannot list {} entry {}", path, where, i);
        std::string name((size_t)n, '\0');
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
        names.push_back(std::move(name));
    }
    return names;
}

h5_handle open_group(hid_t f, const std::string& name, const std::string& path) {
    TRANOVA_CHECK(H5Lexists(f, name.c_str(), H5P_DEFAULT) > 0, "{}: no /{} group (not a complete training state)",
                  path, name);
    return h5_handle(TRANOVA_H5_CHECK(H5Gopen2(f, name.c_str(), H5P_DEFAULT), "{}: cannot open /{}", path, name));
}

void check_name(const std::string& name, const char* what, const std::string& path) {
    TRANOVA_CHECK(!name.empty() && name.find('/') == std::string::npos && name != ".",
                  "{}: invalid {} name '{}'", path, what, name);
}

// fsync a file (or folder) by name; the rename of a checkpoint is only durable once both
// the file's data and the folder's entry reached the disk.
void fsync_path(const std::string& p, const std::string& path) {
    int fd = ::open(p.c_str(), O_RDONLY);
    TRANOVA_CHECK(fd >= 0, "cannot write '{}': {}", path, std::strerror(errno));
    const bool ok = ::fsync(fd) == 0;
    const int e = errno;
    ::close(fd);
    TRANOVA_CHECK(ok, "cannot write '{}': fsync: {}", path, std::strerror(e));
}

// Reads the header attributes (everything but tensors and RNG states) of an open file.
train_state read_header(hid_t f, const std::string& path) {
    const std::string marker = get_str(f, "format", "the root", path);
    TRANOVA_CHECK(marker == kFormatMarker, "{}: not a tranova training state (format '{}')", path, marker);
    const int64_t version = get_i64(f, "format_version", "the root", path);
    TRANOVA_CHECK(version >= 1 && version <= train_state_format_version,
                  "{}: training state format version {} is not supported (this build reads up to {})", path, version,
                  train_state_format_version);
    // written last: absent means the writer did not finish
    TRANOVA_CHECK(H5Aexists(f, "complete") > 0 && get_i64(f, "complete", "the root", path) == 1,
                  "{}: incomplete training state (no completion marker)", path);
    train_state s;
    s.arch = get_str(f, "arch", "the root", path);
    s.config = get_str(f, "config", "the root", path);
    s.step = get_i64(f, "step", "the root", path);
    s.adam_updates = get_i64(f, "adam_updates", "the root", path);
    s.skipped_steps = get_i64(f, "skipped_steps", "the root", path);
    s.cursor.epoch = get_i64(f, "cursor_epoch", "the root", path);
    s.cursor.position = get_i64(f, "cursor_position", "the root", path);
    h5_handle g = open_group(f, "extra", path);
    H5O_info_t info;
    TRANOVA_H5_CHECK(H5Oget_info2(g, &info, H5O_INFO_NUM_ATTRS), "{}: cannot inspect /extra", path);
    for (hsize_t i = 0; i < info.num_attrs; i++) {
        h5_handle a(TRANOVA_H5_CHECK(H5Aopen_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot open /extra attribute {}", path, i));
        const std::string name = h5_attr_name(a);
        h5_handle t(H5Aget_type(a));
        if (H5Tget_class(t) == H5T_INTEGER) {
            int64_t v = 0;
            TRANOVA_H5_CHECK(H5Aread(a, H5T_NATIVE_INT64, &v), "{}: cannot read /extra '{}'", path, name);
            s.counters[name] = v;
        } else {
            TRANOVA_CHECK(H5Tget_class(t) == H5T_FLOAT, "{}: /extra '{}' is neither integer nor real", path, name);
            double v = 0;
            TRANOVA_H5_CHECK(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "{}: cannot read /extra '{}'", path, name);
            s.values[name] = v;
        }
    }
    return s;
}

h5_handle open_state_file(const std::string& path) {
    h5_quiet();
    TRANOVA_CHECK(std::filesystem::exists(path), "{}: training state not found", path);
    TRANOVA_CHECK(H5Fis_hdf5(path.c_str()) > 0, "{}: not a readable HDF5 file (truncated or corrupt training state)",
                  path);
    return h5_handle(TRANOVA_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                      "{}: cannot open HDF5 file (truncated or corrupt training state)", path));
}
}  // namespace

// ---------------------------------------------------------------------------------------
void train_state_write(const std::string& path, const train_state& s, const param_arena& arena) {
    h5_quiet();
    TRANOVA_CHECK(arena.allocated(), "{}: the parameter arena is not allocated", path);
    TRANOVA_CHECK(!s.arch.empty(), "{}: training state has no architecture name", path);
    for (auto& [name, st] : s.rngs) check_name(name, "RNG stream", path);
    for (auto& [name, v] : s.values) check_name(name, "value", path);
    for (auto& [name, v] : s.counters) {
        check_name(name, "counter", path);
        TRANOVA_CHECK(!s.values.count(name), "{}: '{}' is both a value and a counter", path, name);
    }
    output_path out(path);
    {
        h5_handle fapl(H5Pcreate(H5P_FILE_ACCESS));
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
        h5_handle f(TRANOVA_H5_CHECK(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
                                     "{}: cannot create HDF5 file", path));
        put_str(f, "format", kFormatMarker, path);
        put_i64(f, "format_version", train_state_format_version, path);
        put_str(f, "arch", s.arch, path);
        put_str(f, "config", s.config, path);
        put_i64(f, "step", s.step, path);
        put_i64(f, "adam_updates", s.adam_updates, path);
        put_i64(f, "skipped_steps", s.skipped_steps, path);
        put_i64(f, "cursor_epoch", s.cursor.epoch, path);
        put_i64(f, "cursor_position", s.cursor.position, path);

        const float* blocks[] = {arena.params(), arena.adam_m(), arena.adam_v()};
        for (int b = 0; b < 3; b++) {
            h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(f, kBlocks[b], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         "{}: cannot create group /{}", path, kBlocks[b]));
            for (const param_tensor& t : arena.tensors()) {
                std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
                h5_handle space(t.shape.empty() ? H5Screate(H5S_SCALAR)
                                                : H5Screate_simple((int)dims.size(), dims.data(), nullptr));
                h5_handle d(TRANOVA_H5_CHECK(H5Dcreate2(g, t.name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                                        H5P_DEFAULT, H5P_DEFAULT),
                                             "{}: cannot create dataset /{}/{}", path, kBlocks[b], t.name));
                const float* src = blocks[b] + t.offset;
                if (t.numel)
                    TRANOVA_H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, src),
                                     "{}: cannot write /{}/{}", path, kBlocks[b], t.name);
                put_u64(d, "checksum", checksum(src, t.numel), path);
            }
        }
        {
            h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(f, "rng", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         "{}: cannot create group /rng", path));
            const hsize_t four = 4;
            for (auto& [name, st] : s.rngs) {
                h5_handle space(H5Screate_simple(1, &four, nullptr));
                h5_handle d(TRANOVA_H5_CHECK(H5Dcreate2(g, name.c_str(), H5T_STD_U64LE, space, H5P_DEFAULT,
                                                        H5P_DEFAULT, H5P_DEFAULT),
                                             "{}: cannot create dataset /rng/{}", path, name));
                TRANOVA_H5_CHECK(H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st.data()),
                                 "{}: cannot write /rng/{}", path, name);
            }
        }
        {
            h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(f, "extra", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         "{}: cannot create group /extra", path));
            for (auto& [name, v] : s.values) put_f64(g, name, v, path);
            for (auto& [name, v] : s.counters) put_i64(g, name, v, path);
        }
        put_i64(f, "complete", 1, path);
        TRANOVA_H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL), "{}: cannot flush", path);
    }  // H5Fclose
    fsync_path(out.temp_path(), path);
    out.commit();
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    fsync_path(dir.empty() ? std::string(".") : dir.string(), path);
}

train_state train_state_peek(const std::string& path) {
    h5_handle f = open_state_file(path);
    return read_header(f, path);
}

train_state train_state_read(const std::string& path, param_arena& arena, const std::string& arch,
                             const std::string& config) {
    TRANOVA_CHECK(arena.allocated(), "{}: the parameter arena is not allocated", path);
    h5_handle f = open_state_file(path);
    train_state s = read_header(f, path);
    TRANOVA_CHECK(s.arch == arch, "{}: training state is for architecture '{}', this run trains '{}'", path, s.arch,
                  arch);
    TRANOVA_CHECK(s.config == config, "{}: training state has model config '{}', this run has '{}'", path, s.config,
                  config);

    // Structure first: every block holds exactly the arena's tensors with their shapes.
    std::vector<h5_handle> groups;
    std::vector<std::vector<h5_handle>> datasets(3);
    for (int b = 0; b < 3; b++) {
        groups.push_back(open_group(f, kBlocks[b], path));
        std::set<std::string> present;
        for (std::string& name : list_group(groups.back(), std::string("/") + kBlocks[b], path)) {
            TRANOVA_CHECK(arena.has(name), "{}: training state has tensor /{}/{} that this model does not have", path,
                          kBlocks[b], name);
            present.insert(std::move(name));
        }
        for (const param_tensor& t : arena.tensors()) {
            TRANOVA_CHECK(present.count(t.name), "{}: training state lacks tensor /{}/{}", path, kBlocks[b], t.name);
            h5_handle d(TRANOVA_H5_CHECK(H5Dopen2(groups.back(), t.name.c_str(), H5P_DEFAULT),
                                         "{}: /{}/{} is not a dataset", path, kBlocks[b], t.name));
            h5_handle type(H5Dget_type(d));
            TRANOVA_CHECK(H5Tget_class(type) == H5T_FLOAT, "{}: /{}/{} is not floating point", path, kBlocks[b],
                          t.name);
            h5_handle sp(H5Dget_space(d));
            const int rank = H5Sget_simple_extent_ndims(sp);
            TRANOVA_CHECK(rank >= 0 && rank <= 8, "{}: /{}/{} has a bad rank", path, kBlocks[b], t.name);
            std::vector<hsize_t> dims((size_t)rank);
            H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
            const std::vector<int64_t> shape(dims.begin(), dims.end());
            TRANOVA_CHECK(shape == t.shape, "{}: tensor /{}/{} has shape {} in the training state, the model has {}",
                          path, kBlocks[b], t.name, shape_string(shape), shape_string(t.shape));
            datasets[(size_t)b].push_back(std::move(d));
        }
    }
    h5_handle rg = open_group(f, "rng", path);
    for (const std::string& name : list_group(rg, "/rng", path)) {
        h5_handle d(TRANOVA_H5_CHECK(H5Dopen2(rg, name.c_str(), H5P_DEFAULT), "{}: /rng/{} is not a dataset", path,
                                     name));
        h5_handle sp(H5Dget_space(d));
        hsize_t n = 0;
        TRANOVA_CHECK(H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, &n, nullptr) == 1 && n == 4,
                      "{}: /rng/{} is not 4 words", path, name);
        rng::state_type st{};
        TRANOVA_H5_CHECK(H5Dread(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st.data()),
                         "{}: cannot read /rng/{}", path, name);
        TRANOVA_CHECK(st[0] | st[1] | st[2] | st[3], "{}: /rng/{} is the invalid all-zero state", path, name);
        s.rngs[name] = st;
    }

    // Then the data.
    float* blocks[] = {arena.params(), arena.adam_m(), arena.adam_v()};
    for (int b = 0; b < 3; b++)
        for (size_t i = 0; i < arena.tensors().size(); i++) {
            const param_tensor& t = arena.tensors()[i];
            const hid_t d = datasets[(size_t)b][i];
            float* dst = blocks[b] + t.offset;
            if (t.numel)
                TRANOVA_H5_CHECK(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst),
                                 "{}: cannot read /{}/{} (truncated or corrupt training state)", path, kBlocks[b],
                                 t.name);
            const uint64_t want = get_num<uint64_t>(d, "checksum", H5T_NATIVE_UINT64, H5T_INTEGER,
                                                    fmt::format("/{}/{}", kBlocks[b], t.name), path);
            TRANOVA_CHECK(checksum(dst, t.numel) == want, "{}: tensor /{}/{} is corrupt (checksum mismatch)", path,
                          kBlocks[b], t.name);
        }
    return s;
}

}  // namespace tranova::core

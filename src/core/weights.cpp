// HDF5 weight file read/write (format: docs/weights-format.md).
#include "core/weights.hpp"

#include "util/error.hpp"
#include "util/text.hpp"
#include "util/h5.hpp"
#include "util/output_file.hpp"

#include <filesystem>

#include <hdf5.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <numeric>

namespace tranova::core {

namespace {
constexpr size_t kAlignFloats = 16;  // 64 bytes
constexpr const char* kFormatMarker = "tranova-weights";
const char* const kReserved[] = {"format", "format_version", "arch"};

size_t numel_of(const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t d : shape) {
        TRANOVA_CHECK(d >= 0, "weights: negative dimension {}", d);
        n *= (size_t)d;
    }
    return n;
}
size_t align_up(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

}  // namespace

void weights::free_deleter::operator()(float* p) const { std::free(p); }

void weights::reserve(size_t floats) {
    if (floats <= capacity_) return;
    size_t cap = std::max(floats, capacity_ * 2);
    cap = align_up(std::max<size_t>(cap, kAlignFloats));
    // large models: 2 MiB alignment + transparent huge pages, so that first touch costs
    // ~170 page faults instead of ~85,000 for a Small (340 MB) model
    const size_t bytes = cap * sizeof(float);
    const size_t align = bytes >= (size_t(64) << 20) ? (size_t(2) << 20) : 64;
    float* p = static_cast<float*>(std::aligned_alloc(align, (bytes + align - 1) / align * align));
    TRANOVA_CHECK(p, "weights: out of memory allocating {} MiB", bytes >> 20);
    if (align > 64) madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
    if (used_) std::memcpy(p, data_.get(), used_ * sizeof(float));
    data_.reset(p);
    capacity_ = cap;
}

void weights::add(const std::string& name, std::vector<int64_t> shape, const float* src) {
    TRANOVA_CHECK(!name.empty() && name.find('/') == std::string::npos && name != ".",
                  "weights: invalid tensor name '{}'", name);
    TRANOVA_CHECK(!has(name), "weights: duplicate tensor '{}'", name);
    weight_entry e{name, std::move(shape), used_, 0};
    e.numel = numel_of(e.shape);
    reserve(used_ + align_up(e.numel));
    if (e.numel) std::memcpy(data_.get() + e.offset, src, e.numel * sizeof(float));
    std::fill(data_.get() + e.offset + e.numel, data_.get() + e.offset + align_up(e.numel), 0.0f);
    used_ += align_up(e.numel);
    index_[e.name] = entries_.size();
    entries_.push_back(std::move(e));
}

void weights::allocate(std::vector<weight_entry> entries) {
    entries_.clear(), index_.clear(), used_ = 0;
    size_t total = 0;
    for (auto& e : entries) {
        e.numel = numel_of(e.shape);
        e.offset = total;
        total += align_up(e.numel);
    }
    reserve(std::max<size_t>(total, 1));
    used_ = total;
    for (auto& e : entries) {
        TRANOVA_CHECK(!index_.count(e.name), "weights: duplicate tensor '{}'", e.name);
        index_[e.name] = entries_.size();
        entries_.push_back(std::move(e));
    }
}

std::string weights::label() const { return source.empty() ? fmt::format("weights ({})", arch) : source; }

const weight_entry& weights::entry(const std::string& name) const {
    auto it = index_.find(name);
    TRANOVA_CHECK(it != index_.end(), "{}: tensor '{}' is missing", label(), name);
    return entries_[it->second];
}

namespace {
// True when some value of p[0..n) is NaN or infinite. A bit test (all-ones exponent),
// not std::isfinite, so -ffast-math cannot remove it; blocks without an early exit so
// that the compiler vectorises it (a 340 MB model is scanned in ~20 ms).
bool any_non_finite(const float* p, size_t n) {
    constexpr size_t kBlock = 4096;
    for (size_t i = 0; i < n; i += kBlock) {
        const size_t m = std::min(kBlock, n - i);
        uint32_t hit = 0;
        for (size_t k = 0; k < m; k++) {
            uint32_t b;
            std::memcpy(&b, p + i + k, 4);
            hit |= (b & 0x7f800000u) == 0x7f800000u;
        }
        if (hit) return true;
    }
    return false;
}
}  // namespace

void weights::require_finite(const std::string& where) const {
    for (const weight_entry& e : entries_) {
        const float* p = data_.get() + e.offset;
        if (!any_non_finite(p, e.numel)) continue;
        size_t bad = 0;
        while (!any_non_finite(p + bad, 1)) bad++;
        TRANOVA_FAIL("{}: tensor '{}' holds a non-finite value ({} at flat index {}); refusing the weights", where,
                     e.name, p[bad], bad);
    }
}

const float* weights::get(const std::string& name, const std::vector<int64_t>& shape) const {
    const weight_entry& e = entry(name);
    TRANOVA_CHECK(e.shape == shape, "{}: tensor '{}' has shape {}, expected {}", label(), name, shape_string(e.shape),
                  shape_string(shape));
    return data_.get() + e.offset;
}

float* weights::get_mutable(const std::string& name, const std::vector<int64_t>& shape) {
    return const_cast<float*>(get(name, shape));
}

size_t weights::parameter_count() const {
    size_t n = 0;
    for (auto& e : entries_) n += e.numel;
    return n;
}

int64_t weights::config_int(const std::string& key) const {
    auto it = config.find(key);
    TRANOVA_CHECK(it != config.end(), "{}: config field '{}' is missing", label(), key);
    const int64_t* v = std::get_if<int64_t>(&it->second);
    TRANOVA_CHECK(v, "{}: config field '{}' is not an integer", label(), key);
    return *v;
}
double weights::config_double(const std::string& key) const {
    auto it = config.find(key);
    TRANOVA_CHECK(it != config.end(), "{}: config field '{}' is missing", label(), key);
    if (auto* i = std::get_if<int64_t>(&it->second)) return (double)*i;
    const double* v = std::get_if<double>(&it->second);
    TRANOVA_CHECK(v, "{}: config field '{}' is not a number", label(), key);
    return *v;
}
const std::string& weights::config_string(const std::string& key) const {
    auto it = config.find(key);
    TRANOVA_CHECK(it != config.end(), "{}: config field '{}' is missing", label(), key);
    const std::string* v = std::get_if<std::string>(&it->second);
    TRANOVA_CHECK(v, "{}: config field '{}' is not a string", label(), key);
    return *v;
}
int64_t weights::config_int_or(const std::string& key, int64_t fallback) const {
    return config.count(key) ? config_int(key) : fallback;
}
double weights::config_double_or(const std::string& key, double fallback) const {
    return config.count(key) ? config_double(key) : fallback;
}

// ---------------------------------------------------------------------------------------
namespace {

void write_attr(hid_t obj, const std::string& name, const config_value& v, const std::string& file) {
    h5_handle space(H5Screate(H5S_SCALAR));
    if (auto* i = std::get_if<int64_t>(&v)) {
        h5_handle a(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot create attribute '{}'", file, name));
        TRANOVA_H5_CHECK(H5Awrite(a, H5T_NATIVE_INT64, i), "{}: cannot write attribute '{}'", file, name);
    } else if (auto* d = std::get_if<double>(&v)) {
        h5_handle a(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot create attribute '{}'", file, name));
        TRANOVA_H5_CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, d), "{}: cannot write attribute '{}'", file, name);
    } else {
        const std::string& s = std::get<std::string>(v);
        h5_handle t(H5Tcopy(H5T_C_S1));
        H5Tset_size(t, std::max<size_t>(s.size(), 1));
        H5Tset_strpad(t, H5T_STR_NULLPAD);
        H5Tset_cset(t, H5T_CSET_UTF8);
        h5_handle a(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot create attribute '{}'", file, name));
        std::string buf = s.empty() ? std::string(1, '\0') : s;
        TRANOVA_H5_CHECK(H5Awrite(a, t, buf.data()), "{}: cannot write attribute '{}'", file, name);
    }
}

config_value read_attr(hid_t attr, const std::string& name, const std::string& file) {
    h5_handle t(H5Aget_type(attr));
    H5T_class_t cls = H5Tget_class(t);
    // One value per attribute: an array attribute would overrun the single value read below.
    h5_handle space(H5Aget_space(attr));
    TRANOVA_CHECK(H5Sget_simple_extent_npoints(space) == 1, "{}: attribute '{}' is not a single value", file, name);
    if (cls == H5T_INTEGER) {
        int64_t v = 0;
        TRANOVA_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, &v), "{}: cannot read attribute '{}'", file, name);
        return v;
    }
    if (cls == H5T_FLOAT) {
        double v = 0;
        TRANOVA_H5_CHECK(H5Aread(attr, H5T_NATIVE_DOUBLE, &v), "{}: cannot read attribute '{}'", file, name);
        return v;
    }
    TRANOVA_CHECK(cls == H5T_STRING, "{}: attribute '{}' has an unsupported type", file, name);
    if (H5Tis_variable_str(t) > 0) {
        char* p = nullptr;
        h5_handle mt(H5Tcopy(H5T_C_S1));
        H5Tset_size(mt, H5T_VARIABLE);
        TRANOVA_H5_CHECK(H5Aread(attr, mt, &p), "{}: cannot read attribute '{}'", file, name);
        std::string s = p ? p : "";
        h5_handle sp(H5Aget_space(attr));
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, &p);
        return s;
    }
    size_t n = H5Tget_size(t);
    TRANOVA_CHECK(n > 0 && n <= (size_t(1) << 20), "{}: attribute '{}' is a string of {} bytes (limit 1 MiB)", file,
                  name, n);
    std::string s(n, '\0');
    TRANOVA_H5_CHECK(H5Aread(attr, t, s.data()), "{}: cannot read attribute '{}'", file, name);
    s.resize(strnlen(s.c_str(), n));
    return s;
}

}  // namespace

void weights_write(const std::string& path, const weights& w) {
    h5_quiet();
    TRANOVA_CHECK(!w.arch.empty(), "{}: weights have no architecture name", path);
    output_path out(path);
    {
        h5_handle fapl(H5Pcreate(H5P_FILE_ACCESS));
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
        h5_handle f(TRANOVA_H5_CHECK(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
                                     "{}: cannot create HDF5 file", path));
        write_attr(f, "format", std::string(kFormatMarker), path);
        write_attr(f, "format_version", w.format_version, path);
        write_attr(f, "arch", w.arch, path);
        for (auto& [k, v] : w.config) {
            for (const char* r : kReserved)
                TRANOVA_CHECK(k != r, "{}: config field '{}' clashes with a reserved attribute", path, k);
            write_attr(f, k, v, path);
        }
        h5_handle gcpl(H5Pcreate(H5P_GROUP_CREATE));
        H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
        h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(f, "tensors", H5P_DEFAULT, gcpl, H5P_DEFAULT),
                                     "{}: cannot create group /tensors", path));
        for (const weight_entry& e : w.entries()) {
            std::vector<hsize_t> dims(e.shape.begin(), e.shape.end());
            h5_handle space(e.shape.empty() ? H5Screate(H5S_SCALAR)
                                            : H5Screate_simple((int)dims.size(), dims.data(), nullptr));
            h5_handle d(TRANOVA_H5_CHECK(H5Dcreate2(g, e.name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT,
                                                    H5P_DEFAULT, H5P_DEFAULT),
                                         "{}: cannot create dataset '{}'", path, e.name));
            if (e.numel)
                TRANOVA_H5_CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w.data() + e.offset),
                                 "{}: cannot write tensor '{}'", path, e.name);
        }
        TRANOVA_H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL), "{}: cannot flush", path);
    }
    out.commit();
}

weights weights_read(const std::string& path) {
    h5_quiet();
    if (std::error_code ec; std::filesystem::exists(path, ec)) h5_require_regular_file(path);  // FIFO: never open
    TRANOVA_CHECK(H5Fis_hdf5(path.c_str()) > 0,
                  "{}: not a readable HDF5 file", path);
    // CLOSE_STRONG: closing the file also closes anything a failed read left open in
    // the library (otherwise a corrupt file leaks HDF5's internal objects).
    h5_handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    h5_handle f(TRANOVA_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), "{}: cannot open HDF5 file", path));
    weights w;
    H5O_info_t info;
    TRANOVA_H5_CHECK(H5Oget_info2(f, &info, H5O_INFO_NUM_ATTRS), "{}: cannot inspect root group", path);
    bool marker = false, version = false;
    for (hsize_t i = 0; i < info.num_attrs; i++) {
        h5_handle a(TRANOVA_H5_CHECK(H5Aopen_by_idx(f, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
                                     "{}: cannot open root attribute {}", path, i));
        const std::string name = h5_attr_name(a);
        config_value v = read_attr(a, name, path);
        if (name == "format") {
            auto* s = std::get_if<std::string>(&v);
            TRANOVA_CHECK(s && *s == kFormatMarker, "{}: not a tranova weight file (format attribute '{}')", path,
                          s ? *s : "?");
            marker = true;
        } else if (name == "format_version") {
            auto* iv = std::get_if<int64_t>(&v);
            TRANOVA_CHECK(iv, "{}: format_version is not an integer", path);
            TRANOVA_CHECK(*iv >= 1 && *iv <= weights_format_version,
                          "{}: weight file format version {} is not supported (this build reads up to {})", path,
                          *iv, weights_format_version);
            w.format_version = *iv;
            version = true;
        } else if (name == "arch") {
            auto* s = std::get_if<std::string>(&v);
            TRANOVA_CHECK(s, "{}: arch attribute is not a string", path);
            w.arch = *s;
        } else {
            w.config[name] = std::move(v);
        }
    }
    TRANOVA_CHECK(marker, "{}: not a tranova weight file (no 'format' attribute)", path);
    TRANOVA_CHECK(version, "{}: no format_version attribute", path);
    TRANOVA_CHECK(!w.arch.empty(), "{}: no arch attribute", path);

    TRANOVA_CHECK(H5Lexists(f, "tensors", H5P_DEFAULT) > 0, "{}: no /tensors group", path);
    h5_handle g(TRANOVA_H5_CHECK(H5Gopen2(f, "tensors", H5P_DEFAULT), "{}: cannot open /tensors", path));
    H5G_info_t ginfo;
    TRANOVA_H5_CHECK(H5Gget_info(g, &ginfo), "{}: cannot inspect /tensors", path);
    H5_index_t order = H5_INDEX_CRT_ORDER;
    if (ginfo.nlinks && H5Lget_name_by_idx(g, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, 0, nullptr, 0, H5P_DEFAULT) < 0)
        order = H5_INDEX_NAME;  // written without creation-order tracking
    std::vector<weight_entry> entries;
    std::vector<h5_handle> datasets;
    for (hsize_t i = 0; i < ginfo.nlinks; i++) {
        ssize_t n = TRANOVA_H5_CHECK(H5Lget_name_by_idx(g, ".", order, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                                     "{}: cannot list /tensors entry {}", path, i);
        std::string name((size_t)n, '\0');
        H5Lget_name_by_idx(g, ".", order, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
        h5_handle d(TRANOVA_H5_CHECK(H5Dopen2(g, name.c_str(), H5P_DEFAULT), "{}: /tensors/{} is not a dataset",
                                     path, name));
        h5_handle t(H5Dget_type(d));
        TRANOVA_CHECK(H5Tget_class(t) == H5T_FLOAT, "{}: tensor '{}' is not floating point", path, name);
        const size_t tsize = H5Tget_size(t);
        TRANOVA_CHECK(tsize == 2 || tsize == 4 || tsize == 8, "{}: tensor '{}' has a {}-byte float type", path, name,
                      tsize);
        h5_handle sp(H5Dget_space(d));
        TRANOVA_CHECK(H5Sget_simple_extent_type(sp) != H5S_NULL, "{}: tensor '{}' has no dataspace", path, name);
        int rank = H5Sget_simple_extent_ndims(sp);
        TRANOVA_CHECK(rank >= 0 && rank <= 8, "{}: tensor '{}' has a bad rank", path, name);
        std::vector<hsize_t> dims((size_t)rank);
        H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
        weight_entry e;
        e.name = name;
        size_t numel = 1;
        for (hsize_t x : dims) {
            TRANOVA_CHECK(x < (hsize_t(1) << 40) && (x == 0 || numel <= (size_t(1) << 40) / x),
                          "{}: tensor '{}' is too large", path, name);
            numel *= (size_t)x;
            e.shape.push_back((int64_t)x);
        }
        // The values must be in the file: an unwritten dataset reads as its fill value
        // (silent zeros). Unfiltered data is stored whole; compressed data cannot expand
        // beyond deflate's ~1032-fold.
        if (numel) {
            const hsize_t stored = H5Dget_storage_size(d);
            h5_handle dcpl(H5Dget_create_plist(d));
            const bool filtered = H5Pget_nfilters(dcpl) > 0;
            const uint64_t need = (uint64_t)numel * tsize;
            TRANOVA_CHECK(filtered ? stored > 0 && need / 1100 <= stored : stored >= need,
                          "{}: tensor '{}' (shape {}) has {} bytes of data in the file, needs {}", path, name,
                          shape_string(e.shape), (uint64_t)stored, need);
        }
        entries.push_back(std::move(e));
        datasets.push_back(std::move(d));
    }
    w.allocate(std::move(entries));
    // Fast path: a contiguous, unfiltered little-endian float32 dataset is one byte range
    // of the file (H5Dget_offset); pread it straight into its slot. Anything else (or a
    // short read) goes through H5Dread, which converts types as needed.
    struct fd_guard {
        int fd;
        ~fd_guard() {
            if (fd >= 0) ::close(fd);
        }
    } guard{::open(path.c_str(), O_RDONLY)};
    const int fd = guard.fd;
    for (size_t i = 0; i < datasets.size(); i++) {
        const weight_entry& e = w.entries()[i];
        if (!e.numel) continue;
        float* dst = w.mutable_data() + e.offset;
        bool done = false;
        if (fd >= 0) {
            h5_handle t(H5Dget_type(datasets[i]));
            haddr_t off = H5Dget_offset(datasets[i]);
            if (off != HADDR_UNDEF && H5Tequal(t, H5T_IEEE_F32LE) > 0) {
                size_t want = e.numel * sizeof(float), got = 0;
                while (got < want) {
                    ssize_t r = ::pread(fd, reinterpret_cast<char*>(dst) + got, want - got, (off_t)(off + got));
                    if (r <= 0) break;
                    got += (size_t)r;
                }
                done = got == want;
            }
        }
        if (!done)
            TRANOVA_H5_CHECK(H5Dread(datasets[i], H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst),
                             "{}: cannot read tensor '{}'", path, e.name);
    }
    w.source = path;
    w.require_finite(path);
    return w;
}

}  // namespace tranova::core

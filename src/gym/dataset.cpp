// The gym HDF5 dataset: ingest from the official CSV layout, add model predictions with
// the official merge rules, read back for evaluation (see dataset.hpp, docs/gym.md).
#include "gym/dataset.hpp"

#include "tranova/build_info.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"
#include "util/log.hpp"
#include "util/mutant.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <hdf5.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <memory>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace fs = std::filesystem;

namespace tranova::gym {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------
// Small HDF5 helpers (scalar UTF-8 string attributes, chunked compressed 1-D columns).

std::string now_iso8601() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

void set_attr(hid_t obj, const std::string& name, const std::string& value) {
    h5_handle type(TRANOVA_H5_CHECK(H5Tcopy(H5T_C_S1), "HDF5 type"));
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    h5_handle space(TRANOVA_H5_CHECK(H5Screate(H5S_SCALAR), "HDF5 dataspace"));
    h5_handle attr(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                                    "cannot create attribute '{}'", name));
    const char* p = value.c_str();
    TRANOVA_H5_CHECK(H5Awrite(attr, type, &p), "cannot write attribute '{}'", name);
}

template <class T> hid_t native_type();
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<int8_t>() { return H5T_NATIVE_INT8; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }

template <class T> void set_attr_num(hid_t obj, const std::string& name, T value) {
    h5_handle space(TRANOVA_H5_CHECK(H5Screate(H5S_SCALAR), "HDF5 dataspace"));
    h5_handle attr(TRANOVA_H5_CHECK(H5Acreate2(obj, name.c_str(), native_type<T>(), space, H5P_DEFAULT, H5P_DEFAULT),
                                    "cannot create attribute '{}'", name));
    TRANOVA_H5_CHECK(H5Awrite(attr, native_type<T>(), &value), "cannot write attribute '{}'", name);
}

std::string get_attr(hid_t obj, const std::string& name) {
    if (H5Aexists(obj, name.c_str()) <= 0) return "";
    h5_handle attr(TRANOVA_H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "cannot open attribute '{}'", name));
    h5_handle ftype(TRANOVA_H5_CHECK(H5Aget_type(attr), "attribute type"));
    if (H5Tget_class(ftype) != H5T_STRING) {
        long long v = 0;
        TRANOVA_H5_CHECK(H5Aread(attr, H5T_NATIVE_LLONG, &v), "cannot read attribute '{}'", name);
        return std::to_string(v);
    }
    if (H5Tis_variable_str(ftype) > 0) {
        h5_handle mtype(H5Tcopy(H5T_C_S1));
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char* p = nullptr;
        TRANOVA_H5_CHECK(H5Aread(attr, mtype, &p), "cannot read attribute '{}'", name);
        std::string s = p ? p : "";
        H5free_memory(p);
        return s;
    }
    size_t size = H5Tget_size(ftype);
    std::string s(size, '\0');
    TRANOVA_H5_CHECK(H5Aread(attr, ftype, s.data()), "cannot read attribute '{}'", name);
    s.resize(std::strlen(s.c_str()));
    return s;
}

h5_handle chunked_props(int64_t n, int64_t chunk_rows, bool shuffle, int level) {
    h5_handle dcpl(TRANOVA_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE), "HDF5 properties"));
    hsize_t chunk = static_cast<hsize_t>(std::max<int64_t>(1, std::min(n, chunk_rows)));
    TRANOVA_H5_CHECK(H5Pset_chunk(dcpl, 1, &chunk), "HDF5 chunking");
    if (shuffle) H5Pset_shuffle(dcpl);
    if (level >= 0) TRANOVA_H5_CHECK(H5Pset_deflate(dcpl, level), "HDF5 deflate");
    return dcpl;
}

// level -1 = chunked without a filter.
template <class T>
void write_column(hid_t group, const std::string& name, const T* data, int64_t n, int level = 4) {
    hsize_t dims = static_cast<hsize_t>(n);
    h5_handle space(TRANOVA_H5_CHECK(H5Screate_simple(1, &dims, nullptr), "HDF5 dataspace"));
    // ~512 KiB chunks: big enough to compress well, small enough to read selectively.
    h5_handle dcpl = chunked_props(n, (512 << 10) / static_cast<int64_t>(sizeof(T)), sizeof(T) > 1 && level >= 0, level);
    h5_handle ds(TRANOVA_H5_CHECK(H5Dcreate2(group, name.c_str(), native_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                                  "cannot create dataset '{}'", name));
    if (n > 0) TRANOVA_H5_CHECK(H5Dwrite(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot write '{}'", name);
}

h5_handle fixed_string_type(size_t width) {
    h5_handle type(TRANOVA_H5_CHECK(H5Tcopy(H5T_C_S1), "HDF5 type"));
    H5Tset_size(type, std::max<size_t>(width, 1));
    H5Tset_strpad(type, H5T_STR_NULLPAD);
    H5Tset_cset(type, H5T_CSET_ASCII);
    return type;
}

// Fixed-length string column written in blocks (long sequences compress well: deflate
// sees the near-identical rows side by side).
class string_column_writer {
public:
    // expected_rows (> 0) caps the chunk size for small assays.
    string_column_writer(hid_t group, const std::string& name, size_t width, int64_t expected_rows, int level)
        : name_(name), width_(std::max<size_t>(width, 1)) {
        type_ = fixed_string_type(width_);
        hsize_t dims = 0, maxdims = H5S_UNLIMITED;
        h5_handle space(TRANOVA_H5_CHECK(H5Screate_simple(1, &dims, &maxdims), "HDF5 dataspace"));
        block_rows_ = std::max<int64_t>(16, (1 << 20) / static_cast<int64_t>(width_));
        if (expected_rows > 0) block_rows_ = std::min(block_rows_, expected_rows);
        h5_handle dcpl = chunked_props(block_rows_, block_rows_, false, level);
        ds_ = h5_handle(TRANOVA_H5_CHECK(H5Dcreate2(group, name.c_str(), type_, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                                         "cannot create dataset '{}'", name));
        buf_.reserve(static_cast<size_t>(block_rows_) * width_);
    }
    void add(std::string_view s) {
        size_t at = buf_.size();
        buf_.resize(at + width_, '\0');
        std::memcpy(buf_.data() + at, s.data(), std::min(s.size(), width_));
        if (static_cast<int64_t>(buf_.size() / width_) == block_rows_) flush();
    }
    void flush() {
        hsize_t rows = buf_.size() / width_;
        if (rows == 0) return;
        hsize_t new_size = written_ + rows;
        TRANOVA_H5_CHECK(H5Dset_extent(ds_, &new_size), "cannot extend '{}'", name_);
        h5_handle fspace(H5Dget_space(ds_));
        hsize_t start = written_;
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &rows, nullptr);
        h5_handle mspace(H5Screate_simple(1, &rows, nullptr));
        TRANOVA_H5_CHECK(H5Dwrite(ds_, type_, mspace, fspace, H5P_DEFAULT, buf_.data()), "cannot write '{}'", name_);
        written_ = new_size;
        buf_.clear();
    }

private:
    std::string name_;
    size_t width_;
    int64_t block_rows_;
    hsize_t written_ = 0;
    h5_handle type_, ds_;
    std::string buf_;
};

template <class T> std::vector<T> read_column(hid_t group, const std::string& name, const std::string& where) {
    h5_handle ds(TRANOVA_H5_CHECK(H5Dopen2(group, name.c_str(), H5P_DEFAULT), "{}: missing dataset '{}'", where, name));
    h5_handle space(H5Dget_space(ds));
    hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<T> v(static_cast<size_t>(n));
    if (n > 0)
        TRANOVA_H5_CHECK(H5Dread(ds, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "{}: cannot read '{}'",
                         where, name);
    return v;
}

void write_string_list(hid_t group, const std::string& name, const std::vector<std::string>& values) {
    h5_handle type(TRANOVA_H5_CHECK(H5Tcopy(H5T_C_S1), "HDF5 type"));
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    hsize_t dims = values.size();
    h5_handle space(TRANOVA_H5_CHECK(H5Screate_simple(1, &dims, nullptr), "HDF5 dataspace"));
    h5_handle ds(TRANOVA_H5_CHECK(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                  "cannot create '{}'", name));
    std::vector<const char*> p;
    for (const auto& s : values) p.push_back(s.c_str());
    if (!p.empty()) TRANOVA_H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "cannot write '{}'", name);
}

std::vector<std::string> read_string_list(hid_t group, const std::string& name, const std::string& where) {
    h5_handle ds(TRANOVA_H5_CHECK(H5Dopen2(group, name.c_str(), H5P_DEFAULT), "{}: missing dataset '{}'", where, name));
    h5_handle space(H5Dget_space(ds));
    hssize_t n = H5Sget_simple_extent_npoints(space);
    h5_handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    std::vector<char*> p(static_cast<size_t>(n));
    std::vector<std::string> out;
    if (n == 0) return out;
    TRANOVA_H5_CHECK(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "{}: cannot read '{}'", where, name);
    for (char* s : p) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, p.data());
    return out;
}

// Does shuffle+deflate pay for these values? Tried on (up to) the first 64 Ki values:
// compress when it saves at least 20 %. Random-looking float scores save < 10 % and
// would cost ~10x the read time of raw chunks (inflate runs at ~100 MB/s).
template <class T> bool worth_compressing(const T* v, int64_t n) {
    const size_t m = static_cast<size_t>(std::min<int64_t>(n, 1 << 16)), w = sizeof(T);
    if (m < 256) return true;
    std::vector<unsigned char> shuffled(m * w);
    const auto* bytes = reinterpret_cast<const unsigned char*>(v);
    for (size_t i = 0; i < m; ++i)
        for (size_t b = 0; b < w; ++b) shuffled[b * m + i] = bytes[i * w + b];
    uLongf out_len = compressBound(static_cast<uLong>(shuffled.size()));
    std::vector<unsigned char> out(out_len);
    if (compress2(out.data(), &out_len, shuffled.data(), static_cast<uLong>(shuffled.size()), 1) != Z_OK) return true;
    return out_len < 0.8 * static_cast<double>(shuffled.size());
}

bool valid_model_name(const std::string& m) { return !m.empty() && m.find('/') == std::string::npos && m[0] != '.'; }

std::string capitalise(std::string s) {
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}

bool is_amino_acid_string(std::string_view s) {
    for (char c : s)
        if (!std::isalpha(static_cast<unsigned char>(c))) return false;
    return true;
}

struct reference_row {
    std::map<std::string, std::string> fields;
    std::vector<std::pair<std::string, std::string>> ordered;
    int64_t line = 0;
};

}  // namespace

int apply_mutant(std::string& out, const std::string& target, const std::string& mutant, const std::string& where) {
    out = target;
    const auto subs = parse_mutant(mutant, target, where, "target_seq");
    for (const substitution& s : subs) out[s.pos] = s.mt;
    return static_cast<int>(subs.size());
}

// ---------------------------------------------------------------------------------------
// ingest

// DMS_filename names a file inside --assays: no absolute path, no '..', and no symlink
// that leads out of the folder (the reference file must not make us read /etc/passwd).
static void check_inside_assays(const std::string& name, const std::string& assays_dir, const std::string& where) {
    fs::path p(name);
    bool bad = name.empty() || p.is_absolute() || name.find('\0') != std::string::npos;
    for (const auto& part : p)
        if (part == "..") bad = true;
    std::error_code ec;
    const fs::path full = fs::path(assays_dir) / p;
    if (!bad && fs::exists(full, ec)) {
        auto root = fs::canonical(assays_dir, ec);
        auto real = ec ? fs::path() : fs::canonical(full, ec);
        if (!ec) {
            auto r = root.begin(), f = real.begin();
            for (; r != root.end() && f != real.end() && *r == *f; ++r, ++f) {}
            bad = r != root.end();
        }
    }
    TRANOVA_CHECK(!bad, "{}: DMS_filename '{}' is not a file name inside the assay folder '{}'; only files in --assays are read",
                  where, name, assays_dir);
}

ingest_report gym_ingest(const ingest_options& opt) {
    h5_quiet();
    ingest_report rep;
    // Reference file.
    csv_reader ref(opt.reference);
    for (const char* c : {"DMS_id", "DMS_filename", "UniProt_ID", "target_seq", "coarse_selection_type"})
        ref.require_column(c);
    const bool substitutions = ref.column("includes_multiple_mutants") >= 0 || ref.column("DMS_number_single_mutants") >= 0;
    rep.mutation_type = substitutions ? "substitutions" : "indels";
    std::vector<reference_row> rows;
    std::set<std::string> seen;
    std::vector<std::string> f;
    while (ref.next(f)) {
        reference_row r;
        r.line = ref.line();
        for (size_t i = 0; i < f.size(); ++i) {
            r.fields[ref.header()[i]] = f[i];
            r.ordered.emplace_back(ref.header()[i], f[i]);
        }
        const std::string& id = r.fields["DMS_id"];
        TRANOVA_CHECK(valid_model_name(id), "{}: bad DMS_id '{}'", ref.where(), id);
        TRANOVA_CHECK(seen.insert(id).second, "{}: duplicate DMS_id '{}'", ref.where(), id);
        TRANOVA_CHECK(!r.fields["target_seq"].empty(), "{}: empty target_seq for '{}'", ref.where(), id);
        check_inside_assays(r.fields["DMS_filename"], opt.assays_dir, ref.where());
        rows.push_back(std::move(r));
    }
    TRANOVA_CHECK(!rows.empty(), "{}: no assays listed", opt.reference);
    // Which assays are present.
    std::vector<const reference_row*> present;
    std::set<std::string> listed_files;
    for (const auto& r : rows) {
        const std::string& fn = r.fields.at("DMS_filename");
        listed_files.insert(fn);
        if (fs::is_regular_file(fs::path(opt.assays_dir) / fn))
            present.push_back(&r);
        else
            rep.missing.push_back(r.fields.at("DMS_id"));
    }
    std::error_code ec;
    TRANOVA_CHECK(fs::is_directory(opt.assays_dir, ec), "cannot read assay folder '{}'", opt.assays_dir);
    for (const auto& e : fs::directory_iterator(opt.assays_dir))
        if (e.path().extension() == ".csv" && !listed_files.count(e.path().filename().string()))
            rep.unlisted.push_back(e.path().filename().string());
    if (!rep.missing.empty() && !opt.only_present) {
        std::string some;
        for (size_t i = 0; i < std::min<size_t>(3, rep.missing.size()); ++i) some += (i ? ", " : "") + rep.missing[i];
        TRANOVA_FAIL("{} of {} assays listed in '{}' have no file in '{}' (e.g. {}); pass --only-present to ingest the {} "
                     "found",
                     rep.missing.size(), rows.size(), opt.reference, opt.assays_dir, some, present.size());
    }
    TRANOVA_CHECK(!present.empty(), "none of the {} assays listed in '{}' has a file in '{}'", rows.size(), opt.reference,
                  opt.assays_dir);

    output_path out(opt.output);
    h5_handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18);
    h5_handle file(TRANOVA_H5_CHECK(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl),
                                    "cannot write '{}'", opt.output));
    set_attr(file, "schema.name", schema_name);
    set_attr_num<int64_t>(file, "schema.version", schema_version);
    set_attr(file, "tranova.version", TRANOVA_VERSION);
    set_attr(file, "tranova.command_line", opt.command_line);
    set_attr(file, "tranova.created", now_iso8601());
    set_attr(file, "gym.mutation_type", rep.mutation_type);
    set_attr(file, "gym.reference", fs::path(opt.reference).filename().string());
    h5_handle assays(TRANOVA_H5_CHECK(H5Gcreate2(file, "assays", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "HDF5 group"));
    h5_handle preds(TRANOVA_H5_CHECK(H5Gcreate2(file, "predictions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "HDF5 group"));
    std::vector<std::string> ids;
    std::string expected;
    for (const reference_row* r : present) {
        const std::string& id = r->fields.at("DMS_id");
        const std::string& target = r->fields.at("target_seq");
        std::string path = (fs::path(opt.assays_dir) / r->fields.at("DMS_filename")).string();
        csv_reader in(path);
        int c_mut = substitutions ? in.require_column("mutant") : in.column("mutant");
        int c_seq = in.require_column("mutated_sequence"), c_y = in.require_column("DMS_score"),
            c_b = in.require_column("DMS_score_bin");
        h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(assays, id.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                     "cannot create group for '{}'", id));
        std::vector<double> y;
        std::vector<int8_t> b, depth;
        std::vector<std::string> mutants, seqs;
        std::unordered_set<std::string> keys;
        size_t mutant_width = 1, seq_width = substitutions ? target.size() : 1;
        std::unique_ptr<string_column_writer> seq_writer;
        long long expected_rows = 0;
        if (auto e = r->fields.find("DMS_total_number_mutants"); e != r->fields.end()) parse_int(e->second, expected_rows);
        // Sequences: deflate level 1 is as small as level 4 here (near-identical rows) and faster.
        if (substitutions)
            seq_writer = std::make_unique<string_column_writer>(g, "mutated_sequence", target.size(), expected_rows, 1);
        int64_t duplicates = 0;
        while (in.next(f)) {
            double v;
            TRANOVA_CHECK(parse_double(f[c_y], v) && std::isfinite(v), "{}: DMS_score '{}' is not a finite number",
                          in.where(), f[c_y]);
            double bv;
            TRANOVA_CHECK(parse_double(f[c_b], bv) && (bv == 0 || bv == 1), "{}: DMS_score_bin '{}' is not 0 or 1",
                          in.where(), f[c_b]);
            const std::string& seq = f[c_seq];
            if (substitutions) {
                int d = apply_mutant(expected, target, f[c_mut], in.where());
                TRANOVA_CHECK(seq == expected,
                              "{}: mutated_sequence does not match target_seq with '{}' applied (DMS_id {})", in.where(),
                              f[c_mut], id);
                depth.push_back(static_cast<int8_t>(std::min(d, 127)));
                mutant_width = std::max(mutant_width, f[c_mut].size());
                if (!keys.insert(f[c_mut]).second) ++duplicates;
                mutants.push_back(f[c_mut]);
                seq_writer->add(seq);
            } else {
                TRANOVA_CHECK(!seq.empty() && is_amino_acid_string(seq), "{}: mutated_sequence is not a protein sequence",
                              in.where());
                seq_width = std::max(seq_width, seq.size());
                if (!keys.insert(seq).second) ++duplicates;
                if (c_mut >= 0) mutants.push_back(f[c_mut]);
                seqs.push_back(seq);
            }
            y.push_back(v);
            b.push_back(static_cast<int8_t>(bv));
        }
        TRANOVA_CHECK(!y.empty(), "{}: no variants", path);
        if (duplicates)
            rep.warnings.push_back(fmt::format("{}: {} duplicated {} values", path, duplicates,
                                               substitutions ? "mutant" : "mutated_sequence"));
        long long listed = 0;
        auto it = r->fields.find("DMS_total_number_mutants");
        if (it != r->fields.end() && parse_int(it->second, listed) && listed != static_cast<long long>(y.size()))
            rep.warnings.push_back(fmt::format("{}: {} variants, the reference lists {}", path, y.size(), listed));
        // Bin consistent with the cutoff (score >= cutoff -> 1)? Report, don't fail.
        double cutoff;
        it = r->fields.find("DMS_binarization_cutoff");
        if (it != r->fields.end() && parse_double(it->second, cutoff)) {
            int64_t off = 0;
            for (size_t i = 0; i < y.size(); ++i) off += (y[i] >= cutoff) != (b[i] != 0);
            if (off)
                rep.warnings.push_back(fmt::format("{}: {} rows whose DMS_score_bin disagrees with DMS_score >= {}", path,
                                                   off, it->second));
        }
        if (substitutions) {
            seq_writer->flush();
            seq_writer.reset();
            string_column_writer mw(g, "mutant", mutant_width, static_cast<int64_t>(mutants.size()), 4);
            for (const auto& m : mutants) mw.add(m);
            mw.flush();
            write_column(g, "mutation_depth", depth.data(), static_cast<int64_t>(depth.size()));
        } else {
            string_column_writer sw(g, "mutated_sequence", seq_width, static_cast<int64_t>(seqs.size()), 1);
            for (const auto& s : seqs) sw.add(s);
            sw.flush();
        }
        write_column(g, "DMS_score", y.data(), static_cast<int64_t>(y.size()));
        write_column(g, "DMS_score_bin", b.data(), static_cast<int64_t>(b.size()));
        for (const auto& [k, v] : r->ordered) {
            std::string value = v;
            if (k == "MSA_Neff_L_category") value = capitalise(value);
            set_attr(g, k, value);
        }
        set_attr_num<int64_t>(g, "n_variants", static_cast<int64_t>(y.size()));
        set_attr(g, "key", substitutions ? "mutant" : "mutated_sequence");
        ids.push_back(id);
        rep.n_variants += static_cast<int64_t>(y.size());
        log::debug("{}: {} variants", id, y.size());
    }
    write_string_list(file, "assay_ids", ids);
    if (!rep.missing.empty()) write_string_list(file, "missing_assay_ids", rep.missing);
    rep.n_assays = static_cast<int>(ids.size());
    preds.reset();
    assays.reset();
    TRANOVA_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), "cannot write '{}'", opt.output);
    file.reset();
    out.commit();
    return rep;
}

// ---------------------------------------------------------------------------------------
// reading

gym_file::gym_file(const std::string& path) : path_(path) {
    h5_quiet();
    h5_require_regular_file(path);
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    TRANOVA_CHECK(file_ >= 0, "cannot open '{}': not an HDF5 file (or locked by another process)", path);
    std::string name = get_attr(file_, "schema.name");
    TRANOVA_CHECK(name == schema_name, "'{}' is not a tranova gym file (schema.name '{}'); create one with 'tranova gym ingest'",
                  path, name);
    std::string version = get_attr(file_, "schema.version");
    TRANOVA_CHECK(version == std::to_string(schema_version),
                  "'{}' has gym schema version {}, this tranova reads version {}; re-run 'tranova gym ingest'", path, version,
                  schema_version);
    mutation_type_ = get_attr(file_, "gym.mutation_type");
    assay_ids_ = read_string_list(file_, "assay_ids", path);
    h5_handle preds(TRANOVA_H5_CHECK(H5Gopen2(file_, "predictions", H5P_DEFAULT), "{}: missing /predictions", path));
    H5G_info_t info;
    H5Gget_info(preds, &info);
    // Creation order is not tracked: list by name (models are independent of order).
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        ssize_t len = H5Lget_name_by_idx(preds, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        std::string nm(static_cast<size_t>(len), '\0');
        H5Lget_name_by_idx(preds, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm.data(), len + 1, H5P_DEFAULT);
        if (!nm.empty() && nm[0] != '.') models_.push_back(nm);
    }
}

gym_file::~gym_file() {
    if (file_ >= 0) H5Fclose(file_);
}

std::string gym_file::model_attr(const std::string& model, const std::string& name) const {
    h5_handle g(TRANOVA_H5_CHECK(H5Gopen2(file_, ("predictions/" + model).c_str(), H5P_DEFAULT), "{}: no model '{}'", path_, model));
    return get_attr(g, name);
}

int64_t gym_file::assay_size(const std::string& dms_id) const {
    h5_handle g(TRANOVA_H5_CHECK(H5Gopen2(file_, ("assays/" + dms_id).c_str(), H5P_DEFAULT), "{}: no assay '{}'", path_, dms_id));
    long long n = 0;
    TRANOVA_CHECK(parse_int(get_attr(g, "n_variants"), n), "{}: assay '{}' lacks n_variants", path_, dms_id);
    return n;
}

gym_assay gym_file::read_assay(const std::string& dms_id) const {
    std::string where = path_ + ":/assays/" + dms_id;
    h5_handle g(TRANOVA_H5_CHECK(H5Gopen2(file_, ("assays/" + dms_id).c_str(), H5P_DEFAULT), "{}: no assay '{}'", path_, dms_id));
    gym_assay a;
    a.info.dms_id = dms_id;
    a.info.uniprot = get_attr(g, "UniProt_ID");
    a.info.function = get_attr(g, "coarse_selection_type");
    a.info.msa_depth = get_attr(g, "MSA_Neff_L_category");
    a.info.taxon = get_attr(g, "taxon");
    a.y = read_column<double>(g, "DMS_score", where);
    a.b = read_column<int8_t>(g, "DMS_score_bin", where);
    if (H5Lexists(g, "mutation_depth", H5P_DEFAULT) > 0) a.depth = read_column<int8_t>(g, "mutation_depth", where);
    a.n = static_cast<int64_t>(a.y.size());
    a.info.n_mutants = a.n;
    TRANOVA_CHECK(a.b.size() == a.y.size() && (a.depth.empty() || a.depth.size() == a.y.size()),
                  "{}: columns of different lengths", where);
    return a;
}

bool gym_file::read_predictions(const std::string& model, const std::string& dms_id, double* out, int64_t n) const {
    std::string name = "predictions/" + model + "/" + dms_id;
    if (H5Lexists(file_, ("predictions/" + model).c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Lexists(file_, name.c_str(), H5P_DEFAULT) <= 0) return false;
    h5_handle ds(TRANOVA_H5_CHECK(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "{}: cannot open '{}'", path_, name));
    h5_handle space(H5Dget_space(ds));
    TRANOVA_CHECK(H5Sget_simple_extent_npoints(space) == n, "{}: '{}' has {} rows, the assay {}", path_, name,
                  H5Sget_simple_extent_npoints(space), n);
    TRANOVA_H5_CHECK(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "{}: cannot read '{}'", path_, name);
    return true;
}

std::vector<std::string> gym_file::read_strings(const std::string& dms_id, const std::string& column) const {
    std::string name = "assays/" + dms_id + "/" + column;
    h5_handle ds(TRANOVA_H5_CHECK(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "{}: missing '{}'", path_, name));
    h5_handle ftype(H5Dget_type(ds));
    size_t width = H5Tget_size(ftype);
    h5_handle space(H5Dget_space(ds));
    hssize_t n = H5Sget_simple_extent_npoints(space);
    std::string buf(static_cast<size_t>(n) * width, '\0');
    h5_handle mtype = fixed_string_type(width);
    if (n > 0) TRANOVA_H5_CHECK(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "{}: cannot read '{}'", path_, name);
    std::vector<std::string> out(static_cast<size_t>(n));
    for (hssize_t i = 0; i < n; ++i) {
        const char* p = buf.data() + i * width;
        out[i].assign(p, strnlen(p, width));
    }
    return out;
}

// ---------------------------------------------------------------------------------------
// add

namespace {

// One model's scores for one assay: key -> distinct values in order of appearance.
struct score_table {
    std::string source;  // file name, for messages
    std::unordered_map<std::string, std::vector<double>> values;
    int64_t rows = 0;
};

void read_scores(std::map<std::string, score_table>& tables, const std::string& path, const std::string& fixed_id,
                 const add_options& opt, const std::string& key, const std::set<std::string>& known) {
    csv_reader in(path);
    int c_key = in.column(key);
    if (c_key < 0 && key == "mutated_sequence") c_key = in.column("sequence");
    TRANOVA_CHECK(c_key >= 0, "{}: missing column '{}' (the merge key)", path, key);
    int c_score = in.column(opt.column);
    if (c_score < 0) {
        std::string cols;
        for (const auto& h : in.header()) cols += (cols.empty() ? "" : ", ") + h;
        TRANOVA_FAIL("{}: missing score column '{}' (columns: {}); choose one with --column", path, opt.column, cols);
    }
    int c_id = fixed_id.empty() ? in.require_column("DMS_id") : -1;
    std::vector<std::string> f;
    while (in.next(f)) {
        const std::string& id = fixed_id.empty() ? f[c_id] : fixed_id;
        double v;
        std::string_view cell = trim(f[c_score]);
        if (cell.empty()) {
            v = nan_v;
        } else {
            TRANOVA_CHECK(parse_double(cell, v), "{}: score '{}' in column '{}' is not a number", in.where(), f[c_score],
                          opt.column);
        }
        v *= opt.directionality;
        auto& t = tables[id];
        t.source = path;
        ++t.rows;
        auto& vals = t.values[f[c_key]];
        // drop exact duplicate (key, score) rows, as the official merge does
        bool dup = false;
        for (double x : vals) dup |= (x == v) || (x != x && v != v);
        if (!dup) vals.push_back(v);
    }
    (void)known;
}

double kahan_mean_skip_nan(const std::vector<double>& v) {
    double sum = 0, comp = 0;
    int64_t n = 0;
    for (double x : v) {
        if (x != x) continue;
        ++n;
        double y = x - comp, t = sum + y;
        comp = t - sum - y;
        sum = t;
    }
    return n ? sum / n : nan_v;
}

}  // namespace

void write_model(const add_options& opt, const std::string& key,
                 const std::vector<std::pair<std::string, std::vector<double>>>& merged) {
    h5_quiet();
    // Stage the model group under a hidden name, rename it into place at the end.
    h5_require_regular_file(opt.file);
    h5_handle file(H5Fopen(opt.file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    TRANOVA_CHECK(file.valid(), "cannot open '{}' for writing (read-only, or open in another process)", opt.file);
    h5_handle preds(TRANOVA_H5_CHECK(H5Gopen2(file, "predictions", H5P_DEFAULT), "{}: missing /predictions", opt.file));
    // Leftovers of an interrupted add are removed first.
    {
        H5G_info_t info;
        H5Gget_info(preds, &info);
        std::vector<std::string> stale;
        for (hsize_t i = 0; i < info.nlinks; ++i) {
            char nm[1024];
            H5Lget_name_by_idx(preds, ".", H5_INDEX_NAME, H5_ITER_INC, i, nm, sizeof nm, H5P_DEFAULT);
            if (nm[0] == '.') stale.push_back(nm);
        }
        for (const auto& s : stale) H5Ldelete(preds, s.c_str(), H5P_DEFAULT);
    }
    std::string staging = fmt::format(".staging-{}-{}", opt.model, getpid());
    bool staged = false;
    try {
        h5_handle g(TRANOVA_H5_CHECK(H5Gcreate2(preds, staging.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                     "cannot write '{}'", opt.file));
        staged = true;
        set_attr(g, "model", opt.model);
        set_attr(g, "model_type", opt.model_type);
        set_attr_num<int64_t>(g, "directionality", opt.directionality);
        set_attr(g, "score_column", opt.column);
        set_attr(g, "key", key);
        set_attr(g, "source", opt.scores);
        set_attr(g, "added", now_iso8601());
        set_attr(g, "tranova.version", TRANOVA_VERSION);
        set_attr(g, "tranova.command_line", opt.command_line);
        // Scores that are float32 values (most models compute in float32) are stored as
        // float32: lossless, half the bytes to read back. Others stay float64.
        std::vector<float> f32;
        for (const auto& [id, s] : merged) {
            bool exact = true;
            for (double v : s)
                if (!(v != v || static_cast<double>(static_cast<float>(v)) == v)) {
                    exact = false;
                    break;
                }
            const int64_t n = static_cast<int64_t>(s.size());
            if (exact) {
                f32.assign(s.begin(), s.end());
                write_column(g, id, f32.data(), n, worth_compressing(f32.data(), n) ? 1 : -1);
            } else {
                write_column(g, id, s.data(), n, worth_compressing(s.data(), n) ? 1 : -1);
            }
        }
        g.reset();
        if (opt.replace && H5Lexists(preds, opt.model.c_str(), H5P_DEFAULT) > 0)
            TRANOVA_H5_CHECK(H5Ldelete(preds, opt.model.c_str(), H5P_DEFAULT), "cannot replace model '{}'", opt.model);
        TRANOVA_H5_CHECK(H5Lmove(preds, staging.c_str(), preds, opt.model.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                         "cannot write '{}'", opt.file);
        staged = false;
        TRANOVA_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL), "cannot write '{}'", opt.file);
    } catch (...) {
        if (staged) H5Ldelete(preds, staging.c_str(), H5P_DEFAULT);
        throw;
    }
    preds.reset();
    file.reset();
}

add_report gym_add(const add_options& opt) {
    h5_quiet();
    add_report rep;
    TRANOVA_CHECK(valid_model_name(opt.model), "bad model name '{}' (no '/', must not start with '.')", opt.model);
    TRANOVA_CHECK(opt.directionality == 1 || opt.directionality == -1, "directionality must be 1 or -1");
    std::vector<std::string> ids;
    std::string mutation_type;
    std::map<std::string, std::vector<std::string>> keys_of;  // DMS_id -> key per row
    std::string key = opt.key;
    {
        gym_file gf(opt.file);
        ids = gf.assay_ids();
        mutation_type = gf.mutation_type();
        bool exists = std::find(gf.models().begin(), gf.models().end(), opt.model) != gf.models().end();
        TRANOVA_CHECK(!exists || opt.replace, "'{}' already has predictions for model '{}' (use --replace)", opt.file,
                      opt.model);
        if (key.empty()) {
            key = mutation_type == "indels" ? "mutated_sequence" : "mutant";
            // A score file without a mutant column is merged on mutated_sequence.
            if (key == "mutant") {
                std::string probe = opt.scores;
                if (fs::is_directory(opt.scores)) {
                    probe.clear();
                    for (const auto& id : ids)
                        if (fs::is_regular_file(fs::path(opt.scores) / (id + ".csv"))) {
                            probe = (fs::path(opt.scores) / (id + ".csv")).string();
                            break;
                        }
                }
                if (!probe.empty()) {
                    csv_reader in(probe);
                    if (in.column("mutant") < 0) key = "mutated_sequence";
                }
            }
        }
        TRANOVA_CHECK(key == "mutant" || key == "mutated_sequence", "bad merge key '{}' (mutant or mutated_sequence)", key);
        TRANOVA_CHECK(!(key == "mutant" && mutation_type == "indels"), "indel assays have no 'mutant' column; use --key mutated_sequence");
        for (const auto& id : ids) keys_of[id] = gf.read_strings(id, key);
    }
    std::set<std::string> known(ids.begin(), ids.end());
    std::map<std::string, score_table> tables;
    if (fs::is_directory(opt.scores)) {
        for (const auto& id : ids) {
            fs::path p = fs::path(opt.scores) / (id + ".csv");
            if (fs::is_regular_file(p)) read_scores(tables, p.string(), id, opt, key, known);
        }
        for (const auto& e : fs::directory_iterator(opt.scores))
            if (e.path().extension() == ".csv" && !known.count(e.path().stem().string()))
                rep.unknown.push_back(e.path().stem().string());
    } else {
        TRANOVA_CHECK(fs::is_regular_file(opt.scores), "cannot read scores '{}': no such file or folder", opt.scores);
        read_scores(tables, opt.scores, "", opt, key, known);
        for (const auto& [id, t] : tables)
            if (!known.count(id)) rep.unknown.push_back(id);
    }
    // Merge per assay (all in memory before anything is written).
    std::vector<std::pair<std::string, std::vector<double>>> merged;
    for (const auto& id : ids) {
        auto it = tables.find(id);
        if (it == tables.end()) {
            rep.no_file.push_back(id);
            continue;
        }
        const auto& t = it->second;
        const auto& dms_keys = keys_of[id];
        std::unordered_set<std::string_view> dms_set(dms_keys.begin(), dms_keys.end());
        size_t overlap = 0;
        bool subset = true;
        for (const auto& [k, v] : t.values) {
            if (dms_set.count(k))
                ++overlap;
            else
                subset = false;
        }
        if (overlap == 0) {
            rep.no_overlap.push_back(id);
            continue;
        }
        if (subset && t.values.size() < dms_set.size()) {
            rep.subset.push_back(fmt::format("{} ({} of {} variants)", id, t.values.size(), dms_set.size()));
            continue;
        }
        std::vector<double> s(dms_keys.size());
        for (size_t i = 0; i < dms_keys.size(); ++i) {
            auto v = t.values.find(dms_keys[i]);
            if (v == t.values.end()) {
                s[i] = nan_v;
                ++rep.n_missing_rows;
            } else {
                if (v->second.size() > 1) ++rep.n_duplicates_averaged;
                s[i] = v->second.size() == 1 ? v->second[0] : kahan_mean_skip_nan(v->second);
            }
        }
        merged.emplace_back(id, std::move(s));
    }
    TRANOVA_CHECK(!merged.empty(), "no assay of '{}' could be merged with the scores in '{}' (key '{}', column '{}')",
                  opt.file, opt.scores, key, opt.column);

    write_model(opt, key, merged);
    rep.n_assays_added = static_cast<int>(merged.size());
    return rep;
}

}  // namespace tranova::gym

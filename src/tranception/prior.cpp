#include "tranception/prior.hpp"

#include "tranception/tokenizer.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace tranova::tranception {

namespace {
// Official one-hot id of an MSA character after uppercasing (0 = no token: gaps, X, ...).
inline int aa_token(char c) { return residue_id(static_cast<char>(std::toupper(static_cast<unsigned char>(c)))); }
}  // namespace

std::vector<double> hamming_similarity(const msa::alignment& a) {
    const size_t N = a.num_rows(), C = a.num_columns();
    std::vector<double> sim(N, 0);
    if (N == 0) return sim;
    std::vector<int> q(C);
    double self = 0;
    for (size_t c = 0; c < C; ++c) {
        q[c] = aa_token(a.rows[0][c]);
        self += q[c] != 0;
    }
    for (size_t i = 0; i < N; ++i) {
        double m = 0;
        for (size_t c = 0; c < C; ++c) m += q[c] != 0 && aa_token(a.rows[i][c]) == q[c];
        sim[i] = self > 0 ? m / self : 0;
    }
    return sim;
}

prior_weights compute_prior_weights(const msa::alignment& a, const prior_options& opt) {
    prior_weights pw;
    pw.row_weight.assign(a.num_rows(), 0.0);
    if (!opt.weighted) {
        pw.row_weight.assign(a.num_rows(), 1.0);
        pw.neff = double(a.num_rows());
        return pw;
    }
    msa::eve_options eo;
    eo.theta = opt.theta;
    eo.threshold_focus_cols_frac_gaps = opt.threshold_focus_cols_frac_gaps;
    eo.threshold_sequence_frac_gaps = opt.threshold_sequence_frac_gaps;
    msa::eve_result r = msa::eve_weights(a, eo);
    pw.kept_rows = r.kept_rows;
    pw.weights = r.weights;
    pw.neff = r.neff;
    for (size_t k = 0; k < r.kept_rows.size(); ++k) pw.row_weight[r.kept_rows[k]] = r.weights[k];
    return pw;
}

namespace {
uint64_t fnv1a(uint64_t h, const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
std::string cache_key(const msa::alignment& a, const prior_options& opt) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < a.num_rows(); ++i) {
        h = fnv1a(h, a.names[i].data(), a.names[i].size());
        h = fnv1a(h, "\n", 1);
        h = fnv1a(h, a.rows[i].data(), a.rows[i].size());
        h = fnv1a(h, "\n", 1);
    }
    return fmt::format("{:016x}-n{}-theta{}-focus{}-seqgap{}-w{}", h, a.num_rows(), opt.theta,
                       opt.threshold_focus_cols_frac_gaps, opt.threshold_sequence_frac_gaps, opt.weighted ? 1 : 0);
}

std::string read_str_attr(hid_t obj, const char* name) {
    if (H5Aexists(obj, name) <= 0) return "";
    h5_handle a(H5Aopen(obj, name, H5P_DEFAULT));
    h5_handle t(H5Aget_type(a));
    size_t n = H5Tget_size(t);
    std::string s(n, '\0');
    h5_handle mt(H5Tcopy(H5T_C_S1));
    H5Tset_size(mt, n);
    if (H5Aread(a, mt, s.data()) < 0) return "";
    s.resize(std::strlen(s.c_str()));
    return s;
}

template <class T>
bool read_vec(hid_t f, const char* name, hid_t type, std::vector<T>& out) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return false;
    h5_handle ds(H5Dopen2(f, name, H5P_DEFAULT));
    h5_handle sp(H5Dget_space(ds));
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    out.resize(size_t(n));
    return n == 0 || H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0;
}

template <class T>
void write_vec(hid_t f, const char* name, hid_t type, const std::vector<T>& v, const std::string& path) {
    hsize_t n = v.size();
    h5_handle sp(H5Screate_simple(1, &n, nullptr));
    h5_handle ds(TRANOVA_H5_CHECK(H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                  "{}: cannot create dataset {}", path, name));
    if (n) TRANOVA_H5_CHECK(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "{}: cannot write {}", path, name);
}
}  // namespace

prior_weights cached_prior_weights(const msa::alignment& a, const prior_options& opt, const std::string& cache_path,
                                   bool* reused) {
    if (reused) *reused = false;
    if (cache_path.empty()) return compute_prior_weights(a, opt);
    h5_quiet();
    const std::string key = cache_key(a, opt);
    std::error_code ec;
    // Only a regular file can be a cache: a FIFO or device (/dev/null) is write-only here
    // (opening a FIFO to read it would wait for a writer forever).
    if (std::filesystem::is_regular_file(cache_path, ec)) {
        h5_handle f(H5Fopen(cache_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        if (f.valid() && read_str_attr(f, "key") == key) {
            prior_weights pw;
            std::vector<double> nv;
            if (read_vec(f, "row_weight", H5T_NATIVE_DOUBLE, pw.row_weight) &&
                read_vec(f, "kept_rows", H5T_NATIVE_INT, pw.kept_rows) &&
                read_vec(f, "weights", H5T_NATIVE_DOUBLE, pw.weights) && read_vec(f, "neff", H5T_NATIVE_DOUBLE, nv) &&
                nv.size() == 1 && pw.row_weight.size() == a.num_rows()) {
                pw.neff = nv[0];
                if (reused) *reused = true;
                return pw;
            }
        }
        log::warn("{}: weight cache does not match this MSA/options; recomputing", cache_path);
    }
    prior_weights pw = compute_prior_weights(a, opt);
    output_path out(cache_path);
    {
        h5_handle f(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        TRANOVA_CHECK(f.valid(), "{}: cannot create the weight cache", cache_path);
        h5_handle st(H5Tcopy(H5T_C_S1));
        H5Tset_size(st, key.size() + 1);
        h5_handle sp(H5Screate(H5S_SCALAR));
        h5_handle at(TRANOVA_H5_CHECK(H5Acreate2(f, "key", st, sp, H5P_DEFAULT, H5P_DEFAULT), "{}: attribute", cache_path));
        TRANOVA_H5_CHECK(H5Awrite(at, st, key.c_str()), "{}: cannot write the key", cache_path);
        write_vec(f, "row_weight", H5T_NATIVE_DOUBLE, pw.row_weight, cache_path);
        write_vec(f, "kept_rows", H5T_NATIVE_INT, pw.kept_rows, cache_path);
        write_vec(f, "weights", H5T_NATIVE_DOUBLE, pw.weights, cache_path);
        write_vec(f, "neff", H5T_NATIVE_DOUBLE, std::vector<double>{pw.neff}, cache_path);
    }
    out.commit();
    return pw;
}

std::vector<double> msa_prior(const msa::alignment& a, const std::vector<double>& row_weight, const prior_options& opt) {
    const size_t N = a.num_rows(), C = a.num_columns();
    TRANOVA_CHECK(row_weight.size() == N, "prior: {} weights for {} rows", row_weight.size(), N);
    auto sim = hamming_similarity(a);
    std::vector<double> num(C * 25, 0.0), den(C, 0.0);
    for (size_t i = 0; i < N; ++i) {
        double w = row_weight[i];
        if (sim[i] < opt.hamming_min || w == 0) continue;
        const std::string& r = a.rows[i];
        for (size_t c = 0; c < C; ++c) {
            int t = aa_token(r[c]);
            for (int k = 0; k < 25; ++k) num[c * 25 + k] += w * ((k == t && t != 0 ? 1.0 : 0.0) + 1e-5);
            den[c] += w * ((t != 0 ? 1.0 : 0.0) + 25 * 1e-5);
        }
    }
    for (size_t c = 0; c < C; ++c)
        for (int k = 0; k < 25; ++k) num[c * 25 + k] /= den[c];
    return num;
}

log_prior make_log_prior(const msa::alignment& a, const std::vector<double>& row_weight, const prior_options& opt,
                         const std::string& target, int start0, const std::string& msa_path) {
    TRANOVA_CHECK(a.num_rows() > 0 && a.num_columns() > 0, "{}: the MSA is empty", msa_path);
    const int C = static_cast<int>(a.num_columns());
    std::string q = to_upper(a.rows[0]);
    TRANOVA_CHECK(q.find_first_of("-.") == std::string::npos,
                  "{}: the first row (the query) has gaps; expected the target sequence itself", msa_path);
    TRANOVA_CHECK(start0 >= 0 && start0 + C <= int(target.size()),
                  "{}: MSA columns [{}, {}] (1-based) fall outside the target (length {})", msa_path, start0 + 1,
                  start0 + C, target.size());
    for (int c = 0; c < C; ++c)
        TRANOVA_CHECK(q[c] == target[start0 + c],
                      "{}: the first row does not match the target: column {} is {} but target position {} is {}",
                      msa_path, c + 1, q[c], start0 + c + 1, target[start0 + c]);
    auto prior = msa_prior(a, row_weight, opt);
    log_prior lp;
    lp.start0 = start0;
    lp.end0 = start0 + C;
    lp.rows.resize(prior.size());
    for (size_t i = 0; i < prior.size(); ++i) lp.rows[i] = std::log(static_cast<float>(prior[i]));
    return lp;
}

int locate_msa(const msa::alignment& a, const std::string& target, const std::string& msa_path) {
    TRANOVA_CHECK(a.num_rows() > 0 && a.num_columns() > 0, "{}: the MSA is empty", msa_path);
    std::string q = to_upper(a.rows[0]);
    long long hs = msa::header_start(a.names[0]);
    if (hs >= 1 && size_t(hs - 1) + q.size() <= target.size() && target.compare(hs - 1, q.size(), q) == 0)
        return int(hs - 1);
    size_t p = target.find(q);
    TRANOVA_CHECK(p != std::string::npos,
                  "{}: the first row of the MSA does not match the target sequence anywhere (give --msa-start/--msa-end "
                  "or check the target)", msa_path);
    TRANOVA_CHECK(target.find(q, p + 1) == std::string::npos,
                  "{}: the first row of the MSA matches the target at several places; give --msa-start", msa_path);
    return int(p);
}

}  // namespace tranova::tranception

#include "denovo/preprocess.hpp"

#include "denovo/peptide.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace tranova::denovo {

preprocess_options preprocess_options::casanovo() { return {50.0, 2500.0, 2.0, 0.01, 150, 0}; }
preprocess_options preprocess_options::casanovo_v5() { return {50.0, 2500.0, 2.0, 0.01, 150, 20}; }
preprocess_options preprocess_options::contranovo() { return {50.5, 4500.0, 2.0, 0.0, 300, 0}; }
preprocess_options preprocess_options::primenovo() { return {1.0, 6500.0, 1.0, 0.0, 800, 0}; }

preprocess_options preprocess_options::preset(const std::string& name) {
    if (name == "casanovo") return casanovo();
    if (name == "casanovo_v5") return casanovo_v5();
    if (name == "contranovo") return contranovo();
    if (name == "primenovo") return primenovo();
    TRANOVA_FAIL("unknown preprocessing preset '{}' (casanovo, casanovo_v5, contranovo, primenovo)", name);
}

namespace {

void make_dummy(processed_peaks& out) {
    out.mz.assign(1, 0.0f);
    out.intensity.assign(1, 1.0f);
    out.dummy = true;
}

}  // namespace

void preprocess(const spectrum& s, const preprocess_options& opt, processed_peaks& out) {
    out.mz.clear();
    out.intensity.clear();
    out.dummy = false;
    out.too_few = false;
    const size_t n = std::min(s.mz.size(), s.intensity.size());

    // 1. Sort by m/z (m/z float64, intensity float32) and 2. keep min_mz <= m/z <= max_mz.
    thread_local std::vector<uint32_t> order;
    thread_local std::vector<double> mz;
    thread_local std::vector<float> in;
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    if (!std::is_sorted(s.mz.begin(), s.mz.begin() + n))
        std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return s.mz[a] < s.mz[b]; });
    mz.clear();
    in.clear();
    for (uint32_t i : order) {
        double m = s.mz[i];
        // Non-finite values (a "nan" peak line) are dropped here rather than poisoning the norm.
        if (m >= opt.min_mz && m <= opt.max_mz && std::isfinite(s.intensity[i])) {
            mz.push_back(m);
            in.push_back(s.intensity[i]);
        }
    }
    if (mz.empty()) return make_dummy(out);

    // 3. Remove peaks within tol of the precursor m/z at every charge z, z-1, ..., 1
    //    (neutral mass with the hydrogen *atom* mass, as spectrum_utils does).
    if (opt.remove_precursor_tol > 0 && s.charge > 0) {
        const double neutral = (s.precursor_mz - kHydrogen) * s.charge;
        size_t k = 0;
        for (size_t i = 0; i < mz.size(); ++i) {
            bool remove = false;
            for (int c = s.charge; c >= 1 && !remove; --c)
                remove = std::fabs(mz[i] - (neutral / c + kHydrogen)) <= opt.remove_precursor_tol;
            if (!remove) {
                mz[k] = mz[i];
                in[k] = in[i];
                ++k;
            }
        }
        mz.resize(k);
        in.resize(k);
        if (mz.empty()) return make_dummy(out);
    }

    // 4. Relative intensity threshold (strictly greater kept), then the n_peaks most intense,
    //    survivors in m/z order.
    const float max_in = *std::max_element(in.begin(), in.end());
    const double threshold = opt.min_intensity * static_cast<double>(max_in);
    order.resize(mz.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return in[a] < in[b]; });
    size_t start = 0;
    while (start < order.size() && !(static_cast<double>(in[order[start]]) > threshold)) ++start;
    if (opt.n_peaks >= 0 && order.size() - start > static_cast<size_t>(opt.n_peaks))
        start = order.size() - static_cast<size_t>(opt.n_peaks);
    thread_local std::vector<char> keep;
    keep.assign(mz.size(), 0);
    for (size_t i = start; i < order.size(); ++i) keep[order[i]] = 1;
    for (size_t i = 0; i < mz.size(); ++i)
        if (keep[i]) {
            out.mz.push_back(static_cast<float>(mz[i]));
            out.intensity.push_back(in[i]);
        }
    if (out.mz.empty()) return make_dummy(out);

    // 5. sqrt, rescale to max 1 (float32), 6. divide by the L2 norm.
    float mx = 0;
    for (float& v : out.intensity) {
        v = std::sqrt(v);
        mx = std::max(mx, v);
    }
    if (!(mx > 0) || !std::isfinite(mx)) {
        out.mz.clear();
        out.intensity.clear();
        return make_dummy(out);
    }
    double sq = 0;
    for (float& v : out.intensity) {
        v = v / mx;
        sq += static_cast<double>(v) * v;
    }
    const float norm = static_cast<float>(std::sqrt(sq));
    for (float& v : out.intensity) v = v / norm;
    if (opt.min_peaks > 0 && static_cast<int>(out.mz.size()) < opt.min_peaks) out.too_few = true;
}

processed_peaks preprocess(const spectrum& s, const preprocess_options& opt) {
    processed_peaks p;
    preprocess(s, opt, p);
    return p;
}

}  // namespace tranova::denovo

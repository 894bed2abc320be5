// ProteinGym aggregation (see aggregate.hpp).
#include "gym/aggregate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace tranova::gym {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

// pandas (>= 1.3) groupby().mean(): Kahan-compensated sum in row order, NaN skipped.
// Matching it matters: means of 3-dp values often land on x.xxx5, where the last bit
// decides the rounding.
struct kahan_mean {
    double sum = 0, comp = 0;
    int64_t n = 0;
    void add(double v) {
        if (v != v) return;
        ++n;
        double y = v - comp;
        double t = sum + y;
        comp = t - sum - y;
        sum = t;
    }
    double mean() const { return n ? sum / static_cast<double>(n) : nan_v; }
};

int index_of(const char* const* names, int n, const std::string& v) {
    for (int i = 0; i < n; ++i)
        if (v == names[i]) return i;
    return -1;
}

// Mean of assays per key, then mean of keys per class: out (models, n_classes).
// key_of(a) groups assays, class_of(a) is the class index (-1 = not counted).
template <class KeyFn, class ClassFn>
void two_level_mean(std::vector<double>& out, int n_classes, const std::vector<assay_info>& assays,
                    const double* m, int n_models, KeyFn key_of, ClassFn class_of) {
    std::map<std::pair<std::string, int>, std::vector<int>> groups;
    for (size_t a = 0; a < assays.size(); ++a) {
        int c = class_of(assays[a]);
        if (c >= 0) groups[{key_of(assays[a]), c}].push_back(static_cast<int>(a));
    }
    out.assign(static_cast<size_t>(n_models) * n_classes, nan_v);
    std::vector<kahan_mean> acc(static_cast<size_t>(n_models) * n_classes);
    for (const auto& [key, rows] : groups) {  // sorted by (key, class), as pandas groupby
        for (int j = 0; j < n_models; ++j) {
            kahan_mean g;
            for (int a : rows) g.add(m[static_cast<size_t>(a) * n_models + j]);
            acc[static_cast<size_t>(j) * n_classes + key.second].add(g.mean());
        }
    }
    for (size_t i = 0; i < out.size(); ++i) out[i] = acc[i].mean();
}

inline uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace

uniprot_level uniprot_level_table(const std::vector<assay_info>& assays, const double* m, int n_models) {
    const size_t M = static_cast<size_t>(n_models);
    std::map<std::string, std::vector<int>> by_uniprot;  // sorted, as pandas groupby
    for (size_t a = 0; a < assays.size(); ++a) by_uniprot[assays[a].uniprot].push_back(static_cast<int>(a));
    // The lookups keep the reference order; depth and taxon are deduplicated per UniProt ID
    // (drop_duplicates), functions are not (one entry per assay).
    const auto distinct = [&](const std::vector<int>& rows, std::string assay_info::*field) {
        std::vector<std::string> out;
        for (int a : rows)
            if (std::find(out.begin(), out.end(), assays[a].*field) == out.end()) out.push_back(assays[a].*field);
        return out;
    };
    uniprot_level t;
    std::vector<double> mean(M);
    for (const auto& [uniprot, rows] : by_uniprot) {
        for (size_t j = 0; j < M; ++j) {
            kahan_mean k;
            for (int a : rows) k.add(m[a * M + j]);
            mean[j] = k.mean();
        }
        // pandas merge(how='left'): each left row times its matches, in the right frame's order.
        for (const auto& depth : distinct(rows, &assay_info::msa_depth))
            for (const auto& taxon : distinct(rows, &assay_info::taxon))
                for (int a : rows) {
                    t.uniprot.push_back(uniprot);
                    t.function.push_back(assays[a].function);
                    t.msa_depth.push_back(depth);
                    t.taxon.push_back(taxon);
                    t.values.insert(t.values.end(), mean.begin(), mean.end());
                }
    }
    const size_t R = t.uniprot.size();
    t.average.assign(M, nan_v);
    for (size_t j = 0; j < M; ++j) t.average[j] = nan_mean(t.values.data() + j, static_cast<int64_t>(R), n_models);
    return t;
}

double nan_mean(const double* x, int64_t n, int64_t stride) {
    double s = 0;
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) {
        double v = x[i * stride];
        if (v == v) {
            s += v;
            ++c;
        }
    }
    return c ? s / c : nan_v;
}

namespace {

// (UniProt, function) groups, sorted like pandas groupby: fills r.group_* with each
// group's mean per model; returns the assays of each group.
std::vector<std::vector<int>> group_level(metric_summary& r, const std::vector<assay_info>& assays, const double* m,
                                          size_t M) {
    std::map<std::pair<std::string, std::string>, std::vector<int>> groups;
    for (size_t a = 0; a < assays.size(); ++a) groups[{assays[a].uniprot, assays[a].function}].push_back(static_cast<int>(a));
    r.group_mean.assign(groups.size() * M, nan_v);
    std::vector<std::vector<int>> group_rows;
    for (const auto& [key, rows] : groups) {
        size_t g = r.group_uniprot.size();
        r.group_uniprot.push_back(key.first);
        r.group_function.push_back(key.second);
        group_rows.push_back(rows);
        for (size_t j = 0; j < M; ++j) {
            kahan_mean k;
            for (int a : rows) k.add(m[a * M + j]);
            r.group_mean[g * M + j] = k.mean();
        }
    }
    return group_rows;
}

// Function level (mean of the groups of each of the five functions) and the headline
// average over functions; returns the groups of each function.
std::vector<std::vector<size_t>> function_level(metric_summary& r, size_t M) {
    const size_t G = r.group_uniprot.size();
    r.function.assign(M * 5, nan_v);
    r.average.assign(M, nan_v);
    std::vector<std::vector<size_t>> groups_of_function(5);
    for (size_t g = 0; g < G; ++g) {
        int f = index_of(function_names, 5, r.group_function[g]);
        if (f >= 0) groups_of_function[f].push_back(g);
    }
    for (size_t j = 0; j < M; ++j) {
        for (int f = 0; f < 5; ++f) {
            kahan_mean k;
            for (size_t g : groups_of_function[f]) k.add(r.group_mean[g * M + j]);
            r.function[j * 5 + f] = k.mean();
        }
        r.average[j] = nan_mean(&r.function[j * 5], 5);
    }
    return groups_of_function;
}

// Mutation depth: mean over (UniProt, function) groups of the group means (plain sums,
// NaN skipped). depth_m: (5, assays, models).
void depth_level(metric_summary& r, const double* depth_m, const std::vector<std::vector<int>>& group_rows,
                 size_t n_assays, size_t M) {
    r.depth.assign(M * 5, nan_v);
    if (!depth_m) return;
    for (int d = 0; d < 5; ++d) {
        const double* dm = depth_m + static_cast<size_t>(d) * n_assays * M;
        for (size_t j = 0; j < M; ++j) {
            double s = 0;
            int64_t c = 0;
            for (const auto& rows : group_rows) {
                double gs = 0;
                int64_t gc = 0;
                for (int a : rows) {
                    double v = dm[a * M + j];
                    if (v == v) {
                        gs += v;
                        ++gc;
                    }
                }
                if (gc) {
                    s += gs / gc;
                    ++c;
                }
            }
            if (c) r.depth[j * 5 + d] = s / c;
        }
    }
}

// Ranking by the unrounded average (NaN last), stable; the top model.
void rank_models(metric_summary& r, size_t M) {
    std::vector<int> order(M);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        double x = r.average[a], y = r.average[b];
        if (x != x) return false;
        if (y != y) return true;
        return x > y;
    });
    r.rank.assign(M, 0);
    for (size_t p = 0; p < M; ++p) r.rank[order[p]] = static_cast<int>(p + 1);
    r.top_model = M && r.average[order[0]] == r.average[order[0]] ? order[0] : -1;
}

// Bootstrap replicates of each model's difference to the top model: groups resampled with
// replacement within each function class, class means averaged. Returns (replicates, M).
std::vector<double> bootstrap_replicates(const metric_summary& r, const std::vector<std::vector<size_t>>& groups_of_function,
                                         const bootstrap_options& boot, size_t M) {
    const size_t G = r.group_uniprot.size();
    const size_t top = static_cast<size_t>(r.top_model);
    std::vector<double> diff(G * M);
    for (size_t g = 0; g < G; ++g)
        for (size_t j = 0; j < M; ++j) diff[g * M + j] = r.group_mean[g * M + j] - r.group_mean[g * M + top];
    std::vector<int> present;
    for (int f = 0; f < 5; ++f)
        if (!groups_of_function[f].empty()) present.push_back(f);
    // Groups whose function is not one of the five still form their own class.
    std::map<std::string, std::vector<size_t>> other;
    for (size_t g = 0; g < G; ++g)
        if (index_of(function_names, 5, r.group_function[g]) < 0) other[r.group_function[g]].push_back(g);
    std::vector<std::vector<size_t>> classes;
    for (int f : present) classes.push_back(groups_of_function[f]);
    for (auto& [name, gs] : other) classes.push_back(gs);
    const int R = boot.replicates;
    std::vector<double> rep(static_cast<size_t>(R) * M);
#pragma omp parallel
    {
        std::vector<double> sum(M), combined(M);
        std::vector<int64_t> cnt(M);
#pragma omp for schedule(static)
        for (int t = 0; t < R; ++t) {
            uint64_t state = boot.seed * 0x100000001B3ull + static_cast<uint64_t>(t);
            splitmix64(state);
            std::fill(combined.begin(), combined.end(), 0.0);
            for (const auto& cls : classes) {
                std::fill(sum.begin(), sum.end(), 0.0);
                std::fill(cnt.begin(), cnt.end(), 0);
                const uint64_t nf = cls.size();
                for (uint64_t i = 0; i < nf; ++i) {
                    size_t g = cls[splitmix64(state) % nf];
                    const double* row = &diff[g * M];
                    for (size_t j = 0; j < M; ++j)
                        if (row[j] == row[j]) {
                            sum[j] += row[j];
                            ++cnt[j];
                        }
                }
                for (size_t j = 0; j < M; ++j) combined[j] += cnt[j] ? sum[j] / cnt[j] : nan_v;
            }
            for (size_t j = 0; j < M; ++j) rep[static_cast<size_t>(t) * M + j] = combined[j] / classes.size();
        }
    }
    return rep;
}

// Bootstrap SE of the difference to the top model (sample standard deviation of the
// finite replicates; NaN with fewer than two).
void bootstrap_standard_errors(metric_summary& r, const std::vector<std::vector<size_t>>& groups_of_function,
                               const bootstrap_options& boot, size_t M) {
    r.bootstrap_se.assign(M, nan_v);
    if (r.top_model < 0) return;
    if (boot.replicates <= 1) {
        r.bootstrap_se[r.top_model] = 0.0;  // no replicates: only the top model's SE is known
        return;
    }
    const int R = boot.replicates;
    const std::vector<double> rep = bootstrap_replicates(r, groups_of_function, boot, M);
    for (size_t j = 0; j < M; ++j) {
        double s = 0;
        int64_t c = 0;
        for (int t = 0; t < R; ++t) {
            double v = rep[static_cast<size_t>(t) * M + j];
            if (v == v) {
                s += v;
                ++c;
            }
        }
        if (c < 2) continue;
        double mean = s / c, ss = 0;
        for (int t = 0; t < R; ++t) {
            double v = rep[static_cast<size_t>(t) * M + j];
            if (v == v) ss += (v - mean) * (v - mean);
        }
        r.bootstrap_se[j] = std::sqrt(ss / (c - 1));
    }
}

}  // namespace

metric_summary aggregate_metric(const std::vector<assay_info>& assays, const double* m, int n_models,
                                const double* depth_m, const bootstrap_options& boot) {
    metric_summary r;
    const size_t M = static_cast<size_t>(n_models);
    const std::vector<std::vector<int>> group_rows = group_level(r, assays, m, M);
    const std::vector<std::vector<size_t>> groups_of_function = function_level(r, M);
    // MSA depth and taxon: UniProt-level means per category, then the mean over UniProt IDs.
    two_level_mean(r.msa_depth, 3, assays, m, n_models, [](const assay_info& a) { return a.uniprot; },
                   [](const assay_info& a) { return index_of(msa_depth_names, 3, a.msa_depth); });
    two_level_mean(r.taxon, 4, assays, m, n_models, [](const assay_info& a) { return a.uniprot; },
                   [](const assay_info& a) { return index_of(taxon_names, 4, a.taxon); });
    depth_level(r, depth_m, group_rows, assays.size(), M);
    rank_models(r, M);
    bootstrap_standard_errors(r, groups_of_function, boot, M);
    return r;
}

std::vector<double> function_standard_error(const metric_summary& s, int n_models) {
    const size_t M = static_cast<size_t>(n_models);
    std::vector<double> out(M * 5, nan_v);
    const size_t G = s.group_uniprot.size();
    for (int f = 0; f < 5; ++f)
        for (size_t j = 0; j < M; ++j) {
            std::vector<double> v;
            for (size_t g = 0; g < G; ++g)
                if (s.group_function[g] == function_names[f] && s.group_mean[g * M + j] == s.group_mean[g * M + j])
                    v.push_back(s.group_mean[g * M + j]);
            if (v.size() < 2) {
                if (v.size() == 1) out[j * 5 + f] = 0;
                continue;
            }
            double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size(), ss = 0;
            for (double x : v) ss += (x - mean) * (x - mean);
            out[j * 5 + f] = std::sqrt(ss / (v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
        }
    return out;
}

}  // namespace tranova::gym

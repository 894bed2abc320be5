// Report writers (see report.hpp).
#include "gym/report.hpp"

#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/svg.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>

namespace tranova::gym {
namespace {


std::string join_path(const std::string& dir, const std::string& name) {
    return (std::filesystem::path(dir) / name).string();
}

void write_text(const std::string& path, const std::string& text) {
    output_file out(path);
    out.write(text);
    out.commit();
}


const char* palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                         "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1b9e77", "#d95f02"};

// Bars per function (and the headline average), one colour per model, with error bars.
std::string svg_function_bars(const eval_result& r, int metric, const std::vector<int>& shown) {
    const auto& s = r.summary[metric];
    const int M = static_cast<int>(r.models.size());
    std::vector<double> fse = function_standard_error(s, M);
    std::vector<std::string> groups;
    for (const char* f : function_names) groups.push_back(f);
    groups.push_back("Average");
    const int G = static_cast<int>(groups.size()), K = static_cast<int>(shown.size());
    const double left = 60, top = 40, plot_h = 300, group_w = std::max(90.0, 14.0 * K + 20), legend_w = 260;
    const double width = left + G * group_w + 20 + legend_w, height = top + plot_h + 60;
    // y range: include 0 and all bars (+ error bars)
    double lo = 0, hi = 0;
    auto value = [&](int j, int g) { return g < 5 ? s.function[j * 5 + g] : s.average[j]; };
    auto err = [&](int j, int g) { return g < 5 ? fse[j * 5 + g] : s.bootstrap_se[j]; };
    for (int j : shown)
        for (int g = 0; g < G; ++g) {
            double v = value(j, g), e = err(j, g);
            if (v != v) continue;
            if (e != e) e = 0;
            lo = std::min(lo, v - e);
            hi = std::max(hi, v + e);
        }
    if (hi - lo < 1e-9) hi = lo + 1;
    double span = hi - lo;
    hi += 0.05 * span;
    if (lo < 0) lo -= 0.05 * span;
    auto Y = [&](double v) { return top + plot_h * (hi - v) / (hi - lo); };
    svg_canvas c(width, height);
    c.text(left, 22, fmt::format("{} by function class ({})", metric_names[metric], r.mutation_type),
           "font-size=\"15\" font-weight=\"bold\"");
    // axis + grid
    // "nice" tick step: 1, 2 or 5 x 10^k, about 5 ticks over the range
    double raw = (hi - lo) / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step))));
    for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) {
        c.line(left, Y(t), left + G * group_w, Y(t), "#ddd");
        c.text(left - 6, Y(t) + 4, fmt::format("{:.{}f}", std::abs(t) < 1e-12 ? 0.0 : t, decimals),
               "text-anchor=\"end\"");
    }
    c.line(left, Y(0), left + G * group_w, Y(0), "black");
    c.line(left, top, left, top + plot_h, "black");
    double bar_w = (group_w - 20) / std::max(K, 1);
    for (int g = 0; g < G; ++g) {
        double gx = left + g * group_w + 10;
        c.text(gx + (group_w - 20) / 2, top + plot_h + 18, groups[g], "text-anchor=\"middle\"");
        for (int k = 0; k < K; ++k) {
            int j = shown[k];
            double v = value(j, g);
            if (v != v) continue;
            double x = gx + k * bar_w, y0 = Y(0), y1 = Y(v);
            c.rect(x, std::min(y0, y1), std::max(bar_w - 1, 1.0), std::abs(y1 - y0), palette[k % 12], {},
                   fmt::format("{}: {:.3f}", r.models[j], v));
            double e = err(j, g);
            if (e == e && e > 0) c.error_bar(x + bar_w / 2, Y(v - e), Y(v + e), bar_w / 4, "black");
        }
    }
    double lx = left + G * group_w + 30;
    for (int k = 0; k < K; ++k) {
        double ly = top + 10 + 18 * k;
        c.rect(lx, ly - 10, 12, 12, palette[k % 12]);
        c.text(lx + 18, ly, r.models[shown[k]]);
    }
    c.text(left, height - 12,
           "Error bars: standard error over (UniProt, function) groups; Average: bootstrap SE vs. the top model.",
           "font-size=\"10\" fill=\"#555\"");
    return c.finish();
}

// Per-assay Spearman of two models, coloured by function class, with the diagonal.
std::string svg_scatter(const eval_result& r, int a, int b) {
    const int M = static_cast<int>(r.models.size());
    const auto& m = r.per_assay[m_spearman];
    double lo = 0, hi = 1;
    for (size_t i = 0; i < r.assays.size(); ++i)
        for (int j : {a, b}) {
            double v = m[i * M + j];
            if (v == v) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    lo = std::floor(lo * 10) / 10;
    hi = std::ceil(hi * 10) / 10;
    const double left = 70, top = 40, size = 420, width = left + size + 190, height = top + size + 60;
    auto X = [&](double v) { return left + size * (v - lo) / (hi - lo); };
    auto Y = [&](double v) { return top + size * (hi - v) / (hi - lo); };
    svg_canvas c(width, height);
    c.text(left, 22, "Per-assay Spearman", "font-size=\"15\" font-weight=\"bold\"");
    for (double t = lo; t <= hi + 1e-9; t += 0.1) {
        double tt = std::abs(t) < 1e-9 ? 0.0 : t;
        c.line(X(t), top, X(t), top + size, "#eee");
        c.line(left, Y(t), left + size, Y(t), "#eee");
        c.text(X(t), top + size + 16, fmt::format("{:.1f}", tt), "text-anchor=\"middle\"");
        c.text(left - 6, Y(t) + 4, fmt::format("{:.1f}", tt), "text-anchor=\"end\"");
    }
    c.rect(left, top, size, size, "none", "stroke=\"black\"");
    c.line(X(lo), Y(lo), X(hi), Y(hi), "#888", "stroke-dasharray=\"4 4\"");
    int above = 0, below = 0;
    for (size_t i = 0; i < r.assays.size(); ++i) {
        double x = m[i * M + a], y = m[i * M + b];
        if (x != x || y != y) continue;
        above += y > x;
        below += y < x;
        int f = 0;
        for (int k = 0; k < 5; ++k)
            if (r.assays[i].function == function_names[k]) f = k;
        c.circle(X(x), Y(y), 4, palette[f], "fill-opacity=\"0.75\"",
                 fmt::format("{}: {:.3f} vs {:.3f}", r.assays[i].dms_id, x, y));
    }
    c.text(left + size / 2, top + size + 40, r.models[a], "text-anchor=\"middle\"");
    c.vertical_text(left - 45, top + size / 2, r.models[b], "text-anchor=\"middle\"");
    double lx = left + size + 20;
    for (int k = 0; k < 5; ++k) {
        c.circle(lx + 5, top + 12 + 18 * k, 5, palette[k]);
        c.text(lx + 16, top + 16 + 18 * k, function_names[k]);
    }
    c.text(lx, top + 120, fmt::format("{} better: {}", r.models[b].substr(0, 18), above));
    c.text(lx, top + 138, fmt::format("{} better: {}", r.models[a].substr(0, 18), below));
    return c.finish();
}

int model_index(const eval_result& r, const std::string& name) {
    for (size_t j = 0; j < r.models.size(); ++j)
        if (r.models[j] == name) return static_cast<int>(j);
    throw usage_error(fmt::format("no model '{}' in the evaluated file", name));
}

}  // namespace

std::string format_value(double v) {
    if (v != v) return "";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".eE") == std::string::npos) s += ".0";
    return s;
}

namespace {

// The official ProteinGym tables of metric k, in <dir>/<Metric>/.
void write_metric_tables(const eval_result& r, const std::string& dir, int k) {
    const int A = static_cast<int>(r.assays.size()), M = static_cast<int>(r.models.size());
    const bool by_depth = !r.depth[0].empty();
    const std::string set = r.mutation_type;
    const std::string metric = metric_names[k];
    const std::string mdir = join_path(dir, metric);
    make_directories(mdir);
    const auto& s = r.summary[k];
    std::string t = "DMS ID";
    for (const auto& m : r.models) t += "," + csv_escape(m);
    t += ",Number of Mutants,Selection Type,UniProt ID,MSA_Neff_L_category,Taxon\n";
    for (int a = 0; a < A; ++a) {
        const auto& in = r.assays[a];
        t += csv_escape(in.dms_id);
        for (int j = 0; j < M; ++j) t += "," + format_value(r.per_assay[k][static_cast<size_t>(a) * M + j]);
        t += fmt::format(",{},{},{},{},{}\n", in.n_mutants, csv_escape(in.function), csv_escape(in.uniprot),
                         csv_escape(in.msa_depth), csv_escape(in.taxon));
    }
    write_text(join_path(mdir, fmt::format("DMS_{}_{}_DMS_level.csv", set, metric)), t);

    t.clear();
    for (const auto& m : r.models) t += csv_escape(m) + ",";
    t += "Selection Type\n";
    for (int f = 0; f <= 5; ++f) {
        for (int j = 0; j < M; ++j)
            t += format_value(round3(f < 5 ? s.function[j * 5 + f] : s.average[j])) + ",";
        t += f < 5 ? std::string(function_names[f]) : std::string();
        t += "\n";
    }
    write_text(join_path(mdir, fmt::format("DMS_{}_{}_Uniprot_Selection_Type_level.csv", set, metric)), t);

    // Per-UniProt table with the official quirks (aggregate.hpp); substitutions only, as
    // the official script writes it.
    if (by_depth) {
        const uniprot_level u = uniprot_level_table(r.assays, r.per_assay[k].data(), M);
        t.clear();
        for (const auto& m : r.models) t += csv_escape(m) + ",";
        t += "Selection Type,UniProt_ID,MSA_Neff_L_category,Taxon\n";
        for (size_t i = 0; i < u.uniprot.size(); ++i) {
            for (int j = 0; j < M; ++j) t += format_value(round3(u.values[i * M + j])) + ",";
            t += fmt::format("{},{},{},{}\n", csv_escape(u.function[i]), csv_escape(u.uniprot[i]),
                             csv_escape(u.msa_depth[i]), csv_escape(u.taxon[i]));
        }
        for (int j = 0; j < M; ++j) t += format_value(round3(u.average[j])) + ",";
        t += ",,,\n";
        write_text(join_path(mdir, fmt::format("DMS_{}_{}_Uniprot_level.csv", set, metric)), t);
    }

    t = fmt::format("Model_rank,Model_name,Model type,Average_{0},Bootstrap_standard_error_{0},Function_Activity,"
                    "Function_Binding,Function_Expression,Function_OrganismalFitness,Function_Stability,Low_MSA_depth,"
                    "Medium_MSA_depth,High_MSA_depth,Taxa_Human,Taxa_Other_Eukaryote,Taxa_Prokaryote,Taxa_Virus",
                    metric);
    if (by_depth) t += ",Depth_1,Depth_2,Depth_3,Depth_4,Depth_5+";
    t += ",Model details,References\n";
    std::vector<int> order(M);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int x, int y) { return s.rank[x] < s.rank[y]; });
    for (int j : order) {
        t += fmt::format("{},{},{},{},{}", s.rank[j], csv_escape(r.models[j]), csv_escape(r.model_types[j]),
                         format_value(round3(s.average[j])), format_value(round3(s.bootstrap_se[j])));
        for (int f = 0; f < 5; ++f) t += "," + format_value(round3(s.function[j * 5 + f]));
        for (int d = 0; d < 3; ++d) t += "," + format_value(round3(s.msa_depth[j * 3 + d]));
        for (int x = 0; x < 4; ++x) t += "," + format_value(round3(s.taxon[j * 4 + x]));
        if (by_depth)
            for (int d = 0; d < 5; ++d) t += "," + format_value(round3(s.depth[j * 5 + d]));
        t += "," + csv_escape(r.models[j]) + ",\n";
    }
    write_text(join_path(mdir, fmt::format("Summary_performance_DMS_{}_{}.csv", set, metric)), t);
}

// per_assay.csv: one row per model and assay.
std::string per_assay_csv(const eval_result& r) {
    const int A = static_cast<int>(r.assays.size()), M = static_cast<int>(r.models.size());
    std::string t = "model,DMS_id,Spearman,AUC,MCC,NDCG,Top_recall\n";
    for (int j = 0; j < M; ++j)
        for (int a = 0; a < A; ++a) {
            t += csv_escape(r.models[j]) + "," + csv_escape(r.assays[a].dms_id);
            for (int k = 0; k < n_metrics; ++k) t += "," + format_value(r.per_assay[k][static_cast<size_t>(a) * M + j]);
            t += "\n";
        }
    return t;
}

// summary.csv: one row per model (best first), headline + SE + per-function values for every metric.
std::string summary_csv(const eval_result& r, const std::vector<int>& order) {
    const int A = static_cast<int>(r.assays.size()), M = static_cast<int>(r.models.size());
    std::string t;
    t = "model,model_type,n_assays";
    for (const char* metric : metric_names) t += fmt::format(",Average_{0},Bootstrap_standard_error_{0}", metric);
    for (const char* metric : metric_names)
        for (const char* f : function_names) t += fmt::format(",Function_{}_{}", f, metric);
    t += "\n";
    for (int j : order) {
        int n_assays = 0;
        for (int a = 0; a < A; ++a) n_assays += r.per_assay[m_spearman][static_cast<size_t>(a) * M + j] ==
                                                r.per_assay[m_spearman][static_cast<size_t>(a) * M + j];
        t += fmt::format("{},{},{}", csv_escape(r.models[j]), csv_escape(r.model_types[j]), n_assays);
        for (int k = 0; k < n_metrics; ++k)
            t += "," + format_value(round3(r.summary[k].average[j])) + "," +
                 format_value(round3(r.summary[k].bootstrap_se[j]));
        for (int k = 0; k < n_metrics; ++k)
            for (int f = 0; f < 5; ++f) t += "," + format_value(round3(r.summary[k].function[j * 5 + f]));
        t += "\n";
    }
    return t;
}

// MultiQC custom content: the headline table.
std::string multiqc_tsv(const eval_result& r, const std::vector<int>& order) {
    const auto& sp = r.summary[m_spearman];
    std::string t;
    t = "# id: 'tranova_gym_summary'\n"
        "# section_name: 'ProteinGym zero-shot (" + r.mutation_type + ")'\n"
        "# description: 'tranova gym eval: function-balanced averages over the assays (ProteinGym aggregation), "
        "bootstrap standard error of the difference to the top model.'\n"
        "# plot_type: 'table'\n"
        "# pconfig:\n"
        "#     id: 'tranova_gym_summary_table'\n"
        "#     title: 'ProteinGym summary'\n"
        "Model\tRank\tSpearman\tSpearman_SE\tAUC\tMCC\tNDCG\tTop_recall\n";
    for (int j : order)
        t += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", r.models[j], sp.rank[j], format_value(round3(sp.average[j])),
                         format_value(round3(sp.bootstrap_se[j])), format_value(round3(r.summary[m_auc].average[j])),
                         format_value(round3(r.summary[m_mcc].average[j])),
                         format_value(round3(r.summary[m_ndcg].average[j])),
                         format_value(round3(r.summary[m_top_recall].average[j])));
    return t;
}

// summary.md: headline table, Spearman by function class, by MSA depth, taxon and mutation depth.
std::string summary_markdown(const eval_result& r, const std::vector<int>& order, const eval_options& opt) {
    const int A = static_cast<int>(r.assays.size()), M = static_cast<int>(r.models.size());
    const bool by_depth = !r.depth[0].empty();
    const std::string set = r.mutation_type;
    const auto& sp = r.summary[m_spearman];
    std::string t;
    auto cell = [](double v) { return v != v ? std::string("–") : fmt::format("{:.3f}", round3(v)); };
    t = fmt::format("# ProteinGym zero-shot evaluation ({})\n\n{} assays, {} models. Metrics per assay are rounded to 3 "
                    "decimals, averaged per (UniProt ID, function), then per function class; the headline is the mean of "
                    "the function classes. ± is the bootstrap standard error of the difference to the top model "
                    "({} resamples within function classes, seed {}).\n\n",
                    set, A, M, opt.boot.replicates, opt.boot.seed);
    t += "| rank | model | Spearman | AUC | MCC | NDCG | Top recall |\n|---:|---|---:|---:|---:|---:|---:|\n";
    for (int j : order) {
        t += fmt::format("| {} | {} |", sp.rank[j], r.models[j]);
        for (int k = 0; k < n_metrics; ++k)
            t += fmt::format(" {} ± {} |", cell(r.summary[k].average[j]), cell(r.summary[k].bootstrap_se[j]));
        t += "\n";
    }
    t += "\n## Spearman by function class\n\n| model | Activity | Binding | Expression | OrganismalFitness | Stability |\n"
         "|---|---:|---:|---:|---:|---:|\n";
    for (int j : order) {
        t += "| " + r.models[j] + " |";
        for (int f = 0; f < 5; ++f) t += " " + cell(sp.function[j * 5 + f]) + " |";
        t += "\n";
    }
    t += "\n## Spearman by MSA depth, taxon";
    t += by_depth ? " and mutation depth\n\n" : "\n\n";
    t += "| model | Low MSA | Medium MSA | High MSA | Human | Other eukaryote | Prokaryote | Virus |";
    if (by_depth) t += " 1 | 2 | 3 | 4 | 5+ |";
    t += "\n|---|" + std::string(by_depth ? 12 : 7, ' ');
    t.resize(t.size() - (by_depth ? 12 : 7));
    for (int c = 0; c < (by_depth ? 12 : 7); ++c) t += "---:|";
    t += "\n";
    for (int j : order) {
        t += "| " + r.models[j] + " |";
        for (int d = 0; d < 3; ++d) t += " " + cell(sp.msa_depth[j * 3 + d]) + " |";
        for (int x = 0; x < 4; ++x) t += " " + cell(sp.taxon[j * 4 + x]) + " |";
        if (by_depth)
            for (int d = 0; d < 5; ++d) t += " " + cell(sp.depth[j * 5 + d]) + " |";
        t += "\n";
    }
    t += "\nFiles: `per_assay.csv`, `summary.csv`, `<Metric>/` (official ProteinGym table names), "
         "`gym_summary_mqc.tsv` (MultiQC), `function_<Metric>.svg`, `scatter_spearman.svg`.\n";
    return t;
}

}  // namespace

void write_report(const eval_result& r, const std::string& dir, const eval_options& opt) {
    make_directories(dir);
    const int M = static_cast<int>(r.models.size());
    for (int k = 0; k < n_metrics; ++k) write_metric_tables(r, dir, k);
    // Models best first by Spearman.
    const auto& sp = r.summary[m_spearman];
    std::vector<int> order(M);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int x, int y) { return sp.rank[x] < sp.rank[y]; });
    write_text(join_path(dir, "per_assay.csv"), per_assay_csv(r));
    write_text(join_path(dir, "summary.csv"), summary_csv(r, order));
    write_text(join_path(dir, "gym_summary_mqc.tsv"), multiqc_tsv(r, order));
    write_text(join_path(dir, "summary.md"), summary_markdown(r, order, opt));

    // Plots.
    std::vector<int> shown(order.begin(), order.begin() + std::min<int>(M, std::max(1, opt.plot_models)));
    for (int k = 0; k < n_metrics; ++k)
        write_text(join_path(dir, fmt::format("function_{}.svg", metric_names[k])), svg_function_bars(r, k, shown));
    int a = order[0], b = M > 1 ? order[1] : order[0];
    if (!opt.scatter_a.empty()) a = model_index(r, opt.scatter_a);
    if (!opt.scatter_b.empty()) b = model_index(r, opt.scatter_b);
    write_text(join_path(dir, "scatter_spearman.svg"), svg_scatter(r, a, b));
}

}  // namespace tranova::gym

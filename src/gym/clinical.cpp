// Clinical-variant benchmark (see clinical.hpp).
#include "gym/clinical.hpp"

#include "gym/metrics.hpp"
#include "gym/report.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>

namespace tranova::gym {

namespace {

// Scores by gene and key (directionality applied), read from one CSV or, lazily, from the
// <gene>.csv files of a folder.
class clinical_scores {
public:
    explicit clinical_scores(const clinical_options& opt) : opt_(opt), folder_(std::filesystem::is_directory(opt.scores)) {
        if (!folder_) read(opt.scores, "");
    }

    // The score of (gene, key), or nullptr. `where` names the labelled row for messages.
    const double* find(const std::string& gene, const std::string& key, const std::string& where) {
        if (folder_ && !by_gene_.count(gene)) {
            // The gene names a file in the --scores folder: never a path out of it.
            TRANOVA_CHECK(!gene.empty() && gene[0] != '.' && gene.find_first_of("/\\") == std::string::npos &&
                              gene.find('\0') == std::string::npos,
                          "{}: DMS_id '{}' cannot name a file in the --scores folder '{}'", where, gene, opt_.scores);
            auto path = std::filesystem::path(opt_.scores) / (gene + ".csv");
            by_gene_[gene];
            if (std::filesystem::is_regular_file(path)) read(path.string(), gene);
        }
        auto g = by_gene_.find(gene);
        if (g == by_gene_.end()) return nullptr;
        auto v = g->second.find(key);
        return v == g->second.end() ? nullptr : &v->second;
    }

private:
    void read(const std::string& path, const std::string& gene) {
        csv_reader in(path);
        int c_key = in.require_column(opt_.key), c_s = in.require_column(opt_.column);
        int c_id = gene.empty() ? in.require_column("DMS_id") : -1;
        std::vector<std::string> f;
        while (in.next(f)) {
            double v;
            TRANOVA_CHECK(parse_double(f[c_s], v), "{}: score '{}' is not a number", in.where(), f[c_s]);
            by_gene_[gene.empty() ? f[c_id] : gene][f[c_key]] = v * opt_.directionality;
        }
    }

    const clinical_options& opt_;
    bool folder_;
    std::map<std::string, std::map<std::string, double>> by_gene_;
};

}  // namespace

clinical_result clinical_evaluate(const clinical_options& opt) {
    TRANOVA_CHECK(opt.directionality == 1 || opt.directionality == -1, "directionality must be 1 or -1");
    clinical_scores sc(opt);
    std::map<std::string, std::pair<std::vector<int8_t>, std::vector<double>>> genes;  // labels, scores
    clinical_result r;
    csv_reader in(opt.variants);
    int c_id = in.require_column("DMS_id"), c_key = in.require_column(opt.key), c_label = in.require_column(opt.label);
    std::vector<std::string> f;
    while (in.next(f)) {
        std::string l = to_upper(trim(f[c_label]));
        int8_t patho;
        if (l == "PATHOGENIC" || l == "1") patho = 1;
        else if (l == "BENIGN" || l == "0") patho = 0;
        else TRANOVA_FAIL("{}: label '{}' is neither Pathogenic/1 nor Benign/0", in.where(), f[c_label]);
        const double* v = sc.find(f[c_id], f[c_key], in.where());
        if (!v) {
            ++r.unscored;
            continue;
        }
        if (std::isnan(*v)) {  // NaN prediction: dropped, counted (the policy of gym eval)
            ++r.nan_dropped;
            continue;
        }
        genes[f[c_id]].first.push_back(patho);
        genes[f[c_id]].second.push_back(*v);
    }
    double sum = 0;
    for (const auto& [gene, d] : genes) {
        clinical_gene g;
        g.gene = gene;
        g.n_variants = int64_t(d.first.size());
        for (int8_t x : d.first) g.n_pathogenic += x;
        g.auc = clinical_auc(d.first.data(), d.second.data(), g.n_variants);
        if (!std::isnan(g.auc)) {
            sum += g.auc;
            ++r.n_genes;
        }
        r.genes.push_back(std::move(g));
    }
    TRANOVA_CHECK(r.n_genes > 0,
                  "{}: no gene has both pathogenic and benign variants scored by model '{}' ({} genes, {} "
                  "variants without a score, {} NaN scores): no AUC to average",
                  opt.variants, opt.model, genes.size(), r.unscored, r.nan_dropped);
    r.mean_auc = sum / r.n_genes;
    return r;
}

void write_clinical_report(const clinical_result& r, const clinical_options& opt) {
    std::string t = "DMS_id,n_variants,n_pathogenic,AUC\n";
    for (const auto& g : r.genes)
        t += fmt::format("{},{},{},{}\n", csv_escape(g.gene), g.n_variants, g.n_pathogenic, format_value(round3(g.auc)));
    make_directories(opt.output);
    output_file per_gene((std::filesystem::path(opt.output) / "clinical_per_gene.csv").string());
    per_gene.write(t);
    per_gene.commit();
    output_file summary((std::filesystem::path(opt.output) / "clinical_summary.csv").string());
    summary.write(fmt::format("Model_name,Average_AUC,n_genes\n{},{},{}\n", csv_escape(opt.model),
                              format_value(round3(r.mean_auc)), r.n_genes));
    summary.commit();
}

}  // namespace tranova::gym

// bench_gym: the gym pipeline at ProteinGym scale. Generates a synthetic dataset with the
// real assay sizes of DMS_substitutions.csv (assay_sizes.csv: 217 assays, 2,465,767
// variants, singles and multiples as listed, real sequence lengths), ingests it from the
// official CSV layout, adds N models of random scores, evaluates everything (metrics,
// depth breakdown, aggregation, 10,000-replicate bootstrap, report files) and runs the
// Python/pandas baseline (baseline_official.py: scipy/sklearn/numpy calls of the official
// metric code path) on a sample of the models, extrapolated to all of them. Also checks
// that both agree on every sampled (model, assay) metric after rounding.
//
// usage: bench_gym [--work DIR] [--models 100] [--threads 2] [--python-models 2] [--reuse 1]
//                  [--python /usr/bin/python3] [--repeats 3] [--scale 1.0]
#include "gym/dataset.hpp"
#include "gym/metrics.hpp"
#include "gym/report.hpp"
#include "util/csv.hpp"
#include "util/log.hpp"
#include "util/text.hpp"
#include "util/threads.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace tranova;

namespace {

double cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct size_row {
    std::string id, uniprot, function, taxon, msa;
    long long len = 0, total = 0, singles = 0, multiples = 0;
};

std::vector<size_row> read_sizes(const std::string& path, double scale) {
    csv_reader r(path);
    std::vector<std::string> f;
    std::vector<size_row> out;
    while (r.next(f)) {
        size_row s{f[0], f[1], f[2], f[3], f[4]};
        parse_int(f[5], s.len);
        parse_int(f[6], s.total);
        parse_int(f[7], s.singles);
        parse_int(f[8], s.multiples);
        if (scale != 1.0) {
            s.singles = std::max(1LL, static_cast<long long>(s.singles * scale));
            s.multiples = static_cast<long long>(s.multiples * scale);
            s.total = s.singles + s.multiples;
        }
        out.push_back(s);
    }
    return out;
}

const char aa[] = "ACDEFGHIKLMNPQRSTVWY";

// Writes the reference file and one assay CSV per row; returns the number of variants.
long long generate_csvs(const std::vector<size_row>& sizes, const std::string& dir) {
    fs::create_directories(dir + "/assays");
    std::FILE* ref = std::fopen((dir + "/DMS_substitutions.csv").c_str(), "w");
    std::fputs("DMS_index,DMS_id,DMS_filename,UniProt_ID,taxon,target_seq,seq_len,includes_multiple_mutants,"
               "DMS_total_number_mutants,DMS_binarization_cutoff,DMS_binarization_method,MSA_Neff_L_category,"
               "coarse_selection_type\n",
               ref);
    long long total = 0;
    std::vector<std::string> targets(sizes.size());
    std::mt19937_64 rng(12345);
    for (size_t i = 0; i < sizes.size(); ++i) {
        auto& t = targets[i];
        t.resize(sizes[i].len);
        for (auto& c : t) c = aa[rng() % 20];
        std::fprintf(ref, "DMS_sub_%zu,%s,%s.csv,%s,%s,%s,%lld,%s,%lld,0.0,median,%s,%s\n", i, sizes[i].id.c_str(),
                     sizes[i].id.c_str(), sizes[i].uniprot.c_str(), sizes[i].taxon.c_str(), t.c_str(), sizes[i].len,
                     sizes[i].multiples ? "TRUE" : "FALSE", sizes[i].total, sizes[i].msa.c_str(),
                     sizes[i].function.c_str());
        total += sizes[i].total;
    }
    std::fclose(ref);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < sizes.size(); ++i) {
        const auto& s = sizes[i];
        const auto& t = targets[i];
        std::mt19937_64 g(1000 + i);
        std::normal_distribution<double> N01;
        std::FILE* fp = std::fopen((dir + "/assays/" + s.id + ".csv").c_str(), "w");
        std::vector<char> iobuf(1 << 20);
        std::setvbuf(fp, iobuf.data(), _IOFBF, iobuf.size());
        std::fputs("mutant,mutated_sequence,DMS_score,DMS_score_bin\n", fp);
        std::string seq, mutant;
        for (long long v = 0; v < s.total; ++v) {
            seq = t;
            mutant.clear();
            int depth = v < s.singles ? 1 : 2 + static_cast<int>(g() % 5);
            for (int d = 0; d < depth; ++d) {
                long long pos;
                char mt;
                if (depth == 1) {  // enumerate distinct singles: position-major, 19 per position
                    pos = (v / 19) % s.len;
                    int k = static_cast<int>(v % 19);
                    mt = aa[k] == t[pos] ? aa[19] : aa[k];
                    if (aa[19] == t[pos] && aa[k] == t[pos]) mt = aa[0];
                } else {
                    pos = static_cast<long long>(g() % s.len);
                    do mt = aa[g() % 20];
                    while (mt == t[pos]);
                }
                if (depth > 1 && seq[pos] != t[pos]) continue;  // one substitution per position
                seq[pos] = mt;
                if (!mutant.empty()) mutant += ':';
                mutant += fmt::format("{}{}{}", t[pos], pos + 1, mt);
            }
            double y = N01(g);
            std::fprintf(fp, "%s,%s,%.6f,%d\n", mutant.c_str(), seq.c_str(), y, std::stod(fmt::format("{:.6f}", y)) >= 0.0);
        }
        std::fclose(fp);
    }
    return total;
}

std::string run_capture(const std::string& cmd) {
    std::string out;
    std::FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string work = "bench_gym_work", python = "/usr/bin/python3";
    int models = 100, threads = 2, py_models = 2, repeats = 3;
    double scale = 1.0;
    bool reuse = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i], v = argv[i + 1];
        if (a == "--work") work = v;
        else if (a == "--models") models = std::stoi(v);
        else if (a == "--threads") threads = std::stoi(v);
        else if (a == "--python-models") py_models = std::stoi(v);
        else if (a == "--python") python = v;
        else if (a == "--repeats") repeats = std::stoi(v);
        else if (a == "--scale") scale = std::stod(v);
        else if (a == "--reuse") reuse = v == "1";
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    log::set_level(log::level::warn);
    set_threads(threads);
    fs::create_directories(work);
    auto sizes = read_sizes(std::string(TRANOVA_BENCH_DIR) + "/assay_sizes.csv", scale);
    const std::string h5 = work + "/gym.h5";

    double t0 = now_s();
    long long variants = 0;
    for (const auto& sz : sizes) variants += sz.total;
    double t_gen = 0, t_ingest = 0, t_add = 0;
    if (reuse && fs::exists(h5)) {
        std::printf("reusing %s (--reuse 1): generation, ingest and add not timed\n", h5.c_str());
        goto eval;
    }
    {
    t0 = now_s();
    variants = generate_csvs(sizes, work);
    t_gen = now_s() - t0;
    std::printf("generated %zu assays, %lld variants (CSV) in %.1f s\n", sizes.size(), variants, t_gen);

    fs::remove(h5);
    gym::ingest_options io;
    io.reference = work + "/DMS_substitutions.csv";
    io.assays_dir = work + "/assays";
    io.output = h5;
    io.command_line = "bench_gym";
    t0 = now_s();
    auto irep = gym::gym_ingest(io);
    t_ingest = now_s() - t0;
    std::printf("ingest: %d assays, %lld variants in %.2f s (%.2f M variants/s); file %.0f MB before models\n",
                irep.n_assays, static_cast<long long>(irep.n_variants), t_ingest, irep.n_variants / t_ingest / 1e6,
                fs::file_size(h5) / 1e6);

    // Models: float32-precision random scores (what most models write), NaN-free.
    t0 = now_s();
    std::vector<std::pair<std::string, std::vector<double>>> merged(sizes.size());
    for (int m = 0; m < models; ++m) {
        for (size_t i = 0; i < sizes.size(); ++i) {
            merged[i].first = sizes[i].id;
            merged[i].second.resize(sizes[i].total);
        }
#pragma omp parallel for schedule(dynamic)
        for (size_t i = 0; i < sizes.size(); ++i) {
            std::mt19937_64 g(m * 100003ULL + i);
            std::normal_distribution<float> N01;
            for (auto& v : merged[i].second) v = N01(g);
        }
        gym::add_options ao;
        ao.file = h5;
        ao.model = fmt::format("model_{:03d}", m);
        ao.model_type = "random";
        gym::write_model(ao, "mutant", merged);
    }
    t_add = now_s() - t0;
    std::printf("added %d models in %.1f s; file %.0f MB\n", models, t_add, fs::file_size(h5) / 1e6);
    }
eval:

    // Eval: median of `repeats` runs, all models, full report.
    std::vector<double> times, cpus;
    gym::eval_result res;
    gym::eval_options eo;
    for (int r = 0; r < repeats; ++r) {
        t0 = now_s();
        double c0 = cpu_s();
        gym::gym_file f(h5);
        res = gym::gym_evaluate(f, eo);
        gym::write_report(res, work + "/report", eo);
        times.push_back(now_s() - t0);
        cpus.push_back(cpu_s() - c0);
        std::printf("eval run %d: %.2f s wall, %.2f s CPU (wall: read+contexts %.2f, metrics %.2f, aggregation+bootstrap "
                    "%.2f)\n",
                    r + 1, times.back(), cpus.back(), res.seconds_read, res.seconds_metrics, res.seconds_aggregate);
    }
    std::sort(times.begin(), times.end());
    std::sort(cpus.begin(), cpus.end());
    double t_eval = times[times.size() / 2], c_eval = cpus[cpus.size() / 2];
    double loadavg[1] = {0};
    getloadavg(loadavg, 1);
    const double pairs = static_cast<double>(models) * sizes.size();
    std::printf("eval: %d models x %zu assays (%.0f M predictions) median %.2f s on %d threads, %.1f M predictions/s\n",
                models, sizes.size(), variants * static_cast<double>(models) / 1e6, t_eval, threads,
                variants * static_cast<double>(models) / t_eval / 1e6);

    // Python baseline on a sample of models.
    double t_py = 0, t_py_all = 0;
    int agree = 0, compared = 0;
    if (py_models > 0) {
        std::string out_csv = work + "/baseline_per_assay.csv";
        std::string cmd = fmt::format("{} {}/baseline_official.py --h5 {} --models {} --out {} 2>&1", python,
                                      TRANOVA_BENCH_DIR, h5, py_models, out_csv);
        t0 = now_s();
        std::string out = run_capture(cmd);
        t_py = now_s() - t0;
        std::fputs(out.c_str(), stdout);
        double per_model = 0, load = 0;
        auto pos = out.find("seconds_per_model=");
        if (pos != std::string::npos) per_model = std::stod(out.substr(pos + 18));
        pos = out.find("seconds_load=");
        if (pos != std::string::npos) load = std::stod(out.substr(pos + 13));
        // Loading the assays is paid once; the metrics once per model.
        t_py_all = load + per_model * models;
        // Agreement of every sampled (model, assay, metric) after rounding, with NDCG ties in
        // numpy's order as the baseline has them (the timed runs use the default, stable).
        if (fs::exists(out_csv)) {
            gym::eval_options no;
            no.ties = gym::ndcg_ties::numpy;
            no.boot.replicates = 0;
            {
                gym::gym_file f(h5);
                auto all = f.models();
                std::sort(all.begin(), all.end());
                no.models.assign(all.begin(), all.begin() + std::min<size_t>(all.size(), py_models));
                double c0 = cpu_s();
                gym::gym_file f2(h5);
                auto rn = gym::gym_evaluate(f2, no);
                std::printf("numpy tie order (--ndcg-ties numpy) on the %d sampled models: %.2f s CPU\n", py_models,
                            cpu_s() - c0);
                res = std::move(rn);
            }
            csv_reader r(out_csv);
            std::vector<std::string> f;
            std::map<std::string, int> model_index, assay_index;
            for (size_t j = 0; j < res.models.size(); ++j) model_index[res.models[j]] = static_cast<int>(j);
            for (size_t a = 0; a < res.assays.size(); ++a) assay_index[res.assays[a].dms_id] = static_cast<int>(a);
            const int M = static_cast<int>(res.models.size());
            while (r.next(f)) {
                int j = model_index.at(f[0]), a = assay_index.at(f[1]);
                for (int k = 0; k < gym::n_metrics; ++k) {
                    double want;
                    bool ok = parse_double(f[2 + k], want);
                    double got = res.per_assay[k][static_cast<size_t>(a) * M + j];
                    ++compared;
                    agree += ok && ((want != want && got != got) || gym::round3(want) == got);
                }
            }
        }
        std::printf("python baseline: %d models in %.1f s wall -> %.1f s CPU loading + %.1f s CPU/model -> %.0f s CPU "
                    "for %d models (extrapolated from %d)\n",
                    py_models, t_py, load, per_model, t_py_all, models, py_models);
        std::printf("agreement with the baseline after rounding: %d / %d (model, assay, metric) values\n", agree,
                    compared);
    }
    std::printf("\n| step | time | note |\n|---|---:|---|\n");
    if (t_ingest > 0) {
        std::printf("| generate CSVs | %.1f s | %lld variants, real sizes |\n", t_gen, variants);
        std::printf("| tranova gym ingest | %.2f s | %.2f M variants/s |\n", t_ingest, variants / t_ingest / 1e6);
        std::printf("| add %d models | %.1f s | generator writes HDF5 directly |\n", models, t_add);
    }
    std::printf("| tranova gym eval (%d threads) | %.2f s wall, %.2f s CPU | median of %d, all models, bootstrap 10,000, "
                "report; load average %.1f |\n",
                threads, t_eval, c_eval, repeats, loadavg[0]);
    std::printf("| eval CPU / %d threads | %.2f s | wall time on %d idle cores if the work splits evenly |\n", threads,
                c_eval / threads, threads);
    if (py_models > 0) {
        std::printf("| Python baseline (extrapolated) | %.0f s | %d of %d models measured |\n", t_py_all, py_models,
                    models);
        std::printf("| speed-up (wall) | %.0fx | target >= 20x |\n", t_py_all / t_eval);
        std::printf("| speed-up (CPU time) | %.0fx | baseline is single-threaded |\n", t_py_all / c_eval);
    }
    (void)pairs;
    return 0;
}

#include "core/train_log.hpp"

#include "util/error.hpp"
#include "util/output_file.hpp"
#include "util/svg.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

namespace tranova::core {

namespace {

std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : std::string(); }

std::string format_row(const train_row& r, size_t n_metrics) {
    std::string s = fmt::format("{}\t{:.4f}\t{}", r.step, r.epoch, num(r.loss));
    for (double p : r.parts) s += "\t" + num(p);
    s += fmt::format("\t{}\t{}\t{}", num(r.lr), num(r.grad_norm), num(r.val_loss));
    for (size_t i = 0; i < n_metrics; ++i) s += "\t" + num(i < r.val_metrics.size() ? r.val_metrics[i] : NAN);
    s += fmt::format("\t{:.1f}\t{:.1f}\n", r.rate, r.seconds);
    return s;
}

// An empty field is NaN (val_loss on steps without validation).
double field(std::string_view f, const std::string& where) {
    if (trim(f).empty()) return NAN;
    double v = 0;
    TRANOVA_CHECK(parse_double(f, v), "{}: '{}' is not a number", where, f);
    return v;
}

}  // namespace

train_log::train_log(const std::string& output, std::vector<std::string> part_names, const std::string& unit,
                     int64_t resume_step, std::vector<std::string> metric_names, int best_metric)
    : path_(output + ".train.tsv"), svg_path_(output + ".loss.svg"), parts_(std::move(part_names)),
      metrics_(std::move(metric_names)), best_metric_(best_metric) {
    TRANOVA_CHECK(best_metric_ >= -1 && best_metric_ < int(metrics_.size()),
                  "training log: best-validation metric {} of {} declared", best_metric_, metrics_.size());
    header_ = "step\tepoch\tloss";
    for (const auto& p : parts_) header_ += "\t" + p;
    header_ += "\tlr\tgrad_norm\tval_loss";
    for (const auto& m : metrics_) header_ += "\t" + m;
    header_ += fmt::format("\t{}_per_s\tseconds", unit);
    const size_t n_fields = 8 + parts_.size() + metrics_.size();
    std::string kept = header_ + "\n";
    if (resume_step >= 0) {
        std::ifstream in(path_);
        TRANOVA_CHECK(in.good(), "{}: cannot resume: the training log is missing", path_);
        std::string line;
        std::getline(in, line);
        TRANOVA_CHECK(line == header_, "{}: cannot resume: the log's columns differ from this run's ({})", path_,
                      header_);
        long line_no = 1;
        while (std::getline(in, line)) {
            ++line_no;
            if (line.empty()) continue;
            const auto f = split(line, '\t');
            const std::string where = fmt::format("{}:{}", path_, line_no);
            // A kill can cut the last row short: drop it (it is recomputed), reject others.
            if (f.size() != n_fields) {
                TRANOVA_CHECK(in.peek() == EOF, "{}: {} fields, the header has {}", where, f.size(), n_fields);
                break;
            }
            train_row r;
            r.step = static_cast<int64_t>(field(f[0], where));
            if (r.step > resume_step) break;
            r.epoch = field(f[1], where);
            r.loss = field(f[2], where);
            size_t k = 3;
            for (size_t i = 0; i < parts_.size(); ++i) r.parts.push_back(field(f[k++], where));
            r.lr = field(f[k++], where);
            r.grad_norm = field(f[k++], where);
            r.val_loss = field(f[k++], where);
            for (size_t i = 0; i < metrics_.size(); ++i) r.val_metrics.push_back(field(f[k++], where));
            r.rate = field(f[k++], where);
            r.seconds = field(f[k++], where);
            rows_.push_back(r);
            note_validation(r);
            kept += line + "\n";
        }
    }
    // Rewrite what is kept atomically, then append to it.
    output_file out(path_);
    out.write(kept);
    out.commit();
    fp_ = std::fopen(path_.c_str(), "a");
    TRANOVA_CHECK(fp_, "{}: cannot append: {}", path_, std::strerror(errno));
}

train_log::~train_log() {
    if (fp_) std::fclose(fp_);
}

void train_log::note_validation(const train_row& r) {
    last_improved_ = false;
    if (!std::isfinite(r.val_loss)) return;
    bool better = best_step_ < 0 || r.val_loss < best_val_;
    double metric = NAN;
    if (best_metric_ >= 0) {
        // Highest metric; a validation without it (NaN) never wins over one with it.
        metric = size_t(best_metric_) < r.val_metrics.size() ? r.val_metrics[size_t(best_metric_)] : NAN;
        const bool have = std::isfinite(metric), had = std::isfinite(best_metric_value_);
        better = best_step_ < 0 || (have && (!had || metric > best_metric_value_)) ||
                 (have == had && (!have || metric == best_metric_value_) && r.val_loss < best_val_);
    }
    if (better) {
        best_val_ = r.val_loss;
        best_metric_value_ = metric;
        best_step_ = r.step;
        vals_since_best_ = 0;
        last_improved_ = true;
    } else {
        ++vals_since_best_;
    }
}

void train_log::add(const train_row& r) {
    TRANOVA_CHECK(r.parts.size() == parts_.size(), "training log: {} loss parts given, {} declared", r.parts.size(),
                  parts_.size());
    TRANOVA_CHECK(r.val_metrics.empty() || r.val_metrics.size() == metrics_.size(),
                  "training log: {} validation metrics given, {} declared", r.val_metrics.size(), metrics_.size());
    const std::string s = format_row(r, metrics_.size());
    TRANOVA_CHECK(std::fwrite(s.data(), 1, s.size(), fp_) == s.size() && std::fflush(fp_) == 0,
                  "{}: write failed: {}", path_, std::strerror(errno));
    rows_.push_back(r);
    note_validation(r);
}

void train_log::write_loss_curve(const std::string& title) const {
    line_plot p;
    p.title = title;
    p.x_label = "optimiser step";
    p.y_label = "loss (nats)";
    plot_series train{"training loss", {}, {}, "#1f77b4", false}, val{"validation loss", {}, {}, "#d62728", true};
    for (const auto& r : rows_) {
        train.x.push_back(static_cast<double>(r.step));
        train.y.push_back(r.loss);
        if (std::isfinite(r.val_loss)) {
            val.x.push_back(static_cast<double>(r.step));
            val.y.push_back(r.val_loss);
        }
    }
    p.series.push_back(std::move(train));
    if (!val.x.empty()) p.series.push_back(std::move(val));
    if (best_step_ >= 0)
        p.note = best_metric_ < 0 ? fmt::format("best validation {:.4f} at step {}", best_val_, best_step_)
                                  : fmt::format("best validation {} {:.4f} (loss {:.4f}) at step {}",
                                                metrics_[size_t(best_metric_)], best_metric_value_, best_val_, best_step_);
    output_file out(svg_path_);
    out.write(svg_line_plot(p));
    out.commit();
}

}  // namespace tranova::core

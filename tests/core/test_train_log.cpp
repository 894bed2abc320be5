// The shared training log (core/train_log.hpp), the SVG plot helper and dist::shard_range.
#include "core/dist.hpp"
#include "core/train_log.hpp"
#include "util/error.hpp"
#include "util/svg.hpp"

#include "temp_dir.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace tranova;

using tranova::test::temp_dir;

namespace {

using tranova::test::file_bytes;


core::train_row row(int64_t step, double val = NAN) {
    core::train_row r;
    r.step = step;
    r.epoch = step / 10.0;
    r.loss = 3.0 / step;
    r.parts = {1.0 / step, 0.5};
    r.lr = 1e-3;
    r.grad_norm = 0.25 * step;
    r.val_loss = val;
    r.rate = 1000;
    r.seconds = step;
    return r;
}

// Validation losses of a run: improves until step 30, then worse.
double val_at(int64_t s) { return s % 10 ? NAN : (s <= 30 ? 4.0 - s / 10.0 : 1.2 + s / 100.0); }

}  // namespace

TEST_CASE("train_log: columns, rows, best validation and patience", "[train_log]") {
    temp_dir d("trainlog");
    const std::string out = (d.path / "m.h5").string();
    core::train_log log(out, {"loss_ar", "lambda"}, "tokens");
    for (int64_t s = 1; s <= 60; ++s) {
        log.add(row(s, val_at(s)));
        if (s == 30) CHECK(log.last_val_improved());
        if (s == 40) CHECK_FALSE(log.last_val_improved());
        if (s == 50) CHECK_FALSE(log.should_stop(3));
    }
    CHECK(log.best_step() == 30);
    CHECK(log.best_val_loss() == Approx(1.0));
    CHECK(log.should_stop(3));      // 40, 50, 60 did not improve
    CHECK_FALSE(log.should_stop(4));
    CHECK_FALSE(log.should_stop(0));  // 0 = never
    const std::string text = file_bytes(out + ".train.tsv");
    CHECK(text.rfind("step\tepoch\tloss\tloss_ar\tlambda\tlr\tgrad_norm\tval_loss\ttokens_per_s\tseconds\n", 0) == 0);
    CHECK(std::count(text.begin(), text.end(), '\n') == 61);
    CHECK(text.find("\n1\t0.1000\t3\t1\t0.5\t0.001\t0.25\t\t1000.0\t1.0\n") != std::string::npos);  // empty val_loss
    log.write_loss_curve("tiny");
    const std::string svg = file_bytes(out + ".loss.svg");
    CHECK(svg.rfind("<svg xmlns", 0) == 0);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(svg.find("best validation 1.0000 at step 30") != std::string::npos);
    CHECK(svg.find("validation loss") != std::string::npos);
}

TEST_CASE("train_log: resume keeps rows up to the checkpoint and ends like an uninterrupted log", "[train_log]") {
    temp_dir d("trainlog");
    const std::string a = (d.path / "a.h5").string(), b = (d.path / "b.h5").string();
    {
        core::train_log full(a, {"loss_ar", "lambda"}, "tokens");
        for (int64_t s = 1; s <= 40; ++s) full.add(row(s, val_at(s)));
    }
    {
        core::train_log first(b, {"loss_ar", "lambda"}, "tokens");
        for (int64_t s = 1; s <= 27; ++s) first.add(row(s, val_at(s)));  // killed after step 27
    }
    {
        // A kill in the middle of a write leaves a cut row: dropped on resume.
        std::ofstream cut(b + ".train.tsv", std::ios::app);
        cut << "28\t2.8";
    }
    core::train_log resumed(b, {"loss_ar", "lambda"}, "tokens", 20);  // last checkpoint: step 20
    CHECK(resumed.rows().size() == 20);
    CHECK(resumed.best_step() == 20);
    for (int64_t s = 21; s <= 40; ++s) resumed.add(row(s, val_at(s)));
    CHECK(file_bytes(a + ".train.tsv") == file_bytes(b + ".train.tsv"));
    CHECK(resumed.best_step() == 30);
}

TEST_CASE("train_log: resume refuses a missing log or other columns", "[train_log]") {
    temp_dir d("trainlog");
    const std::string out = (d.path / "m.h5").string();
    CHECK_THROWS_WITH(core::train_log(out, {}, "tokens", 5), Catch::Contains("m.h5.train.tsv") && Catch::Contains("missing"));
    {
        core::train_log log(out, {"loss_ar"}, "tokens");
        auto r = row(1);
        r.parts.pop_back();
        log.add(r);
        CHECK_THROWS_WITH(log.add(row(2)), Catch::Contains("2 loss parts given, 1 declared"));
    }
    CHECK_THROWS_WITH(core::train_log(out, {}, "spectra", 1), Catch::Contains("m.h5.train.tsv") && Catch::Contains("columns"));
    std::ofstream(out + ".train.tsv", std::ios::app) << "2\tx\n3\t0.3\n";
    CHECK_THROWS_WITH(core::train_log(out, {"loss_ar"}, "tokens", 5), Catch::Contains("m.h5.train.tsv:3"));
}

TEST_CASE("train_log: validation metric columns, best by the highest metric, resume", "[train_log]") {
    temp_dir d("trainlog");
    const std::string a = (d.path / "a.h5").string(), b = (d.path / "b.h5").string();
    // recall per validation step: 0.2, 0.5, 0.5 (lower loss), 0.5 (higher loss), 0.4, none
    const auto at = [](int64_t s) {
        auto r = row(s, s % 10 ? NAN : 3.0 - s / 100.0);
        if (s == 40) r.val_loss = 2.9;
        if (s % 10 == 0 && s != 60) r.val_metrics = {s == 10 ? 0.2 : s == 50 ? 0.4 : 0.5, 7.0};
        if (s == 60) r.val_metrics = {NAN, NAN};
        return r;
    };
    {
        core::train_log log(a, {"loss_ar", "lambda"}, "spectra", -1, {"val_recall", "other"}, 0);
        for (int64_t s = 1; s <= 60; ++s) {
            log.add(at(s));
            if (s == 10 || s == 20 || s == 30) CHECK(log.last_val_improved());
            if (s == 40 || s == 50 || s == 60) CHECK_FALSE(log.last_val_improved());
        }
        CHECK(log.best_step() == 30);  // 0.5 first at 20, then 30 with a lower loss; 40's loss is higher
        CHECK(log.best_val_loss() == Approx(2.7));
        CHECK(log.should_stop(3));
        log.write_loss_curve("tiny");
        CHECK(file_bytes(a + ".loss.svg").find("best validation val_recall 0.5000 (loss 2.7000) at step 30") != std::string::npos);
    }
    const std::string text = file_bytes(a + ".train.tsv");
    CHECK(text.rfind("step\tepoch\tloss\tloss_ar\tlambda\tlr\tgrad_norm\tval_loss\tval_recall\tother\tspectra_per_s\tseconds\n",
                     0) == 0);
    CHECK(text.find("\n1\t0.1000\t3\t1\t0.5\t0.001\t0.25\t\t\t\t1000.0\t1.0\n") != std::string::npos);
    CHECK(text.find("\n10\t1.0000\t0.3\t0.1\t0.5\t0.001\t2.5\t2.9\t0.2\t7\t1000.0\t10.0\n") != std::string::npos);
    {
        core::train_log first(b, {"loss_ar", "lambda"}, "spectra", -1, {"val_recall", "other"}, 0);
        for (int64_t s = 1; s <= 33; ++s) first.add(at(s));
    }
    core::train_log resumed(b, {"loss_ar", "lambda"}, "spectra", 25, {"val_recall", "other"}, 0);
    CHECK(resumed.best_step() == 20);
    CHECK(resumed.rows().back().val_metrics.size() == 2);
    for (int64_t s = 26; s <= 60; ++s) resumed.add(at(s));
    CHECK(file_bytes(a + ".train.tsv") == file_bytes(b + ".train.tsv"));
    CHECK(resumed.best_step() == 30);
    // other columns, or a metric count that differs from the declaration
    CHECK_THROWS_WITH(core::train_log(b, {"loss_ar", "lambda"}, "spectra", 25, {"val_recall"}, 0), Catch::Contains("columns"));
    CHECK_THROWS_WITH(core::train_log(b, {}, "spectra", -1, {"val_recall"}, 1), Catch::Contains("metric 1 of 1"));
    core::train_log one(b, {"loss_ar", "lambda"}, "spectra", -1, {"val_recall"});
    CHECK_THROWS_WITH(one.add(at(10)), Catch::Contains("2 validation metrics given, 1 declared"));
}

TEST_CASE("nice_ticks: round steps covering the range", "[svg]") {
    CHECK(nice_ticks(0, 1) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
    auto t = nice_ticks(0.37, 4.2);
    REQUIRE(t.size() >= 3);
    CHECK(t.front() >= 0.37);
    CHECK(t.back() <= 4.2);
    CHECK(t[1] - t[0] == Approx(1.0));
    CHECK(nice_ticks(2, 2) == std::vector<double>{2});
    CHECK(nice_ticks(NAN, 1).empty());
    line_plot p;
    p.title = "a < b & c";
    p.series.push_back({"s", {0, 1, 2}, {1, NAN, 3}});
    const std::string svg = svg_line_plot(p);
    CHECK(svg.find("a &lt; b &amp; c") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
}

TEST_CASE("dist: shard ranges tile the batch in order", "[dist]") {
    for (int n : {0, 1, 7, 24, 100})
        for (int ranks : {1, 2, 3, 5, 8}) {
            int64_t next = 0;
            for (int r = 0; r < ranks; ++r) {
                int64_t b = 0, e = 0;
                core::dist::shard_range(n, r, ranks, b, e);
                CHECK(b == next);
                CHECK(e - b >= n / ranks);
                CHECK(e - b <= n / ranks + 1);
                next = e;
            }
            CHECK(next == n);
        }
    core::dist::init();  // no launcher here: one process
    CHECK(core::dist::size() == 1);
    CHECK(core::dist::rank() == 0);
    float x[2] = {1.5f, -2};
    core::dist::allreduce_sum(x, 2);  // a no-op alone
    CHECK(x[0] == 1.5f);
}

// `tranova train` as a library call (src/tranception/run_train.hpp): option checks, and a
// few steps of a family model that write the model, state, log and loss curve, report the
// held-out comparison and resume to the same model as an uninterrupted run.
#include "tranception/run_train.hpp"

#include "core/weights.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

using namespace tranova;
using namespace tranova::tranception;

namespace {

// A very small shape and context so that a run takes well under a second.
train_run_options family_options(const test::temp_dir& d, const std::string& out) {
    train_run_options o;
    o.msa = std::string(TRANOVA_TEST_DATA) + "/msa/P53_HUMAN_b0.1_sub6.a2m";
    o.config = d.write("mini.json", R"({"n_layer": 1, "n_embd": 32, "n_head": 4, "n_positions": 512})");
    o.task.context = 66;  // training crops; the held-out pass scores whole sequences
    o.val_fraction = 0.05;
    o.use_weights_cache = false;
    o.trainer.output = d / out;
    o.trainer.max_steps = 4;
    o.trainer.batch_size = 4;
    o.trainer.val_every = 2;
    o.trainer.seed = 3;
    return o;
}

}  // namespace

TEST_CASE("run_train: contradictory options are usage errors", "[tranception][run_train]") {
    const test::temp_dir d("run_train");
    train_run_options o = family_options(d, "m.h5");
    o.sequences = o.msa;
    CHECK_THROWS_AS(check_train_options(o), usage_error);
    o.msa.clear(), o.sequences.clear();
    CHECK_THROWS_AS(check_train_options(o), usage_error);
    o = family_options(d, "m.h5");
    o.task.context = 2;
    CHECK_THROWS_AS(run_train(o), usage_error);
    CHECK_FALSE(std::filesystem::exists(d / "m.h5"));
    o.task.context = 3;
    CHECK_NOTHROW(check_train_options(o));
}

TEST_CASE("run_train: a family model trains, compares with the site-independent model, resumes",
          "[tranception][run_train]") {
    const test::temp_dir d("run_train");
    const train_run_result r = run_train(family_options(d, "full.h5"));
    CHECK(r.summary.steps == 4);
    CHECK_FALSE(r.summary.preempted);
    CHECK(r.summary.best_step >= 2);
    for (const char* f : {"full.h5", "full.h5.state.h5", "full.h5.train.tsv", "full.h5.loss.svg"})
        CHECK(std::filesystem::exists(d / f));
    REQUIRE(r.heldout);
    CHECK(r.heldout->sequences > 0);
    CHECK(r.heldout->residues > 0);
    CHECK(std::isfinite(r.heldout->model));
    CHECK(std::isfinite(r.heldout->site_independent));

    // Cut after 2 steps (as --stop-after), then resumed: the same parameters.
    train_run_options cut = family_options(d, "cut.h5");
    cut.trainer.stop_after = 2;
    const train_run_result first = run_train(cut);
    CHECK(first.summary.preempted);
    CHECK(first.summary.steps == 2);
    CHECK_FALSE(first.heldout);
    cut.trainer.stop_after = 0;
    cut.trainer.resume = true;
    const train_run_result second = run_train(cut);
    CHECK(second.summary.steps == 4);
    const core::weights a = core::weights_read(d / "full.h5"), b = core::weights_read(d / "cut.h5");
    REQUIRE(a.entries().size() == b.entries().size());
    for (const core::weight_entry& e : a.entries()) {
        INFO(e.name);
        REQUIRE(b.has(e.name));
        const float* x = a.get(e.name, e.shape);
        const float* y = b.get(e.name, e.shape);
        CHECK(std::memcmp(x, y, e.numel * sizeof(float)) == 0);
    }
}

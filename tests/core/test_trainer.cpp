// The shared training loop (core/trainer.hpp) on a toy model: it learns, writes its files,
// resumes after a preemption or a kill to bit-identical parameters, refuses a foreign
// state, stops early on patience and skips non-finite steps.
#include "core/trainer.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

namespace fs = std::filesystem;
using namespace tranova;
using namespace tranova::core;

using tranova::test::temp_dir;

namespace {

constexpr int IN = 6, HID = 12, N_TRAIN = 90, N_VAL = 30;

float feature(int item, int k) { return std::sin(0.37f * item + 1.3f * k) + 0.1f * k; }
float target(int item) {
    float s = 0;
    for (int k = 0; k < IN; ++k) s += (k % 2 ? 0.5f : -0.3f) * feature(item, k);
    return std::tanh(s);
}

// y = w2 . tanh(W1 x + b1) + b2, squared error; inputs jittered by the noise stream so the
// saved rng state matters; data order: a permutation per epoch derived from (seed, epoch).
class toy_task : public train_task {
public:
    int fail_at = -1;         // throw inside this step (a kill after the last checkpoint)
    int signal_at = -1;       // raise SIGUSR1 inside this step (preemption)
    int nan_at = -1;          // NaN gradient at this step
    bool rising_val = false;  // validation gets worse every time (early stop test)
    std::string cfg = "hid=12";

    explicit toy_task(uint64_t seed) : seed_(seed) {
        arena_.add("fc.weight", {HID, IN});
        arena_.add("fc.bias", {HID});
        arena_.add("out.weight", {1, HID});
        arena_.add("out.bias", {1});
        arena_.allocate();
        rng init(seed, 99);
        for (size_t i = 0; i < arena_.block_floats(); ++i) arena_.params()[i] = 0.4f * (init.uniform() - 0.5f);
    }
    std::string arch() const override { return "toy"; }
    std::string config() const override { return cfg; }
    param_arena& arena() override { return arena_; }
    std::vector<std::string> loss_parts() const override { return {"half_loss"}; }
    std::string unit() const override { return "items"; }

    batch_result train_batch(int64_t step, double, int64_t begin, int64_t end, int64_t batch, rng&, rng& noise,
                             data_cursor& cursor) override {
        if (step == fail_at) throw std::runtime_error("killed");
        if (step == signal_at) std::raise(SIGUSR1);
        batch_result r;
        for (int64_t i = 0; i < batch; ++i) {
            if (cursor.position == N_TRAIN) cursor.position = 0, ++cursor.epoch;
            const int item = order(cursor.epoch)[cursor.position++];
            const float jitter = 0.01f * (noise.uniform() - 0.5f);
            if (i < begin || i >= end) continue;
            r.loss_sum += item_grad(item, jitter, true);
            r.loss_items += 1;
            r.rate_items += 1;
        }
        r.part_sums = {r.loss_sum / 2};
        if (step == nan_at) arena_.grads()[0] = NAN;
        return r;
    }
    double validate() override {
        if (rising_val) return ++val_calls_;
        double s = 0;
        for (int i = N_TRAIN; i < N_TRAIN + N_VAL; ++i) s += item_grad(i, 0, false);
        return s / N_VAL;
    }
    void write_model(const std::string& path) override { weights_write(path, arena_.to_weights("toy", {})); }
    double epoch(const data_cursor& c) const override { return c.epoch + static_cast<double>(c.position) / N_TRAIN; }

private:
    uint64_t seed_;
    param_arena arena_;
    int val_calls_ = 0;

    std::vector<int> order(int64_t epoch) const {
        std::vector<int> v(N_TRAIN);
        std::iota(v.begin(), v.end(), 0);
        rng(seed_, 1000 + static_cast<uint64_t>(epoch)).shuffle(v);
        return v;
    }
    double item_grad(int item, float jitter, bool accumulate) {
        const float *W1 = arena_.param("fc.weight"), *b1 = arena_.param("fc.bias"), *w2 = arena_.param("out.weight"),
                    *b2 = arena_.param("out.bias");
        float x[IN], h[HID];
        for (int k = 0; k < IN; ++k) x[k] = feature(item, k) + jitter;
        float f = b2[0];
        for (int j = 0; j < HID; ++j) {
            float s = b1[j];
            for (int k = 0; k < IN; ++k) s += W1[j * IN + k] * x[k];
            h[j] = std::tanh(s);
            f += w2[j] * h[j];
        }
        const float d = f - target(item);
        if (accumulate) {
            float *gW1 = arena_.grad("fc.weight"), *gb1 = arena_.grad("fc.bias"), *gw2 = arena_.grad("out.weight"),
                  *gb2 = arena_.grad("out.bias");
            gb2[0] += d;
            for (int j = 0; j < HID; ++j) {
                gw2[j] += d * h[j];
                const float ds = d * w2[j] * (1 - h[j] * h[j]);
                gb1[j] += ds;
                for (int k = 0; k < IN; ++k) gW1[j * IN + k] += ds * x[k];
            }
        }
        return 0.5 * d * d;
    }
};


trainer_options options(const fs::path& out) {
    trainer_options o;
    o.output = out.string();
    o.max_steps = 30;
    o.batch_size = 16;
    o.lr = 0.05;
    o.warmup_steps = 3;
    o.val_every = 5;
    o.checkpoint_every = 10;
    o.seed = 7;
    return o;
}

std::vector<float> params_of(toy_task& t) {
    return {t.arena().params(), t.arena().params() + t.arena().block_floats()};
}

// The log without the timing columns (rate, seconds differ between runs).
std::string log_without_timing(const std::string& path) {
    std::ifstream in(path);
    std::string line, out;
    while (std::getline(in, line)) {
        for (int k = 0; k < 2; ++k) line = line.substr(0, line.rfind('\t'));
        out += line + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("trainer: learns and writes model, state, log and plot", "[trainer]") {
    temp_dir d("trainer");
    toy_task t(3);
    const double val0 = t.validate();
    auto o = options(d.path / "toy.h5");
    train_summary s = run_training(t, o);
    CHECK(s.steps == 30);
    CHECK_FALSE(s.preempted);
    CHECK(s.best_val_loss < 0.5 * val0);
    for (const char* f : {"toy.h5", "toy.h5.state.h5", "toy.h5.train.tsv", "toy.h5.loss.svg"}) CHECK(fs::exists(d.path / f));
    const weights w = weights_read((d.path / "toy.h5").string());
    CHECK(w.arch == "toy");
    std::ifstream log((d.path / "toy.h5.train.tsv").string());
    std::string header;
    std::getline(log, header);
    CHECK(header == "step\tepoch\tloss\thalf_loss\tlr\tgrad_norm\tval_loss\titems_per_s\tseconds");
}

TEST_CASE("trainer: preempted or killed, then resumed, ends bit-identical", "[trainer]") {
    temp_dir d("trainer");
    toy_task ref(3);
    run_training(ref, options(d.path / "ref.h5"));
    const auto want = params_of(ref);

    SECTION("preemption (SIGUSR1 in step 17): state saved at 17, exit code path") {
        toy_task a(3);
        a.signal_at = 16;  // 0-based step index 16 = the 17th step
        train_summary s = run_training(a, options(d.path / "p.h5"));
        CHECK(s.preempted);
        CHECK(s.steps == 17);
        toy_task b(3);
        auto o = options(d.path / "p.h5");
        o.resume = true;
        s = run_training(b, o);
        CHECK(s.steps == 30);
        CHECK(params_of(b) == want);
        CHECK(log_without_timing((d.path / "p.h5.train.tsv").string()) ==
              log_without_timing((d.path / "ref.h5.train.tsv").string()));
    }
    SECTION("a kill in step 17 loses steps 11..17; resuming from step 10 redoes them identically") {
        toy_task a(3);
        a.fail_at = 16;
        CHECK_THROWS(run_training(a, options(d.path / "k.h5")));
        toy_task b(3);
        auto o = options(d.path / "k.h5");
        o.resume = true;
        run_training(b, o);
        CHECK(params_of(b) == want);
        CHECK(log_without_timing((d.path / "k.h5.train.tsv").string()) ==
              log_without_timing((d.path / "ref.h5.train.tsv").string()));
    }
}

TEST_CASE("trainer: resume refuses a missing or foreign state", "[trainer]") {
    temp_dir d("trainer");
    auto o = options(d.path / "x.h5");
    o.resume = true;
    toy_task t(3);
    CHECK_THROWS_WITH(run_training(t, o), Catch::Contains("x.h5.state.h5") && Catch::Contains("cannot resume"));
    o.resume = false;
    o.max_steps = 5;
    run_training(t, o);
    toy_task other(3);
    other.cfg = "hid=13";
    o.resume = true;
    CHECK_THROWS_WITH(run_training(other, o), Catch::Contains("x.h5.state.h5"));
}

TEST_CASE("trainer: early stop on patience, non-finite steps skipped", "[trainer]") {
    temp_dir d("trainer");
    toy_task t(3);
    t.rising_val = true;
    t.nan_at = 1;
    auto o = options(d.path / "e.h5");
    o.val_every = 1;
    o.patience = 2;
    train_summary s = run_training(t, o);
    CHECK(s.early_stopped);
    CHECK(s.steps == 3);  // best at step 1, no gain at 2 and 3
    CHECK(s.best_step == 1);
    CHECK(s.skipped_steps == 1);
    auto bad = options(d.path / "b.h5");
    bad.batch_size = 0;
    CHECK_THROWS_WITH(run_training(t, bad), Catch::Contains("--batch-size"));
}

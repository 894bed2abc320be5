// Parameter arena, AdamW, schedule, clipping (core/param_arena.hpp, core/optim.hpp).
// Tolerances: 10 AdamW steps against torch.optim.AdamW + clip_grad_norm_ (PyTorch 1.13,
// tests/data/core/training/adamw_refs.txt): parameters within 1e-6 relative (+1e-7 abs
// for values near 0), grad norms 1e-6 relative, learning rates 1e-6 relative. Frozen
// tensors and skipped steps: bit-identical.
#include "core/optim.hpp"
#include "random_inputs.hpp"
#include "training_refs.hpp"

#include <catch2/catch.hpp>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace tranova::core;

namespace {
const std::string kRefs = TRANOVA_TEST_DATA "/core/training/adamw_refs.txt";

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

param_arena small_arena() {
    param_arena a;
    a.add("wte", {5, 4});
    a.add("blk.0.ln_1.weight", {4});
    a.add("blk.0.ln_1.bias", {4});
    a.add("blk.0.mlp_fc.weight", {6, 4});
    a.add("blk.0.mlp_fc.bias", {6});
    a.add("head.weight", {3, 6});
    a.allocate();
    return a;
}
}  // namespace

TEST_CASE("param_arena: layout, lookup, grads, norm, weights mapping", "[core][optim]") {
    param_arena a;
    a.add("a", {3, 5});
    a.add("b", {});
    a.add("c", {0, 4});
    a.add("d", {40000});
    CHECK_THROWS_WITH(a.add("a", {1}), Catch::Contains("duplicate tensor 'a'"));
    CHECK_THROWS_WITH(a.add("x/y", {1}), Catch::Contains("invalid tensor name"));
    a.allocate();
    CHECK_THROWS(a.add("e", {1}));
    CHECK(a.parameter_count() == 15 + 1 + 0 + 40000);
    for (auto& t : a.tensors()) CHECK(t.offset % 16 == 0);
    CHECK(reinterpret_cast<uintptr_t>(a.params()) % 64 == 0);
    CHECK(a.grads() == a.params() + a.block_floats());
    CHECK(a.adam_v() == a.params() + 3 * a.block_floats());
    CHECK(a.param("d") == a.params() + a.tensor("d").offset);
    CHECK(a.grad("d") - a.grads() == a.param("d") - a.params());
    CHECK_THROWS_WITH(a.param("a", {5, 3}), Catch::Contains("'a' has shape [3, 5], expected [5, 3]"));
    CHECK_THROWS_WITH(a.tensor("zz"), Catch::Contains("no tensor 'zz'"));

    // grad norm: against a plain double sum; the same bits for 1 and 2 threads
    auto g = randv(a.block_floats(), 7, -2, 2);
    for (auto& t : a.tensors()) std::memcpy(a.grads() + t.offset, g.data() + t.offset, t.numel * sizeof(float));
    double want = 0;
    for (auto& t : a.tensors())
        for (size_t k = 0; k < t.numel; k++) want += (double)g[t.offset + k] * g[t.offset + k];
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const double n1 = a.grad_norm();
    omp_set_num_threads(2);
    const double n2 = a.grad_norm();
    omp_set_num_threads(threads);
    CHECK(n1 == n2);
    CHECK(n1 == Approx(std::sqrt(want)).epsilon(1e-12));
    a.zero_grads();
    CHECK(a.grad_norm() == 0.0);

    // weights <-> arena
    weights w;
    w.arch = "toy";
    auto x = randv(15, 1), y = randv(1, 2);
    w.add("a", {3, 5}, x.data());
    w.add("b", {}, y.data());
    param_arena b = param_arena::from_weights(w);
    CHECK(same_bits(b.param("a"), x.data(), 15));
    CHECK(*b.param("b") == y[0]);
    weights back = b.to_weights("toy", {{"n", int64_t(3)}});
    CHECK(back.arch == "toy");
    CHECK(same_bits(back.get("a", {3, 5}), x.data(), 15));
    weights wrong;
    wrong.add("a", {5, 3}, x.data());
    wrong.add("b", {}, y.data());
    CHECK_THROWS_WITH(b.load_params(wrong, "w.h5"), Catch::Contains("w.h5: tensor 'a' has shape [5, 3]"));
    weights extra = b.to_weights("toy", {});
    extra.add("z", {1}, y.data());
    CHECK_THROWS_WITH(b.load_params(extra, "w.h5"), Catch::Contains("unexpected tensor 'z'"));

    // the parameter block alone (inference): same layout, no training blocks
    param_arena p;
    p.add("a", {3, 5});
    p.add("b", {});
    p.allocate_params_only();
    CHECK(p.allocated());
    CHECK_FALSE(p.trainable());
    CHECK(b.trainable());
    CHECK(p.grads() == nullptr);
    CHECK(p.adam_m() == nullptr);
    CHECK(p.adam_v() == nullptr);
    CHECK(p.tensor("b").offset == b.tensor("b").offset);
    p.load_params(w, "w.h5");
    CHECK(same_bits(p.param("a"), x.data(), 15));
    p.zero_grads();  // nothing to zero
    CHECK_THROWS(p.allocate());
}

TEST_CASE("param_arena::release_param_pages gives whole pages back and keeps the rest", "[core][optim]") {
    param_arena p;
    p.add("small", {7});
    p.add("big", {300000});  // ~1.2 MB: many whole pages
    p.add("after", {5});
    p.allocate_params_only();
    float* P = p.params();
    const size_t big = p.tensor("big").offset, n = 300000;
    for (size_t i = 0; i < p.block_floats(); ++i) P[i] = 1.0f;
    const size_t released = p.release_param_pages(big, n);
    CHECK(released >= (n * sizeof(float)) - 2 * 4096 * 4);  // all but the partial end pages
    CHECK(released % 4096 == 0);
    CHECK(P[big + n / 2] == 0.0f);  // inside: returned to the OS, reads as zero
    // the neighbours (on partial pages) are untouched
    CHECK(p.param("small")[6] == 1.0f);
    CHECK(p.param("after")[0] == 1.0f);
    param_arena t;
    t.add("w", {10});
    t.allocate();
    CHECK_THROWS(t.release_param_pages(0, 10));  // training arenas keep their parameters
    CHECK_THROWS(p.release_param_pages(big, p.block_floats()));  // past the block
}

TEST_CASE("decay rule and learning-rate schedule", "[core][optim]") {
    decay_rule r;
    CHECK(r.decays("blk.0.mlp_fc.weight"));
    CHECK(r.decays("wte"));
    CHECK(r.decays("token_embd.weight"));
    CHECK_FALSE(r.decays("blk.0.mlp_fc.bias"));
    CHECK_FALSE(r.decays("blk.3.ln_2.weight"));
    CHECK_FALSE(r.decays("ln_f.weight"));
    CHECK_FALSE(r.decays("decoder.layer_ln.weight"));
    CHECK_FALSE(r.decays("enc.norm1.weight"));
    CHECK_FALSE(r.decays("attn.in_proj_bias"));
    r.exclude_embeddings = true;
    CHECK_FALSE(r.decays("wte"));
    CHECK_FALSE(r.decays("token_embd.weight"));
    r.exclude_biases = false;
    CHECK(r.decays("blk.0.mlp_fc.bias"));

    lr_schedule s{1e-3, 1e-4, 10, 110, lr_decay::cosine};
    CHECK(s.at(0) == Approx(1e-4));
    CHECK(s.at(9) == Approx(1e-3));
    CHECK(s.at(10) == Approx(1e-3));
    CHECK(s.at(60) == Approx(5.5e-4));   // half way: (max + min) / 2
    CHECK(s.at(110) == Approx(1e-4));
    CHECK(s.at(5000) == Approx(1e-4));
    s.decay = lr_decay::linear;
    CHECK(s.at(35) == Approx(1e-3 - 0.9e-3 * 0.25));
    s.decay = lr_decay::constant;
    CHECK(s.at(5000) == Approx(1e-3));
    lr_schedule no_warmup{2e-3, 0, 0, 100, lr_decay::cosine};
    CHECK(no_warmup.at(0) == Approx(2e-3));
    lr_schedule plain{3e-4};  // no total: constant after (no) warm-up, never 0
    CHECK(plain.at(0) == Approx(3e-4));
    CHECK(plain.at(100000) == Approx(3e-4));
}

TEST_CASE("AdamW matches torch.optim.AdamW with decay groups, freezing, clipping, schedule, skip", "[core][optim]") {
    auto refs = read_refs(kRefs);
    auto h = ref(refs, "hyper").values;  // lr_max lr_min warmup total wd clip scale beta1 beta2 eps
    param_arena a = small_arena();
    for (auto& t : a.tensors()) {
        auto init = ref(refs, "init." + t.name).f();
        std::memcpy(a.param(t.name), init.data(), t.numel * sizeof(float));
    }
    adamw_config cfg{0.9, 0.95, 1e-8, 0.1};
    // the reference's float32-printed hyper-parameters must be these
    CHECK((float)h[7] == (float)cfg.beta1);
    CHECK((float)h[8] == (float)cfg.beta2);
    CHECK((float)h[4] == (float)cfg.weight_decay);
    decay_rule rule;
    rule.exclude_embeddings = true;
    adamw opt(a, cfg, rule, {"head."});
    CHECK_FALSE(opt.decays(a.index("wte")));
    CHECK(opt.decays(a.index("blk.0.mlp_fc.weight")));
    CHECK(opt.frozen(a.index("head.weight")));
    lr_schedule sched{1e-2, 1e-3, 3, 10, lr_decay::cosine};
    const std::vector<float> head0(a.param("head.weight"), a.param("head.weight") + 18);
    for (int step = 0; step < 10; step++) {
        a.zero_grads();
        for (auto& t : a.tensors()) {
            auto g = ref(refs, "grad" + std::to_string(step) + "." + t.name).f();
            std::memcpy(a.grad(t.name), g.data(), t.numel * sizeof(float));
        }
        auto rep = ref(refs, "report" + std::to_string(step)).values;  // lr, norm, applied
        const std::vector<float> before(a.params(), a.params() + 4 * a.block_floats());
        step_report r = opt.step(sched.at(step), 0.5, 1.0);
        INFO("step " << step);
        CHECK(r.lr == Approx(rep[0]).epsilon(1e-6));
        CHECK(r.applied == (rep[2] != 0));
        if (r.applied) {
            CHECK(r.grad_norm == Approx(rep[1]).epsilon(1e-6));
        } else {
            CHECK_FALSE(std::isfinite(r.grad_norm));
            CHECK(same_bits(before.data(), a.params(), 4 * a.block_floats()));  // nothing moved
        }
        for (auto& t : a.tensors()) {
            auto want = ref(refs, "param" + std::to_string(step) + "." + t.name).f();
            const float* p = a.param(t.name);
            for (size_t k = 0; k < t.numel; k++) {
                INFO(t.name << "[" << k << "] " << p[k] << " vs " << want[k]);
                CHECK(std::fabs(p[k] - want[k]) <= 1e-6 * std::fabs(want[k]) + 1e-7);
            }
        }
    }
    CHECK(opt.updates() == 9);
    CHECK(opt.skipped() == 1);
    CHECK(same_bits(a.param("head.weight"), head0.data(), 18));
}

TEST_CASE("frozen tensors stay bit-identical; a NaN in a frozen gradient does not skip", "[core][optim]") {
    param_arena a = small_arena();
    auto init = randv(a.block_floats(), 3);
    for (auto& t : a.tensors()) std::memcpy(a.param(t.name), init.data() + t.offset, t.numel * sizeof(float));
    adamw opt(a, adamw_config{}, decay_rule{}, {"blk.0.ln_1", "wte"});
    CHECK_THROWS_WITH(adamw(a, adamw_config{}, decay_rule{}, {"nope."}), Catch::Contains("'nope.' matches no parameter"));
    auto frozen_copy = [&](const std::string& n) {
        const param_tensor& t = a.tensor(n);
        std::vector<float> v;
        for (const float* block : {a.params(), a.adam_m(), a.adam_v()})
            v.insert(v.end(), block + t.offset, block + t.offset + t.numel);
        return v;
    };
    const auto wte0 = frozen_copy("wte"), lnw0 = frozen_copy("blk.0.ln_1.weight"), lnb0 = frozen_copy("blk.0.ln_1.bias");
    const std::vector<float> fc0(a.param("blk.0.mlp_fc.weight"), a.param("blk.0.mlp_fc.weight") + 24);
    for (int step = 0; step < 5; step++) {
        a.zero_grads();
        auto g = randv(a.block_floats(), 100 + step, -5, 5);
        for (auto& t : a.tensors()) std::memcpy(a.grad(t.name), g.data() + t.offset, t.numel * sizeof(float));
        a.grad("wte")[3] = std::numeric_limits<float>::quiet_NaN();
        CHECK(opt.step(1e-2, 1.0, 0.5).applied);
    }
    CHECK(frozen_copy("wte") == wte0);
    CHECK(frozen_copy("blk.0.ln_1.weight") == lnw0);
    CHECK(frozen_copy("blk.0.ln_1.bias") == lnb0);
    CHECK_FALSE(same_bits(a.param("blk.0.mlp_fc.weight"), fc0.data(), 24));
    CHECK(opt.updates() == 5);
}

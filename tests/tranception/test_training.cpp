// Tranception training (src/tranception/train.hpp) against PyTorch autograd on the tiny
// fixture (tests/data/tranception/training, make_grad_refs.py; README there):
//   - loss of a ragged, padded batch: |loss - ref| <= 1e-5 ref;
//   - every parameter gradient, per tensor: max|g - ref| <= 1e-4 max|ref| (tensors whose
//     exact gradient is 0, the key-convolution biases, instead: max|g| <= 1e-6 max|ref| over
//     all tensors);
//   - central finite differences of the C++ loss at the largest-gradient entry of a few
//     tensors (float forward, h = 1e-2: |fd - g| <= 1e-5 + 1e-2 |g|);
//   - 100 core::adamw steps track PyTorch's loss curve: |loss_s - ref_s| <= 1e-3 ref_s each step;
// plus one source of truth (to_weights -> model_from_weights gives the inference model),
// recomputed attention giving the same bits, init and bad input.
#include "tranception/train.hpp"

#include "core/optim.hpp"
#include "tranception/model.hpp"

#include "npy.hpp"
#include "test_data.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>

using namespace tranova;
using namespace tranova::tranception;

namespace {
using tranception_test::data_dir;
const std::string ref_dir = data_dir + "/training";

trainable_model load_tiny() {
    return trainable_from_weights(model_weights_load(data_dir + "/models/tiny"), "tiny");
}

std::vector<int32_t> ints(const npy::array& a, size_t from = 0, size_t n = 0) {
    if (!n) n = a.size() - from;
    std::vector<int32_t> r(n);
    for (size_t i = 0; i < n; ++i) r[i] = int32_t(a.data[from + i]);
    return r;
}

struct ref_batch {
    std::vector<int32_t> ids, lengths;
    int B = 0, T = 0;
    train_batch view() const { return {B, T, ids.data(), lengths.data()}; }
};

ref_batch grad_batch() {
    auto ids = npy::load(ref_dir + "/grad_ids.npy");
    ref_batch b;
    b.B = int(ids.shape[0]), b.T = int(ids.shape[1]);
    b.ids = ints(ids);
    b.lengths = ints(npy::load(ref_dir + "/grad_lengths.npy"));
    return b;
}

float loss_only(const trainable_model& m, const ref_batch& b) {
    train_activations a;
    return train_forward(m, b.view(), a).loss;
}
// At each named tensor's largest accumulated gradient entry: the central difference of
// loss() (h = 1e-2) against that gradient, within 1e-5 + 1e-2 relative.
void check_largest_gradients(trainable_model& m, std::initializer_list<const char*> names,
                             const std::function<double()>& loss) {
    for (const char* name : names) {
        const auto& t = m.arena.tensor(name);
        const float* g = m.arena.grads() + t.offset;
        size_t best = 0;
        for (size_t i = 1; i < t.numel; ++i)
            if (std::abs(g[i]) > std::abs(g[best])) best = i;
        float* p = m.arena.params() + t.offset + best;
        const float p0 = *p, h = 1e-2f;
        *p = p0 + h;
        const double up = loss();
        *p = p0 - h;
        const double down = loss();
        *p = p0;
        const double fd = (up - down) / (2.0 * double(h));
        INFO(name << "[" << best << "]: analytic " << g[best] << ", finite difference " << fd);
        CHECK(std::abs(fd - g[best]) <= 1e-5 + 1e-2 * std::abs(g[best]));
    }
}
}  // namespace

TEST_CASE("trainable Tranception: the arena is the weight file (one source of truth)", "[tranception][training]") {
    const auto w = model_weights_load(data_dir + "/models/tiny");
    trainable_model m = trainable_from_weights(w, "tiny");
    CHECK(m.arena.tensors().size() + 1 == w.entries().size());  // all but alibi_slopes
    CHECK(m.cfg.n_layer == 2);
    const model inf = model_from_weights(w, "tiny");
    const model back = model_from_weights(trainable_to_weights(m), "arena");
    const std::vector<int> ids = {1, 5, 9, 12, 20, 7, 7, 14, 2};
    CHECK(model_logits(back, ids) == model_logits(inf, ids));  // same parameters, same bits

    // The training forward's logits (plain BLAS linears) agree with inference (packed panels).
    std::vector<int32_t> ids32(ids.begin(), ids.end()), len = {int32_t(ids.size())};
    train_activations a;
    train_forward(m, {1, int(ids.size()), ids32.data(), len.data()}, a);
    const auto want = model_logits(inf, ids);
    double md = 0, mx = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        md = std::max(md, std::abs(double(a.logits[i]) - want[i]));
        mx = std::max(mx, std::abs(double(want[i])));
    }
    INFO("max |train - inference| / max |logit| = " << md / mx);
    CHECK(md / mx <= 1e-5);
}

TEST_CASE("Tranception loss and every gradient equal PyTorch autograd", "[tranception][training]") {
    trainable_model m = load_tiny();
    const ref_batch b = grad_batch();
    train_activations a;
    const train_result r = train_forward(m, b.view(), a);
    const double want_loss = npy::load(ref_dir + "/grad_loss.npy").data[0];
    INFO("loss " << r.loss << " want " << want_loss);
    CHECK(std::abs(r.loss - want_loss) <= 1e-5 * want_loss);
    int tokens = 0;
    for (int x : b.lengths) tokens += x - 1;
    CHECK(r.tokens == tokens);

    m.arena.zero_grads();
    train_backward(m, a);
    const auto ref = npy::load(ref_dir + "/grads.npy");
    std::ifstream man(ref_dir + "/grads_manifest.txt");
    REQUIRE(man);
    double gmax = 0;
    for (double v : ref.data) gmax = std::max(gmax, std::abs(v));
    size_t pos = 0, n_checked = 0;
    double worst = 0;
    std::string worst_name;
    for (const auto& t : m.arena.tensors()) {
        std::string line, name;
        size_t numel = 0;
        REQUIRE(std::getline(man, line));
        std::istringstream(line) >> name >> numel;
        REQUIRE(name == t.name);
        REQUIRE(numel == t.numel);
        const float* g = m.arena.grads() + t.offset;
        double md = 0, mx = 0, mg = 0;
        for (size_t i = 0; i < numel; ++i) {
            md = std::max(md, std::abs(double(g[i]) - ref.data[pos + i]));
            mx = std::max(mx, std::abs(ref.data[pos + i]));
            mg = std::max(mg, std::abs(double(g[i])));
        }
        pos += numel;
        INFO(t.name << ": max|diff| " << md << ", max|ref| " << mx << ", max|g| " << mg);
        if (mx < 1e-6 * gmax) {  // exact gradient 0 (key biases): both sides are rounding noise
            CHECK(mg <= 1e-6 * gmax);
        } else {
            CHECK(md <= 1e-4 * mx);
            if (md / mx > worst) worst = md / mx, worst_name = t.name;
            ++n_checked;
        }
    }
    CHECK(pos == ref.size());
    CHECK(n_checked >= m.arena.tensors().size() - 6);
    WARN("gradient parity: worst per-tensor max|diff|/max|ref| = " << worst << " (" << worst_name << "), loss rel "
                                                                   << std::abs(r.loss - want_loss) / want_loss);
}

TEST_CASE("Tranception backward: recomputed attention, accumulation, padding", "[tranception][training]") {
    trainable_model m = load_tiny();
    const ref_batch b = grad_batch();
    train_activations a;
    const train_result r = train_forward(m, b.view(), a);
    m.arena.zero_grads();
    train_backward(m, a);
    SECTION("recomputed attention probabilities give the same bits") {
        std::vector<float> g1(m.arena.grads(), m.arena.grads() + m.arena.block_floats());
        train_activations rc;
        rc.recompute_attention = true;
        const float loss2 = train_forward(m, b.view(), rc).loss;
        CHECK(loss2 == r.loss);
        CHECK(rc.floats() < a.floats());
        m.arena.zero_grads();
        train_backward(m, rc);
        CHECK(std::equal(g1.begin(), g1.end(), m.arena.grads()));
    }
    SECTION("backward accumulates, scaled by dloss") {
        std::vector<float> g1(m.arena.grads(), m.arena.grads() + m.arena.block_floats());
        train_backward(m, a, 0.5f);
        size_t bad = 0;
        for (size_t i = 0; i < g1.size(); ++i)
            bad += std::abs(m.arena.grads()[i] - 1.5f * g1[i]) > 1e-6f * (1 + std::abs(g1[i]));
        CHECK(bad == 0);
    }
    SECTION("padding does not leak: a padded row gives the logits of its sequence alone") {
        const int T = b.T, n = b.lengths[1];  // item 1 is the shortest
        REQUIRE(n < T);
        train_activations one;
        train_forward(m, {1, n, b.ids.data() + T, &b.lengths[1]}, one);
        double md = 0, mx = 0;
        for (size_t i = 0; i < size_t(n) * m.cfg.vocab; ++i) {
            md = std::max(md, std::abs(double(a.logits[size_t(T) * m.cfg.vocab + i]) - one.logits[i]));
            mx = std::max(mx, std::abs(double(one.logits[i])));
        }
        INFO("max |padded - alone| / max |logit| = " << md / mx);
        CHECK(md / mx <= 1e-6);
    }
}

TEST_CASE("Tranception gradients match central finite differences of the C++ loss", "[tranception][training]") {
    trainable_model m = load_tiny();
    const ref_batch b = grad_batch();
    train_activations a;
    train_forward(m, b.view(), a);
    m.arena.zero_grads();
    train_backward(m, a);
    check_largest_gradients(m,
                            {"token_embd.weight", "blk.0.attn_qkv.weight", "blk.0.attn_conv_q_k5.weight",
                             "blk.1.attn_conv_v_k7.bias", "blk.1.mlp_fc.weight", "blk.1.ln_2.weight", "ln_f.bias"},
                            [&] { return loss_only(m, b); });
}

TEST_CASE("Tranception dropout: a fixed mask's gradients match finite differences; p = 0 is off",
          "[tranception][training]") {
    trainable_model m = load_tiny();
    const ref_batch b = grad_batch();
    train_activations off, zero, on;
    const float loss_off = train_forward(m, b.view(), off).loss;
    zero.dropout = 0.0f, zero.dropout_seed = 99;
    CHECK(train_forward(m, b.view(), zero).loss == loss_off);
    on.dropout = 0.1f, on.dropout_seed = 99;
    const float loss_on = train_forward(m, b.view(), on).loss;
    CHECK(loss_on != loss_off);
    m.arena.zero_grads();
    train_backward(m, on);
    // The same seed gives the same masks: the loss as a function of the parameters is
    // smooth, and its gradient is what the backward accumulated.
    auto loss_with_mask = [&] {
        train_activations a;
        a.dropout = 0.1f, a.dropout_seed = 99;
        return double(train_forward(m, b.view(), a).loss);
    };
    CHECK(loss_with_mask() == double(loss_on));
    check_largest_gradients(m, {"token_embd.weight", "blk.0.attn_qkv.weight", "blk.0.attn_out.weight",
                             "blk.1.mlp_proj.weight", "blk.1.ln_1.bias", "ln_f.weight"}, loss_with_mask);
}

TEST_CASE("100 AdamW steps track PyTorch's loss curve", "[tranception][training]") {
    trainable_model m = load_tiny();
    const auto ids = npy::load(ref_dir + "/adamw_ids.npy");
    const auto lengths = npy::load(ref_dir + "/adamw_lengths.npy");
    const auto want = npy::load(ref_dir + "/adamw_losses.npy");
    const int S = int(ids.shape[0]), B = int(ids.shape[1]), T = int(ids.shape[2]);
    REQUIRE(S == 100);
    core::adamw_config cfg;
    cfg.beta1 = 0.9, cfg.beta2 = 0.999, cfg.eps = 1e-8, cfg.weight_decay = 0.01;
    core::adamw opt(m.arena, cfg);  // default decay rule: no decay on biases and LayerNorm
    train_activations a;
    double worst = 0;
    int worst_step = 0;
    for (int s = 0; s < S; ++s) {
        const auto bid = ints(ids, size_t(s) * B * T, size_t(B) * T);
        const auto blen = ints(lengths, size_t(s) * B, B);
        const float loss = train_forward(m, {B, T, bid.data(), blen.data()}, a).loss;
        const double rel = std::abs(loss - want.data[s]) / want.data[s];
        if (rel > worst) worst = rel, worst_step = s;
        INFO("step " << s << ": loss " << loss << ", PyTorch " << want.data[s]);
        CHECK(rel <= 1e-3);
        m.arena.zero_grads();
        train_backward(m, a);
        REQUIRE(opt.step(1e-3).applied);
    }
    CHECK(want.data[S - 1] < 0.5 * want.data[0]);  // the curve is a real descent, not a flat line
    WARN("AdamW parity: worst relative loss difference " << worst << " at step " << worst_step << " (loss "
                                                       << want.data[0] << " -> " << want.data[S - 1] << ")");
}

TEST_CASE("Tranception init and bad training input", "[tranception][training]") {
    const model_config cfg = load_tiny().cfg;
    trainable_model a = trainable_create(cfg, {{"n_layer", int64_t(2)}});
    trainable_model b = trainable_create(cfg, {});
    trainable_init(a, 7);
    trainable_init(b, 7);
    REQUIRE(std::equal(a.arena.params(), a.arena.params() + a.arena.block_floats(), b.arena.params()));
    auto stats = [&](const std::string& n) {
        const auto& t = a.arena.tensor(n);
        const float* p = a.arena.params() + t.offset;
        double s = 0, s2 = 0, mx = 0;
        for (size_t i = 0; i < t.numel; ++i) s += p[i], s2 += double(p[i]) * p[i], mx = std::max(mx, std::abs(double(p[i])));
        return std::array<double, 3>{s / t.numel, std::sqrt(s2 / t.numel), mx};
    };
    CHECK(std::abs(stats("blk.0.mlp_fc.weight")[1] - 0.02) < 0.001);
    CHECK(std::abs(stats("blk.1.mlp_proj.weight")[1] - 0.01) < 0.0005);  // 0.02 / sqrt(2 * 2)
    CHECK(stats("blk.0.ln_1.weight")[0] == 1.0);
    CHECK(stats("blk.0.attn_qkv.bias")[2] == 0.0);
    CHECK(stats("blk.0.attn_conv_k_k3.weight")[2] <= 1 / std::sqrt(3.0));
    CHECK(stats("blk.0.attn_conv_k_k3.weight")[2] > 0.5);
    CHECK(stats("blk.1.attn_conv_v_k7.bias")[2] <= 1 / std::sqrt(7.0));
    CHECK(stats("blk.1.attn_conv_v_k7.bias")[2] > 0.2);

    std::vector<int32_t> ids = {1, 5, 6, 2, 3}, len = {4};
    train_activations act;
    CHECK(std::isfinite(train_forward(a, {1, 5, ids.data(), len.data()}, act).loss));
    len = {0};
    CHECK_THROWS_WITH(train_forward(a, {1, 5, ids.data(), len.data()}, act), Catch::Contains("length 0 outside [1, 5]"));
    len = {4}, ids[2] = 25;
    CHECK_THROWS_WITH(train_forward(a, {1, 5, ids.data(), len.data()}, act),
                      Catch::Contains("position 2: token id 25 outside [0, 25)"));

    core::weights w = trainable_to_weights(load_tiny());
    w.add("extra.weight", {2}, std::vector<float>{1, 2}.data());
    CHECK_THROWS_WITH(trainable_from_weights(w, "x.h5"), Catch::Contains("x.h5: unexpected tensor 'extra.weight'"));
}

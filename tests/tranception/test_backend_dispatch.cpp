// Tranception runs every op through core::backend (issue 14): a backend that forwards to
// the CPU backend and counts its calls sees each op of the inference forward, the
// training forward and the backward the number of times the network has it, and gives the
// CPU backend's bits; a backend lacking an op is refused by use_backend with a line
// naming the op.
#include "core/backend.hpp"
#include "tranception/model.hpp"
#include "tranception/train.hpp"

#include "test_data.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <string>
#include <vector>

using namespace tranova;
using namespace tranova::tranception;
using core::op_kind;

namespace {
using tranception_test::data_dir;

constexpr int n_ops = int(op_kind::ctc_loss) + 1;

// Forwards every op to the CPU backend and counts it (atomically: some calls come from
// OpenMP tasks). `missing` is reported unsupported.
class counting_backend final : public core::backend {
public:
    explicit counting_backend(int missing = -1) : missing_(missing) {
        for (auto& c : calls) c = 0;
    }
    std::array<std::atomic<int>, n_ops> calls;
    int count(op_kind op) const { return calls[int(op)]; }

    std::string name() const override { return "counting"; }
    bool supports(op_kind op) const override { return int(op) != missing_; }
    float* alloc(size_t n) override { return cpu().alloc(n); }
    void free(float* p) override { cpu().free(p); }
    void upload(float* d, const float* s, size_t n) override { cpu().upload(d, s, n); }
    void download(float* d, const float* s, size_t n) override { cpu().download(d, s, n); }

    void layernorm(float* o, const float* i, const float* w, const float* b, int N, int C, float e) override {
        hit(op_kind::layernorm), cpu().layernorm(o, i, w, b, N, C, e);
    }
    void gemm(float* c, const float* a, const float* b, int M, int N, int K, bool ta, bool tb, float al, float be,
              int lda, int ldb, int ldc) override {
        hit(op_kind::gemm), cpu().gemm(c, a, b, M, N, K, ta, tb, al, be, lda, ldb, ldc);
    }
    void linear(float* o, const float* i, const float* w, const float* b, int N, int IC, int OC) override {
        hit(op_kind::linear), cpu().linear(o, i, w, b, N, IC, OC);
    }
    void activation(core::activation_kind k, float* o, const float* i, size_t n) override {
        hit(op_kind::activation), cpu().activation(k, o, i, n);
    }
    void add(float* o, const float* a, const float* b, size_t n) override { hit(op_kind::add), cpu().add(o, a, b, n); }
    void softmax(float* o, const float* i, int N, int C) override { hit(op_kind::softmax), cpu().softmax(o, i, N, C); }
    void log_softmax(float* o, const float* i, int N, int C) override {
        hit(op_kind::log_softmax), cpu().log_softmax(o, i, N, C);
    }
    void embedding(float* o, const int32_t* ids, const float* t, int N, int C, int V) override {
        hit(op_kind::embedding), cpu().embedding(o, ids, t, N, C, V);
    }
    void conv1d_causal_depthwise(float* o, const float* i, const float* w, const float* b,
                                 const core::conv1d_shape& s) override {
        hit(op_kind::conv1d), cpu().conv1d_causal_depthwise(o, i, w, b, s);
    }
    void attention(float* o, float* p, const float* q, const float* k, const float* v, const core::attention_shape& s,
                   float* scratch) override {
        hit(op_kind::attention), cpu().attention(o, p, q, k, v, s, scratch);
    }
    void dropout(float* o, const float* i, size_t n, float p, uint64_t seed, uint64_t off) override {
        hit(op_kind::dropout), cpu().dropout(o, i, n, p, seed, off);
    }
    void linear_packed(float* o, const float* i, const core::packed_linear& w, const float* b, int N,
                       core::linear_epilogue e) override {
        hit(op_kind::linear_packed), cpu().linear_packed(o, i, w, b, N, e);
    }
    void layernorm_train(float* o, float* m, float* r, const float* i, const float* w, const float* b, int N, int C,
                         float e) override {
        hit(op_kind::layernorm_train), cpu().layernorm_train(o, m, r, i, w, b, N, C, e);
    }
    void embedding_backward(float* dt, const float* d, const int32_t* ids, int N, int C, int V) override {
        hit(op_kind::embedding_backward), cpu().embedding_backward(dt, d, ids, N, C, V);
    }
    void layernorm_backward(float* di, float* dw, float* db, const float* d, const float* i, const float* w,
                            const float* m, const float* r, int N, int C) override {
        hit(op_kind::layernorm_backward), cpu().layernorm_backward(di, dw, db, d, i, w, m, r, N, C);
    }
    void linear_backward(float* di, float* dw, float* db, const float* d, const float* i, const float* w, int N,
                         int IC, int OC) override {
        hit(op_kind::linear_backward), cpu().linear_backward(di, dw, db, d, i, w, N, IC, OC);
    }
    void activation_backward(core::activation_kind k, float* di, const float* d, const float* i, size_t n) override {
        hit(op_kind::activation_backward), cpu().activation_backward(k, di, d, i, n);
    }
    void conv1d_causal_depthwise_backward(float* di, float* dw, float* db, const float* d, const float* i,
                                          const float* w, const core::conv1d_shape& s) override {
        hit(op_kind::conv1d_backward), cpu().conv1d_causal_depthwise_backward(di, dw, db, d, i, w, s);
    }
    void attention_backward(float* dq, float* dk, float* dv, const float* d, const float* q, const float* k,
                            const float* v, const float* p, const core::attention_shape& s, float* sc) override {
        hit(op_kind::attention_backward), cpu().attention_backward(dq, dk, dv, d, q, k, v, p, s, sc);
    }
    void dropout_backward(float* di, const float* d, size_t n, float p, uint64_t seed, uint64_t off) override {
        hit(op_kind::dropout_backward), cpu().dropout_backward(di, d, n, p, seed, off);
    }
    float cross_entropy(float* dl, const float* l, const int32_t* t, int N, int V, int ig, float ls,
                        float dloss) override {
        hit(op_kind::cross_entropy);
        return cpu().cross_entropy(dl, l, t, N, V, ig, ls, dloss);
    }

private:
    static core::backend& cpu() { return core::cpu_backend(); }
    void hit(op_kind op) { ++calls[int(op)]; }
    int missing_;
};

}  // namespace

TEST_CASE("Tranception inference runs every op through its backend", "[tranception][backend]") {
    model m = model_load(data_dir + "/models/tiny/model.safetensors");
    const int L = m.cfg.n_layer;
    const std::vector<int> ids = {0, 5, 9, 14, 6, 7, 20, 11, 4, 2};
    const std::vector<float> want = model_logits(m, ids);  // the CPU backend
    counting_backend be;
    use_backend(m, be);
    const std::vector<float> got = model_logits(m, ids);
    CHECK(got == want);  // same ops, same bits
    const int T = int(ids.size());
    CHECK(be.count(op_kind::embedding) == 1);
    CHECK(be.count(op_kind::add) == T);  // the token-type row, once per row
    CHECK(be.count(op_kind::layernorm) == 2 * L + 1);
    CHECK(be.count(op_kind::linear_packed) == 4 * L + 1);
    CHECK(be.count(op_kind::conv1d) == 9 * L);
    CHECK(be.count(op_kind::attention) == L);
    CHECK(be.count(op_kind::log_softmax) == 1);
    CHECK(be.count(op_kind::linear) == 0);
    CHECK(be.count(op_kind::gemm) == 0);
}

TEST_CASE("Tranception training runs every op through its backend", "[tranception][backend][training]") {
    trainable_model m = trainable_from_weights(model_weights_load(data_dir + "/models/tiny"), "tiny");
    const int L = m.cfg.n_layer, B = 2, T = 9;
    const std::vector<int32_t> ids = {0, 5, 9, 14, 6, 7, 20, 11, 2, /**/ 0, 8, 8, 13, 2, 3, 3, 3, 3};
    const std::vector<int32_t> lengths = {9, 5};
    const train_batch batch{B, T, ids.data(), lengths.data()};
    auto run = [&](train_activations& a) {
        m.arena.zero_grads();
        const float loss = train_forward(m, batch, a).loss;
        train_backward(m, a);
        return std::make_pair(loss, std::vector<float>(m.arena.grads(), m.arena.grads() + m.arena.block_floats()));
    };
    train_activations a_cpu, a_counted;
    a_cpu.dropout = a_counted.dropout = 0.1f;  // the dropout ops too
    a_cpu.dropout_seed = a_counted.dropout_seed = 7;
    const auto want = run(a_cpu);
    counting_backend be;
    use_backend(m, be);
    const auto got = run(a_counted);
    CHECK(got.first == want.first);
    CHECK(got.second == want.second);
    // forward
    CHECK(be.count(op_kind::embedding) == 1);
    CHECK(be.count(op_kind::layernorm_train) == 2 * L + 1);
    CHECK(be.count(op_kind::linear) == 4 * L + 1);
    CHECK(be.count(op_kind::activation) == L);
    CHECK(be.count(op_kind::conv1d) == 9 * L);  // the batch at once
    CHECK(be.count(op_kind::attention) == L);
    CHECK(be.count(op_kind::dropout) == 2 * L + 1);
    CHECK(be.count(op_kind::cross_entropy) == 2);  // loss, then its gradient
    // backward
    CHECK(be.count(op_kind::linear_backward) == 4 * L + 1);
    CHECK(be.count(op_kind::activation_backward) == L);
    CHECK(be.count(op_kind::layernorm_backward) == 2 * L + 1);
    CHECK(be.count(op_kind::attention_backward) == L);
    CHECK(be.count(op_kind::conv1d_backward) == 9 * L);
    CHECK(be.count(op_kind::dropout_backward) == 2 * L + 1);
    CHECK(be.count(op_kind::embedding_backward) == 2);  // the ids, and row 0 (token type)
    CHECK(be.count(op_kind::linear_packed) == 0);
    CHECK(be.count(op_kind::gemm) == 0);
}

TEST_CASE("a backend lacking an op is refused up front, naming it", "[tranception][backend]") {
    model m = model_load(data_dir + "/models/tiny/model.safetensors");
    counting_backend no_attention(int(op_kind::attention));
    CHECK_THROWS_WITH(use_backend(m, no_attention),
                      "Tranception inference needs the op attention, which backend counting does not support");
    CHECK(m.be == &core::cpu_backend());  // unchanged
    trainable_model t = trainable_from_weights(model_weights_load(data_dir + "/models/tiny"), "tiny");
    counting_backend no_conv_backward(int(op_kind::conv1d_backward));
    CHECK_THROWS_WITH(use_backend(t, no_conv_backward), Catch::Contains("conv1d_backward"));
    CHECK(t.be == &core::cpu_backend());
}

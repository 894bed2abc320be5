// Encoder / decoder forwards against the Casanovo and PrimeNovo fixtures (1e-5 relative,
// floor 1 for values near 0; encoder memory compared on unmasked rows only).
#include "test_util.hpp"
#include "denovo_model/ctc.hpp"
#include "denovo_model/forward.hpp"

#include <memory>

using namespace tranova::denovo_model;
namespace core = tranova::core;

namespace {

constexpr double tol = 1e-5;  // relative, with floor 1 (|a-b| <= 1e-5 * max(|b|, 1))

struct batch {
    std::vector<float> spectra, precursors;
    std::vector<int64_t> lengths;
    int B = 0, N = 0;
};

batch load_batch(const std::string& P) {
    batch b;
    auto s = dm_npy(P + "_spectra");
    b.B = int(s.shape[0]);
    b.N = int(s.shape[1]);
    b.spectra = s.f32();
    b.precursors = dm_npy(P + "_precursors").f32();
    b.lengths = dm_npy(P + "_spectra_lengths").i64();
    return b;
}

void check_close(const float* a, const float* b, size_t n, const char* what) {
    auto st = compare(a, b, n, 1.0);
    INFO(what << ": max rel diff " << st.max_rel << " at " << st.worst << " (" << a[st.worst] << " vs " << b[st.worst]
              << ")");
    CHECK(st.max_rel <= tol);
}

}  // namespace

TEST_CASE("sinusoidal encoders match depthcharge", "[denovo_model][model]") {
    for (std::string P : {"casanovo", "casanovo_trained", "primenovo", "primenovo_trained"}) {
        INFO(P);
        auto m = dm_fixture_model(P);
        const int d = m.cfg.dim_model;
        auto probe = dm_npy(P + "_mz_probe").f32();
        auto want = dm_npy(P + "_mz_encoder_probe").f32();
        std::vector<float> got(probe.size() * size_t(d));
        core::sinusoidal_forward(got.data(), probe.data(), int(probe.size()), m.mz_enc.sin_term, m.mz_enc.n_sin,
                                 m.mz_enc.cos_term, m.mz_enc.n_cos);
        // high-frequency features depend on the last ulp of sinf: absolute 1e-5 is the check
        CHECK(compare(got.data(), want.data(), got.size(), 1.0).max_abs <= 1e-5);
        auto pos = dm_npy(P + "_pos_encoder_zeros").f32();
        int L = int(pos.size()) / d;
        std::vector<float> idx(static_cast<size_t>(L)), pe(pos.size());
        for (int i = 0; i < L; ++i) idx[size_t(i)] = float(i);
        const float_encoder& pen = m.has_ar() ? m.ar_pos : m.nar_pos;
        core::sinusoidal_forward(pe.data(), idx.data(), L, pen.sin_term, pen.n_sin, pen.cos_term, pen.n_cos);
        check_close(pe.data(), pos.data(), pe.size(), "positional encoding");
        auto b = load_batch(P);
        auto menc = dm_npy(P + "_precursor_mass_encoding").f32();
        const float_encoder& me = m.has_ar() ? m.ar_mass : m.nar_mass;
        std::vector<float> got_m(size_t(b.B) * d);
        for (int i = 0; i < b.B; ++i)
            core::sinusoidal_forward(got_m.data() + size_t(i) * d, &b.precursors[size_t(i) * 3], 1, me.sin_term,
                                     me.n_sin, me.cos_term, me.n_cos);
        CHECK(compare(got_m.data(), menc.data(), got_m.size(), 1.0).max_abs <= 1e-5);
    }
}

TEST_CASE("spectrum encoder matches Casanovo/PrimeNovo", "[denovo_model][model]") {
    for (std::string P : {"casanovo", "casanovo_trained", "primenovo", "primenovo_trained"}) {
        INFO(P);
        auto m = dm_fixture_model(P);
        const int d = m.cfg.dim_model;
        auto b = load_batch(P);
        auto want = dm_npy(P + "_encoder_memory").f32();
        auto want_mask = dm_npy(P + "_encoder_mask").i64();
        bool has_peak = P.find("trained") != std::string::npos;
        std::vector<float> peak_want;
        if (has_peak) peak_want = dm_npy(P + "_peak_encoder_out").f32();
        for (int i = 0; i < b.B; ++i) {
            INFO("spectrum " << i);
            const float* sp = b.spectra.data() + size_t(i) * b.N * 2;
            if (has_peak) {
                std::vector<float> pk(size_t(b.N) * d);
                peak_encoder_forward(m, sp, b.N, pk.data());
                CHECK(compare(pk.data(), peak_want.data() + size_t(i) * b.N * d, pk.size(), 1.0).max_abs <= 1e-5);
            }
            std::vector<float> mem(size_t(b.N + 1) * d);
            std::unique_ptr<bool[]> mask(new bool[size_t(b.N + 1)]);
            encoder_forward(m, sp, b.N, mem.data(), mask.get());
            for (int r = 0; r <= b.N; ++r) CHECK(mask[size_t(r)] == bool(want_mask[size_t(i) * (b.N + 1) + size_t(r)]));
            int valid = int(b.lengths[size_t(i)]) + 1;  // latent + peaks; padded rows are zero upstream
            check_close(mem.data(), want.data() + size_t(i) * (b.N + 1) * d, size_t(valid) * d, "encoder memory");
        }
    }
}

TEST_CASE("Casanovo decoder teacher-forced logits", "[denovo_model][model]") {
    for (std::string P : {"casanovo", "casanovo_trained"}) {
        INFO(P);
        auto m = dm_fixture_model(P);
        const int d = m.cfg.dim_model, V = m.ar_vocab;
        auto b = load_batch(P);
        auto tf = dm_npy(P + "_tf_logits");
        auto want = tf.f32();
        auto toks = dm_npy(P + "_tf_tokens").i64();
        const int S = int(tf.shape[1]);  // 21 = precursor + 20 tokens
        for (int i = 0; i < b.B; ++i) {
            INFO("spectrum " << i);
            std::vector<float> mem(size_t(b.N + 1) * d);
            std::unique_ptr<bool[]> mask(new bool[size_t(b.N + 1)]);
            encoder_forward(m, b.spectra.data() + size_t(i) * b.N * 2, b.N, mem.data(), mask.get());
            ar_memory am;
            ar_prepare_memory(m, mem.data(), mask.get(), b.N + 1, am);
            ar_cache c;
            ar_cache_init(m, c, S);
            std::vector<int> seq(size_t(S), 0);
            int len = 0;
            for (int j = 0; j < S - 1; ++j) {
                seq[size_t(j + 1)] = int(toks[size_t(i) * (S - 1) + size_t(j)]);
                if (seq[size_t(j + 1)] != 0) len = j + 1;
            }
            std::vector<float> logits(size_t(S) * V);
            ar_feed(m, am, c, b.precursors[size_t(i) * 3], int(b.precursors[size_t(i) * 3 + 1]), seq.data(), S, nullptr,
                    logits.data());
            // rows 0..len are real positions; later rows are padding queries (also compared)
            check_close(logits.data(), want.data() + size_t(i) * S * V, size_t(len + 1) * V, "tf logits");
            check_close(logits.data(), want.data() + size_t(i) * S * V, size_t(S) * V, "tf logits incl. padding");
        }
    }
}

TEST_CASE("PrimeNovo NAR decoder logits", "[denovo_model][model]") {
    for (std::string P : {"primenovo", "primenovo_trained"}) {
        INFO(P);
        auto m = dm_fixture_model(P);
        const int d = m.cfg.dim_model, V = m.nar_vocab, T = m.cfg.nar_length, L = m.cfg.n_nar_layers;
        auto b = load_batch(P);
        auto want = dm_npy(P + "_logits").f32();
        auto want_layers = dm_npy(P + "_layer_logits").f32();
        for (int i = 0; i < b.B; ++i) {
            INFO("spectrum " << i);
            std::vector<float> mem(size_t(b.N + 1) * d);
            std::unique_ptr<bool[]> mask(new bool[size_t(b.N + 1)]);
            encoder_forward(m, b.spectra.data() + size_t(i) * b.N * 2, b.N, mem.data(), mask.get());
            std::vector<float> logits(size_t(T) * V), layers(size_t(L) * T * V);
            nar_forward(m, mem.data(), mask.get(), b.N + 1, b.precursors[size_t(i) * 3],
                        int(b.precursors[size_t(i) * 3 + 1]), logits.data(), nullptr, layers.data());
            check_close(logits.data(), want.data() + size_t(i) * T * V, logits.size(), "logits");
            for (int l = 0; l < L; ++l)
                check_close(layers.data() + size_t(l) * T * V, want_layers.data() + (size_t(l) * b.B + size_t(i)) * T * V,
                            size_t(T) * V, "layer logits");
        }
    }
}

TEST_CASE("training losses from our logits match the reference", "[denovo_model][model][loss]") {
    // Casanovo: CrossEntropyLoss(ignore_index 0) on the teacher-forced logits (last row dropped),
    // train with label smoothing 0.01; PrimeNovo: CTCLoss(blank 27, mean over target length,
    // then batch) on the last layer. Tolerance 1e-5 relative.
    struct want_t { const char* p; double train, valid; };
    for (want_t w : {want_t{"casanovo", 3.361360788345337, 3.359473705291748},
                     want_t{"casanovo_trained", 0.0938410609960556, 0.011266164481639862}}) {
        INFO(w.p);
        auto tf = dm_npy(std::string(w.p) + "_tf_logits");
        auto logits = tf.f32();
        auto toks = dm_npy(std::string(w.p) + "_tf_tokens").i64();
        const int B = int(tf.shape[0]), S = int(tf.shape[1]), V = int(tf.shape[2]);
        double train = 0, valid = 0;
        int count = 0;
        for (int b = 0; b < B; ++b)
            for (int j = 0; j < S - 1; ++j) {
                int t = int(toks[size_t(b) * (S - 1) + size_t(j)]);
                if (t == 0) continue;
                const float* r = logits.data() + (size_t(b) * S + size_t(j)) * V;
                double mx = *std::max_element(r, r + V), sum = 0, mean_nll = 0;
                for (int v = 0; v < V; ++v) sum += std::exp(double(r[v]) - mx);
                double lse = mx + std::log(sum);
                for (int v = 0; v < V; ++v) mean_nll += (lse - r[v]) / V;
                valid += lse - r[t];
                train += 0.99 * (lse - r[t]) + 0.01 * mean_nll;
                ++count;
            }
        CHECK(valid / count == Approx(w.valid).epsilon(1e-5));
        CHECK(train / count == Approx(w.train).epsilon(1e-5));
    }
    auto toks = dm_npy("casanovo_trained_tf_tokens").i64();  // same 8 peptides, reversed, AR ids
    for (auto [p, want] : {std::pair<const char*, double>{"primenovo", 9.571734428405762},
                           std::pair<const char*, double>{"primenovo_trained", 0.4444654881954193}}) {
        INFO(p);
        auto lp = dm_npy(std::string(p) + "_ctc_log_probs").f32();
        double total = 0;
        for (int b = 0; b < 8; ++b) {
            std::vector<int> target;
            for (int j = 0; j < 20; ++j) {
                int t = int(toks[size_t(b) * 20 + size_t(j)]);
                if (t >= 1 && t <= 27) target.push_back(t - 1);
            }
            double l = ctc_loss(lp.data() + size_t(b) * 40 * 28, 40, 28, target, 27);
            total += std::isinf(l) ? 0.0 : l / double(target.size());
        }
        CHECK(total / 8 == Approx(want).epsilon(1e-5));
    }
}

TEST_CASE("ar_feed_batch equals feeding each beam alone", "[denovo_model][model]") {
    // random model (d 32, 2 layers); 3 beams over 2 memories, different prefix lengths
    denovo_model m = model_from_weights(random_weights(model_arch::casanovo, 32, 4, 64, 2, 5));
    const int d = 32, V = m.ar_vocab, Tk = 7;
    std::vector<float> mem1(size_t(Tk) * d), mem2(size_t(Tk) * d);
    for (size_t i = 0; i < mem1.size(); ++i) {
        mem1[i] = std::sin(0.37f * float(i));
        mem2[i] = std::cos(0.11f * float(i));
    }
    bool mask[Tk] = {false, false, false, false, false, true, true};
    ar_memory am1, am2;
    ar_prepare_memory(m, mem1.data(), mask, Tk, am1);
    ar_prepare_memory(m, mem2.data(), mask, Tk, am2);
    std::vector<std::vector<int>> toks = {{0, 5, 9, 13}, {0, 2}, {0, 7, 7}};
    const ar_memory* mems[3] = {&am1, &am1, &am2};
    // reference: one beam at a time, one position at a time
    std::vector<std::vector<float>> want(3);
    for (int b = 0; b < 3; ++b) {
        ar_cache c;
        ar_cache_init(m, c, 8);
        for (size_t j = 0; j < toks[size_t(b)].size(); ++j) {
            std::vector<float> lg(static_cast<size_t>(V));
            ar_feed(m, *mems[b], c, 1000.0f + 100.0f * float(b), 2, &toks[size_t(b)][j], 1, lg.data(), nullptr);
            want[size_t(b)].insert(want[size_t(b)].end(), lg.begin(), lg.end());
        }
    }
    // batched: all positions of all beams in one call
    std::vector<ar_cache> caches(3);
    std::vector<std::vector<float>> got(3);
    std::vector<ar_feed_item> items;
    for (int b = 0; b < 3; ++b) {
        ar_cache_init(m, caches[size_t(b)], 8);
        got[size_t(b)].resize(toks[size_t(b)].size() * size_t(V));
        ar_feed_item it;
        it.mem = mems[b];
        it.cache = &caches[size_t(b)];
        it.mass = 1000.0f + 100.0f * float(b);
        it.charge = 2;
        it.tokens = toks[size_t(b)].data();
        it.n = int(toks[size_t(b)].size());
        it.all_logits = got[size_t(b)].data();
        items.push_back(it);
    }
    ar_feed_batch(m, items);
    for (int b = 0; b < 3; ++b) {
        INFO("beam " << b);
        CHECK(caches[size_t(b)].len == int(toks[size_t(b)].size()));
        CHECK(compare(got[size_t(b)].data(), want[size_t(b)].data(), got[size_t(b)].size(), 1.0).max_rel <= 1e-5);
    }
}

TEST_CASE("one forward: the inference layout equals the training layout, batched equals alone",
          "[denovo_model][model]") {
    // random CrossNovo (d 32, 4 heads, 2 layers per stack); 3 spectra of 5, 9 and 2 peaks
    denovo_model m = model_from_weights(random_weights(model_arch::crossnovo, 32, 4, 64, 2, 9));
    const int d = 32, T = m.cfg.nar_length, V = m.nar_vocab;
    const std::vector<int> n = {5, 9, 2};
    std::vector<std::vector<float>> peaks(3);
    for (int b = 0; b < 3; ++b)
        for (int i = 0; i < n[size_t(b)]; ++i) {
            peaks[size_t(b)].push_back(150.0f + 97.3f * float(i) + 11.0f * float(b));
            peaks[size_t(b)].push_back(0.1f + 0.05f * float((i * 7 + b) % 9));
        }
    std::vector<const float*> ptrs = {peaks[0].data(), peaks[1].data(), peaks[2].data()};
    encoded_batch eb;
    encode_batch(m, ptrs, n, eb);
    REQUIRE(eb.Tk == 10);
    // keep = true (training) over the same padded batch: the same bits on unmasked rows
    std::vector<float> padded(size_t(3) * 9 * 2, 0.0f);
    for (int b = 0; b < 3; ++b) std::copy(peaks[size_t(b)].begin(), peaks[size_t(b)].end(), padded.begin() + b * 18);
    stack_acts train;
    encoder_forward_batch(m, train, padded.data(), 3, 9, true);
    for (size_t r = 0; r < eb.valid.size(); ++r)
        if (eb.valid[r])
            for (int c = 0; c < d; ++c) CHECK(eb.memory[r * d + size_t(c)] == train.out()[r * d + size_t(c)]);
    // each spectrum alone (encoder_forward, nar_forward) vs its row block of the batch
    const float mass[3] = {1000.5f, 1500.25f, 800.0f};
    const int charge[3] = {2, 3, 1};
    std::vector<float> logits(size_t(3) * T * V), feats(size_t(3) * T * d);
    nar_forward_encoded(m, eb, mass, charge, logits.data(), feats.data());
    for (int b = 0; b < 3; ++b) {
        INFO("spectrum " << b);
        const int rows = n[size_t(b)] + 1;
        std::vector<float> mem(size_t(rows) * d);
        std::unique_ptr<bool[]> mask(new bool[size_t(rows)]);
        encoder_forward(m, peaks[size_t(b)].data(), n[size_t(b)], mem.data(), mask.get());
        CHECK(compare(eb.memory.data() + size_t(b) * eb.Tk * d, mem.data(), mem.size(), 1.0).max_rel <= 1e-5);
        std::vector<float> lg(size_t(T) * V), ft(size_t(T) * d), layer_lg(size_t(2) * T * V);
        nar_forward(m, mem.data(), mask.get(), rows, mass[b], charge[b], lg.data(), ft.data(), layer_lg.data());
        CHECK(compare(logits.data() + size_t(b) * T * V, lg.data(), lg.size(), 1.0).max_rel <= 1e-5);
        CHECK(compare(feats.data() + size_t(b) * T * d, ft.data(), ft.size(), 1.0).max_rel <= 1e-5);
        CHECK(compare(layer_lg.data() + size_t(T) * V, lg.data(), lg.size(), 1.0).max_rel == 0.0);  // last layer
    }
}

TEST_CASE("packed inference linears give the unpacked model's outputs", "[denovo_model][model]") {
    // random CrossNovo (d 32, ff 64, 2 layers per stack), twice: one packed for inference
    const weight_file wf = random_weights(model_arch::crossnovo, 32, 4, 64, 2, 9);
    denovo_model plain = model_from_weights(wf), packed = model_from_weights(wf);
    pack_for_inference(packed);
    if (!core::cpu_has_avx512()) {  // nothing to pack for: the model stays as it was
        CHECK(packed.packed.empty());
        return;
    }
    REQUIRE(packed.packed.size() == 6);
    CHECK(packed.enc_layers[1].packed == &packed.packed[1]);
    CHECK(plain.enc_layers[1].packed == nullptr);
    const int d = 32, T = packed.cfg.nar_length, V = packed.nar_vocab;
    // 40 peaks: the encoder's products have >= 32 rows (the plain path's AVX-512 kernel too)
    const std::vector<int> n = {40, 7};
    std::vector<std::vector<float>> peaks(2);
    for (int b = 0; b < 2; ++b)
        for (int i = 0; i < n[size_t(b)]; ++i) {
            peaks[size_t(b)].push_back(120.0f + 31.7f * float(i) + 5.0f * float(b));
            peaks[size_t(b)].push_back(0.1f + 0.05f * float((i * 7 + b) % 9));
        }
    std::vector<const float*> ptrs = {peaks[0].data(), peaks[1].data()};
    encoded_batch e_plain, e_packed;
    encode_batch(plain, ptrs, n, e_plain);
    encode_batch(packed, ptrs, n, e_packed);
    CHECK(compare(e_packed.memory.data(), e_plain.memory.data(), e_plain.memory.size(), 1.0).max_rel <= 1e-5);
    const float mass[2] = {1000.5f, 1500.25f};
    const int charge[2] = {2, 3};
    std::vector<float> lg_plain(size_t(2) * T * V), lg_packed(lg_plain.size()), ft_plain(size_t(2) * T * d),
        ft_packed(ft_plain.size());
    nar_forward_encoded(plain, e_plain, mass, charge, lg_plain.data(), ft_plain.data());
    nar_forward_encoded(packed, e_packed, mass, charge, lg_packed.data(), ft_packed.data());
    CHECK(compare(lg_packed.data(), lg_plain.data(), lg_plain.size(), 1.0).max_rel <= 1e-5);
    CHECK(compare(ft_packed.data(), ft_plain.data(), ft_plain.size(), 1.0).max_rel <= 1e-5);
    // incremental AR decoding over the hybrid memory of spectrum 0 (products of a few rows)
    const int rows = n[0] + 1;
    std::vector<float> logits[2];
    for (int k = 0; k < 2; ++k) {
        const denovo_model& m = k == 0 ? plain : packed;
        const encoded_batch& e = k == 0 ? e_plain : e_packed;
        const std::vector<float>& ft = k == 0 ? ft_plain : ft_packed;
        std::unique_ptr<bool[]> mask(new bool[size_t(rows)]);
        for (int r = 0; r < rows; ++r) mask[size_t(r)] = e.valid[size_t(r)] == 0;
        std::vector<float> hm;
        std::vector<unsigned char> hmask;
        hybrid_memory(m, ft.data(), e.memory.data(), mask.get(), rows, hm, hmask);
        ar_memory mem;
        ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), T + rows, mem);
        ar_cache c;
        ar_cache_init(m, c, 8);
        const int toks[4] = {0, 3, 9, 14};
        logits[k].resize(size_t(4) * m.ar_vocab);
        std::vector<float> last(size_t(m.ar_vocab));
        ar_feed(m, mem, c, mass[0], charge[0], toks, 4, last.data(), logits[k].data());
    }
    CHECK(compare(logits[1].data(), logits[0].data(), logits[0].size(), 1.0).max_rel <= 1e-5);
}

TEST_CASE("a backend lacking an op the model needs is refused up front", "[denovo_model][model]") {
    struct no_attention : core::backend {
        std::string name() const override { return "test"; }
        bool supports(core::op_kind op) const override { return op != core::op_kind::attention; }
        float* alloc(size_t) override { return nullptr; }
        void free(float*) override {}
        void upload(float*, const float*, size_t) override {}
        void download(float*, const float*, size_t) override {}
        void layernorm(float*, const float*, const float*, const float*, int, int, float) override {}
        void gemm(float*, const float*, const float*, int, int, int, bool, bool, float, float, int, int, int) override {}
        void linear(float*, const float*, const float*, const float*, int, int, int) override {}
        void activation(core::activation_kind, float*, const float*, size_t) override {}
        void add(float*, const float*, const float*, size_t) override {}
        void softmax(float*, const float*, int, int) override {}
        void log_softmax(float*, const float*, int, int) override {}
    } be;
    denovo_model m = model_from_weights(random_weights(model_arch::primenovo, 32, 4, 64, 1, 9));
    CHECK(m.be == &core::cpu_backend());
    CHECK_THROWS_WITH(use_backend(m, be), Catch::Contains("PrimeNovo needs the op attention"));
    CHECK(m.be == &core::cpu_backend());  // unchanged
}

TEST_CASE("the model's residue table is Casanovo v4's config.yaml MassIVE-KB table", "[denovo_model][model]") {
    // Casanovo v4 / PrimeNovo config.yaml residues, in order (the table the fixtures were
    // trained with); massivekb_residues() reads it from denovo::vocabulary::massivekb().
    const std::vector<std::string> tokens = {"G", "A", "S", "P", "V", "T", "C+57.021", "L", "I", "N", "D", "Q", "K",
                                             "E", "M", "H", "F", "R", "Y", "W", "M+15.995", "N+0.984", "Q+0.984",
                                             "+42.011", "+43.006", "-17.027", "+43.006-17.027"};
    const std::vector<double> masses = {57.021464,  71.037114,  87.032028,  97.052764,  99.068414,  101.047670,
                                        160.030649, 113.084064, 113.084064, 114.042927, 115.026943, 128.058578,
                                        128.094963, 129.042593, 131.040485, 137.058912, 147.068414, 156.101111,
                                        163.063329, 186.079313, 147.035400, 115.026943, 129.042594, 42.010565,
                                        43.005814,  -17.026549, 25.980265};
    const auto r = tranova::denovo_model::massivekb_residues();
    CHECK(r.tokens == tokens);
    CHECK(r.masses == masses);
}

#include "tranception/model.hpp"

#include "core/checkpoint.hpp"
#include "core/convert.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"
#include "util/threads.hpp"

#include <omp.h>

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

namespace tranova::tranception {

// ---------------------------------------------------------------------------------------
// ALiBi slopes (official get_slopes, grouped mode)

static std::vector<double> standard_slopes(int n) {
    auto pow2 = [](int k) {
        double start = std::pow(2.0, -std::pow(2.0, -(std::log2(double(k)) - 3)));
        std::vector<double> r(k);
        for (int i = 0; i < k; ++i) r[i] = start * std::pow(start, i);
        return r;
    };
    double l = std::log2(double(n));
    if (l == std::floor(l)) return pow2(n);
    int c = 1 << int(std::floor(l));
    auto r = pow2(c);
    auto extra = standard_slopes(2 * c);
    for (int i = 0; i < n - c; ++i) r.push_back(extra[2 * i]);
    return r;
}

std::vector<float> grouped_alibi_slopes(int n_head) {
    TRANOVA_CHECK(n_head % 4 == 0 && n_head >= 4, "grouped ALiBi needs n_head divisible by 4 (got {})", n_head);
    auto base = standard_slopes(n_head / 4);
    std::vector<float> out;
    for (int g = 0; g < 4; ++g)
        for (double s : base) out.push_back(static_cast<float>(s));
    return out;
}

// ---------------------------------------------------------------------------------------
// Loading

model model_from_weights(const core::weights& w, const std::string& src) {
    TRANOVA_CHECK(w.arch == "tranception", "{}: weight file holds arch '{}', expected 'tranception' "
                  "(convert the checkpoint with --arch tranception)", src, w.arch);
    model m;
    auto& c = m.cfg;
    c.n_layer = int(w.config_int("n_layer"));
    c.n_embd = int(w.config_int("n_embd"));
    c.n_head = int(w.config_int("n_head"));
    c.n_inner = int(w.config_int_or("n_inner", 4 * c.n_embd));
    c.vocab = int(w.config_int_or("vocab_size", 25));
    c.n_ctx = int(w.config_int_or("n_ctx", w.config_int_or("n_positions", 1024)));
    c.ln_eps = float(w.config_double_or("layer_norm_epsilon", 1e-5));
    m.random_weights = w.config_int_or("tranova_random_weights", 0) != 0;
    const int d = c.n_embd, H = c.n_head, hd = d / H, ni = c.n_inner, V = c.vocab;
    TRANOVA_CHECK(V == 25, "{}: vocab_size is {}, Tranception uses 25", src, V);
    TRANOVA_CHECK(d > 0 && H > 0 && d % H == 0 && H % 4 == 0 && c.n_layer > 0 && ni > 0 && c.n_ctx > 2,
                  "{}: unsupported Tranception shape (n_embd {}, n_head {}, n_layer {})", src, d, H, c.n_layer);
    auto vec = [&](const std::string& name, std::vector<int64_t> shape) {
        const float* p = w.get(name, shape);
        size_t n = 1;
        for (auto x : shape) n *= size_t(x);
        return std::vector<float>(p, p + n);
    };
    // [out, in] in the file -> [in, out] here.
    auto lin = [&](const std::string& name, int in, int out) {
        const float* p = w.get(name, {out, in});
        std::vector<float> t(size_t(in) * out);
        for (int o = 0; o < out; ++o)
            for (int i = 0; i < in; ++i) t[size_t(i) * out + o] = p[size_t(o) * in + i];
        return t;
    };
    m.wte = vec("token_embd.weight", {V, d});
    m.lnf_w = vec("ln_f.weight", {d});
    m.lnf_b = vec("ln_f.bias", {d});
    m.slopes = vec("alibi_slopes", {H});
    auto formula = grouped_alibi_slopes(H);
    for (int h = 0; h < H; ++h)
        TRANOVA_CHECK(m.slopes[h] == formula[h], "{}: ALiBi slope of head {} is {}, grouped_alibi gives {}", src, h,
                      m.slopes[h], formula[h]);
    m.layers.resize(c.n_layer);
    const char* qkv[3] = {"q", "k", "v"};
    for (int l = 0; l < c.n_layer; ++l) {
        auto& L = m.layers[l];
        std::string p = fmt::format("blk.{}.", l);
        L.ln1_w = vec(p + "ln_1.weight", {d});
        L.ln1_b = vec(p + "ln_1.bias", {d});
        L.ln2_w = vec(p + "ln_2.weight", {d});
        L.ln2_b = vec(p + "ln_2.bias", {d});
        L.attn_w = lin(p + "attn_qkv.weight", d, 3 * d);
        L.attn_b = vec(p + "attn_qkv.bias", {3 * d});
        L.proj_w = lin(p + "attn_out.weight", d, d);
        L.proj_b = vec(p + "attn_out.bias", {d});
        for (int q = 0; q < 3; ++q)
            for (int g = 0; g < 3; ++g) {
                int k = 2 * g + 3;
                std::string n = fmt::format("{}attn_conv_{}_k{}.", p, qkv[q], k);
                L.conv_w[q][g] = vec(n + "weight", {hd, k});
                L.conv_b[q][g] = vec(n + "bias", {hd});
            }
        L.fc_w = lin(p + "mlp_fc.weight", d, ni);
        L.fc_b = vec(p + "mlp_fc.bias", {ni});
        L.fc2_w = lin(p + "mlp_proj.weight", ni, d);
        L.fc2_b = vec(p + "mlp_proj.bias", {d});
    }
    return m;
}

model model_load(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    TRANOVA_CHECK(fs::exists(path, ec), "{}: model not found", path);
    bool is_h5 = false;
    if (fs::is_regular_file(path, ec)) {
        std::ifstream f(path, std::ios::binary);
        char sig[8] = {};
        f.read(sig, 8);
        is_h5 = std::memcmp(sig, "\x89HDF\r\n\x1a\n", 8) == 0;
    }
    if (is_h5) return model_from_weights(core::weights_read(path), path);
    fs::path dir = fs::is_directory(path, ec) ? fs::path(path) : fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    fs::path cfg = dir / "config.json";
    TRANOVA_CHECK(fs::exists(cfg, ec), "{}: not a tranova weight file, and no config.json beside it for a checkpoint",
                  path);
    core::checkpoint ck = core::checkpoint_read(path);
    std::vector<std::string> notes;
    core::weights w = core::convert_tranception(ck, core::json_parse_file(cfg.string()), notes);
    return model_from_weights(w, path);
}

// ---------------------------------------------------------------------------------------
// Forward

namespace {

// out[R, d] = layernorm(x[R, d]) * w + b
void layernorm_rows(float* out, const float* x, const float* w, const float* b, int R, int d, float eps) {
    for (int r = 0; r < R; ++r) {
        const float* xr = x + size_t(r) * d;
        float* o = out + size_t(r) * d;
        double mean = 0;
        for (int i = 0; i < d; ++i) mean += xr[i];
        mean /= d;
        double var = 0;
        for (int i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
        var /= d;
        float m = float(mean), rs = float(1.0 / std::sqrt(var + eps));
        for (int i = 0; i < d; ++i) o[i] = (xr[i] - m) * rs * w[i] + b[i];
    }
}

// out[R, N] = x[R, K] . W[K, N] + bias[N]   (beta_acc: accumulate into out instead)
void linear_rows(float* out, const float* x, const float* W, const float* bias, int R, int K, int N, bool accumulate) {
    if (R == 0) return;
    if (!accumulate) {
        for (int r = 0; r < R; ++r) std::memcpy(out + size_t(r) * N, bias, sizeof(float) * N);
    } else {
        for (int r = 0; r < R; ++r) {
            float* o = out + size_t(r) * N;
            for (int i = 0; i < N; ++i) o[i] += bias[i];
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, N, K, 1.0f, x, K, W, N, 1.0f, out, N);
}

// exp(x) for x <= 0 in a loop the compiler vectorises (Cephes expf polynomial, <= 2 ulp;
// inputs below -87 give ~0 instead of a denormal).
inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return p * scale;
}

// One attention row: s[j] = s[j] / scale_div + slope * j for j < n (the causal part),
// softmax over it, zeros for j in [n, T).
void softmax_alibi_row(float* s, int n, int T, float scale_div, float slope) {
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < n; ++j) {
        float v = s[j] / scale_div + slope * float(j);
        s[j] = v;
        mx = v > mx ? v : mx;
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; ++j) {
        float e = exp_nonpos(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n; ++j) s[j] *= inv;
    if (n < T) std::memset(s + n, 0, sizeof(float) * (T - n));
}

}  // namespace

void model_forward(const model& m, const prefix_cache* cache, const std::vector<batch_item>& items,
                   std::vector<float>& logprobs_out, workspace& ws, prefix_cache* fill,
                   std::vector<float>* raw_logits) {
    const auto& c = m.cfg;
    const int d = c.n_embd, H = c.n_head, hd = d / H, G = H / 4, ni = c.n_inner, V = c.vocab, d3 = 3 * d;
    const int B = static_cast<int>(items.size());
    std::vector<int> row0(B + 1, 0);
    int maxT = 0;
    for (int b = 0; b < B; ++b) {
        const auto& it = items[b];
        TRANOVA_CHECK(it.T >= 1 && it.T <= c.n_ctx, "sequence of {} tokens exceeds the model context of {}", it.T,
                      c.n_ctx);
        TRANOVA_CHECK(it.start >= 0 && it.start < it.T, "bad start position {} for {} tokens", it.start, it.T);
        TRANOVA_CHECK(it.start == 0 || (cache && cache->T >= it.start), "start position {} needs a prefix cache",
                      it.start);
        row0[b + 1] = row0[b] + (it.T - it.start);
        maxT = std::max(maxT, it.T);
    }
    const int R = row0[B];
    if (fill) {
        TRANOVA_CHECK(B == 1 && items[0].start == 0, "a prefix cache is filled from one full sequence");
        fill->T = items[0].T;
        fill->ids.assign(items[0].ids, items[0].ids + items[0].T);
        fill->qkv_pre.assign(size_t(c.n_layer) * fill->T * d3, 0.f);
        fill->kv_post.assign(size_t(c.n_layer) * fill->T * 2 * d, 0.f);
    }
    ws.h.resize(size_t(R) * d);
    ws.a.resize(size_t(R) * d);
    ws.qkv.resize(size_t(R) * d3);
    ws.qkv_c.resize(size_t(R) * d3);
    ws.att.resize(size_t(R) * d);
    ws.fc.resize(size_t(R) * ni);
    ws.logits.resize(size_t(R) * V);

    // Embedding (+ the token-type row 0, spec §1.4).
    for (int b = 0; b < B; ++b)
        for (int t = items[b].start; t < items[b].T; ++t) {
            int id = items[b].ids[t];
            TRANOVA_CHECK(id >= 0 && id < V, "token id {} out of range", id);
            float* h = &ws.h[size_t(row0[b] + t - items[b].start) * d];
            const float* e = &m.wte[size_t(id) * d];
            if (m.token_type_quirk) {
                const float* e0 = &m.wte[0];
                for (int i = 0; i < d; ++i) h[i] = e[i] + e0[i];
            } else {
                std::memcpy(h, e, sizeof(float) * d);
            }
        }

    const float scale_div = std::sqrt(float(hd));  // official: scores / sqrt(head_dim)
    for (int l = 0; l < c.n_layer; ++l) {
        const auto& L = m.layers[l];
        layernorm_rows(ws.a.data(), ws.h.data(), L.ln1_w.data(), L.ln1_b.data(), R, d, c.ln_eps);
        linear_rows(ws.qkv.data(), ws.a.data(), L.attn_w.data(), L.attn_b.data(), R, d, d3, false);
        const float* cache_pre = cache ? &cache->qkv_pre[size_t(l) * cache->T * d3] : nullptr;
        const float* cache_kv = cache ? &cache->kv_post[size_t(l) * cache->T * 2 * d] : nullptr;
        if (fill) std::memcpy(&fill->qkv_pre[size_t(l) * fill->T * d3], ws.qkv.data(), sizeof(float) * R * d3);

        // Causal depthwise convolutions (spec §2.3 step 4); head group 0 is copied.
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; ++b) {
            const auto& it = items[b];
            auto pre = [&](int u) -> const float* {  // pre-conv qkv row of position u
                return u < it.start ? cache_pre + size_t(u) * d3 : &ws.qkv[size_t(row0[b] + u - it.start) * d3];
            };
            for (int t = it.start; t < it.T; ++t) {
                float* out = &ws.qkv_c[size_t(row0[b] + t - it.start) * d3];
                const float* cur = pre(t);
                for (int cc = 0; cc < 3; ++cc) std::memcpy(out + cc * d, cur + cc * d, sizeof(float) * G * hd);
                for (int g = 1; g < 4; ++g) {
                    int k = 2 * g + 1;
                    for (int cc = 0; cc < 3; ++cc) {
                        const float* w = L.conv_w[cc][g - 1].data();
                        const float* bias = L.conv_b[cc][g - 1].data();
                        for (int hh = g * G; hh < (g + 1) * G; ++hh) {
                            int off = cc * d + hh * hd;
                            float* o = out + off;
                            for (int f = 0; f < hd; ++f) o[f] = bias[f];
                            for (int mm = 0; mm < k; ++mm) {
                                int u = t - (k - 1) + mm;
                                if (u < 0) continue;
                                const float* x = pre(u) + off;
                                for (int f = 0; f < hd; ++f) o[f] += w[f * k + mm] * x[f];
                            }
                        }
                    }
                }
            }
        }
        if (fill) {
            float* kv = &fill->kv_post[size_t(l) * fill->T * 2 * d];
            for (int t = 0; t < R; ++t) std::memcpy(kv + size_t(t) * 2 * d, &ws.qkv_c[size_t(t) * d3 + d], sizeof(float) * 2 * d);
        }

        // Attention with ALiBi (+slope * key index); masked keys contribute exactly 0.
        // Per (item, head): scores = Q . K^T over cached keys [0, start) and new keys
        // [start, T) (two GEMMs on strided views), row-wise masked softmax, then P . V.
        // Our threads split the heads; BLAS runs single-threaded inside (its own
        // threads would only spin here).
        const bool outer = !omp_in_parallel() && get_threads() > 1 && B * H > 1;
        const int blas_threads = openblas_get_num_threads ? openblas_get_num_threads() : 1;
        if (outer && blas_threads > 1 && openblas_set_num_threads) openblas_set_num_threads(1);
#pragma omp parallel if (outer)
        {
            std::vector<float> sc;
#pragma omp for schedule(dynamic) collapse(2)
            for (int b = 0; b < B; ++b)
                for (int hh = 0; hh < H; ++hh) {
                    const auto& it = items[b];
                    const int s0 = it.start, T = it.T, nr = T - s0;
                    const float slope = m.slopes[hh];
                    sc.resize(size_t(nr) * T);
                    const float* Q = &ws.qkv_c[size_t(row0[b]) * d3 + hh * hd];
                    const float* Kb = Q + d;
                    const float* Vb = Q + 2 * d;
                    float* O = &ws.att[size_t(row0[b]) * d + hh * hd];
                    if (s0 > 0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, s0, hd, 1.0f, Q, d3,
                                    cache_kv + hh * hd, 2 * d, 0.0f, sc.data(), T);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nr, hd, 1.0f, Q, d3, Kb, d3, 0.0f,
                                sc.data() + s0, T);
                    for (int r = 0; r < nr; ++r) {
                        const int t = s0 + r;
                        softmax_alibi_row(&sc[size_t(r) * T], t + 1, T, scale_div, slope);
                    }
                    if (s0 > 0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, s0, 1.0f, sc.data(), T,
                                    cache_kv + d + hh * hd, 2 * d, 0.0f, O, d);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, nr, 1.0f, sc.data() + s0, T, Vb,
                                d3, s0 > 0 ? 1.0f : 0.0f, O, d);
                }
        }
        if (outer && blas_threads > 1 && openblas_set_num_threads) openblas_set_num_threads(blas_threads);
        linear_rows(ws.h.data(), ws.att.data(), L.proj_w.data(), L.proj_b.data(), R, d, d, true);

        layernorm_rows(ws.a.data(), ws.h.data(), L.ln2_w.data(), L.ln2_b.data(), R, d, c.ln_eps);
        linear_rows(ws.fc.data(), ws.a.data(), L.fc_w.data(), L.fc_b.data(), R, d, ni, false);
        for (size_t i = 0; i < size_t(R) * ni; ++i) {
            float r = std::fmax(ws.fc[i], 0.f);
            ws.fc[i] = r * r;
        }
        linear_rows(ws.h.data(), ws.fc.data(), L.fc2_w.data(), L.fc2_b.data(), R, ni, d, true);
    }
    layernorm_rows(ws.a.data(), ws.h.data(), m.lnf_w.data(), m.lnf_b.data(), R, d, c.ln_eps);
    if (R > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, V, d, 1.0f, ws.a.data(), d, m.wte.data(), d, 0.0f,
                    ws.logits.data(), V);
    if (raw_logits) raw_logits->assign(ws.logits.begin(), ws.logits.begin() + size_t(R) * V);
    logprobs_out.resize(size_t(R) * V);
    for (int r = 0; r < R; ++r) {
        const float* x = &ws.logits[size_t(r) * V];
        float* o = &logprobs_out[size_t(r) * V];
        float mx = *std::max_element(x, x + V);
        double s = 0;
        for (int k = 0; k < V; ++k) s += std::exp(double(x[k]) - mx);
        float ls = float(std::log(s));
        for (int k = 0; k < V; ++k) o[k] = (x[k] - mx) - ls;
    }
    if (fill) fill->logprobs = logprobs_out;
}

std::vector<float> model_logits(const model& m, const std::vector<int>& ids) {
    workspace ws;
    std::vector<float> lp, logits;
    model_forward(m, nullptr, {batch_item{ids.data(), int(ids.size()), 0}}, lp, ws, nullptr, &logits);
    return logits;
}

prefix_cache model_prefix(const model& m, const std::vector<int>& ids, workspace& ws) {
    prefix_cache pc;
    std::vector<float> lp;
    model_forward(m, nullptr, {batch_item{ids.data(), int(ids.size()), 0}}, lp, ws, &pc);
    return pc;
}

}  // namespace tranova::tranception


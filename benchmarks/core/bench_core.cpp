// Core benchmarks: SGEMM peak (measured here, the baseline), model-shaped GEMMs and
// attention in GFLOP/s as a fraction of that peak, a Small-shaped (12 x 768, 12 heads,
// 3072 inner) pre-LN transformer forward in tokens/s with the share of time and the rate
// inside its GEMMs, and the load time of an 85 M-parameter weight file.
// The packed AVX-512 linear kernel (core/linear.hpp) is timed against BLAS linear_forward in
// the same run (ratio), with the fraction of the AVX-512 FMA peak measured here too.
// Every timed op is first validated against its naive twin on a small shape.
// Usage: bench_core [--toy] [--tokens N] [--no-load] [--peak-only]
//   --peak-only: print only the two peaks as `sgemm_peak_gflops X` / `fma_peak_gflops Y`
//   lines (used by benchmarks/tranception/bench_score.py for its fraction of peak).
#include "core/linear.hpp"
#include "core/ops.hpp"
#include "core/ops_backward.hpp"
#include "core/weights.hpp"
#include "util/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

using namespace tranova;
using namespace tranova::core;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

template <class F>
double median_time(int reps, F&& f) {
    std::vector<double> t;
    f();  // warm-up
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f();
        t.push_back(now() - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

std::vector<float> randv(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

float maxdiff(const std::vector<float>& a, const std::vector<float>& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); i++) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

bool validate() {
    bool ok = true;
    {
        int M = 37, N = 45, K = 67;
        auto a = randv((size_t)M * K, 1), b = randv((size_t)N * K, 2), bias = randv(N, 3);
        std::vector<float> c0((size_t)M * N), c1(c0.size());
        linear_forward(c0.data(), a.data(), b.data(), bias.data(), M, K, N);
        linear_forward_naive(c1.data(), a.data(), b.data(), bias.data(), M, K, N);
        ok &= maxdiff(c0, c1) < 1e-4f;
    }
    {
        attention_shape s = attention_shape_contiguous(2, 70, 70, 3, 16);
        s.causal = true;
        float slopes[3] = {0.25f, 0.0625f, 0.5f};
        s.alibi_slopes = slopes;
        auto q = randv(2 * 70 * 48, 4), k = randv(2 * 70 * 48, 5), v = randv(2 * 70 * 48, 6);
        std::vector<float> o0(q.size()), o1(q.size()), scratch(attention_scratch_floats(s));
        attention_forward(o0.data(), nullptr, q.data(), k.data(), v.data(), s, scratch.data());
        attention_forward_naive(o1.data(), nullptr, q.data(), k.data(), v.data(), s);
        ok &= maxdiff(o0, o1) < 2e-5f;
    }
    std::printf("validation against naive twins: %s\n", ok ? "ok" : "FAILED");
    return ok;
}

double sgemm_peak(int n, int reps) {
    auto a = randv((size_t)n * n, 1), b = randv((size_t)n * n, 2);
    std::vector<float> c((size_t)n * n);
    double t = median_time(reps, [&] { matmul_forward(c.data(), a.data(), b.data(), n, n, n); });
    return 2.0 * n * n * n / t / 1e9;
}

// Generic pre-LN transformer block stack (Small shape) over core ops.
struct small_model {
    int L, d, H, I, V;
    std::vector<float> params;
    struct layer { float *ln1w, *ln1b, *qkvw, *qkvb, *ow, *ob, *ln2w, *ln2b, *fcw, *fcb, *pw, *pb; };
    std::vector<layer> layers;
    float *wte, *lnfw, *lnfb;
    std::vector<float> slopes;

    small_model(int L_, int d_, int H_, int I_, int V_) : L(L_), d(d_), H(H_), I(I_), V(V_) {
        size_t per = 4 * (size_t)d + 3 * (size_t)d * d + 3 * d + (size_t)d * d + d + (size_t)I * d + I + (size_t)d * I + d;
        params = randv(per * L + (size_t)V * d + 2 * d, 9, 0.02f);
        float* p = params.data();
        auto take = [&](size_t n) { float* r = p; p += n; return r; };
        for (int l = 0; l < L; l++) {
            layer y;
            y.ln1w = take(d), y.ln1b = take(d), y.qkvw = take(3 * (size_t)d * d), y.qkvb = take(3 * d);
            y.ow = take((size_t)d * d), y.ob = take(d), y.ln2w = take(d), y.ln2b = take(d);
            y.fcw = take((size_t)I * d), y.fcb = take(I), y.pw = take((size_t)d * I), y.pb = take(d);
            std::fill(y.ln1w, y.ln1w + d, 1.0f), std::fill(y.ln2w, y.ln2w + d, 1.0f);
            layers.push_back(y);
        }
        wte = take((size_t)V * d), lnfw = take(d), lnfb = take(d);
        std::fill(lnfw, lnfw + d, 1.0f);
        for (int h = 0; h < H; h++) slopes.push_back(std::pow(2.0f, -8.0f * (h % 4 + 1) / 4));
    }
    size_t n_params() const { return params.size(); }

    double t_attn = 0;  // seconds inside attention_forward in the last forward
    // returns seconds spent inside the projection GEMMs
    double forward(float* logits, const int32_t* ids, int B, int T, std::vector<float>& ws) {
        const size_t N = (size_t)B * T;
        float* x = ws.data();
        float* a = x + N * d;
        float* qkv = a + N * d;
        float* att = qkv + N * 3 * d;
        float* h = att + N * d;
        float* scratch = h + N * I;
        double tg = 0;
        auto lin = [&](float* out, const float* in, const float* w, const float* b, int ic, int oc) {
            double t0 = now();
            linear_forward(out, in, w, b, (int)N, ic, oc);
            tg += now() - t0;
        };
        t_attn = 0;
        embedding_forward(x, ids, wte, (int)N, d, V);
        attention_shape s = attention_shape_contiguous(B, T, T, H, d / H);
        s.causal = true, s.alibi_slopes = slopes.data();
        s.ld_q = s.ld_k = s.ld_v = 3 * d;
        s.bs_q = s.bs_k = s.bs_v = (long)T * 3 * d;
        for (const layer& y : layers) {
            layernorm_forward(a, x, y.ln1w, y.ln1b, (int)N, d, 1e-5f);
            lin(qkv, a, y.qkvw, y.qkvb, d, 3 * d);
            double ta = now();
            attention_forward(att, nullptr, qkv, qkv + d, qkv + 2 * d, s, scratch);
            t_attn += now() - ta;
            lin(a, att, y.ow, y.ob, d, d);
            add_forward(x, x, a, N * d);
            layernorm_forward(a, x, y.ln2w, y.ln2b, (int)N, d, 1e-5f);
            lin(h, a, y.fcw, y.fcb, d, I);
            squared_relu_forward(h, h, N * I);
            lin(a, h, y.pw, y.pb, I, d);
            add_forward(x, x, a, N * d);
        }
        layernorm_forward(a, x, lnfw, lnfb, (int)N, d, 1e-5f);
        lin(logits, a, wte, nullptr, d, V);
        return tg;
    }
    size_t workspace_floats(int B, int T) const {
        size_t N = (size_t)B * T;
        attention_shape s = attention_shape_contiguous(B, T, T, H, d / H);
        return N * d * 3 + N * 3 * d + N * I + attention_scratch_floats(s);
    }
    double gemm_flops(size_t N) const {
        return 2.0 * N * ((double)L * (3.0 * d * d + d * d + 2.0 * d * I) + (double)V * d);
    }
};

#if defined(TRANOVA_BENCH_AVX512_PEAK)
}  // namespace
float fma_chains_avx512(long iterations);  // fma_peak_avx512.cpp
namespace {
// Per-thread AVX-512 FMA peak x threads (all threads run the chains at once).
double avx512_peak(int threads) {
    std::vector<double> rate(threads, 0.0);
    volatile float sink = 0;
#pragma omp parallel num_threads(threads)
    {
        const long iters = 20'000'000;
        double best = 0;
        for (int r = 0; r < 3; r++) {
            double t0 = now();
            float v = fma_chains_avx512(iters);
            double t = now() - t0;
            best = std::max(best, iters * 24.0 * 32.0 / t / 1e9);
            if (v == 12345.0f) sink = v;
        }
        rate[omp_get_thread_num()] = best;
    }
    (void)sink;
    double s = 0;
    for (double r : rate) s += r;
    return s;
}
#endif

void report_env() {
    const char* ct = std::getenv("OPENBLAS_CORETYPE");
    const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
    std::printf("threads %d, OPENBLAS_CORETYPE=%s, OPENBLAS_L2_SIZE=%s\n", get_threads(), ct ? ct : "(unset)",
                l2 ? l2 : "(unset)");
}
}  // namespace

int main(int argc, char** argv) {
    bool toy = false, load = true, peak_only = false;
    int tokens = 2048, layers = 12;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--toy") toy = true;
        else if (a == "--no-load") load = false;
        else if (a == "--peak-only") peak_only = true;
        else if (a == "--tokens" && i + 1 < argc) tokens = std::atoi(argv[++i]);
        else if (a == "--layers" && i + 1 < argc) layers = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_core [--toy] [--tokens N] [--layers L] [--no-load] [--peak-only]\n");
            return 2;
        }
    }
    set_threads(resolve_threads(0));
    if (peak_only) {
        double p = 0;
        for (int n : {1024, 2048}) p = std::max(p, sgemm_peak(n, 3));
        std::printf("sgemm_peak_gflops %.1f\n", p);
#if defined(TRANOVA_BENCH_AVX512_PEAK)
        if (cpu_has_avx512()) std::printf("fma_peak_gflops %.1f\n", avx512_peak(get_threads()));
#endif
        return 0;
    }
    report_env();
    if (!validate()) return 1;
    const int reps = toy ? 1 : 5;

    // 1. baseline: SGEMM peak (best of a few square sizes)
    double peak = 0;
    for (int n : toy ? std::vector<int>{128} : std::vector<int>{1024, 2048})
        peak = std::max(peak, sgemm_peak(n, toy ? 1 : 3));
    std::printf("\nSGEMM peak (square, best size): %.1f GFLOP/s\n", peak);

    // 2. model-shaped GEMMs at N tokens: BLAS linear_forward (incl. bias), and the packed
    // AVX-512 kernel (core/linear.hpp) on the same inputs when the CPU has AVX-512F.
    const int N = toy ? 64 : tokens, d = toy ? 64 : 768, I = 4 * d;
    double fma_peak = 0;
#if defined(TRANOVA_BENCH_AVX512_PEAK)
    if (cpu_has_avx512()) {
        fma_peak = avx512_peak(get_threads());
        std::printf("AVX-512 FMA peak (%d threads, register-only chains): %.1f GFLOP/s\n", get_threads(), fma_peak);
    }
#endif
    std::printf("\n%-34s %10s %10s %8s\n", "op", "ms", "GFLOP/s", "of peak");
    struct shape { const char* name; int in, out; };
    for (shape sh : {shape{"linear qkv   N x 768 -> 2304", d, 3 * d}, shape{"linear out   N x 768 -> 768", d, d},
                     shape{"linear fc    N x 768 -> 3072", d, I}, shape{"linear proj  N x 3072 -> 768", I, d}}) {
        auto x = randv((size_t)N * sh.in, 1), w = randv((size_t)sh.out * sh.in, 2, 0.02f), b = randv(sh.out, 3);
        std::vector<float> y((size_t)N * sh.out), y2(y.size());
        linear_force_blas = true;
        double t = median_time(reps, [&] { linear_forward(y.data(), x.data(), w.data(), b.data(), N, sh.in, sh.out); });
        linear_force_blas = false;
        double gf = 2.0 * N * sh.in * sh.out / t / 1e9;
        std::printf("%-34s %10.2f %10.1f %7.0f%%  (BLAS)\n", sh.name, t * 1e3, gf, 100 * gf / peak);
        if (fma_peak > 0) {
            packed_linear pw = pack_linear(w.data(), sh.in, sh.out, linear_kernel::avx512);
            double tp = median_time(reps, [&] { linear_forward_packed(y2.data(), x.data(), pw, b.data(), N); });
            double gp = 2.0 * N * sh.in * sh.out / tp / 1e9;
            std::printf("%-34s %10.2f %10.1f %7.0f%%  (packed AVX-512: %.0f%% of the FMA peak, %.2fx BLAS, max diff %.1e)\n",
                        "", tp * 1e3, gp, 100 * gp / peak, 100 * gp / fma_peak, t / tp, maxdiff(y, y2));
        }
    }

    // 2b. the same layers in training: forward with the weight packed per call, and the two
    // backward products (dX = dY W, dW += dY^T X) on BLAS and on the AVX-512 kernel
    // (core/linear.hpp gemm_packed_avx512), as core::linear_forward / linear_backward run them.
    if (fma_peak > 0) {
        std::printf("\n%-34s %8s %8s %8s %8s %8s %8s  (GFLOP/s, AVX-512 kernel / BLAS)\n", "training linear", "fwd",
                    "BLAS", "dX", "BLAS", "dW", "BLAS");
        for (shape sh : {shape{"train qkv   N x 768 -> 2304", d, 3 * d}, shape{"train out   N x 768 -> 768", d, d},
                         shape{"train fc    N x 768 -> 3072", d, I}, shape{"train proj  N x 3072 -> 768", I, d}}) {
            auto x = randv((size_t)N * sh.in, 1), w = randv((size_t)sh.out * sh.in, 2, 0.02f), b = randv(sh.out, 3);
            auto dy = randv((size_t)N * sh.out, 4);
            std::vector<float> y((size_t)N * sh.out), dx((size_t)N * sh.in), dw((size_t)sh.out * sh.in);
            const double f = 2.0 * N * sh.in * sh.out / 1e9;
            double r[6];
            for (int blas = 0; blas < 2; ++blas) {
                linear_force_blas = blas == 1;
                r[blas] = f / median_time(reps, [&] { linear_forward(y.data(), x.data(), w.data(), b.data(), N, sh.in, sh.out); });
                r[2 + blas] = f / median_time(reps, [&] {
                    linear_backward(dx.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), N, sh.in, sh.out); });
                r[4 + blas] = f / median_time(reps, [&] {
                    linear_backward(nullptr, dw.data(), nullptr, dy.data(), x.data(), w.data(), N, sh.in, sh.out); });
            }
            linear_force_blas = false;
            std::printf("%-34s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n", sh.name, r[0], r[1], r[2], r[3], r[4], r[5]);
        }
    }

    // 3. attention, causal + ALiBi, Small shape
    {
        const int B = toy ? 1 : std::max(1, tokens / 1024), T = toy ? 64 : std::min(tokens, 1024), NH = toy ? 4 : 12,
                  HD = 64;
        attention_shape s = attention_shape_contiguous(B, T, T, NH, HD);
        s.causal = true;
        std::vector<float> slopes(NH, 0.0625f);
        s.alibi_slopes = slopes.data();
        auto q = randv((size_t)B * T * NH * HD, 4), k = randv(q.size(), 5), v = randv(q.size(), 6);
        std::vector<float> o(q.size()), scratch(attention_scratch_floats(s));
        double t = median_time(reps, [&] { attention_forward(o.data(), nullptr, q.data(), k.data(), v.data(), s, scratch.data()); });
        double fl = 4.0 * B * NH * HD * (double)T * (T + 1) / 2;  // useful (causal) QK^T + PV flops
        std::printf("%-34s %10.2f %10.1f %7.0f%%\n", toy ? "attention causal (toy)" : "attention causal B x 1024, 12 x 64", t * 1e3,
                    fl / t / 1e9, 100 * fl / t / 1e9 / peak);
        // naive twin on a small slice, as a same-run ratio
        attention_shape sn = attention_shape_contiguous(1, std::min(T, 256), std::min(T, 256), 2, HD);
        sn.causal = true;
        std::vector<float> scratch2(attention_scratch_floats(sn)), o2((size_t)sn.T * 2 * HD);
        auto qn = randv(o2.size(), 7);
        double tf = median_time(reps, [&] { attention_forward(o2.data(), nullptr, qn.data(), qn.data(), qn.data(), sn, scratch2.data()); });
        double tn = median_time(1, [&] { attention_forward_naive(o2.data(), nullptr, qn.data(), qn.data(), qn.data(), sn); });
        std::printf("attention fast vs naive twin (T=%d, 2 heads): %.1fx\n", sn.T, tn / tf);
    }

    // 4. Small-shaped forward
    {
        const int L = toy ? 2 : layers, H = toy ? 4 : 12, T = toy ? 32 : std::min(tokens, 1024),
                  B = toy ? 2 : std::max(1, tokens / T);
        small_model m(L, d, H, I, 25);
        std::vector<int32_t> ids((size_t)B * T);
        for (size_t i = 0; i < ids.size(); i++) ids[i] = 5 + (int)(i * 7 % 20);
        std::vector<float> ws(m.workspace_floats(B, T)), logits((size_t)B * T * 25);
        std::vector<double> tt, tg, tat;
        m.forward(logits.data(), ids.data(), B, T, ws);  // warm-up
        for (int r = 0; r < (toy ? 1 : 2); r++) {
            double t0 = now();
            double g = m.forward(logits.data(), ids.data(), B, T, ws);
            tt.push_back(now() - t0), tg.push_back(g), tat.push_back(m.t_attn);
        }
        size_t mid = std::min_element(tt.begin(), tt.end()) - tt.begin();  // fastest run, its GEMM time
        const double t_fast = tt[mid], t_at = tat[mid];
        std::vector<double> sorted = tt;
        std::sort(sorted.begin(), sorted.end());
        double t = sorted[sorted.size() / 2], g = tg[mid], gemm_rate = m.gemm_flops((size_t)B * T) / g / 1e9;
        // the machine is shared: re-measure the peak right after the forward, keep the max
        const double peak_after = sgemm_peak(toy ? 128 : 1024, toy ? 1 : 3);
        std::printf("\nSGEMM peak re-measured after the forward: %.1f GFLOP/s (using the max of both)\n", peak_after);
        peak = std::max(peak, peak_after);
        std::printf("forward %d layers x %d wide, %d heads, B=%d T=%d (%zu params): %.0f tokens/s (median %.3f s)\n", L,
                    d, H, B, T, m.n_params(), B * T / t, t);
        std::printf("  time inside projection GEMMs: %.0f%% of the forward; GEMM rate %.1f GFLOP/s = %.0f%% of peak\n",
                    100 * g / t_fast, gemm_rate, 100 * gemm_rate / peak);
        std::printf("  time inside attention: %.0f%%; other ops (layernorm, add, activation, embedding): %.0f%%\n",
                    100 * t_at / t_fast, 100 * (t_fast - g - t_at) / t_fast);
        std::printf("  whole forward (GEMM + attention flops): %.1f GFLOP/s = %.0f%% of peak\n",
                    (m.gemm_flops((size_t)B * T) + L * 4.0 * B * H * 64 * (double)T * (T + 1) / 2) / t / 1e9,
                    100 * (m.gemm_flops((size_t)B * T) + L * 4.0 * B * H * 64 * (double)T * (T + 1) / 2) / t / 1e9 / peak);
    }

    // 5. load time of a Small-sized (85 M parameter) weight file
    if (load) {
        const size_t nparam = toy ? 100000 : 85116672;
        std::string path = (std::filesystem::temp_directory_path() / ("bench_core_" + std::to_string(getpid()) + ".h5")).string();
        {
            weights w;
            w.arch = "bench";
            w.config["n_layer"] = (int64_t)12;
            auto blob = randv(nparam / 64, 11);
            size_t left = nparam;
            int i = 0;
            while (left) {  // ~200 tensors like a real model
                size_t n = std::min(left, toy ? (size_t)1000 : (size_t)768 * 768 * 3 / 4);
                std::vector<float> t(n);
                for (size_t k = 0; k < n; k++) t[k] = blob[k % blob.size()];
                w.add("t" + std::to_string(i++), {(int64_t)n}, t.data());
                left -= n;
            }
            weights_write(path, w);
        }
        weights_read(path);  // page cache warm-up
        double t = median_time(toy ? 1 : 5, [&] { weights w = weights_read(path); });
        std::printf("\nload %zu-parameter weight file (%.0f MB, page cache): %.3f s (%.2f GB/s)\n", nparam,
                    nparam * 4 / 1e6, t, nparam * 4 / t / 1e9);
        std::filesystem::remove(path);
    }
    return 0;
}

// Throughput of the de novo decoders on synthetic spectra with a random model
// (Casanovo-sized by default: d 512, 8 heads, ff 1024, 9 layers per stack). Modes:
//   encoder   spectrum encoder only
//   ar_b1     encoder + AR beam search, beam 1 (Casanovo v4 default)
//   ar_b5     encoder + AR beam search, beam 5
//   nar       encoder + NAR decoder + CTC beam 5 + PMC
//   hybrid_b1 encoder + NAR + AR beam 1 over [NAR features ; memory], then the NAR peptide
//             (CTC beam 5 + PMC) scored by the AR decoder, as `denovo sequence --decoder hybrid`
// The AR search runs exactly --steps steps (the stop and padding logits get a -100 bias and
// the precursor mass is out of reach, so no beam ends early), matching bench_torch.py.
// One group of spectra per OpenMP task (BLAS single-threaded inside), encoded (and NAR-decoded)
// together as `denovo sequence` does. Prints one TSV row per
// mode: mode, spectra, seconds (median of --repeat), spectra/s. BENCH_NO_PACK=1 in the
// environment leaves the layer linears unpacked (pack_for_inference off), to time the packing.
#include "core/ops.hpp"
#include "denovo_model/beam_search.hpp"
#include "denovo_model/ctc.hpp"
#include "denovo_model/forward.hpp"
#include "denovo_model/model.hpp"
#include "denovo_model/sequencer.hpp"
#include "util/threads.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace tranova::denovo_model;

namespace {

struct synth_spectrum {
    std::vector<float> peaks;  // (n,2)
    int n = 0;
    float mass = 0, mz = 0;
    int charge = 2;
};

std::vector<synth_spectrum> make_spectra(int count, int n_peaks, uint32_t seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> mz(100.0f, 1500.0f), in(0.01f, 1.0f), pm(800.0f, 2000.0f);
    std::vector<synth_spectrum> out(static_cast<size_t>(count));
    for (auto& s : out) {
        s.n = n_peaks;
        std::vector<float> m(static_cast<size_t>(n_peaks));
        for (auto& x : m) x = mz(g);
        std::sort(m.begin(), m.end());
        float norm = 0;
        std::vector<float> it(static_cast<size_t>(n_peaks));
        for (auto& x : it) {
            x = std::sqrt(in(g));
            norm += x * x;
        }
        for (int i = 0; i < n_peaks; ++i) {
            s.peaks.push_back(m[size_t(i)]);
            s.peaks.push_back(it[size_t(i)] / std::sqrt(norm));
        }
        s.mass = pm(g);
        s.mz = s.mass / 2 + 1.007276f;
    }
    return out;
}

// Spectra are split into groups of `group`; one group per OpenMP task; the AR search of a
// group runs in lockstep (the beams of all its spectra share each matrix product).
double run_mode(const denovo_model& m, const std::string& mode, const std::vector<synth_spectrum>& sp, int steps,
                int group) {
    tranova::core::blas_single_thread_guard guard;
    auto t0 = std::chrono::steady_clock::now();
    const int B = int(sp.size()), G = (B + group - 1) / group;
#pragma omp parallel for schedule(dynamic, 1)
    for (int g = 0; g < G; ++g) {
        const int d = m.cfg.dim_model, T = m.cfg.nar_length, V = m.nar_vocab;
        const int lo = g * group, hi = std::min(B, (g + 1) * group), n_g = hi - lo;
        // the group's spectra encoded together, as `denovo sequence` does (encode_spectra)
        std::vector<const float*> ptrs;
        std::vector<int> counts;
        std::vector<float> mass;
        std::vector<int> charge;
        for (int i = lo; i < hi; ++i) {
            ptrs.push_back(sp[size_t(i)].peaks.data());
            counts.push_back(sp[size_t(i)].n);
            mass.push_back(sp[size_t(i)].mass);
            charge.push_back(sp[size_t(i)].charge);
        }
        encoded_batch eb;
        encode_batch(m, ptrs, counts, eb);
        if (mode == "encoder") continue;
        std::vector<float> logits, feats;
        if (mode == "nar" || mode == "hybrid_b1") {
            logits.resize(size_t(n_g) * T * V);
            feats.resize(size_t(n_g) * T * d);
            nar_forward_encoded(m, eb, mass.data(), charge.data(), logits.data(), feats.data());
        }
        std::vector<ar_memory> mems;
        mems.reserve(size_t(group));
        std::vector<ar_input> inputs;
        for (int i = lo; i < hi; ++i) {
            const synth_spectrum& s = sp[size_t(i)];
            const int n = s.n, k = i - lo;
            const float* mem = eb.memory.data() + size_t(k) * eb.Tk * d;
            std::unique_ptr<bool[]> mask(new bool[size_t(n + 1)]);
            for (int r = 0; r <= n; ++r) mask[size_t(r)] = eb.valid[size_t(k) * eb.Tk + r] == 0;
            if (mode == "nar") {
                std::vector<float> prob(size_t(T) * V), logp(prob.size());
                tranova::core::softmax_forward(prob.data(), logits.data() + size_t(k) * T * V, T, V);
                tranova::core::log_softmax_forward(logp.data(), logits.data() + size_t(k) * T * V, T, V);
                auto beams = ctc_beam_search(prob.data(), T, V, V - 1, 5, 30, 1.0);
                auto path = pmc_decode(logp.data(), T, V, m.cfg.residues.masses, pmc_target(s.mass), 0.1f);
                (void)beams;
                (void)path;
                continue;
            }
            if (mode == "hybrid_b1") {
                std::vector<float> hm;
                std::vector<unsigned char> hmask;
                hybrid_memory(m, feats.data() + size_t(k) * T * d, mem, mask.get(), n + 1, hm, hmask);
                mems.emplace_back();
                ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), T + n + 1, mems.back());
            } else {
                mems.emplace_back();
                ar_prepare_memory(m, mem, mask.get(), n + 1, mems.back());
            }
            inputs.push_back({&mems.back(), 1e6f, s.charge, 5e5f});
        }
        if (inputs.empty()) continue;
        numpy_random rng(0);
        beam_params bp;
        bp.n_beams = mode == "ar_b5" ? 5 : 1;
        bp.max_length = steps;
        ar_beam_search(m, inputs, bp, rng);
        if (mode == "hybrid_b1")  // the NAR decoder's candidate, scored by the AR decoder
            for (int i = lo; i < hi; ++i) {
                encoded_spectrum e;
                e.mass = sp[size_t(i)].mass;
                e.charge = sp[size_t(i)].charge;
                decoded_spectrum nar = decode_nar_logits(m, e, logits.data() + size_t(i - lo) * T * V, 5, true);
                if (nar.ok) ar_score_peptide(m, mems[size_t(i - lo)], e.mass, e.charge, nar);
            }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    int d = 512, heads = 8, ff = 1024, layers = 9, count = 16, peaks = 150, steps = 20, repeat = 3, threads = 0,
        group = 0;
    std::string only;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
        if (a == "--dim") d = next();
        else if (a == "--heads") heads = next();
        else if (a == "--ff") ff = next();
        else if (a == "--layers") layers = next();
        else if (a == "--spectra") count = next();
        else if (a == "--peaks") peaks = next();
        else if (a == "--steps") steps = next();
        else if (a == "--repeat") repeat = next();
        else if (a == "--threads") threads = next();
        else if (a == "--group") group = next();
        else if (a == "--mode" && i + 1 < argc) only = argv[++i];
        else {
            std::fprintf(stderr, "usage: bench_denovo_model [--dim 512 --heads 8 --ff 1024 --layers 9 --spectra 16 "
                                 "--peaks 150 --steps 20 --repeat 3 --threads N --group G --mode M]\n");
            return 2;
        }
    }
    tranova::set_threads(tranova::resolve_threads(threads));
    weight_file wf = random_weights(model_arch::crossnovo, d, heads, ff, layers, 1);
    // never stop early: stop ($) and padding logits get -100
    auto& fb = wf.tensors["ar_decoder.final.bias"].data;
    fb.front() = -100.0f;
    fb.back() = -100.0f;
    denovo_model m = model_from_weights(std::move(wf));
    if (std::getenv("BENCH_NO_PACK") == nullptr) pack_for_inference(m);  // as `denovo sequence` runs it
    auto sp = make_spectra(count, peaks, 7);
    if (group <= 0) group = std::max(1, (count + tranova::get_threads() - 1) / tranova::get_threads());
    std::printf("# bench_denovo_model: d %d, heads %d, ff %d, layers %d+%d+%d, %d spectra x %d peaks, %d AR steps, "
                "%d threads, %d spectra per task\n",
                d, heads, ff, layers, layers, layers, count, peaks, steps, tranova::get_threads(), group);
    std::printf("mode\tspectra\tseconds\tspectra_per_s\n");
    for (std::string mode : {"encoder", "ar_b1", "ar_b5", "nar", "hybrid_b1"}) {
        if (!only.empty() && mode != only) continue;
        std::vector<double> t;
        for (int r = 0; r < repeat; ++r) t.push_back(run_mode(m, mode, sp, steps, group));
        std::sort(t.begin(), t.end());
        double med = t[t.size() / 2];
        std::printf("%s\t%d\t%.4f\t%.2f\n", mode.c_str(), count, med, count / med);
        std::fflush(stdout);
    }
    return 0;
}

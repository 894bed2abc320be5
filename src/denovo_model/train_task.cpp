#include "denovo_model/train_task.hpp"

#include "core/ops_backward.hpp"
#include "core/rng.hpp"
#include "denovo_model/beam_search.hpp"
#include "denovo_model/ctc.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>

namespace tranova::denovo_model {

denovo_task::denovo_task(trainable_model model, spectrum_set train, spectrum_set val, const denovo_task_options& opt)
    : model_(std::move(model)), train_(std::move(train)), val_(std::move(val)), opt_(opt),
      arch_(model_.model.cfg.arch) {
    TRANOVA_CHECK(!train_.items.empty(), "{}: no usable training spectra", train_.source);
    TRANOVA_CHECK(opt_.stage == 1 || opt_.stage == 2, "training stage {} (expected 1 or 2)", opt_.stage);
    TRANOVA_CHECK(opt_.stage == 1 || arch_ == model_arch::crossnovo, "stage 2 is CrossNovo's; this is a {} model",
                  model_.arch);
    TRANOVA_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, "dropout {} outside [0, 1)", opt_.dropout);
}

std::string denovo_task::config() const {
    // The model's shape and vocabulary (the tensors' shapes are checked by the state
    // reader) and the stage: a stage-1 state never resumes into stage 2.
    const model_config& c = model_.model.cfg;
    return fmt::format("d={} heads={} ff={} layers={}+{}+{} residues={} stage={}", c.dim_model, c.n_head,
                       c.dim_feedforward, c.n_enc_layers, c.n_ar_layers, c.n_nar_layers, residues_to_string(c.residues),
                       opt_.stage);
}

std::vector<std::string> denovo_task::loss_parts() const {
    if (arch_ == model_arch::crossnovo) return {"ar", "nar", "lambda"};
    return {};
}

std::vector<std::string> denovo_task::frozen_prefixes() const {
    std::vector<std::string> f = model_.fixed;
    if (opt_.stage == 2) {
        f.push_back("encoder.");
        f.push_back("nar_decoder.");
    }
    return f;
}

double denovo_task::epoch(const core::data_cursor& c) const {
    return double(c.epoch) + double(c.position) / double(train_.items.size());
}

denovo_task::losses denovo_task::run(const spectra_batch& b, float lambda, bool backward, const dropout_config& drop,
                                     batch_totals global) {
    if (global.spectra <= 0) global = {double(b.B), casanovo_loss_items(b)};
    losses r;
    if (arch_ == model_arch::casanovo) {
        r.items = casanovo_loss_items(b);
        r.loss = double(casanovo_loss(model_, ws_, b, opt_.label_smoothing, backward, float(r.items), drop)) * r.items;
    } else if (arch_ == model_arch::primenovo) {
        r.items = primenovo_loss_items(b);
        r.loss = double(primenovo_loss(model_, ws_, b, backward, float(r.items), drop)) * r.items;
    } else {
        // One unit for both terms: spectra; the loop divides by the global batch's B. The
        // loss PyTorch forms is lambda CE_sum / tokens + (1 - lambda) CTC_mean over the
        // global batch, so the shard's CE sum is weighted by B_global / tokens_global (its
        // share of the CE, in spectra) and the CTC by its spectra: the all-reduced gradient is
        // exactly the global batch loss's, for any number of ranks.
        const double tokens = casanovo_loss_items(b);
        const double ar_items = global.tokens > 0 ? tokens * global.spectra / global.tokens : double(b.B);
        r.items = double(b.B);
        const crossnovo_losses l = crossnovo_loss(model_, ws_, b, opt_.stage, lambda, opt_.label_smoothing, backward,
                                                  float(ar_items), drop, float(b.B));
        r.ar = double(l.ar) * ar_items;
        r.nar = double(l.nar) * b.B;
        r.loss = opt_.stage == 1 ? double(lambda) * r.ar + (1.0 - double(lambda)) * r.nar : r.ar;
    }
    return r;
}

core::batch_result denovo_task::train_batch(int64_t, double progress, int64_t begin, int64_t end, int64_t batch_size,
                                            core::rng&, core::rng& noise, core::data_cursor& cursor) {
    // Every rank walks the same epoch permutations and keeps its slice.
    const size_t n = train_.items.size();
    std::vector<size_t> idx;
    batch_totals global;  // of the whole batch (CrossNovo's AR weight)
    for (int64_t i = 0; i < batch_size; ++i) {
        if (cursor.position >= int64_t(n)) {
            ++cursor.epoch;
            cursor.position = 0;
        }
        if (perm_epoch_ != cursor.epoch) {
            perm_.resize(n);
            std::iota(perm_.begin(), perm_.end(), size_t(0));
            core::rng(opt_.seed ^ 0x64656e6f766fULL, uint64_t(cursor.epoch)).shuffle(perm_);
            perm_epoch_ = cursor.epoch;
        }
        const size_t item = perm_[size_t(cursor.position++)];
        global.spectra += 1;
        global.tokens += double(train_.items[item].residues.size() + 1);  // residues + stop
        if (i >= begin && i < end) idx.push_back(item);
    }
    dropout_config drop;
    drop.p = opt_.dropout;
    drop.seed = noise.next_u64();  // drawn on every rank, every step
    const float lambda = opt_.stage == 1 ? float(std::clamp(progress, 0.0, 1.0)) : 1.0f;
    core::batch_result r;
    r.part_sums.assign(loss_parts().size(), 0.0);
    if (idx.empty()) return r;
    const bool ar = arch_ != model_arch::primenovo, ctc = arch_ != model_arch::casanovo;
    const spectra_batch b = make_batch(model_.model, train_, idx, ar, ctc);
    const losses l = run(b, lambda, true, drop, global);
    r.loss_sum = l.loss;
    r.loss_items = l.items;
    r.rate_items = double(b.B);
    if (arch_ == model_arch::crossnovo) r.part_sums = {l.ar, l.nar, double(lambda) * b.B};
    return r;
}

double denovo_task::validate() {
    if (val_.items.empty()) return NAN;
    const bool ar = arch_ != model_arch::primenovo, ctc = arch_ != model_arch::casanovo;
    double sum = 0, items = 0;
    for (size_t lo = 0; lo < val_.items.size(); lo += size_t(opt_.val_batch)) {
        std::vector<size_t> idx(std::min(size_t(opt_.val_batch), val_.items.size() - lo));
        std::iota(idx.begin(), idx.end(), lo);
        const spectra_batch b = make_batch(model_.model, val_, idx, ar, ctc);
        const losses l = run(b, 1.0f, false, {}, {});
        if (arch_ == model_arch::crossnovo) {
            sum += l.ar;  // CE of the batch's tokens, weighted in spectra
            items += b.B;
        } else {
            sum += l.loss;
            items += l.items;
        }
    }
    const double loss = items > 0 ? sum / items : NAN;
    if (opt_.val_recall > 0) {
        const int n = int(std::min(val_.items.size(), size_t(opt_.val_recall)));
        last_recall_ = greedy_peptide_recall(model_.model, val_, opt_.stage, n);
        log::info("validation: loss {:.4f}, peptide recall {:.4f} of {} spectra (greedy {})", loss, last_recall_, n,
                  arch_ == model_arch::primenovo ? "CTC" : "AR beam 1");
    }
    return loss;
}

std::vector<std::string> denovo_task::val_metrics() const {
    if (opt_.val_recall > 0 && !val_.items.empty()) return {"val_recall"};
    return {};
}

double greedy_peptide_recall(const denovo_model& m, const spectrum_set& s, int stage, int max_spectra) {
    const int n = int(std::min(s.items.size(), size_t(std::max(0, max_spectra))));
    if (n == 0) return NAN;
    const int d = m.cfg.dim_model, Tn = m.cfg.nar_length;
    beam_params bp;
    bp.n_beams = 1;
    bp.max_length = m.cfg.max_length;
    bp.min_peptide_len = m.cfg.min_peptide_len;
    bp.precursor_mass_tol = m.cfg.precursor_mass_tol;
    bp.isotope_min = m.cfg.isotope_min;
    bp.isotope_max = m.cfg.isotope_max;
    const auto& toks = m.cfg.residues.tokens;
    const int idx_i = int(std::find(toks.begin(), toks.end(), "I") - toks.begin());
    const int idx_l = int(std::find(toks.begin(), toks.end(), "L") - toks.begin());
    int hits = 0;
    for (int i = 0; i < n; ++i) {
        const labelled_spectrum& it = s.items[size_t(i)];
        const int np = int(it.peaks.size() / 2), Tk = np + 1;
        std::vector<float> memory(size_t(Tk) * d);
        std::unique_ptr<bool[]> mask(new bool[size_t(Tk)]);
        encoder_forward(m, it.peaks.data(), np, memory.data(), mask.get());
        std::vector<int> pred;  // residue indices, decoding order
        if (!m.has_ar()) {
            std::vector<float> logits(size_t(Tn) * m.nar_vocab);
            nar_forward(m, memory.data(), mask.get(), Tk, it.mass, it.charge, logits.data(), nullptr, nullptr);
            pred = ctc_greedy(logits.data(), Tn, m.nar_vocab, m.nar_vocab - 1);
        } else {
            ar_memory am;
            if (m.cfg.arch == model_arch::crossnovo && stage == 2) {
                std::vector<float> logits(size_t(Tn) * m.nar_vocab), feats(size_t(Tn) * d), hm;
                std::vector<unsigned char> hmask;
                nar_forward(m, memory.data(), mask.get(), Tk, it.mass, it.charge, logits.data(), feats.data(), nullptr);
                hybrid_memory(m, feats.data(), memory.data(), mask.get(), Tk, hm, hmask);
                ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), Tn + Tk, am);
            } else {
                ar_prepare_memory(m, memory.data(), mask.get(), Tk, am);
            }
            numpy_random rng(0);
            const auto out = ar_beam_search(m, {{&am, it.mass, it.charge, it.precursor_mz}}, bp, rng);
            if (!out.empty() && !out[0].empty())
                for (int t : out[0][0].tokens) pred.push_back(t - 1);
        }
        for (int& t : pred)
            if (t == idx_i) t = idx_l;  // labels are I -> L
        hits += pred.size() == it.residues.size() && std::equal(pred.begin(), pred.end(), it.residues.begin());
    }
    return double(hits) / n;
}

void denovo_task::write_model(const std::string& path) {
    weight_file wf = trainable_weights(model_);
    // CrossNovo stage 2 needs a model that went through stage 1 (check_init_model)
    if (arch_ == model_arch::crossnovo) {
        const auto it = model_.config.find("crossnovo_stage");
        const int before = it != model_.config.end() ? std::atoi(it->second.c_str()) : 0;
        wf.config["crossnovo_stage"] = std::to_string(std::max(before, opt_.stage));
    }
    write_weight_file(path, wf);
}

// ---------------------------------------------------------------------------------------

trainable_model fresh_model(model_arch arch, const std::string& shape, uint64_t seed) {
    int d = 0, h = 0, ff = 0, layers = 0;
    if (shape == "tiny") d = 64, h = 4, ff = 128, layers = 2;
    else if (shape == "casanovo") d = 512, h = 8, ff = 1024, layers = 9;
    else if (shape == "primenovo") d = 400, h = 8, ff = 1024, layers = 9;
    else TRANOVA_FAIL("unknown model shape '{}' (expected tiny, casanovo or primenovo)", shape);
    const uint32_t s32 = uint32_t(seed ^ (seed >> 32));
    return make_trainable(random_weights(arch, d, h, ff, layers, s32));
}

void check_init_model(const trainable_model& t, model_arch arch, int stage, const std::string& path) {
    TRANOVA_CHECK(t.model.cfg.arch == arch, "{}: a {} model, not {} (--arch must match the --init weights)", path,
                  t.arch, arch_name(arch));
    (void)model_vocabulary(t.model.cfg);  // throws "vocabulary mismatch" naming the token
    if (stage == 2) {
        const auto it = t.config.find("crossnovo_stage");
        TRANOVA_CHECK(it != t.config.end() && std::atoi(it->second.c_str()) >= 1,
                      "{}: --stage 2 needs a CrossNovo model trained by stage 1 (this one has no stage-1 training: "
                      "run --stage 1 or --stage both first)",
                      path);
    }
}

namespace {

core::train_summary run_stage(trainable_model model, spectrum_set train, spectrum_set val, denovo_task_options opt,
                              core::trainer_options topt) {
    denovo_task task(std::move(model), std::move(train), std::move(val), opt);
    const auto frozen = task.frozen_prefixes();
    topt.frozen_prefixes.insert(topt.frozen_prefixes.end(), frozen.begin(), frozen.end());
    return core::run_training(task, topt);
}

}  // namespace

core::train_summary run_denovo_training(trainable_model model, spectrum_set train, spectrum_set val,
                                        denovo_task_options opt, core::trainer_options topt) {
    opt.seed = topt.seed;
    if (opt.stage != 3) return run_stage(std::move(model), std::move(train), std::move(val), opt, topt);
    TRANOVA_CHECK(topt.max_steps >= 2, "--stage both needs --max-steps of at least 2 (one per stage)");
    core::trainer_options t1 = topt, t2 = topt;
    t1.output = topt.output + ".stage1.h5";
    t1.max_steps = (topt.max_steps + 1) / 2;
    t2.max_steps = topt.max_steps - t1.max_steps;
    t1.warmup_steps = std::min(t1.warmup_steps, t1.max_steps);
    t2.warmup_steps = std::min(t2.warmup_steps, t2.max_steps);
    const bool stage2_started = topt.resume && std::filesystem::exists(core::train_state_path(topt.output));
    if (!stage2_started) {
        t1.resume = topt.resume;  // stage 2 has not started: stage 1's state must exist
        denovo_task_options o1 = opt;
        o1.stage = 1;
        log::info("CrossNovo stage 1: {} steps -> {}", t1.max_steps, t1.output);
        const core::train_summary s1 = run_stage(std::move(model), train, val, o1, t1);
        if (s1.preempted) return s1;
        model = make_trainable(read_weight_file(t1.output));
        t2.resume = false;
    }
    denovo_task_options o2 = opt;
    o2.stage = 2;
    log::info("CrossNovo stage 2: {} steps -> {}", t2.max_steps, t2.output);
    core::train_summary s2 = run_stage(std::move(model), std::move(train), std::move(val), o2, t2);
    s2.steps += t1.max_steps;  // both stages
    return s2;
}

}  // namespace tranova::denovo_model

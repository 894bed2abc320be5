#include "tranception/train_task.hpp"

#include "core/json.hpp"
#include "core/ops_backward.hpp"
#include "core/weights.hpp"
#include "msa/msa.hpp"
#include "retrieval/fasta_db.hpp"
#include "tranception/prior.hpp"
#include "tranception/tokenizer.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>

namespace tranova::tranception {

size_t sequence_set::residues() const {
    size_t n = 0;
    for (const auto& s : seqs) n += s.size();
    return n;
}

namespace {

// Upper-cases and replaces X/B/J/Z as scoring does (seeded by the sequence index, so the
// same file gives the same sequences); false if a character is not a letter.
bool normalise(std::string& s, uint64_t seed) {
    for (char& c : s) {
        if (!std::isalpha(static_cast<unsigned char>(c))) return false;
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    replace_nonstandard(s, seed);
    return true;
}

}  // namespace

sequence_set sequences_from_msa(const std::string& path, const msa_train_options& opt) {
    const msa::alignment a = msa::read_alignment(path);
    prior_options po;
    po.theta = opt.theta;
    po.threshold_focus_cols_frac_gaps = opt.focus_gaps;
    bool reused = false;
    const prior_weights pw = cached_prior_weights(a, po, opt.weights_cache, &reused);
    log::info("{}: {} rows, N_eff {:.1f} (theta {}){}", path, a.num_rows(), pw.neff, opt.theta,
              reused ? " (weights from the cache)" : "");
    sequence_set out;
    out.source = path;
    out.num_columns = static_cast<int>(a.num_columns());
    // Match columns: the query's upper-case ones (every column of an A3M).
    std::vector<char> match(a.num_columns());
    for (size_t c = 0; c < a.num_columns(); ++c) match[c] = std::isupper(static_cast<unsigned char>(a.rows[0][c])) != 0;
    const bool has_ins = !a.insertions.empty();
    for (size_t r = 0; r < a.num_rows(); ++r) {
        if (!(pw.row_weight[r] > 0)) continue;
        std::string s;
        std::vector<int32_t> cols;  // match column of each residue of s, -1 for insertions
        const std::string& row = a.rows[r];
        size_t ins = 0;
        for (size_t c = 0; c <= row.size(); ++c) {
            // A3M insertions after `c` match columns (kept as residues unless focus_only).
            while (has_ins && !opt.focus_only && ins < a.insertions[r].size() &&
                   a.insertions[r][ins].after == static_cast<int32_t>(c)) {
                s += a.insertions[r][ins].residues;
                cols.resize(s.size(), -1);
                ++ins;
            }
            if (c == row.size()) break;
            const char ch = row[c];
            if (ch == '-' || ch == '.') continue;
            const bool lower = std::islower(static_cast<unsigned char>(ch)) != 0;
            if (opt.focus_only && lower) continue;
            s += ch;
            cols.push_back(!lower && match[c] ? static_cast<int32_t>(c) : -1);
        }
        TRANOVA_CHECK(normalise(s, r), "{}: record {} '{}' has a character that is not a residue letter", path, r + 1,
                      a.names[r]);
        if (s.empty()) continue;
        out.names.push_back(a.names[r]);
        out.seqs.push_back(std::move(s));
        out.weights.push_back(pw.row_weight[r]);
        out.columns.push_back(std::move(cols));
    }
    TRANOVA_CHECK(out.seqs.size() >= 2, "{}: {} usable sequences after EVE preprocessing (at least 2 are needed to "
                  "train)", path, out.seqs.size());
    return out;
}

sequence_set sequences_from_fasta(const std::string& path) {
    retrieval::fasta_reader in(path);
    retrieval::fasta_record rec;
    sequence_set out;
    out.source = path;
    size_t empty = 0;
    while (in.next(rec)) {
        if (!rec.seq.empty() && rec.seq.back() == '*') rec.seq.pop_back();
        if (rec.seq.empty()) {
            ++empty;
            continue;
        }
        TRANOVA_CHECK(normalise(rec.seq, in.records_read()), "{}: record {} '{}' has a character that is not a residue "
                      "letter", path, in.records_read(), rec.name);
        out.names.push_back(rec.name);
        out.seqs.push_back(std::move(rec.seq));
        out.weights.push_back(1.0);
    }
    if (empty) log::warn("{}: {} empty records skipped", path, empty);
    TRANOVA_CHECK(out.seqs.size() >= 2, "{}: {} sequences (at least 2 are needed to train)", path, out.seqs.size());
    return out;
}

void split_validation(sequence_set& train, sequence_set& val, double fraction, uint64_t seed) {
    TRANOVA_CHECK(fraction >= 0 && fraction < 1, "validation fraction {} outside [0, 1)", fraction);
    val = sequence_set{};
    val.source = train.source;
    val.num_columns = train.num_columns;
    const size_t n = train.seqs.size();
    size_t k = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
    if (fraction > 0 && k == 0 && n >= 2) k = 1;
    if (k == 0) return;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    core::rng(seed, 0x76616cULL).shuffle(order);  // stream "val"
    std::vector<char> is_val(n, 0);
    for (size_t i = 0; i < k; ++i) is_val[order[i]] = 1;
    sequence_set kept;
    kept.source = train.source;
    kept.num_columns = train.num_columns;
    const bool has_columns = !train.columns.empty();
    for (size_t i = 0; i < n; ++i) {
        sequence_set& dst = is_val[i] ? val : kept;
        dst.names.push_back(std::move(train.names[i]));
        dst.seqs.push_back(std::move(train.seqs[i]));
        dst.weights.push_back(train.weights[i]);
        if (has_columns) dst.columns.push_back(std::move(train.columns[i]));
    }
    train = std::move(kept);
}

// ---------------------------------------------------------------------------------------

tranception_task::tranception_task(trainable_model model, sequence_set train, sequence_set val,
                                   const tranception_task_options& opt)
    : model_(std::move(model)), train_(std::move(train)), val_(std::move(val)), opt_(opt) {
    if (opt_.context <= 0 || opt_.context > model_.cfg.n_ctx) opt_.context = model_.cfg.n_ctx;
    TRANOVA_CHECK(opt_.context >= 3, "training context {} is too short", opt_.context);
    TRANOVA_CHECK(!train_.seqs.empty(), "{}: no training sequences", train_.source);
    double total = 0;
    for (double w : train_.weights) {
        TRANOVA_CHECK(std::isfinite(w) && w >= 0, "{}: invalid sampling weight {}", train_.source, w);
        cumulative_.push_back(total += w);
    }
    TRANOVA_CHECK(total > 0, "{}: every sampling weight is 0", train_.source);
    acts_.recompute_attention = opt_.recompute_attention;
}

std::string tranception_task::config() const {
    const auto& c = model_.cfg;
    return fmt::format("n_layer={} n_embd={} n_head={} n_inner={} n_ctx={}", c.n_layer, c.n_embd, c.n_head, c.n_inner,
                       c.n_ctx);
}

double tranception_task::epoch(const core::data_cursor& c) const {
    return static_cast<double>(c.position) / static_cast<double>(train_.seqs.size());
}

size_t tranception_task::pick(core::rng& data) const {
    const double u = data.uniform_double() * cumulative_.back();
    const size_t i = static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
    return std::min(i, cumulative_.size() - 1);
}

std::vector<int32_t> tranception_task::tokens(const std::string& seq, bool reverse, size_t offset, size_t length) {
    std::vector<int32_t> t;
    t.reserve(length + 2);
    t.push_back(tok_cls);
    for (size_t i = 0; i < length; ++i) {
        const size_t k = offset + i;
        t.push_back(residue_id(seq[reverse ? seq.size() - 1 - k : k]));
    }
    t.push_back(tok_sep);
    return t;
}

core::batch_result tranception_task::run(const std::vector<std::vector<int32_t>>& items, bool backward) {
    core::batch_result r;
    if (items.empty()) return r;
    size_t T = 0;
    for (const auto& it : items) T = std::max(T, it.size());
    const int B = static_cast<int>(items.size());
    ids_.assign(static_cast<size_t>(B) * T, tok_pad);
    lengths_.resize(B);
    for (int b = 0; b < B; ++b) {
        std::copy(items[b].begin(), items[b].end(), ids_.begin() + static_cast<long>(b * T));
        lengths_[b] = static_cast<int32_t>(items[b].size());
    }
    acts_.dropout = backward ? opt_.dropout : 0.0f;  // validation runs without dropout
    const tranception::train_batch batch{B, static_cast<int>(T), ids_.data(), lengths_.data()};
    const train_result res = train_forward(model_, batch, acts_);
    // The trainer wants sums: the loss is a mean over `tokens` targets.
    if (backward) train_backward(model_, acts_, static_cast<float>(res.tokens));
    r.loss_sum = static_cast<double>(res.loss) * res.tokens;
    r.loss_items = res.tokens;
    r.rate_items = res.tokens;
    return r;
}

core::batch_result tranception_task::train_batch(int64_t, double, int64_t begin, int64_t end, int64_t batch_size,
                                                 core::rng& data, core::rng& noise, core::data_cursor& cursor) {
    // Dropout masks: one seed per step from the saved noise stream (every rank draws it),
    // mixed with the rank's first item so that ranks drop differently.
    if (opt_.dropout > 0) acts_.dropout_seed = core::counter_hash(noise.next_u64(), static_cast<uint64_t>(begin));
    // Every rank draws the whole batch (same stream, same numbers) and keeps its slice.
    const size_t max_res = static_cast<size_t>(opt_.context) - 2;
    std::vector<std::vector<int32_t>> items;
    for (int64_t i = 0; i < batch_size; ++i) {
        const std::string& s = train_.seqs[pick(data)];
        const bool reverse = data.uniform_double() < opt_.reverse_p;
        const size_t len = std::min(s.size(), max_res);
        const size_t offset = s.size() > len ? static_cast<size_t>(data.below(s.size() - len + 1)) : 0;
        if (i >= begin && i < end) items.push_back(tokens(s, reverse, offset, len));
    }
    cursor.position += batch_size;
    return run(items, true);
}

double tranception_task::validate() {
    if (val_.seqs.empty()) return NAN;
    const size_t n = std::min(val_.seqs.size(), static_cast<size_t>(std::max(1, opt_.val_max_sequences)));
    const size_t max_res = static_cast<size_t>(opt_.context) - 2;
    double loss = 0, count = 0;
    std::vector<std::vector<int32_t>> items;
    // Both directions of each sequence (its first context's worth), 16 items per pass.
    for (size_t i = 0; i < n; ++i)
        for (bool reverse : {false, true}) {
            const std::string& s = val_.seqs[i];
            items.push_back(tokens(s, reverse, 0, std::min(s.size(), max_res)));
            if (items.size() == 16 || (i + 1 == n && reverse)) {
                const core::batch_result r = run(items, false);
                loss += r.loss_sum;
                count += r.loss_items;
                items.clear();
            }
        }
    return count > 0 ? loss / count : NAN;
}

void tranception_task::write_model(const std::string& path) { core::weights_write(path, trainable_to_weights(model_)); }

// ---------------------------------------------------------------------------------------

trainable_model tranception_model_for_config(const std::string& name) {
    model_shape s = tranception_shape_for_config(name);
    return trainable_create(s.cfg, std::move(s.config));
}

uint64_t training_memory_bytes(const model_config& cfg, int64_t items, int context, int heldout_tokens,
                               bool recompute_attention) {
    const auto acts = [&](int64_t b, int t) {
        return t > 0 ? train_activation_floats(cfg, static_cast<int>(std::min<int64_t>(b, 1 << 30)), t, recompute_attention)
                     : size_t(0);
    };
    const size_t act = std::max({acts(items, context), acts(16, context), acts(8, heldout_tokens)});
    return sizeof(float) * (5 * static_cast<uint64_t>(trainable_block_floats(cfg)) + act);
}

model_shape tranception_shape_for_config(const std::string& name) {
    model_config c;
    c.n_ctx = 1024;
    if (name == "tiny") c.n_layer = 2, c.n_embd = 128, c.n_head = 8;
    else if (name == "small") c.n_layer = 12, c.n_embd = 768, c.n_head = 12;
    else if (name == "medium") c.n_layer = 24, c.n_embd = 1024, c.n_head = 16;
    else if (name == "large") c.n_layer = 36, c.n_embd = 1280, c.n_head = 20;
    else {
        const core::json_value j = core::json_parse_file(name);
        const auto get = [&](const char* key, long long dflt) -> long long {
            const core::json_value* v = j.find(key);
            if (!v) {
                TRANOVA_CHECK(dflt >= 0, "{}: the model config lacks '{}'", name, key);
                return dflt;
            }
            TRANOVA_CHECK(v->kind == core::json_value::number_v && v->is_integer && v->integer > 0 && v->integer < (1 << 20),
                          "{}: '{}' must be a positive integer", name, key);
            return v->integer;
        };
        c.n_layer = static_cast<int>(get("n_layer", -1));
        c.n_embd = static_cast<int>(get("n_embd", -1));
        c.n_head = static_cast<int>(get("n_head", -1));
        c.n_inner = static_cast<int>(get("n_inner", 4LL * c.n_embd));
        c.n_ctx = static_cast<int>(get("n_positions", 1024));
    }
    if (c.n_inner == 0) c.n_inner = 4 * c.n_embd;
    TRANOVA_CHECK(c.n_embd % c.n_head == 0 && c.n_head % 4 == 0 && c.n_ctx > 2,
                  "{}: unsupported Tranception shape (n_embd {} must be a multiple of n_head {}, itself a multiple of 4)",
                  name, c.n_embd, c.n_head);
    std::map<std::string, core::config_value> cfg{{"n_layer", int64_t(c.n_layer)},   {"n_embd", int64_t(c.n_embd)},
                                                  {"n_head", int64_t(c.n_head)},     {"n_inner", int64_t(c.n_inner)},
                                                  {"n_positions", int64_t(c.n_ctx)}, {"n_ctx", int64_t(c.n_ctx)},
                                                  {"vocab_size", int64_t(25)},      {"head_dim", int64_t(c.n_embd / c.n_head)},
                                                  {"layer_norm_epsilon", 1e-5}};
    return {c, std::move(cfg)};
}

}  // namespace tranova::tranception

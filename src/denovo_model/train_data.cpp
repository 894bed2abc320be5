#include "denovo_model/train_data.hpp"

#include "core/rng.hpp"
#include "denovo/mztab.hpp"
#include "denovo/source.hpp"
#include "denovo/spectrum.hpp"
#include "util/text.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

namespace tranova::denovo_model {

std::string train_data_stats::summary() const {
    return fmt::format("{} of {} spectra used, {} skipped ({} rejected by the reader, {} unlabelled, {} without a usable "
                       "charge, {} with a peptide the model's vocabulary cannot tokenise, {} too long for the decoder, "
                       "{} with a precursor mass that disagrees with the peptide)",
                       used, records, skipped(), reader_skipped, unlabelled, no_charge, untokenisable, too_long,
                       mass_mismatch);
}

denovo::vocabulary model_vocabulary(const model_config& cfg) {
    const denovo::vocabulary& kb = denovo::vocabulary::massivekb();
    std::vector<denovo::residue> res;
    for (int i = 0; i < cfg.residues.size(); ++i) {
        const std::string& tok = cfg.residues.tokens[size_t(i)];
        const int k = kb.index(tok);
        TRANOVA_CHECK(k >= 0, "vocabulary mismatch: the model's residue '{}' is not in the MassIVE-KB alphabet the label "
                      "parser knows", tok);
        const denovo::residue& r = kb.residues()[size_t(k)];
        TRANOVA_CHECK(std::fabs(r.mass - cfg.residues.masses[size_t(i)]) < 1e-4,
                      "vocabulary mismatch: the model's residue '{}' weighs {} Da, the MassIVE-KB alphabet's {} Da", tok,
                      cfg.residues.masses[size_t(i)], r.mass);
        res.push_back(r);
    }
    TRANOVA_CHECK(!res.empty(), "vocabulary mismatch: the model has no residues");
    return denovo::vocabulary(std::move(res));
}

namespace {

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

void psm_labels::put(const std::string& spectrum_file, const std::string& kind, const std::string& value,
                     std::string peptide, const std::string& where) {
    const std::string key = spectrum_file + "\t" + kind + "\t" + value;
    auto [it, fresh] = by_key_.emplace(key, entry{peptide, files_.size() - 1});
    TRANOVA_CHECK(fresh || it->second.peptide == peptide, "{}: two labels for spectrum {}={}{} ('{}' and '{}')", where,
                  kind, value, spectrum_file.empty() ? "" : " of " + spectrum_file, it->second.peptide, peptide);
}

void psm_labels::add_file(const std::string& path) {
    files_.push_back(path);
    matched_.push_back(0);
    const std::string ext = lower(std::filesystem::path(path).extension().string());
    if (ext == ".mztab") {
        const denovo::mztab_file f = denovo::read_mztab(path);
        for (const denovo::psm& p : f.psms) {
            const std::string pep = !p.sequence_text.empty() ? p.sequence_text : denovo::to_casanovo(p.tokens);
            const std::string run = p.ms_run >= 1 && size_t(p.ms_run) <= f.ms_runs.size()
                                        ? file_name(f.ms_runs[size_t(p.ms_run - 1)])
                                        : std::string();
            if (p.index >= 0) put(run, "index", std::to_string(p.index), pep, path);
            else if (p.scan >= 0) put(run, "scan", std::to_string(p.scan), pep, path);
            else if (!p.title.empty()) put(run, "title", p.title, pep, path);
            else TRANOVA_FAIL("{}: PSM '{}' has neither an index/scan spectra_ref nor a title", path, pep);
        }
        TRANOVA_CHECK(!f.psms.empty(), "{}: no PSM rows", path);
        return;
    }
    TRANOVA_CHECK(ext == ".csv" || ext == ".tsv", "{}: labels must be .mztab, .csv or .tsv", path);
    denovo::line_source lines(denovo::open_file_source(path));
    std::string_view line;
    std::vector<std::string> header;
    char sep = ',';
    int c_pep = -1, c_key = -1, c_file = -1;
    std::string kind;
    long rows = 0;
    while (lines.next(line)) {
        if (trim(line).empty()) continue;
        const std::string where = fmt::format("{}:{}", path, lines.line());
        if (header.empty()) {
            sep = line.find('\t') != std::string_view::npos ? '\t' : ',';
            for (auto f : split(line, sep)) header.push_back(lower(std::string(trim(f))));
            for (int i = 0; i < int(header.size()); ++i) {
                const std::string& h = header[size_t(i)];
                if (h == "peptide" || h == "sequence") c_pep = i;
                else if (h == "file") c_file = i;
                else if ((h == "index" || h == "scan" || h == "title") && c_key < 0) c_key = i, kind = h;
            }
            TRANOVA_CHECK(c_pep >= 0 && c_key >= 0, "{}: the header needs a 'peptide' (or 'sequence') column and one of "
                          "'index', 'scan', 'title'", where);
            continue;
        }
        TRANOVA_CHECK(line.find('"') == std::string_view::npos, "{}: quoted fields are not supported", where);
        const auto f = split(line, sep);
        TRANOVA_CHECK(f.size() == header.size(), "{}: {} fields, the header has {}", where, f.size(), header.size());
        const std::string key(trim(f[size_t(c_key)])), pep(trim(f[size_t(c_pep)]));
        long long v = 0;
        TRANOVA_CHECK(kind == "title" || (parse_int(key, v) && v >= 0), "{}: {} '{}' is not a number", where, kind, key);
        TRANOVA_CHECK(!pep.empty() && !key.empty(), "{}: empty {} or peptide", where, kind);
        put(c_file >= 0 ? file_name(std::string(trim(f[size_t(c_file)]))) : std::string(), kind,
            kind == "title" ? key : std::to_string(v), pep, where);
        ++rows;
    }
    TRANOVA_CHECK(rows > 0, "{}: no label rows", path);
}

const std::string* psm_labels::find(const std::string& spectrum_file, long index, long scan, const std::string& title) {
    const std::string name = file_name(spectrum_file);
    for (const std::string& file : {name, std::string()}) {
        for (const auto& [kind, value] : {std::pair<std::string, std::string>{"index", index >= 0 ? std::to_string(index) : ""},
                                          {"scan", scan >= 0 ? std::to_string(scan) : ""},
                                          {"title", title}}) {
            if (value.empty()) continue;
            const auto it = by_key_.find(file + "\t" + kind + "\t" + value);
            if (it != by_key_.end()) {
                ++matched_[it->second.file];
                return &it->second.peptide;
            }
        }
    }
    return nullptr;
}

void psm_labels::check_all_used() const {
    for (size_t i = 0; i < files_.size(); ++i)
        TRANOVA_CHECK(matched_[i] > 0, "{}: no label matches a spectrum of the training or validation files (keys: the "
                      "spectrum file's name with index=/scan=, or the title)", files_[i]);
}

namespace {

// CTC can emit a target of length L in T positions only if L + (adjacent repeats) <= T.
int ctc_positions_needed(const std::vector<int32_t>& t) {
    int n = int(t.size());
    for (size_t i = 1; i < t.size(); ++i) n += t[i] == t[i - 1];
    return n;
}

}  // namespace

train_data_stats load_training_spectra(const std::vector<std::string>& paths, const model_config& cfg,
                                       const train_data_options& opt, spectrum_set& out) {
    const denovo::vocabulary vocab = model_vocabulary(cfg);
    const auto prep = denovo::preprocess_options::preset(opt.preset.empty() ? cfg.preset : opt.preset);
    train_data_stats st;
    for (const std::string& path : paths) {
        denovo::read_options ro;
        ro.max_charge = cfg.max_charge;
        ro.keep_chargeless = true;  // counted here, with the other reasons
        auto reader = denovo::open_spectra(path, ro);
        denovo::spectrum s;
        denovo::processed_peaks pk;
        long labelled = 0, returned = 0;
        while (reader->next(s)) {
            ++returned;
            if (s.seq.empty() && opt.labels)
                if (const std::string* l = opt.labels->find(path, s.index, s.scan, s.title)) s.seq = *l;
            if (s.seq.empty()) {
                ++st.unlabelled;
                continue;
            }
            ++labelled;
            if (s.charge < 1 || s.charge > cfg.max_charge) {
                ++st.no_charge;
                continue;
            }
            denovo::peptide pep;
            std::string why;
            if (!denovo::try_parse_peptide(s.seq, pep, &why, vocab, true)) {
                if (st.untokenisable++ == 0)
                    st.first_untokenisable = fmt::format("{}: record {} (TITLE={}): {}", path, s.index, s.title, why);
                continue;
            }
            labelled_spectrum item;
            for (auto it = pep.rbegin(); it != pep.rend(); ++it) item.residues.push_back(vocab.index(*it));
            const bool long_ar = opt.need_ar && int(item.residues.size()) > cfg.max_length;
            const bool long_nar = opt.need_nar && ctc_positions_needed(item.residues) > cfg.nar_length;
            if (pep.empty() || long_ar || long_nar) {
                ++st.too_long;
                continue;
            }
            const double calc = denovo::peptide_mz(pep, s.charge, vocab);
            if (!denovo::precursor_fits(calc, s.precursor_mz, s.charge, opt.mass_tol_ppm, cfg.isotope_min,
                                        cfg.isotope_max)) {
                ++st.mass_mismatch;
                continue;
            }
            denovo::preprocess(s, prep, pk);
            if (pk.too_few) {
                ++st.reader_skipped;
                continue;
            }
            item.peaks.resize(pk.mz.size() * 2);
            for (size_t i = 0; i < pk.mz.size(); ++i) {
                item.peaks[2 * i] = pk.mz[i];
                item.peaks[2 * i + 1] = pk.intensity[i];
            }
            // as `denovo sequence`: float32 m/z, M = (m/z - 1.007276) * z in float32
            item.mass = (float(s.precursor_mz) - float(denovo::kProtonRounded)) * float(s.charge);
            item.precursor_mz = float(s.precursor_mz);
            item.charge = s.charge;
            item.peptide = denovo::to_casanovo(pep);
            out.items.push_back(std::move(item));
            ++st.used;
        }
        const auto& rs = reader->stats();
        st.records += rs.records - rs.other_level;  // MS1 (or other levels) of an mzML are not candidates
        st.reader_skipped += rs.skipped;
        TRANOVA_CHECK(labelled > 0 || returned == 0, "{}: no spectrum has a SEQ= label{} ({} unlabelled); training needs "
                      "annotated spectra", path, opt.labels && !opt.labels->empty() ? " or a label from --labels" : "",
                      returned);
        out.source += (out.source.empty() ? "" : ", ") + path;
    }
    return st;
}

void split_by_peptide(spectrum_set& train, spectrum_set& val, double fraction, uint64_t seed) {
    TRANOVA_CHECK(fraction >= 0 && fraction < 1, "validation fraction {} outside [0, 1)", fraction);
    val = spectrum_set{};
    val.source = train.source;
    std::map<std::string, size_t> ids;  // sorted: the split does not depend on the file order
    for (const auto& it : train.items) ids.emplace(it.peptide, 0);
    std::vector<std::string> peptides;
    for (auto& [p, id] : ids) {
        id = peptides.size();
        peptides.push_back(p);
    }
    const size_t n = peptides.size();
    size_t k = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
    if (fraction > 0 && k == 0 && n >= 2) k = 1;
    if (k == 0) return;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    core::rng(seed, 0x76616cULL).shuffle(order);  // stream "val", as tranova train
    std::vector<char> is_val(n, 0);
    for (size_t i = 0; i < k; ++i) is_val[order[i]] = 1;
    spectrum_set kept;
    kept.source = train.source;
    for (auto& it : train.items) (is_val[ids[it.peptide]] ? val : kept).items.push_back(std::move(it));
    train = std::move(kept);
}

train_batch make_batch(const denovo_model& m, const spectrum_set& s, const std::vector<size_t>& idx, bool ar, bool ctc) {
    train_batch b;
    b.B = int(idx.size());
    size_t N = 1, L = 0;
    for (size_t i : idx) {
        N = std::max(N, s.items[i].peaks.size() / 2);
        L = std::max(L, s.items[i].residues.size());
    }
    b.N = int(N);
    b.peaks.assign(size_t(b.B) * N * 2, 0.0f);
    for (int k = 0; k < b.B; ++k) {
        const labelled_spectrum& it = s.items[idx[size_t(k)]];
        std::copy(it.peaks.begin(), it.peaks.end(), b.peaks.begin() + long(size_t(k) * N * 2));
        b.mass.push_back(it.mass);
        b.charge.push_back(it.charge);
    }
    if (ar) {
        b.L = int(L) + 1;
        b.ar_tokens.assign(size_t(b.B) * b.L, 0);
        for (int k = 0; k < b.B; ++k) {
            const auto& r = s.items[idx[size_t(k)]].residues;
            int32_t* row = b.ar_tokens.data() + size_t(k) * b.L;
            for (size_t j = 0; j < r.size(); ++j) row[j] = r[j] + 1;
            row[r.size()] = m.stop_token();
        }
    }
    if (ctc) {
        b.S = int(std::max<size_t>(L, 1));
        b.ctc_targets.assign(size_t(b.B) * b.S, -1);
        for (int k = 0; k < b.B; ++k) {
            const auto& r = s.items[idx[size_t(k)]].residues;
            std::copy(r.begin(), r.end(), b.ctc_targets.begin() + long(size_t(k) * b.S));
            b.ctc_lengths.push_back(int32_t(r.size()));
        }
    }
    return b;
}

}  // namespace tranova::denovo_model

// Streaming MGF reader: a 4 MiB read buffer, memchr line splitting and std::from_chars
// number parsing (fast_float in libstdc++ 12), no per-line allocation.
#include "denovo/spectrum.hpp"
#include "denovo/source.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace tranova::denovo {

namespace {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline const char* skip_space(const char* p, const char* e) {
    while (p < e && is_space(*p)) ++p;
    return p;
}

// Parses a number at p (from_chars rejects a leading '+').
inline const char* parse_num(const char* p, const char* e, double& v) {
    if (p < e && *p == '+') ++p;
    auto r = std::from_chars(p, e, v);
    return r.ec == std::errc() ? r.ptr : nullptr;
}

bool iequal_key(std::string_view key, std::string_view upper) {
    if (key.size() != upper.size()) return false;
    for (size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        if (c != upper[i]) return false;
    }
    return true;
}

class mgf_reader final : public spectrum_reader {
public:
    mgf_reader(std::unique_ptr<byte_source> src, const std::string& name, const read_options& opt,
               size_t chunk = size_t(4) << 20)
        : lines_(std::move(src), chunk) {
        path_ = name;
        opt_ = opt;
    }

    uint64_t bytes_read() const override { return lines_.consumed(); }

    bool next(spectrum& s) override {
        std::string_view line;
        for (;;) {
            if (!in_block_) {
                if (!lines_.next(line)) {
                    // A file without a single record is not an MGF (empty, junk, wrong file):
                    // an error, never an empty result.
                    TRANOVA_CHECK(stats_.records > 0, "{}: no MGF record (BEGIN IONS ... END IONS) in {} lines",
                                  path_, lines_.line());
                    return false;
                }
                std::string_view t = trim(line);
                if (t.empty() || t[0] == '#' || t[0] == ';' || t[0] == '!') continue;
                if (iequal_key(t, "BEGIN IONS")) {
                    start_block(s);
                    continue;
                }
                // Global parameters before/between blocks apply to every later spectrum.
                // Anything else outside a record is an error: skipping it silently could
                // hide a record and shift every later index (evaluation pairs by index).
                size_t eq = t.find('=');
                TRANOVA_CHECK(eq != std::string_view::npos && eq > 0 && !iequal_key(t, "END IONS"),
                              "{}:{}: unexpected line outside a BEGIN IONS ... END IONS record: '{}'", path_,
                              lines_.line(), t.substr(0, 60));
                std::string_view key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
                if (iequal_key(key, "CHARGE")) {
                    global_charges_.clear();
                    parse_charge_list(std::string(value), global_charges_);
                }
                continue;
            }
            if (!lines_.next(line)) {
                bad_ = bad_.empty() ? "file ends inside the record (no END IONS)" : bad_;
                in_block_ = false;
                report(s);
                return false;
            }
            const char* p = line.data();
            const char* e = p + line.size();
            p = skip_space(p, e);
            if (p == e) continue;
            char c = *p;
            if ((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+') {
                if (!bad_.empty()) continue;
                double mz = 0, in = 0;
                const char* q = parse_num(p, e, mz);
                if (q && q < e && is_space(*q)) {
                    q = skip_space(q, e);
                    q = parse_num(q, e, in);
                    if (q && q != e && !is_space(*q)) q = nullptr;
                } else {
                    q = nullptr;
                }
                if (!q) {
                    bad_ = fmt::format("line {}: cannot parse peak line '{}'", lines_.line(),
                                       std::string_view(p, std::min<size_t>(e - p, 60)));
                    continue;
                }
                s.mz.push_back(mz);
                s.intensity.push_back(static_cast<float>(in));
                continue;
            }
            std::string_view t = trim(std::string_view(p, e - p));
            if (iequal_key(t, "END IONS")) {
                in_block_ = false;
                if (finish(s)) return true;
                continue;
            }
            if (iequal_key(t, "BEGIN IONS")) {
                if (bad_.empty()) bad_ = "BEGIN IONS inside a record (missing END IONS)";
                report(s);
                start_block(s);
                continue;
            }
            size_t eq = t.find('=');
            if (eq == std::string_view::npos) {
                if (bad_.empty()) bad_ = fmt::format("line {}: unexpected line '{}'", lines_.line(), t.substr(0, 60));
                continue;
            }
            header(s, trim(t.substr(0, eq)), trim(t.substr(eq + 1)));
        }
    }

private:
    void start_block(spectrum& s) {
        s.clear();
        s.index = next_index_++;
        ++stats_.records;
        in_block_ = true;
        bad_.clear();
        have_pepmass_ = false;
        have_charge_ = false;
        charge_text_.clear();
        start_line_ = lines_.line();
    }

    void header(spectrum& s, std::string_view key, std::string_view value) {
        if (iequal_key(key, "TITLE")) {
            s.title.assign(value);
        } else if (iequal_key(key, "PEPMASS")) {
            const char* p = value.data();
            const char* e = p + value.size();
            double mz = 0;
            const char* q = parse_num(p, e, mz);
            if (!q || (q != e && !is_space(*q)) || !(mz > 0) || !std::isfinite(mz)) {
                if (bad_.empty()) bad_ = fmt::format("invalid PEPMASS '{}'", value.substr(0, 60));
                return;
            }
            s.precursor_mz = mz;
            q = skip_space(q, e);
            double in = 0;
            if (q != e && parse_num(q, e, in)) s.precursor_intensity = in;
            have_pepmass_ = true;
        } else if (iequal_key(key, "CHARGE")) {
            have_charge_ = parse_charge_list(std::string(value), s.charges);
            if (!have_charge_) charge_text_.assign(value);
        } else if (iequal_key(key, "RTINSECONDS")) {
            double v = 0;
            if (parse_double(value, v)) s.rt_seconds = v;
        } else if (iequal_key(key, "SCANS")) {
            s.scans.assign(value);
            long long v = 0;
            if (parse_int(value, v)) s.scan = static_cast<long>(v);
        } else if (iequal_key(key, "SEQ")) {
            s.seq.assign(value);
        }
    }

    std::string where(const spectrum& s) const {
        return fmt::format("{}:{}: MGF record index={}{}", path_, start_line_, s.index,
                           s.title.empty() ? "" : fmt::format(" (TITLE={})", s.title));
    }

    void report(spectrum& s) {
        ++stats_.skipped;
        problem(fmt::format("{}: {}; spectrum skipped", where(s), bad_));
    }

    bool finish(spectrum& s) {
        if (bad_.empty() && !have_pepmass_) bad_ = "no PEPMASS";
        if (!bad_.empty()) {
            report(s);
            return false;
        }
        if (!have_charge_ && !global_charges_.empty()) s.charges = global_charges_;
        s.charge = s.charges.empty() ? 0 : s.charges.front();
        if (s.charge < opt_.min_charge || s.charge > opt_.max_charge) {
            if (opt_.keep_chargeless) {
                s.charge = 0;
            } else {
                ++stats_.skipped_charge;
                bad_ = s.charges.empty()
                           ? std::string(have_charge_ || charge_text_.empty() ? "no CHARGE" : "unreadable CHARGE")
                           : fmt::format("charge {} outside {}..{}", s.charges.front(), opt_.min_charge,
                                         opt_.max_charge);
                report(s);
                return false;
            }
        }
        ++stats_.returned;
        return true;
    }

    line_source lines_;
    std::vector<int> global_charges_;
    std::string bad_, charge_text_;
    long next_index_ = 0, start_line_ = 0;
    bool in_block_ = false, have_pepmass_ = false, have_charge_ = false;
};

}  // namespace

std::unique_ptr<spectrum_reader> open_mgf(const std::string& path, const read_options& opt) {
    return std::make_unique<mgf_reader>(open_file_source(path), path, opt);
}

std::unique_ptr<spectrum_reader> mgf_from_memory(std::string data, const std::string& name, const read_options& opt) {
    // A buffer no larger than the data (small inputs, fuzzing).
    const size_t chunk = std::clamp<size_t>(data.size() + 1, 64, size_t(4) << 20);
    return std::make_unique<mgf_reader>(memory_source(std::move(data)), name, opt, chunk);
}

}  // namespace tranova::denovo

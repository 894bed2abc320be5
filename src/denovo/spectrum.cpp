#include "denovo/spectrum.hpp"

#include "denovo/peptide.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <cctype>

namespace tranova::denovo {

void spectrum::clear() {
    index = -1;
    title.clear();
    scan = -1;
    scans.clear();
    ms_level = 2;
    precursor_mz = 0;
    precursor_intensity = 0;
    charge = 0;
    charges.clear();
    rt_seconds = NAN;
    seq.clear();
    mz.clear();
    intensity.clear();
}

double spectrum::neutral_mass() const { return precursor_neutral_mass(precursor_mz, charge); }

void spectrum_reader::problem(const std::string& msg) {
    ++stats_.warnings;
    if (static_cast<long>(stats_.first_problems.size()) < opt_.max_warnings) {
        stats_.first_problems.push_back(msg);
        log::warn("{}", msg);
        if (static_cast<long>(stats_.first_problems.size()) == opt_.max_warnings)
            log::warn("{}: further problems are counted, not shown", path_);
    }
}

spectrum_format spectrum_format_of(const std::string& path) {
    std::string lower;
    for (char c : path) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto ends = [&](std::string_view suf) {
        return lower.size() >= suf.size() && lower.compare(lower.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (ends(".gz")) lower.resize(lower.size() - 3);
    if (ends(".mgf")) return spectrum_format::mgf;
    if (ends(".mzml") || ends(".mzxml")) return spectrum_format::mzml;
    TRANOVA_FAIL("{}: unknown spectrum file type (expected .mgf, .mzML or .mzXML, optionally .gz)", path);
}

std::unique_ptr<spectrum_reader> open_spectra(const std::string& path, const read_options& opt) {
    return spectrum_format_of(path) == spectrum_format::mgf ? open_mgf(path, opt) : open_mzml(path, opt);
}

std::vector<spectrum> read_all_spectra(const std::string& path, const read_options& opt, read_stats* stats) {
    auto r = open_spectra(path, opt);
    std::vector<spectrum> out;
    spectrum s;
    while (r->next(s)) out.push_back(s);
    if (stats) *stats = r->stats();
    return out;
}

bool parse_charge_list(const std::string& text, std::vector<int>& charges) {
    charges.clear();
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
            ++i;
            continue;
        }
        long v = 0;
        size_t j = i;
        while (j < n && std::isdigit(static_cast<unsigned char>(text[j])) && v < 1000000) v = v * 10 + (text[j++] - '0');
        while (j < n && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
        // A sign may precede ("+2", "-2") or follow ("2+", "2-") the number.
        int sign = 1;
        if (j < n && text[j] == '-') sign = -1;
        else if (j < n && text[j] == '+') sign = 1;
        else if (i > 0 && text[i - 1] == '-') sign = -1;
        charges.push_back(static_cast<int>(sign * v));
        i = j + 1;
    }
    return !charges.empty();
}

}  // namespace tranova::denovo

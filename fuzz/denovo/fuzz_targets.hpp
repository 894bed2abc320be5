// The bodies of the de novo reader fuzz targets, shared by the libFuzzer entry points
// (fuzz_mgf.cpp, fuzz_mzml.cpp) and the seed-corpus replay unit test
// (tests/fuzz/test_fuzz_replay.cpp). A tranova::error (malformed file) is an expected
// outcome; anything else (crash, sanitizer report, other exception) is a bug.
#pragma once

#include "denovo/peptide.hpp"
#include "denovo/preprocess.hpp"
#include "denovo/spectrum.hpp"
#include "util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace tranova_fuzz {

inline void drain(tranova::denovo::spectrum_reader& r) {
    using namespace tranova::denovo;
    spectrum s;
    processed_peaks p;
    peptide pep;
    while (r.next(s)) {
        preprocess(s, preprocess_options::casanovo(), p);
        if (!s.seq.empty() && try_parse_peptide(s.seq, pep) && s.charge > 0 && !pep.empty()) {
            bool known = true;
            for (const auto& t : pep) known = known && vocabulary::massivekb().index(t) >= 0;
            if (known) (void)precursor_ppm_error(peptide_mz(pep, s.charge), s.precursor_mz, s.charge);
            (void)to_proforma(pep);
        }
    }
}

inline int fuzz_mgf_one(const uint8_t* data, size_t size) {
    using namespace tranova::denovo;
    for (bool keep : {false, true}) {
        read_options o;
        o.keep_chargeless = keep;
        o.max_warnings = 0;
        try {
            auto r = mgf_from_memory(std::string(reinterpret_cast<const char*>(data), size), "fuzz.mgf", o);
            drain(*r);
        } catch (const tranova::error&) {
        }
    }
    return 0;
}

inline int fuzz_mzml_one(const uint8_t* data, size_t size) {
    using namespace tranova::denovo;
    for (int level : {2, 0}) {
        read_options o;
        o.ms_level = level;
        o.keep_chargeless = level == 0;
        o.max_warnings = 0;
        try {
            auto r = mzml_from_memory(std::string(reinterpret_cast<const char*>(data), size), "fuzz.mzML", o);
            drain(*r);
        } catch (const tranova::error&) {
        }
    }
    return 0;
}

}  // namespace tranova_fuzz

// Peak preprocessing (spectrum_utils 0.4 semantics as used by Casanovo v3–v4,
// ContraNovo and PrimeNovo): m/z window, precursor-peak removal, relative-intensity
// filter, top-N, sqrt and L2 normalisation. The output is float32 [m/z, intensity] in m/z
// order; a spectrum that ends up empty becomes the dummy spectrum [[0, 1]].
#pragma once

#include "denovo/spectrum.hpp"

#include <string>
#include <vector>

namespace tranova::denovo {

struct preprocess_options {
    double min_mz = 50.0;
    double max_mz = 2500.0;
    double remove_precursor_tol = 2.0;  // Da; <= 0 disables the removal
    double min_intensity = 0.01;        // fraction of the most intense peak (kept if strictly greater)
    int n_peaks = 150;                  // keep the n most intense
    int min_peaks = 0;                  // Casanovo v5 skips spectra with fewer peaks (after filtering); 0 = off

    static preprocess_options casanovo();    // v3.2–v4.2: 50–2500, ±2 Da, 0.01, 150
    static preprocess_options casanovo_v5(); // v5.2: as v4 plus min_peaks 20
    static preprocess_options contranovo();  // 50.5–4500, ±2 Da, 0.0, 300
    static preprocess_options primenovo();   // 1–6500, ±1 Da, 0.0, 800 (also RefineNovo)
    // By name: "casanovo", "casanovo_v5", "contranovo", "primenovo". Throws on others.
    static preprocess_options preset(const std::string& name);
};

// The preprocessed peaks of one spectrum.
struct processed_peaks {
    std::vector<float> mz;
    std::vector<float> intensity;
    bool dummy = false;      // true when every peak was filtered out ([[0, 1]])
    bool too_few = false;    // fewer than min_peaks peaks survived (Casanovo v5 skips the spectrum)
};

// Preprocesses s into out (buffers reused). `precursor_mz` and `charge` of s drive the
// precursor-peak removal (charge 0 removes nothing). Peaks need not be sorted on input.
void preprocess(const spectrum& s, const preprocess_options& opt, processed_peaks& out);
processed_peaks preprocess(const spectrum& s, const preprocess_options& opt);

}  // namespace tranova::denovo

// Peptide vocabulary, residue masses and peptide strings for de novo sequencing.
//
// The residue alphabet is the MassIVE-KB / Casanovo <= v4.2 one (spec §2.1): 20 plain
// residues (I and L both, same mass), carbamidomethyl C written `C+57.021`, three modified
// residues (`M+15.995`, `N+0.984`, `Q+0.984`) and four N-terminal modification tokens
// (`+42.011`, `+43.006`, `-17.027`, `+43.006-17.027`). A peptide is a vector of tokens in
// N→C order, an N-terminal token first.
//
// Strings are read in either of the two styles met in practice and written in both:
//   Casanovo / MassIVE-KB tokens: `+42.011PEPTM+15.995IDEK`, `C+57.021GHTNNIRPK`
//   ProForma 2.0 (Casanovo v5):   `[Acetyl]-PEPTM[Oxidation]IDEK`, `C[UNIMOD:4]GHTNNIRPK`,
//                                 `M[+15.995]`, `[+25.980265]-QLLK`
// plus the DeepNovo / PEAKS style `C(+57.02)`, `M(+15.99)`, `(+42.01)PEP`. A modification
// given by name, UNIMOD accession or mass is mapped to the vocabulary token with the same
// residue and a modification mass within 0.01 Da.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::denovo {

// Physical constants: the values of depthcharge's PeptideMass and Casanovo (and the rounded
// ones the reference models use), so that masses and ppm errors match theirs.
inline constexpr double kH2O = 18.0105647;              // water, monoisotopic
inline constexpr double kProton = 1.00727646688;         // proton mass
inline constexpr double kProtonRounded = 1.007276;       // what the models use for M = (mz - p)·z
inline constexpr double kHydrogen = 1.007825035;         // hydrogen atom (spectrum_utils precursor removal)
inline constexpr double kC13Spacing = 1.00335;           // isotope spacing in Casanovo's precursor check
inline constexpr double kPrimeNovoH2O = 18.01;           // PrimeNovo's water in its NAR mass checks (PMC target)

// One vocabulary entry.
struct residue {
    std::string token;     // Casanovo/MassIVE-KB token: "M+15.995", "+42.011", "L"
    double mass = 0;       // monoisotopic residue (or N-terminal modification) mass, Da
    char aa = 0;           // the amino-acid letter; 0 for an N-terminal modification token
    double mod_mass = 0;   // modification delta mass (0 for plain residues)
    bool n_term = false;   // an N-terminal modification token
    std::string proforma;  // ProForma form: "M[Oxidation]", "[Acetyl]-", "L"
    int unimod = 0;        // UNIMOD accession of the modification, 0 if none/unknown
    std::string mod_name;  // "Oxidation", "" for plain residues
};

// The residue alphabet. Token ids are the position in tokens() (0-based); models map them
// to their own index layouts (CTC blank, padding, stop).
class vocabulary {
public:
    // The MassIVE-KB alphabet of spec §2.1 in config.yaml order (27 tokens, I included).
    static const vocabulary& massivekb();
    explicit vocabulary(std::vector<residue> residues);

    const std::vector<residue>& residues() const { return residues_; }
    size_t size() const { return residues_.size(); }
    // Token id, or -1 when the token is not in the vocabulary.
    int index(std::string_view token) const;
    // Residue mass of a token, or nullopt when unknown.
    std::optional<double> mass(std::string_view token) const;
    // Mass of a token with unknown tokens weighing 0 (Casanovo's evaluation convention).
    double mass_or_zero(std::string_view token) const;
    // The token for amino acid `aa` carrying modification mass `delta` (0 = unmodified),
    // within `tol` Da; for aa == 0 an N-terminal modification token. -1 if none.
    int find(char aa, double delta, double tol = 0.01) const;

private:
    std::vector<residue> residues_;
};

using peptide = std::vector<std::string>;  // tokens, N→C

// Casanovo's tokenizer: split before every uppercase letter that is not the first
// character (regex `(?<=.)(?=[A-Z])`). No validation: unknown tokens pass through, the
// empty string gives no tokens. `i_to_l` replaces I by L first (what the models train on).
peptide split_tokens(std::string_view s, bool i_to_l = false);

// Parses a peptide in Casanovo-token, ProForma or DeepNovo style (auto-detected) into
// vocabulary tokens. Throws tranova::error ("cannot parse peptide 'X': ...") on a token
// or modification the vocabulary does not have.
peptide parse_peptide(std::string_view s, const vocabulary& vocab = vocabulary::massivekb(), bool i_to_l = false);
// As parse_peptide but returns false and an explanation instead of throwing.
bool try_parse_peptide(std::string_view s, peptide& out, std::string* why = nullptr,
                       const vocabulary& vocab = vocabulary::massivekb(), bool i_to_l = false);

// Whether `s` is written like a peptide in any of the notations above: upper-case residue
// letters, modification masses (+15.995, -17.027), bracketed/parenthesised annotations
// ([Oxidation], (+57.02)) and ProForma's N-terminal '-'. Prediction files whose peptide
// fails this (e.g. "XYZ@#", binary junk) are errors; a well-formed peptide with a token the
// vocabulary lacks is only warned about (it weighs 0 in evaluation). On false, *why says
// which character is wrong.
bool looks_like_peptide(std::string_view s, std::string* why = nullptr);

// Casanovo/MassIVE-KB token string: the tokens concatenated.
std::string to_casanovo(const peptide& p);
// ProForma 2.0. style: 0 = names (`M[Oxidation]`, `[Acetyl]-`; Casanovo v5),
// 1 = UNIMOD accessions (`M[UNIMOD:35]`), 2 = masses (`M[+15.995]`, PrimeNovo denovo.tsv).
// Combined N-terminal tokens without a single name (+43.006-17.027) are written by mass.
enum class proforma_style { names, unimod, mass };
std::string to_proforma(const peptide& p, proforma_style style = proforma_style::names,
                        const vocabulary& vocab = vocabulary::massivekb());
// The unmodified residue letters (Casanovo v5's mzTab `sequence` column).
std::string to_plain(const peptide& p, const vocabulary& vocab = vocabulary::massivekb());
// Replaces I by L in every token.
void i_to_l(peptide& p);

// Σ residue masses. Throws on an unknown token.
double residue_mass_sum(const peptide& p, const vocabulary& vocab = vocabulary::massivekb());
// Neutral peptide mass: Σ residues + H2O.
double peptide_neutral_mass(const peptide& p, const vocabulary& vocab = vocabulary::massivekb());
// Peptide m/z at charge z: M/z + proton (Casanovo calc_mass_to_charge).
double peptide_mz(const peptide& p, int charge, const vocabulary& vocab = vocabulary::massivekb());
inline double neutral_mass_to_mz(double neutral, int charge) { return neutral / charge + kProton; }
// Neutral precursor mass from the observed m/z, as the models compute it:
// (mz − 1.007276)·z.
inline double precursor_neutral_mass(double precursor_mz, int charge) {
    return (precursor_mz - kProtonRounded) * charge;
}
// Casanovo's precursor ppm error for isotope offset `isotope` (0, 1, ...):
// (calc_mz − (obs_mz − isotope·1.00335/z)) / obs_mz · 1e6.
double precursor_ppm_error(double calc_mz, double obs_mz, int charge, int isotope = 0);
// Smallest |ppm error| over isotopes min_isotope..max_isotope.
double best_ppm_error(double calc_mz, double obs_mz, int charge, int min_isotope = 0, int max_isotope = 1);
// The same checks in float32 as Casanovo's beam search computes them with torch (the
// double versions above are the evaluation's): calc_mz of a residue-mass sum (H2O added
// here) for a float32 charge, and the ppm error for an isotope offset.
float casanovo_calc_mz(double residue_mass_sum, float charge);
float casanovo_ppm_error(float calc_mz, float obs_mz, float charge, int isotope);
// True when some isotope in the range gives |ppm| < tol_ppm (Casanovo's "fits precursor").
bool precursor_fits(double calc_mz, double obs_mz, int charge, double tol_ppm = 50, int min_isotope = 0,
                    int max_isotope = 1);

}  // namespace tranova::denovo

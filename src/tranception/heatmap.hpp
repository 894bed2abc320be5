// SVG heatmap of an in-silico saturation mutagenesis: positions (x) x 20 amino acids (y),
// a diverging colour scale centred on 0 with a legend, the wild type marked in each
// column. Self-contained SVG (no scripts, no external fonts) that opens in a browser.
#pragma once

#include <string>
#include <vector>

namespace tranova::tranception {

// scores[p * 20 + a]: score of amino acid amino_acids[a] at position p (0-based), NaN =
// none (the wild type's own cell). `first_position` numbers the x axis (1-based).
std::string heatmap_svg(const std::string& sequence, const std::vector<double>& scores, const std::string& title,
                        int first_position = 1);

}  // namespace tranova::tranception

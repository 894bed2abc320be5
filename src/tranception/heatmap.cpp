#include "tranception/heatmap.hpp"

#include "tranception/tokenizer.hpp"
#include "util/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tranova::tranception {

namespace {
// Blue (low) - white (0) - red (high), t in [-1, 1].
std::string colour(double t) {
    t = std::clamp(t, -1.0, 1.0);
    int r, g, b;
    if (t < 0) {
        double u = -t;
        r = int(std::lround(255 - u * (255 - 33)));
        g = int(std::lround(255 - u * (255 - 102)));
        b = int(std::lround(255 - u * (255 - 172)));
    } else {
        r = int(std::lround(255 - t * (255 - 178)));
        g = int(std::lround(255 - t * (255 - 24)));
        b = int(std::lround(255 - t * (255 - 43)));
    }
    return fmt::format("#{:02x}{:02x}{:02x}", r, g, b);
}
}  // namespace

std::string heatmap_svg(const std::string& seq, const std::vector<double>& scores, const std::string& title,
                        int first_position) {
    const int P = int(seq.size());
    const int cw = 12, ch = 14, left = 40, top = 48, legend_h = 70;
    const int W = std::max(left + P * cw + 30, 900), H = top + 20 * ch + 40 + legend_h;
    double vmax = 0;
    for (double s : scores)
        if (std::isfinite(s)) vmax = std::max(vmax, std::abs(s));
    if (vmax == 0) vmax = 1;
    svg_canvas c(W, H, "font-family=\"Helvetica, Arial, sans-serif\" shape-rendering=\"crispEdges\"");
    c.text(left, 20, title, "font-size=\"14\" font-weight=\"bold\"");
    c.text(left, 36, "x: position, y: substituted amino acid; black dot = wild type; grey = not scored",
           "font-size=\"10\" fill=\"#444\"");
    for (int a = 0; a < 20; ++a)
        c.text(left - 4, top + a * ch + ch - 3, std::string(1, amino_acids[a]), "font-size=\"10\" text-anchor=\"end\"");
    for (int p = 0; p < P; ++p) {
        int x = left + p * cw;
        for (int a = 0; a < 20; ++a) {
            int y = top + a * ch;
            double s = scores[size_t(p) * 20 + a];
            bool wt = seq[p] == amino_acids[a];
            std::string fill = wt ? "#ffffff" : std::isfinite(s) ? colour(s / vmax) : "#cccccc";
            c.rect(x, y, cw, ch, fill, "stroke=\"none\"",
                   fmt::format("{}{}{}: {}", seq[p], p + first_position, amino_acids[a],
                               wt ? "wild type" : std::isfinite(s) ? fmt::format("{:.4g}", s) : "n/a"));
            if (wt) c.circle(x + cw / 2.0, y + ch / 2.0, 2.5, "black");
        }
        if ((p + first_position) % 10 == 0 || p == 0)
            c.text(x + cw / 2.0, top + 20 * ch + 12, std::to_string(p + first_position),
                   "font-size=\"9\" text-anchor=\"middle\"");
    }
    c.rect(left, top, P * cw, 20 * ch, "none", "stroke=\"#333\"");
    // Legend
    const int ly = top + 20 * ch + 30, lw = 200, lx = left;
    const int steps = 40;
    for (int i = 0; i < steps; ++i)
        c.rect(lx + i * lw / steps, ly, lw / steps + 1, 12, colour(-1 + (i + 0.5) * 2.0 / steps), "stroke=\"none\"");
    c.rect(lx, ly, lw, 12, "none", "stroke=\"#333\"");
    c.text(lx, ly + 24, fmt::format("{:.3g}", -vmax), "font-size=\"10\" text-anchor=\"middle\"");
    c.text(lx + lw / 2, ly + 24, "0", "font-size=\"10\" text-anchor=\"middle\"");
    c.text(lx + lw, ly + 24, fmt::format("{:.3g}", vmax), "font-size=\"10\" text-anchor=\"middle\"");
    c.text(lx + lw + 36, ly + 6, "avg_score: log-likelihood ratio to the wild type", "font-size=\"10\"");
    c.text(lx + lw + 36, ly + 20, "blue = predicted deleterious, red = predicted beneficial", "font-size=\"10\"");
    return c.finish();
}

}  // namespace tranova::tranception

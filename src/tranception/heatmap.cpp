#include "tranception/heatmap.hpp"

#include "tranception/tokenizer.hpp"
#include "util/text.hpp"

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
    std::string o;
    o += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
                     "font-family=\"Helvetica, Arial, sans-serif\" shape-rendering=\"crispEdges\">\n", W, H, W, H);
    o += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", W, H);
    o += fmt::format("<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n", left, xml_escape(title));
    o += fmt::format("<text x=\"{}\" y=\"36\" font-size=\"10\" fill=\"#444\">x: position, y: substituted amino "
                     "acid; black dot = wild type; grey = not scored</text>\n", left);
    for (int a = 0; a < 20; ++a)
        o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>\n", left - 4,
                         top + a * ch + ch - 3, amino_acids[a]);
    for (int p = 0; p < P; ++p) {
        int x = left + p * cw;
        for (int a = 0; a < 20; ++a) {
            int y = top + a * ch;
            double s = scores[size_t(p) * 20 + a];
            bool wt = seq[p] == amino_acids[a];
            std::string fill = wt ? "#ffffff" : std::isfinite(s) ? colour(s / vmax) : "#cccccc";
            o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"none\"><title>{}{}{}: {}</title></rect>\n",
                             x, y, cw, ch, fill, seq[p], p + first_position, amino_acids[a],
                             wt ? "wild type" : std::isfinite(s) ? fmt::format("{:.4g}", s) : "n/a");
            if (wt) o += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"black\"/>\n", x + cw / 2.0, y + ch / 2.0);
        }
        if ((p + first_position) % 10 == 0 || p == 0)
            o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>\n", x + cw / 2.0,
                             top + 20 * ch + 12, p + first_position);
    }
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                     P * cw, 20 * ch);
    // Legend
    const int ly = top + 20 * ch + 30, lw = 200, lx = left;
    const int steps = 40;
    for (int i = 0; i < steps; ++i)
        o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"{}\" stroke=\"none\"/>\n",
                         lx + i * lw / steps, ly, lw / steps + 1, colour(-1 + (i + 0.5) * 2.0 / steps));
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" fill=\"none\" stroke=\"#333\"/>\n", lx, ly, lw);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{:.3g}</text>\n", lx, ly + 24, -vmax);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">0</text>\n", lx + lw / 2, ly + 24);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{:.3g}</text>\n", lx + lw, ly + 24, vmax);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">avg_score: log-likelihood ratio to the wild type</text>\n",
                     lx + lw + 36, ly + 6);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">blue = predicted deleterious, red = predicted beneficial</text>\n",
                     lx + lw + 36, ly + 20);
    o += "</svg>\n";
    return o;
}

}  // namespace tranova::tranception

#include "util/svg.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tranova {

std::vector<double> nice_ticks(double lo, double hi, int target) {
    std::vector<double> out;
    if (!(std::isfinite(lo) && std::isfinite(hi)) || hi < lo) return out;
    if (hi == lo) return {lo};
    const double raw = (hi - lo) / std::max(1, target);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
        out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return out;
}

namespace {

std::string tick_label(double v, double step) {
    // Enough decimals to tell neighbouring ticks apart, no more.
    const int dec = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    if (std::abs(v) >= 1e5 || (v != 0 && std::abs(v) < 1e-4)) return fmt::format("{:.2g}", v);
    return fmt::format("{:.{}f}", v, dec);
}

void data_range(const line_plot& p, bool x_axis, double& lo, double& hi) {
    lo = std::numeric_limits<double>::infinity();
    hi = -lo;
    for (const auto& s : p.series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            const double v = x_axis ? s.x[i] : s.y[i];
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi == lo) lo -= 0.5, hi += 0.5;
}

}  // namespace

std::string svg_line_plot(const line_plot& p) {
    const double W = p.width, H = p.height, x0 = 80, y0 = 50, w = W - 120, h = H - 120;
    double xl, xh, yl, yh;
    data_range(p, true, xl, xh);
    data_range(p, false, yl, yh);
    if (std::isnan(p.y_min) && std::isnan(p.y_max)) {
        const double pad = 0.05 * (yh - yl);
        yl -= pad;
        yh += pad;
    }
    if (!std::isnan(p.x_min)) xl = p.x_min;
    if (!std::isnan(p.x_max)) xh = p.x_max;
    if (!std::isnan(p.y_min)) yl = p.y_min;
    if (!std::isnan(p.y_max)) yh = p.y_max;
    const auto X = [&](double v) { return x0 + (v - xl) / (xh - xl) * w; };
    const auto Y = [&](double v) { return y0 + (1 - (v - yl) / (yh - yl)) * h; };

    std::string o = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
        "font-family=\"Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        W, H, W, H);
    o += fmt::format("<text x=\"{}\" y=\"28\" font-size=\"17\" text-anchor=\"middle\">{}</text>\n", x0 + w / 2,
                     xml_escape(p.title));
    const auto xt = nice_ticks(xl, xh), yt = nice_ticks(yl, yh);
    const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : xt) {
        o += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#ddd\"/>\n", X(t), y0, y0 + h);
        o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\">{}</text>\n", X(t),
                         y0 + h + 20, tick_label(t, xs));
    }
    for (double t : yt) {
        o += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#ddd\"/>\n", Y(t), x0, x0 + w);
        o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"13\" text-anchor=\"end\">{}</text>\n", x0 - 8, Y(t) + 4,
                         tick_label(t, ys));
    }
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n", x0, y0, w, h);
    o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{}</text>\n", x0 + w / 2,
                     y0 + h + 44, xml_escape(p.x_label));
    o += fmt::format("<text x=\"22\" y=\"{0}\" font-size=\"14\" text-anchor=\"middle\" transform=\"rotate(-90 22 {0})\">"
                     "{1}</text>\n",
                     y0 + h / 2, xml_escape(p.y_label));
    int legend = 0;
    for (const auto& s : p.series) {
        // Thin very long series to about 2000 points (keeps the file small).
        const size_t n = std::min(s.x.size(), s.y.size()), step = std::max<size_t>(1, n / 2000);
        std::string pts;
        const auto add = [&](size_t i) {
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts += fmt::format("{:.2f},{:.2f} ", X(s.x[i]), Y(s.y[i]));
        };
        for (size_t i = 0; i < n; i += step) add(i);
        if (n > 0 && (n - 1) % step != 0) add(n - 1);  // the curve always ends at the last point
        if (!pts.empty()) {
            pts.pop_back();
            o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n",
                             xml_escape(s.color), pts);
        }
        if (s.markers)
            for (size_t i = 0; i < n; ++i)
                if (std::isfinite(s.x[i]) && std::isfinite(s.y[i]))
                    o += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n", X(s.x[i]), Y(s.y[i]),
                                     xml_escape(s.color));
        if (!s.name.empty()) {
            const double ly = y0 + 20 + 18 * legend++;
            o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n", x0 + 12,
                             ly - 4, x0 + 36, ly - 4, xml_escape(s.color));
            o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>\n", x0 + 42, ly, xml_escape(s.name));
        }
    }
    if (!p.note.empty())
        o += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"end\">{}</text>\n", x0 + w - 10, y0 + 22,
                         xml_escape(p.note));
    o += "</svg>\n";
    return o;
}

}  // namespace tranova

#include "util/svg.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tranova {

std::string svg_number(double v) {
    std::string s = fmt::format("{:.2f}", v);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s == "-0" ? "0" : s;
}

namespace {
std::string attrs(std::string_view extra) { return extra.empty() ? std::string() : " " + std::string(extra); }
// The element's closing: "/>" or a tooltip and the closing tag.
std::string end_element(std::string_view tag, std::string_view title) {
    return title.empty() ? "/>\n" : fmt::format("><title>{}</title></{}>\n", xml_escape(title), tag);
}
}  // namespace

svg_canvas::svg_canvas(double width, double height, std::string_view root) {
    o_ = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\"{2}>\n"
                     "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                     svg_number(width), svg_number(height), attrs(root));
}

void svg_canvas::text(double x, double y, std::string_view content, std::string_view extra) {
    o_ += fmt::format("<text x=\"{}\" y=\"{}\"{}>{}</text>\n", svg_number(x), svg_number(y), attrs(extra),
                      xml_escape(content));
}

void svg_canvas::vertical_text(double x, double y, std::string_view content, std::string_view extra) {
    const std::string X = svg_number(x), Y = svg_number(y);
    o_ += fmt::format("<text x=\"{0}\" y=\"{1}\" transform=\"rotate(-90 {0} {1})\"{2}>{3}</text>\n", X, Y,
                      attrs(extra), xml_escape(content));
}

void svg_canvas::line(double x1, double y1, double x2, double y2, std::string_view stroke, std::string_view extra) {
    o_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\"{}/>\n", svg_number(x1),
                      svg_number(y1), svg_number(x2), svg_number(y2), xml_escape(stroke), attrs(extra));
}

void svg_canvas::rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra,
                      std::string_view title) {
    o_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}", svg_number(x),
                      svg_number(y), svg_number(w), svg_number(h), xml_escape(fill), attrs(extra));
    o_ += end_element("rect", title);
}

void svg_canvas::circle(double cx, double cy, double r, std::string_view fill, std::string_view extra,
                        std::string_view title) {
    o_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}", svg_number(cx), svg_number(cy),
                      svg_number(r), xml_escape(fill), attrs(extra));
    o_ += end_element("circle", title);
}

void svg_canvas::polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke,
                          std::string_view extra) {
    std::string pts;
    for (const auto& [x, y] : points)
        if (std::isfinite(x) && std::isfinite(y)) pts += svg_number(x) + "," + svg_number(y) + " ";
    if (pts.empty()) return;
    pts.pop_back();
    o_ += fmt::format("<polyline fill=\"none\" stroke=\"{}\"{} points=\"{}\"/>\n", xml_escape(stroke), attrs(extra),
                      pts);
}

void svg_canvas::error_bar(double x, double y_low, double y_high, double cap, std::string_view stroke) {
    const std::string X = svg_number(x), L = svg_number(y_low), H = svg_number(y_high), a = svg_number(x - cap),
                      b = svg_number(x + cap);
    o_ += fmt::format("<path d=\"M{0} {1}V{2}M{3} {1}H{4}M{3} {2}H{4}\" stroke=\"{5}\" fill=\"none\"/>\n", X, H, L, a,
                      b, xml_escape(stroke));
}

std::string svg_canvas::finish() {
    o_ += "</svg>\n";
    return std::move(o_);
}

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

    svg_canvas c(W, H, "font-family=\"Helvetica, Arial, sans-serif\"");
    c.text(x0 + w / 2, 28, p.title, "font-size=\"17\" text-anchor=\"middle\"");
    const auto xt = nice_ticks(xl, xh), yt = nice_ticks(yl, yh);
    const double xs = xt.size() > 1 ? xt[1] - xt[0] : 1, ys = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double t : xt) {
        c.line(X(t), y0, X(t), y0 + h, "#ddd");
        c.text(X(t), y0 + h + 20, tick_label(t, xs), "font-size=\"13\" text-anchor=\"middle\"");
    }
    for (double t : yt) {
        c.line(x0, Y(t), x0 + w, Y(t), "#ddd");
        c.text(x0 - 8, Y(t) + 4, tick_label(t, ys), "font-size=\"13\" text-anchor=\"end\"");
    }
    c.rect(x0, y0, w, h, "none", "stroke=\"black\"");
    c.text(x0 + w / 2, y0 + h + 44, p.x_label, "font-size=\"14\" text-anchor=\"middle\"");
    c.vertical_text(22, y0 + h / 2, p.y_label, "font-size=\"14\" text-anchor=\"middle\"");
    int legend = 0;
    for (const auto& s : p.series) {
        // Thin very long series to about 2000 points (keeps the file small).
        const size_t n = std::min(s.x.size(), s.y.size()), step = std::max<size_t>(1, n / 2000);
        std::vector<std::pair<double, double>> pts;
        const auto add = [&](size_t i) {
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts.emplace_back(X(s.x[i]), Y(s.y[i]));
        };
        for (size_t i = 0; i < n; i += step) add(i);
        if (n > 0 && (n - 1) % step != 0) add(n - 1);  // the curve always ends at the last point
        c.polyline(pts, s.color, "stroke-width=\"2\"");
        if (s.markers)
            for (size_t i = 0; i < n; ++i)
                if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) c.circle(X(s.x[i]), Y(s.y[i]), 3, s.color);
        if (!s.name.empty()) {
            const double ly = y0 + 20 + 18 * legend++;
            c.line(x0 + 12, ly - 4, x0 + 36, ly - 4, s.color, "stroke-width=\"2\"");
            c.text(x0 + 42, ly, s.name, "font-size=\"13\"");
        }
    }
    if (!p.note.empty()) c.text(x0 + w - 10, y0 + 22, p.note, "font-size=\"14\" text-anchor=\"end\"");
    return c.finish();
}

}  // namespace tranova

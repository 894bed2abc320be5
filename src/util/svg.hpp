// The one SVG helper of the report and plot writers. svg_canvas writes the elements of a
// hand-laid-out figure (the gym bar and scatter plots, the saturation-mutagenesis heatmap):
// the document with a white background, then text, lines, rectangles, circles, polylines
// and paths; svg_line_plot draws a whole line plot on it (loss curves,
// precision-coverage): framed axes with round-number ticks, one polyline per series, a
// legend. Every text, colour and tooltip is XML-escaped; coordinates are printed with at
// most two decimals; non-finite points are skipped (they break a polyline).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tranova {

class svg_canvas {
public:
    // Opens a width x height document; `root` holds extra attributes of the <svg> element
    // (font-family, font-size, shape-rendering), inserted verbatim.
    svg_canvas(double width, double height, std::string_view root = "font-family=\"sans-serif\" font-size=\"12\"");

    // `extra`: further attributes (text-anchor="end", font-size="10", stroke-dasharray=...),
    // constants of the caller, inserted verbatim. `title`: a tooltip, or empty.
    void text(double x, double y, std::string_view content, std::string_view extra = {});
    // Text rotated by -90 degrees about (x, y) (a vertical axis label).
    void vertical_text(double x, double y, std::string_view content, std::string_view extra = {});
    void line(double x1, double y1, double x2, double y2, std::string_view stroke, std::string_view extra = {});
    void rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra = {},
              std::string_view title = {});
    void circle(double cx, double cy, double r, std::string_view fill, std::string_view extra = {},
                std::string_view title = {});
    // An open line through `points` (skipping non-finite ones); nothing for fewer than one.
    void polyline(const std::vector<std::pair<double, double>>& points, std::string_view stroke,
                  std::string_view extra = {});
    // An error bar: a vertical line at x from y_low to y_high with caps of half-width `cap`.
    void error_bar(double x, double y_low, double y_high, double cap, std::string_view stroke);

    // The document, closed.
    std::string finish();

private:
    std::string o_;
};

// A coordinate as the canvas prints it: at most two decimals, no trailing zeros.
std::string svg_number(double v);

struct plot_series {
    std::string name;            // legend text (empty: no legend entry)
    std::vector<double> x, y;    // same length
    std::string color = "#1f77b4";
    bool markers = false;        // a dot at every point (sparse series such as validation)
};

struct line_plot {
    std::string title, x_label, y_label;
    std::vector<plot_series> series;
    double width = 640, height = 480;
    // Axis ranges; NaN = from the data (y padded by 5 %).
    double x_min = 0.0 / 0.0, x_max = 0.0 / 0.0, y_min = 0.0 / 0.0, y_max = 0.0 / 0.0;
    std::string note;            // text in the top-right corner of the frame ("AUC = 0.91")
};

std::string svg_line_plot(const line_plot& p);

// Round-number tick positions covering [lo, hi] (about `target` of them; 1/2/5 × 10^k steps).
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace tranova

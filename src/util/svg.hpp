// A small SVG line-plot writer for the reports (loss curves, precision–coverage): white
// background, framed axes with round-number ticks, one polyline per series, a legend.
// Every string is XML-escaped; non-finite points are skipped (they break a polyline).
#pragma once

#include <string>
#include <vector>

namespace tranova {

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

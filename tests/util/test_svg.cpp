// util/svg.hpp: the canvas the plot writers share (exact element text, escaping, number
// format, tooltips, skipped non-finite points). svg_line_plot and nice_ticks are tested in
// tests/core/test_train_log.cpp with the loss curve.
#include "util/svg.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using namespace tranova;

TEST_CASE("svg_number: at most two decimals, no trailing zeros", "[util][svg]") {
    CHECK(svg_number(40) == "40");
    CHECK(svg_number(12.5) == "12.5");
    CHECK(svg_number(1.0 / 3) == "0.33");
    CHECK(svg_number(2.999) == "3");
    CHECK(svg_number(-0.001) == "0");
    CHECK(svg_number(-7.25) == "-7.25");
}

TEST_CASE("svg_canvas: elements, escaping and tooltips", "[util][svg]") {
    svg_canvas c(200, 100.5);
    c.text(10, 20.25, "a < b & \"c\"", "text-anchor=\"end\"");
    c.vertical_text(5, 50, "y");
    c.line(0, 1, 2, 3, "#ddd");
    c.rect(1, 2, 3, 4, "red", "stroke=\"none\"", "M1A: 0.5 <ok>");
    c.circle(5, 6, 2.5, "black");
    c.polyline({{0, 0}, {NAN, 1}, {1, 2.5}}, "#1f77b4", "stroke-width=\"2\"");
    c.polyline({{NAN, 0}}, "blue");  // nothing to draw: no element
    c.error_bar(10, 30, 20, 2, "black");
    const std::string svg = c.finish();
    CHECK(svg ==
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"100.5\" viewBox=\"0 0 200 100.5\" "
          "font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
          "<text x=\"10\" y=\"20.25\" text-anchor=\"end\">a &lt; b &amp; &quot;c&quot;</text>\n"
          "<text x=\"5\" y=\"50\" transform=\"rotate(-90 5 50)\">y</text>\n"
          "<line x1=\"0\" y1=\"1\" x2=\"2\" y2=\"3\" stroke=\"#ddd\"/>\n"
          "<rect x=\"1\" y=\"2\" width=\"3\" height=\"4\" fill=\"red\" stroke=\"none\"><title>M1A: 0.5 &lt;ok&gt;</title></rect>\n"
          "<circle cx=\"5\" cy=\"6\" r=\"2.5\" fill=\"black\"/>\n"
          "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"0,0 1,2.5\"/>\n"
          "<path d=\"M10 20V30M8 20H12M8 30H12\" stroke=\"black\" fill=\"none\"/>\n"
          "</svg>\n");
}

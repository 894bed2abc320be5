// Builds small mzML documents for tests (and fuzz seeds): arrays as base64, optionally zlib.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mzml_test {

inline std::string base64(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += t[v & 63];
    }
    if (i + 1 == in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        out += t[v >> 18], out += t[(v >> 12) & 63], out += "==";
    } else if (i + 2 == in.size()) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += t[v >> 18], out += t[(v >> 12) & 63], out += t[(v >> 6) & 63], out += '=';
    }
    return out;
}

inline std::string encode(const std::vector<double>& v, bool f64, bool zlib) {
    std::string raw;
    for (double x : v) {
        if (f64) raw.append(reinterpret_cast<const char*>(&x), 8);
        else {
            float f = static_cast<float>(x);
            raw.append(reinterpret_cast<const char*>(&f), 4);
        }
    }
    if (zlib) {
        uLongf n = compressBound(raw.size());
        std::string z(n, '\0');
        compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
        z.resize(n);
        raw = z;
    }
    return base64(raw);
}

struct spec {
    std::string id;
    int ms_level = 2;
    double precursor_mz = 500.25;
    std::string charge_xml = R"(<cvParam cvRef="MS" accession="MS:1000041" name="charge state" value="2"/>)";
    std::vector<double> mz{100.5, 200.25, 300.125};
    std::vector<double> intensity{10, 20, 30};
    bool f64_mz = true, f32_in = true, zlib = false;
    // Whole <binaryDataArray> elements to use instead of the ones built from mz/intensity
    // (other encodings, e.g. MS-Numpress, made by the test itself).
    std::string mz_array_xml, intensity_array_xml;
};

inline std::string array_xml(const std::vector<double>& v, bool f64, bool zlib, const char* kind_acc, const char* kind_name) {
    std::string e = encode(v, f64, zlib);
    std::string s = "<binaryDataArray encodedLength=\"" + std::to_string(e.size()) + "\">";
    s += f64 ? R"(<cvParam cvRef="MS" accession="MS:1000523" name="64-bit float" value=""/>)"
             : R"(<cvParam cvRef="MS" accession="MS:1000521" name="32-bit float" value=""/>)";
    s += zlib ? R"(<cvParam cvRef="MS" accession="MS:1000574" name="zlib compression" value=""/>)"
              : R"(<cvParam cvRef="MS" accession="MS:1000576" name="no compression" value=""/>)";
    s += std::string("<cvParam cvRef=\"MS\" accession=\"") + kind_acc + "\" name=\"" + kind_name + "\" value=\"\"/>";
    s += "<binary>" + e + "</binary></binaryDataArray>\n";
    return s;
}

inline std::string document(const std::vector<spec>& spectra) {
    std::string s = R"(<?xml version="1.0" encoding="utf-8"?>
<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0"><run id="r"><spectrumList count=")" +
                    std::to_string(spectra.size()) + "\">\n";
    int i = 0;
    for (const auto& sp : spectra) {
        s += "<spectrum index=\"" + std::to_string(i++) + "\" id=\"" + sp.id + "\" defaultArrayLength=\"" +
             std::to_string(sp.mz.size()) + "\">\n";
        s += R"(<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value=")" + std::to_string(sp.ms_level) + "\"/>\n";
        s += R"(<scanList count="1"><scan><cvParam cvRef="MS" accession="MS:1000016" name="scan start time" value="1.5" unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"/></scan></scanList>)";
        if (sp.ms_level > 1) {
            s += R"(<precursorList count="1"><precursor><selectedIonList count="1"><selectedIon>)";
            s += R"(<cvParam cvRef="MS" accession="MS:1000744" name="selected ion m/z" value=")" +
                 std::to_string(sp.precursor_mz) + "\"/>" + sp.charge_xml;
            s += "</selectedIon></selectedIonList></precursor></precursorList>\n";
        }
        s += "<binaryDataArrayList count=\"2\">\n";
        s += !sp.mz_array_xml.empty() ? sp.mz_array_xml : array_xml(sp.mz, sp.f64_mz, sp.zlib, "MS:1000514", "m/z array");
        s += !sp.intensity_array_xml.empty() ? sp.intensity_array_xml
                                             : array_xml(sp.intensity, !sp.f32_in, sp.zlib, "MS:1000515", "intensity array");
        s += "</binaryDataArrayList></spectrum>\n";
    }
    s += "</spectrumList></run></mzML>\n";
    return s;
}

}  // namespace mzml_test

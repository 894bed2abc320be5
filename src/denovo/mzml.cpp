// Streaming mzML (and mzXML) reader on expat: the file is fed to the parser in 1 MiB
// chunks and finished spectra are queued, so memory stays at one chunk plus the spectra
// of that chunk. Binary arrays: base64, optional zlib, 32/64-bit float or integer, or
// MS-Numpress (linear, pic, slof; each optionally followed by zlib) through Debian's
// libmsnumpress.
#include "denovo/source.hpp"
#include "denovo/spectrum.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <MSNumpress.hpp>
#include <expat.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <unordered_map>

namespace tranova::denovo {

namespace {

// Largest array we accept (peaks per spectrum): protects against corrupt lengths.
constexpr uint64_t kMaxArrayLength = 50'000'000;

std::string_view local_name(const char* name) {
    std::string_view n(name);
    size_t c = n.rfind(':');
    // expat without namespace processing keeps prefixes ("ns:spectrum").
    return c == std::string_view::npos ? n : n.substr(c + 1);
}

const char* attr(const char** atts, const char* key) {
    for (int i = 0; atts[i]; i += 2)
        if (std::strcmp(atts[i], key) == 0) return atts[i + 1];
    return nullptr;
}

int8_t b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

// Decodes base64 (whitespace ignored, '=' ends). False on an invalid character.
bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : in) {
        if (c == '=') break;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        int8_t v = b64_value(c);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return true;
}

bool zlib_inflate(const std::string& in, std::string& out, size_t max_out, std::string& why) {
    out.clear();
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) {
        why = "zlib init failed";
        return false;
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    char buf[65536];
    int rc;
    do {
        zs.next_out = reinterpret_cast<Bytef*>(buf);
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            why = "corrupt zlib data";
            return false;
        }
        out.append(buf, sizeof buf - zs.avail_out);
        if (out.size() > max_out) {
            inflateEnd(&zs);
            why = "decompressed array longer than declared";
            return false;
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            why = "truncated zlib data";
            return false;
        }
    } while (rc != Z_STREAM_END);
    inflateEnd(&zs);
    return true;
}

struct cv_param {
    std::string accession, value, unit;
};

enum class array_kind { unknown, mz, intensity, other };

// MS-Numpress codecs (PSI-MS MS:1002312-1002314; MS:1002746-1002748 add zlib after them).
enum class numpress_codec { none, linear, pic, slof };

// Decodes a Numpress byte string meant to hold `max_values` doubles. Returns false with
// `why` set on corrupt data; the library signals corruption by throwing a const char*.
bool numpress_decode(numpress_codec codec, const std::string& in, uint64_t max_values, std::vector<double>& out,
                     std::string& why) {
    namespace np = ms::numpress::MSNumpress;
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const size_t n = in.size();
    out.clear();
    if (n == 0) return true;
    // Output bounds from the codec definitions: linear and slof start with an 8-byte
    // fixed point (linear then holds >= 2 values in 4+ bytes), pic needs >= half a byte per value.
    size_t cap = 0;
    if (codec == numpress_codec::slof) cap = n >= 8 ? (n - 8) / 2 : 0;
    else if (codec == numpress_codec::linear) cap = n >= 8 ? (n - 8) * 2 + 2 : 0;
    else cap = n * 2;
    if (codec != numpress_codec::pic && n < 8) {
        why = "truncated MS-Numpress array";
        return false;
    }
    // slof is an 8-byte fixed point plus 2 bytes per value; libmsnumpress would decode
    // (and write) one value more than (n - 8) / 2 for an odd length.
    if (codec == numpress_codec::slof && (n - 8) % 2) {
        why = "corrupt MS-Numpress data: short logged float array of odd length";
        return false;
    }
    // A Numpress integer takes at most 4.5 bytes: anything longer cannot hold the
    // declared number of values and would only make us allocate for garbage.
    if (n > max_values * 5 + 16) {
        why = "MS-Numpress array longer than defaultArrayLength allows";
        return false;
    }
    out.resize(cap + 8);  // slack: the bounds above are the codecs', not a promise of the library
    size_t got = 0;
    try {
        if (codec == numpress_codec::linear) got = np::decodeLinear(p, n, out.data());
        else if (codec == numpress_codec::pic) got = np::decodePic(p, n, out.data());
        else got = np::decodeSlof(p, n, out.data());
    } catch (const char* e) {
        why = "corrupt MS-Numpress data: " + std::string(trim(e));
        return false;
    } catch (...) {
        why = "corrupt MS-Numpress data";
        return false;
    }
    if (got > cap) {  // (size_t)-1 for a linear array of 5..7 bytes
        why = "corrupt MS-Numpress data";
        return false;
    }
    out.resize(got);
    return true;
}

struct binary_array {
    array_kind kind = array_kind::unknown;
    int width = 0;          // bytes per value
    bool is_int = false;
    bool zlib = false;
    numpress_codec numpress = numpress_codec::none;
    bool unsupported = false;  // another compression (mzXML)
    std::string encoded;
    bool big_endian = false;   // mzXML network order
};

class mzml_reader final : public spectrum_reader {
public:
    mzml_reader(std::unique_ptr<byte_source> src, const std::string& name, const read_options& opt,
                size_t chunk = size_t(1) << 20)
        : src_(std::move(src)), buf_(chunk) {
        path_ = name;
        opt_ = opt;
        parser_ = XML_ParserCreate(nullptr);
        TRANOVA_CHECK(parser_, "{}: cannot create XML parser", name);
        XML_SetUserData(parser_, this);
        XML_SetElementHandler(parser_, &mzml_reader::on_start, &mzml_reader::on_end);
        XML_SetCharacterDataHandler(parser_, &mzml_reader::on_text);
        XML_SetEntityDeclHandler(parser_, &mzml_reader::on_entity_decl);
    }
    ~mzml_reader() override { XML_ParserFree(parser_); }

    uint64_t bytes_read() const override { return consumed_; }

    bool next(spectrum& s) override {
        while (ready_.empty() && !done_) feed();
        if (ready_.empty()) return false;
        s = std::move(ready_.front());
        ready_.pop_front();
        return true;
    }

private:
    void feed() {
        size_t got = src_->read(buf_.data(), buf_.size());
        consumed_ += got;
        bool last = got == 0;
        if (XML_Parse(parser_, buf_.data(), static_cast<int>(got), last) == XML_STATUS_ERROR) {
            if (!fatal_.empty()) TRANOVA_FAIL("{}", fatal_);
            TRANOVA_FAIL("{}:{}: XML error: {}", path_, XML_GetCurrentLineNumber(parser_),
                         XML_ErrorString(XML_GetErrorCode(parser_)));
        }
        if (last) {
            done_ = true;
            TRANOVA_CHECK(seen_root_, "{}: no mzML or mzXML root element", path_);
        }
    }

    // Hostile-input bounds: element nesting (real mzML/mzXML nest ~10 deep) and entity
    // declarations (mzML has none; refusing them rules out entity-expansion bombs, as
    // defusedxml does).
    static constexpr int kMaxElementDepth = 256;
    static void XMLCALL on_start(void* self, const char* name, const char** atts) {
        auto* r = static_cast<mzml_reader*>(self);
        if (!r->fatal_.empty()) return;
        if (++r->element_depth_ > kMaxElementDepth)
            return r->stop(fmt::format("XML elements nested deeper than {} levels", kMaxElementDepth));
        r->start(local_name(name), atts);
    }
    static void XMLCALL on_end(void* self, const char* name) {
        auto* r = static_cast<mzml_reader*>(self);
        if (!r->fatal_.empty()) return;
        --r->element_depth_;
        r->end(local_name(name));
    }
    static void XMLCALL on_entity_decl(void* self, const XML_Char* name, int, const XML_Char*, int, const XML_Char*,
                                       const XML_Char*, const XML_Char*, const XML_Char*) {
        static_cast<mzml_reader*>(self)->stop(fmt::format("entity declaration '{}' is not accepted", name ? name : ""));
    }
    static void XMLCALL on_text(void* self, const char* s, int len) {
        auto* r = static_cast<mzml_reader*>(self);
        if (r->in_binary_) {
            if (r->array_.encoded.size() + len > kMaxArrayLength * 12) return r->stop("binary array too long");
            r->array_.encoded.append(s, len);
        } else if (r->text_capture_ && r->text_.size() < 256) {
            r->text_.append(s, len);
        }
    }

    void stop(const std::string& why) {
        fatal_ = fmt::format("{}:{}: {}", path_, XML_GetCurrentLineNumber(parser_), why);
        XML_StopParser(parser_, XML_FALSE);
    }

    void start(std::string_view n, const char** atts) {
        if (n == "mzML" || n == "mzXML" || n == "indexedmzML" || n == "msRun") seen_root_ = true;
        if (n == "mzXML" || n == "msRun") mzxml_ = true;
        if (n == "referenceableParamGroup") {
            const char* id = attr(atts, "id");
            group_id_ = id ? id : "";
            in_group_ = true;
            groups_[group_id_].clear();
            return;
        }
        if (in_group_ && n == "cvParam") {
            cv_param p;
            if (const char* a = attr(atts, "accession")) p.accession = a;
            if (const char* v = attr(atts, "value")) p.value = v;
            if (const char* u = attr(atts, "unitAccession")) p.unit = u;
            groups_[group_id_].push_back(std::move(p));
            return;
        }
        if (n == "spectrum") return start_spectrum(atts);
        if (n == "scan" && mzxml_) return start_mzxml_scan(atts);
        if (!in_spectrum_) return;
        if (n == "cvParam") {
            const char* a = attr(atts, "accession");
            const char* v = attr(atts, "value");
            const char* u = attr(atts, "unitAccession");
            cv(a ? a : "", v ? v : "", u ? u : "");
        } else if (n == "referenceableParamGroupRef") {
            const char* ref = attr(atts, "ref");
            auto it = ref ? groups_.find(ref) : groups_.end();
            if (it != groups_.end())
                for (const auto& p : it->second) cv(p.accession, p.value, p.unit);
        } else if (n == "precursor" && !mzxml_) {
            ++precursor_count_;
            in_precursor_ = true;
        } else if (n == "selectedIon") {
            ++selected_count_;
            in_selected_ = in_precursor_ && precursor_count_ == 1 && selected_count_ == 1;
        } else if (n == "binaryDataArray") {
            array_ = binary_array{};
            in_array_ = true;
        } else if (n == "binary") {
            in_binary_ = in_array_;
        } else if (n == "precursorMz" && mzxml_) {  // mzXML
            in_binary_ = false;
            text_capture_ = true;
            text_.clear();
            if (const char* z = attr(atts, "precursorCharge")) {
                long long c = 0;
                if (parse_int(z, c) && precursor_count_ == 0) cur_.charges.push_back(static_cast<int>(c));
            }
            if (const char* in = attr(atts, "precursorIntensity")) {
                double v = 0;
                if (parse_double(in, v) && precursor_count_ == 0) cur_.precursor_intensity = v;
            }
        } else if (n == "peaks" && mzxml_) {
            array_ = binary_array{};
            array_.big_endian = true;
            const char* prec = attr(atts, "precision");
            array_.width = prec && std::strcmp(prec, "64") == 0 ? 8 : 4;
            const char* comp = attr(atts, "compressionType");
            array_.zlib = comp && std::strcmp(comp, "zlib") == 0;
            if (comp && !array_.zlib && std::strcmp(comp, "none") != 0) array_.unsupported = true;
            in_binary_ = true;
        }
    }

    void end(std::string_view n) {
        if (n == "referenceableParamGroup") {
            in_group_ = false;
            return;
        }
        if (!in_spectrum_) return;
        if (n == "spectrum" && !mzxml_) return finish_spectrum();
        if (n == "scan" && mzxml_) {
            if (--scan_depth_ == 0) finish_spectrum();
            return;
        }
        if (n == "precursor") in_precursor_ = false;
        else if (n == "selectedIon") in_selected_ = false;
        else if (n == "binary") in_binary_ = false;
        else if (n == "binaryDataArray") {
            in_array_ = false;
            decode_array();
        } else if (n == "precursorMz" && mzxml_) {
            if (precursor_count_++ == 0) {
                double v = 0;
                if (parse_double(text_, v)) cur_.precursor_mz = v, have_precursor_ = true;
            }
            text_capture_ = false;
        } else if (n == "peaks" && mzxml_) {
            in_binary_ = false;
            decode_mzxml_peaks();
        }
    }

    void start_spectrum(const char** atts) {
        if (in_spectrum_) return;  // nested: ignore
        begin_record();
        const char* idx = attr(atts, "index");
        long long v = 0;
        cur_.index = idx && parse_int(idx, v) ? static_cast<long>(v) : stats_.records - 1;
        const char* id = attr(atts, "id");
        cur_.title = id ? id : "";
        cur_.scan = scan_from_id(cur_.title);
        const char* len = attr(atts, "defaultArrayLength");
        declared_length_ = len && parse_int(len, v) && v >= 0 ? static_cast<uint64_t>(v) : 0;
    }

    // mzXML: <scan num= msLevel= peaksCount= retentionTime="PT1.5S"> ... (scans may nest).
    void start_mzxml_scan(const char** atts) {
        // A nested scan: finish the outer one first (mzXML nests MSn inside MS1).
        if (in_spectrum_) finish_spectrum();
        begin_record();
        scan_depth_ = 1;
        cur_.index = stats_.records - 1;
        long long v = 0;
        if (const char* num = attr(atts, "num")) {
            cur_.title = num;
            if (parse_int(num, v)) cur_.scan = static_cast<long>(v);
        }
        if (const char* lvl = attr(atts, "msLevel"); lvl && parse_int(lvl, v)) cur_.ms_level = static_cast<int>(v);
        if (const char* pc = attr(atts, "peaksCount"); pc && parse_int(pc, v) && v >= 0)
            declared_length_ = static_cast<uint64_t>(v);
        if (const char* rt = attr(atts, "retentionTime")) {
            std::string_view t(rt);
            if (starts_with(t, "PT")) t.remove_prefix(2);
            if (!t.empty() && t.back() == 'S') t.remove_suffix(1);
            double sec = 0;
            if (parse_double(t, sec)) cur_.rt_seconds = sec;
        }
    }

    void begin_record() {
        cur_.clear();
        ++stats_.records;
        in_spectrum_ = true;
        bad_.clear();
        have_precursor_ = false;
        have_charge_state_ = false;
        precursor_count_ = selected_count_ = 0;
        in_precursor_ = in_selected_ = in_array_ = in_binary_ = false;
        declared_length_ = 0;
        record_line_ = XML_GetCurrentLineNumber(parser_);
    }

    static long scan_from_id(const std::string& id) {
        long long v = 0;
        if (parse_int(id, v)) return static_cast<long>(v);
        size_t p = id.find("scan=");
        if (p == std::string::npos) return -1;
        size_t e = p + 5;
        while (e < id.size() && std::isdigit(static_cast<unsigned char>(id[e]))) ++e;
        return parse_int(std::string_view(id).substr(p + 5, e - p - 5), v) ? static_cast<long>(v) : -1;
    }

    void cv(const std::string& acc, const std::string& value, const std::string& unit) {
        long long iv = 0;
        double dv = 0;
        if (in_array_) {
            if (acc == "MS:1000523") array_.width = 8, array_.is_int = false;
            else if (acc == "MS:1000521") array_.width = 4, array_.is_int = false;
            else if (acc == "MS:1000519") array_.width = 4, array_.is_int = true;
            else if (acc == "MS:1000522") array_.width = 8, array_.is_int = true;
            else if (acc == "MS:1000574") array_.zlib = true;
            else if (acc == "MS:1000576") array_.zlib = false;
            else if (acc == "MS:1000514") array_.kind = array_kind::mz;
            else if (acc == "MS:1000515") array_.kind = array_kind::intensity;
            else if (acc == "MS:1000513" || acc == "MS:1000786" || acc == "MS:1000820") array_.kind = array_kind::other;
            else if (acc == "MS:1002312") array_.numpress = numpress_codec::linear;
            else if (acc == "MS:1002313") array_.numpress = numpress_codec::pic;
            else if (acc == "MS:1002314") array_.numpress = numpress_codec::slof;
            else if (acc == "MS:1002746") array_.numpress = numpress_codec::linear, array_.zlib = true;
            else if (acc == "MS:1002747") array_.numpress = numpress_codec::pic, array_.zlib = true;
            else if (acc == "MS:1002748") array_.numpress = numpress_codec::slof, array_.zlib = true;
            return;
        }
        if (acc == "MS:1000511") {
            if (parse_int(value, iv)) cur_.ms_level = static_cast<int>(iv);
        } else if (in_selected_) {
            if (acc == "MS:1000744") {
                if (parse_double(value, dv)) cur_.precursor_mz = dv, have_precursor_ = true;
            } else if (acc == "MS:1000041") {
                if (parse_int(value, iv)) {
                    if (!have_charge_state_) cur_.charges.insert(cur_.charges.begin(), static_cast<int>(iv));
                    have_charge_state_ = true;
                }
            } else if (acc == "MS:1000633") {
                if (parse_int(value, iv)) cur_.charges.push_back(static_cast<int>(iv));
            } else if (acc == "MS:1000042") {
                if (parse_double(value, dv)) cur_.precursor_intensity = dv;
            }
        } else if (acc == "MS:1000016") {
            if (parse_double(value, dv)) cur_.rt_seconds = unit == "UO:0000031" ? dv * 60 : dv;
        }
    }

    bool decode_raw(binary_array& a, uint64_t n_expected, std::vector<double>& vals) {
        std::string bytes;
        if (!base64_decode(a.encoded, bytes)) {
            set_bad("invalid base64 in a binary array");
            return false;
        }
        if (a.zlib) {
            std::string raw;
            std::string why;
            uint64_t max_out = std::max<uint64_t>(n_expected * std::max(a.width, 8) * (a.big_endian ? 2 : 1), 64);
            if (!zlib_inflate(bytes, raw, max_out, why)) {
                set_bad(why);
                return false;
            }
            bytes.swap(raw);
        }
        if (a.numpress != numpress_codec::none) {
            std::string why;
            if (!numpress_decode(a.numpress, bytes, n_expected, vals, why)) {
                set_bad(why);
                return false;
            }
            return true;
        }
        if (a.width == 0) {
            set_bad("binary array without a data type");
            return false;
        }
        if (bytes.size() % a.width) {
            set_bad(fmt::format("binary array of {} bytes is not a multiple of {}", bytes.size(), a.width));
            return false;
        }
        size_t n = bytes.size() / a.width;
        vals.resize(n);
        const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
        for (size_t i = 0; i < n; ++i, p += a.width) {
            unsigned char b[8] = {};
            if (a.big_endian)
                for (int k = 0; k < a.width; ++k) b[k] = p[a.width - 1 - k];
            else
                std::memcpy(b, p, a.width);
            if (a.width == 8) {
                if (a.is_int) {
                    int64_t v;
                    std::memcpy(&v, b, 8);
                    vals[i] = static_cast<double>(v);
                } else {
                    double v;
                    std::memcpy(&v, b, 8);
                    vals[i] = v;
                }
            } else {
                if (a.is_int) {
                    int32_t v;
                    std::memcpy(&v, b, 4);
                    vals[i] = v;
                } else {
                    float v;
                    std::memcpy(&v, b, 4);
                    vals[i] = v;
                }
            }
        }
        return true;
    }

    void set_bad(const std::string& why) {
        if (bad_.empty()) bad_ = why;
    }

    void decode_array() {
        if (!bad_.empty() || array_.kind == array_kind::other || array_.kind == array_kind::unknown) return;
        if (!wanted_level()) return;  // don't spend time on MS1 arrays
        if (declared_length_ > kMaxArrayLength) return set_bad("defaultArrayLength too large");
        std::vector<double>& vals = scratch_;
        if (!decode_raw(array_, declared_length_, vals)) return;
        if (vals.size() != declared_length_) {
            return set_bad(fmt::format("binary array has {} values, defaultArrayLength is {}", vals.size(),
                                       declared_length_));
        }
        if (array_.kind == array_kind::mz) {
            cur_.mz.assign(vals.begin(), vals.end());
        } else {
            cur_.intensity.resize(vals.size());
            for (size_t i = 0; i < vals.size(); ++i) cur_.intensity[i] = static_cast<float>(vals[i]);
        }
        array_.encoded.clear();
    }

    void decode_mzxml_peaks() {
        if (!bad_.empty() || !wanted_level()) return;
        if (array_.unsupported) return set_bad("unsupported mzXML peak compression");
        if (declared_length_ > kMaxArrayLength) return set_bad("peaksCount too large");
        std::vector<double>& vals = scratch_;
        if (!decode_raw(array_, declared_length_ * 2, vals)) return;
        if (vals.size() != declared_length_ * 2)
            return set_bad(fmt::format("peaks array has {} values, peaksCount is {}", vals.size() / 2,
                                       declared_length_));
        cur_.mz.resize(declared_length_);
        cur_.intensity.resize(declared_length_);
        for (size_t i = 0; i < declared_length_; ++i) {
            cur_.mz[i] = vals[2 * i];
            cur_.intensity[i] = static_cast<float>(vals[2 * i + 1]);
        }
        array_.encoded.clear();
    }

    bool wanted_level() const { return opt_.ms_level == 0 ? cur_.ms_level >= 2 : cur_.ms_level == opt_.ms_level; }

    void finish_spectrum() {
        in_spectrum_ = false;
        in_binary_ = false;
        if (!wanted_level()) {
            ++stats_.other_level;
            return;
        }
        auto where = [&] {
            return fmt::format("{}:{}: spectrum index={} (id={})", path_, record_line_, cur_.index, cur_.title);
        };
        if (bad_.empty() && !have_precursor_) bad_ = "no precursor m/z (selected ion m/z)";
        if (bad_.empty() && !(cur_.precursor_mz > 0 && std::isfinite(cur_.precursor_mz)))
            bad_ = fmt::format("invalid precursor m/z {}", cur_.precursor_mz);
        if (bad_.empty() && cur_.mz.size() != cur_.intensity.size())
            bad_ = fmt::format("{} m/z values but {} intensities", cur_.mz.size(), cur_.intensity.size());
        if (!bad_.empty()) {
            ++stats_.skipped;
            problem(fmt::format("{}: {}; spectrum skipped", where(), bad_));
            return;
        }
        cur_.charge = cur_.charges.empty() ? 0 : cur_.charges.front();
        if (cur_.charge < opt_.min_charge || cur_.charge > opt_.max_charge) {
            if (opt_.keep_chargeless) {
                cur_.charge = 0;
            } else {
                ++stats_.skipped;
                ++stats_.skipped_charge;
                problem(fmt::format("{}: {}; spectrum skipped", where(),
                                    cur_.charges.empty() ? std::string("no charge state")
                                                         : fmt::format("charge {} outside {}..{}", cur_.charge,
                                                                       opt_.min_charge, opt_.max_charge)));
                return;
            }
        }
        ++stats_.returned;
        ready_.push_back(std::move(cur_));
        cur_ = spectrum{};
    }

    std::unique_ptr<byte_source> src_;
    std::vector<char> buf_;
    XML_Parser parser_ = nullptr;
    uint64_t consumed_ = 0;
    bool done_ = false, seen_root_ = false, mzxml_ = false;
    std::string fatal_, bad_, text_;
    std::deque<spectrum> ready_;
    spectrum cur_;
    binary_array array_;
    std::vector<double> scratch_;
    std::unordered_map<std::string, std::vector<cv_param>> groups_;
    std::string group_id_;
    bool in_group_ = false, in_spectrum_ = false, in_precursor_ = false, in_selected_ = false, in_array_ = false,
         in_binary_ = false, have_precursor_ = false, have_charge_state_ = false, text_capture_ = false;
    int precursor_count_ = 0, selected_count_ = 0, scan_depth_ = 0, element_depth_ = 0;
    uint64_t declared_length_ = 0;
    long record_line_ = 0;
};

}  // namespace

std::unique_ptr<spectrum_reader> open_mzml(const std::string& path, const read_options& opt) {
    return std::make_unique<mzml_reader>(open_file_source(path), path, opt);
}

std::unique_ptr<spectrum_reader> mzml_from_memory(std::string data, const std::string& name, const read_options& opt) {
    const size_t chunk = std::clamp<size_t>(data.size() + 1, 64, size_t(1) << 20);
    return std::make_unique<mzml_reader>(memory_source(std::move(data)), name, opt, chunk);
}

}  // namespace tranova::denovo

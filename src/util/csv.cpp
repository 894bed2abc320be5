#include "util/csv.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <cstring>

namespace tranova {

csv_reader::csv_reader(const std::string& path, char sep) : path_(path), sep_(sep) {
    fp_ = path == "-" ? stdin : std::fopen(path.c_str(), "r");
    TRANOVA_CHECK(fp_, "cannot open '{}': {}", path, std::strerror(errno));
    // A throwing constructor runs no destructor: close the file here (a fuzz finding:
    // every malformed header leaked a file descriptor).
    struct close_on_throw {
        std::FILE*& fp;
        bool armed = true;
        ~close_on_throw() {
            if (armed && fp && fp != stdin) std::fclose(fp), fp = nullptr;
        }
    } guard{fp_};
    TRANOVA_CHECK(read_record(header_), "{}: empty file (no header line)", path);
    if (!header_.empty()) strip_utf8_bom(header_[0]);
    for (size_t i = 0; i < header_.size(); ++i) index_.emplace(header_[i], static_cast<int>(i));
    guard.armed = false;
}

csv_reader::~csv_reader() {
    if (fp_ && fp_ != stdin) std::fclose(fp_);
}

int csv_reader::column(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? -1 : it->second;
}

int csv_reader::require_column(std::string_view name) const {
    int c = column(name);
    TRANOVA_CHECK(c >= 0, "{}: missing column '{}'", path_, name);
    return c;
}

std::string csv_reader::where() const { return fmt::format("{}:{}", path_, record_line_); }

bool csv_reader::next(std::vector<std::string>& fields) {
    while (read_record(fields)) {
        if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
        TRANOVA_CHECK(fields.size() == header_.size(), "{}:{}: expected {} fields, found {}", path_, record_line_,
                      header_.size(), fields.size());
        return true;
    }
    return false;
}

bool csv_reader::read_record(std::vector<std::string>& fields) {
    fields.clear();
    int c = getc_unlocked(fp_);
    if (c == EOF) {
        TRANOVA_CHECK(!std::ferror(fp_), "{}: read error: {}", path_, std::strerror(errno));
        return false;
    }
    ++line_;
    record_line_ = line_;
    std::string field;
    bool quoted = false, was_quoted = false;
    for (;; c = getc_unlocked(fp_)) {
        if (c == EOF) {
            TRANOVA_CHECK(!quoted, "{}:{}: unterminated quoted field", path_, record_line_);
            break;
        }
        if (quoted) {
            if (c == '"') {
                int d = getc_unlocked(fp_);
                if (d == '"') {
                    field += '"';
                } else {
                    quoted = false;
                    if (d != EOF) std::ungetc(d, fp_);
                }
            } else {
                if (c == '\n') ++line_;
                field += static_cast<char>(c);
            }
            continue;
        }
        if (c == '"' && field.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == sep_) {
            fields.push_back(std::move(field));
            field.clear();
            was_quoted = false;
        } else if (c == '\n') {
            break;
        } else if (c != '\r') {
            field += static_cast<char>(c);
        }
    }
    fields.push_back(std::move(field));
    return true;
}

std::string csv_escape(std::string_view field, char sep) {
    if (field.find_first_of(std::string{sep, '"', '\n', '\r'}) == std::string_view::npos) return std::string(field);
    std::string out = "\"";
    for (char c : field) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace tranova

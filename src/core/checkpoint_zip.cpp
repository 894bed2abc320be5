// Checkpoint import, the zip container torch.save writes: the central directory (ZIP64
// aware) and the bytes of one entry (stored, or deflated with a bounded expansion).
#include "core/checkpoint.hpp"

#include "core/detail/checkpoint.hpp"
#include "util/error.hpp"

#include <zlib.h>

#include <algorithm>

namespace tranova::core {

using detail::span;

// ---------------------------------------------------------------------------------------
// ZIP
std::vector<zip_entry> zip_list(const uint8_t* data, size_t size, const std::string& label) {
    span z{data, size, label, "zip"};
    TRANOVA_CHECK(size >= 22, "{}: truncated zip ({} bytes, no end-of-central-directory record)", label, size);
    // end of central directory: scan back over a possible comment (<= 65535 bytes)
    size_t eocd = SIZE_MAX;
    size_t lo = size >= 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t off = size - 22 + 1; off-- > lo;)
        if (z.le(off, 4) == 0x06054b50) { eocd = off; break; }
    TRANOVA_CHECK(eocd != SIZE_MAX, "{}: not a zip file or truncated (no end-of-central-directory record)", label);
    uint64_t count = z.le(eocd + 10, 2), cd_size = z.le(eocd + 12, 4), cd_off = z.le(eocd + 16, 4);
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
        TRANOVA_CHECK(eocd >= 20 && z.le(eocd - 20, 4) == 0x07064b50, "{}: ZIP64 locator missing at offset {}", label,
                      eocd >= 20 ? eocd - 20 : 0);
        uint64_t z64 = z.le(eocd - 20 + 8, 8);
        TRANOVA_CHECK(z.le(z64, 4) == 0x06064b50, "{}: bad ZIP64 end-of-central-directory record at offset {}", label,
                      z64);
        count = z.le(z64 + 32, 8), cd_size = z.le(z64 + 40, 8), cd_off = z.le(z64 + 48, 8);
    }
    z.need(cd_off, cd_size);
    TRANOVA_CHECK(count <= cd_size / 46 + 1, "{}: corrupt zip central directory (count {})", label, count);
    std::vector<zip_entry> out;
    uint64_t p = cd_off;
    for (uint64_t i = 0; i < count; i++) {
        TRANOVA_CHECK(z.le(p, 4) == 0x02014b50, "{}: corrupt zip central directory entry {} at offset {}", label, i, p);
        uint16_t method = (uint16_t)z.le(p + 10, 2);
        uint64_t csize = z.le(p + 20, 4), usize = z.le(p + 24, 4);
        uint64_t nlen = z.le(p + 28, 2), xlen = z.le(p + 30, 2), clen = z.le(p + 32, 2);
        uint64_t local = z.le(p + 42, 4);
        z.need(p + 46, nlen + xlen + clen);
        zip_entry e;
        e.name.assign(reinterpret_cast<const char*>(data + p + 46), nlen);
        // ZIP64 extra field: the 0xFFFFFFFF fields follow in order usize, csize, offset
        uint64_t x = p + 46 + nlen, xend = x + xlen;
        while (x + 4 <= xend) {
            uint64_t id = z.le(x, 2), len = z.le(x + 2, 2);
            TRANOVA_CHECK(x + 4 + len <= xend, "{}: corrupt zip extra field of '{}'", label, e.name);
            if (id == 1) {
                uint64_t q = x + 4;
                auto take = [&](uint64_t& v) {
                    if (v == 0xFFFFFFFF) {
                        TRANOVA_CHECK(q + 8 <= x + 4 + len, "{}: short ZIP64 field of '{}'", label, e.name);
                        v = z.le(q, 8), q += 8;
                    }
                };
                take(usize), take(csize), take(local);
            }
            x += 4 + len;
        }
        // local header: its own name/extra lengths decide where data starts
        TRANOVA_CHECK(z.le(local, 4) == 0x04034b50, "{}: bad local zip header for '{}' at offset {}", label, e.name,
                      local);
        uint64_t start = local + 30 + z.le(local + 26, 2) + z.le(local + 28, 2);
        TRANOVA_CHECK(method == 0 || method == 8, "{}: zip entry '{}' uses compression method {} (only stored/deflate)",
                      label, e.name, method);
        TRANOVA_CHECK(method != 0 || csize == usize, "{}: zip entry '{}' has inconsistent sizes", label, e.name);
        z.need(start, csize);
        e.data_offset = start;
        e.size = method == 0 ? usize : csize;
        e.uncompressed = usize;
        e.method = method;
        out.push_back(std::move(e));
        p += 46 + nlen + xlen + clen;
    }
    return out;
}

namespace detail {

// Bytes of one entry: a pointer into the archive for stored entries, or inflated into
// `hold` for deflated ones. The inflated size is the smaller of what the caller needs and
// what the directory declares; deflate cannot expand more than 1032-fold, so a declared
// size beyond that is a lie (and would be a huge allocation).
std::pair<const uint8_t*, size_t> zip_entry_bytes(const uint8_t* data, const zip_entry& e,
                                                  std::vector<uint8_t>& hold, const std::string& label,
                                                  uint64_t expect_max) {
    if (e.method == 0) return {data + e.data_offset, e.size};
    TRANOVA_CHECK(e.uncompressed <= e.size * 1032 + 1024,
                  "{}: deflated entry '{}' declares {} bytes from {} compressed (corrupt zip)", label, e.name,
                  e.uncompressed, e.size);
    expect_max = std::min(expect_max, e.uncompressed);
    TRANOVA_CHECK(expect_max < (uint64_t(1) << 34), "{}: deflated entry '{}' too large", label, e.name);
    hold.assign(expect_max, 0);
    z_stream zs{};
    TRANOVA_CHECK(inflateInit2(&zs, -MAX_WBITS) == Z_OK, "{}: zlib init failed", label);
    zs.next_in = const_cast<uint8_t*>(data + e.data_offset);
    zs.avail_in = (uInt)e.size;
    zs.next_out = hold.data();
    zs.avail_out = (uInt)hold.size();
    int rc = inflate(&zs, Z_FINISH);
    size_t got = zs.total_out;
    inflateEnd(&zs);
    TRANOVA_CHECK(rc == Z_STREAM_END || rc == Z_BUF_ERROR || rc == Z_OK, "{}: corrupt deflate data in '{}'", label,
                  e.name);
    hold.resize(got);
    return {hold.data(), hold.size()};
}

}  // namespace detail

}  // namespace tranova::core

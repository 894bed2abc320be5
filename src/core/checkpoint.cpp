// Checkpoint import: zip container, restricted pickle reader, safetensors. See
// checkpoint.hpp for what is accepted. Every read goes through a bounds-checked cursor.
#include "core/checkpoint.hpp"

#include "core/json.hpp"
#include "util/error.hpp"
#include "util/text.hpp"
#include "util/log.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <unordered_map>

namespace tranova::core {

const char* dtype_name(dtype t) {
    switch (t) {
        case dtype::f32: return "float32";
        case dtype::f64: return "float64";
        case dtype::f16: return "float16";
        case dtype::bf16: return "bfloat16";
        case dtype::i64: return "int64";
        case dtype::i32: return "int32";
        case dtype::i16: return "int16";
        case dtype::i8: return "int8";
        case dtype::u8: return "uint8";
        case dtype::boolean: return "bool";
    }
    return "?";
}

size_t dtype_size(dtype t) {
    switch (t) {
        case dtype::f64: case dtype::i64: return 8;
        case dtype::f32: case dtype::i32: return 4;
        case dtype::f16: case dtype::bf16: case dtype::i16: return 2;
        default: return 1;
    }
}

const checkpoint_tensor& checkpoint::at(const std::string& name) const {
    auto it = tensors.find(name);
    TRANOVA_CHECK(it != tensors.end(), "{}: tensor '{}' is missing", path, name);
    return it->second;
}

namespace {

// ---------------------------------------------------------------------------------------
// little-endian helpers with bounds checks
struct span {
    const uint8_t* d;
    size_t n;
    const std::string& label;
    const char* what;  // "zip", "pickle", "safetensors"

    void need(uint64_t off, uint64_t len) const {
        if (off > n || len > n - off)
            TRANOVA_FAIL("{}: truncated or corrupt {} (needs bytes [{}, {}) of {})", label, what, off, off + len, n);
    }
    uint64_t le(uint64_t off, int bytes) const {
        need(off, bytes);
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | d[off + i];
        return v;
    }
};

float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {  // subnormal
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, exp--;
            bits = sign | (exp << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float load_as_float(const uint8_t* p, dtype t) {
    switch (t) {
        case dtype::f32: { float f; std::memcpy(&f, p, 4); return f; }
        case dtype::f64: { double f; std::memcpy(&f, p, 8); return (float)f; }
        case dtype::f16: { uint16_t h; std::memcpy(&h, p, 2); return half_to_float(h); }
        case dtype::bf16: { uint16_t h; std::memcpy(&h, p, 2); uint32_t b = (uint32_t)h << 16; float f; std::memcpy(&f, &b, 4); return f; }
        case dtype::i64: { int64_t v; std::memcpy(&v, p, 8); return (float)v; }
        case dtype::i32: { int32_t v; std::memcpy(&v, p, 4); return (float)v; }
        case dtype::i16: { int16_t v; std::memcpy(&v, p, 2); return (float)v; }
        case dtype::i8: return (float)(int8_t)*p;
        case dtype::u8: return (float)*p;
        case dtype::boolean: return *p ? 1.0f : 0.0f;
    }
    return 0.0f;
}


// Element count with overflow / sanity checks (max 2^40 elements).
size_t checked_numel(const std::vector<int64_t>& shape, const std::string& label, const std::string& name) {
    size_t n = 1;
    for (int64_t d : shape) {
        TRANOVA_CHECK(d >= 0 && d < (int64_t(1) << 40), "{}: tensor '{}' has a bad dimension {}", label, name, d);
        TRANOVA_CHECK(d == 0 || n <= (size_t(1) << 40) / (size_t)d, "{}: tensor '{}' is too large {}", label, name,
                      shape_string(shape));
        n *= (size_t)d;
    }
    return n;
}

// ---------------------------------------------------------------------------------------
// memory-mapped input file
struct mapped_file {
    const uint8_t* data = nullptr;
    size_t size = 0;
    mapped_file(const std::string& path) {
        int fd = ::open(path.c_str(), O_RDONLY);
        TRANOVA_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            TRANOVA_FAIL("{}: not a regular file", path);
        }
        size = (size_t)st.st_size;
        if (size) {
            void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            ::close(fd);
            TRANOVA_CHECK(p != MAP_FAILED, "{}: cannot map: {}", path, std::strerror(errno));
            data = static_cast<const uint8_t*>(p);
        } else {
            ::close(fd);
        }
    }
    ~mapped_file() {
        if (data) munmap(const_cast<uint8_t*>(data), size);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
};

}  // namespace

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

namespace {

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

// ---------------------------------------------------------------------------------------
// Restricted pickle machine. Every object lives in the unpickler's arena (one flat
// vector of owners) and refers to others by plain pointer: destruction is one loop, never
// a recursion, so a pickle of 200,000 nested lists (or a memo-made cycle) is destroyed
// in constant stack. Object and cell counts are capped; every consumer of the object
// graph (pobj_str, flatten_meta, reduce) walks a bounded depth.
struct pobj;
using pref = pobj*;
struct pobj {
    enum kind_t { none, boolean, integer, real, str, bytes, list, tuple, dict, global, storage, tensor, mark } kind;
    int64_t i = 0;
    double d = 0;
    std::string s;  // str / bytes / global tag / storage key
    std::string qual;  // opaque globals/objects: "module.name"
    std::vector<pref> items;
    std::vector<std::pair<pref, pref>> entries;
    dtype st = dtype::f32;
    int64_t numel = 0;
    pref store = nullptr;
    int64_t offset = 0;
    std::vector<int64_t> size, stride;
    uint32_t depth = 0;  // containers: 1 + the deepest content seen when it was added
    explicit pobj(kind_t k) : kind(k) {}
};

// Caps on what one pickle may build (a real state_dict, even with Lightning's optimizer
// state, has some 10^4 objects): objects, container cells (list/tuple items and dict
// entries, counting the copies REDUCE makes), memo entries and the stack.
constexpr size_t kMaxPickleObjects = size_t(1) << 21;
constexpr size_t kMaxPickleCells = size_t(1) << 25;
constexpr size_t kMaxPickleMemo = size_t(1) << 21;
constexpr size_t kMaxPickleStack = size_t(1) << 20;
// Python's own pickler recurses once per level and stops near 1000.
constexpr uint32_t kMaxPickleDepth = 1000;

struct storage_type_entry { const char* name; dtype t; };
const storage_type_entry kStorageTypes[] = {
    {"FloatStorage", dtype::f32}, {"DoubleStorage", dtype::f64}, {"HalfStorage", dtype::f16},
    {"BFloat16Storage", dtype::bf16}, {"LongStorage", dtype::i64}, {"IntStorage", dtype::i32},
    {"ShortStorage", dtype::i16}, {"CharStorage", dtype::i8}, {"ByteStorage", dtype::u8},
    {"BoolStorage", dtype::boolean}};

// Plain-data classes that Lightning checkpoints carry outside the state_dict (numpy
// scalars in callback state, paths, sets, versions). They become opaque values: REDUCE,
// NEWOBJ and BUILD on them only record the class name; nothing is ever called.
struct opaque_global { const char* mod; const char* name; };
const opaque_global kOpaqueGlobals[] = {
    {"numpy.core.multiarray", "scalar"}, {"numpy.core.multiarray", "_reconstruct"}, {"numpy", "dtype"},
    {"numpy", "ndarray"}, {"numpy._core.multiarray", "scalar"}, {"numpy._core.multiarray", "_reconstruct"},
    {"pathlib", "PosixPath"}, {"pathlib", "WindowsPath"}, {"builtins", "set"}, {"builtins", "frozenset"},
    {"__builtin__", "set"}, {"collections", "defaultdict"}, {"torch.torch_version", "TorchVersion"},
    {"torch.nn.parameter", "Parameter"}, {"torch", "Tensor"}, {"torch", "float32"}, {"torch", "float16"},
    {"torch", "bfloat16"}, {"argparse", "Namespace"}};

class unpickler {
public:
    unpickler(const uint8_t* d, size_t n, std::string label) : d_(d), n_(n), label_(std::move(label)) {}

    pref run() {
        while (true) {
            op_at_ = pos_;
            uint8_t op = byte();
            switch (op) {
                case 0x80: byte(); break;                      // PROTO
                case 0x95: take(8); break;                     // FRAME
                case '(': push(make(pobj::mark)); break;         // MARK
                case '}': push(make(pobj::dict)); break;         // EMPTY_DICT
                case ']': push(make(pobj::list)); break;         // EMPTY_LIST
                case ')': push(make(pobj::tuple)); break;        // EMPTY_TUPLE
                case 'N': push(make(pobj::none)); break;         // NONE
                case 0x88: case 0x89: {                        // NEWTRUE / NEWFALSE
                    auto v = make(pobj::boolean);
                    v->i = op == 0x88;
                    push(v);
                    break;
                }
                case 'J': push_int((int32_t)uint32_t(le(4))); break;  // BININT
                case 'K': push_int(le(1)); break;                     // BININT1
                case 'M': push_int(le(2)); break;                     // BININT2
                case 0x8a: {                                          // LONG1
                    size_t n = byte();
                    if (n > 8) fail("LONG1 integer wider than 64 bits");
                    uint64_t v = n ? le((int)n) : 0;
                    if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);  // sign-extend
                    push_int((int64_t)v);
                    break;
                }
                case 'G': {  // BINFLOAT, big-endian double
                    const uint8_t* p = take(8);
                    uint64_t b = 0;
                    for (int k = 0; k < 8; k++) b = (b << 8) | p[k];
                    auto v = make(pobj::real);
                    std::memcpy(&v->d, &b, 8);
                    push(v);
                    break;
                }
                case 'X': push_str(pobj::str, le(4)); break;     // BINUNICODE
                case 0x8c: push_str(pobj::str, le(1)); break;    // SHORT_BINUNICODE
                case 0x8d: push_str(pobj::str, le(8)); break;    // BINUNICODE8
                case 'T': push_str(pobj::bytes, le(4)); break;   // BINSTRING
                case 'U': push_str(pobj::bytes, le(1)); break;   // SHORT_BINSTRING
                case 'B': push_str(pobj::bytes, le(4)); break;   // BINBYTES
                case 'C': push_str(pobj::bytes, le(1)); break;   // SHORT_BINBYTES
                case 'c': {                                      // GLOBAL module\nname\n
                    std::string mod = line(), name = line();
                    push(make_global(mod, name));
                    break;
                }
                case 0x93: {  // STACK_GLOBAL
                    pref name = pop(), mod = pop();
                    if (name->kind != pobj::str || mod->kind != pobj::str) fail("STACK_GLOBAL needs two strings");
                    push(make_global(mod->s, name->s));
                    break;
                }
                case 'q': memo_put(le(1)); break;         // BINPUT
                case 'r': memo_put(le(4)); break;         // LONG_BINPUT
                case 0x94: memo_put(memo_.size()); break; // MEMOIZE
                case 'h': memo_get(le(1)); break;         // BINGET
                case 'j': memo_get(le(4)); break;         // LONG_BINGET
                case 't': {                               // TUPLE
                    auto v = make(pobj::tuple);
                    v->items = pop_mark();
                    cells(v->items.size());
                    for (pref x : v->items) adopt(v, x);
                    push(v);
                    break;
                }
                case 0x85: case 0x86: case 0x87: {        // TUPLE1..3
                    size_t n = op - 0x84;
                    auto v = make(pobj::tuple);
                    cells(n);
                    v->items.resize(n);
                    for (size_t k = n; k-- > 0;) adopt(v, v->items[k] = pop());
                    push(v);
                    break;
                }
                case 'l': {  // LIST
                    auto v = make(pobj::list);
                    v->items = pop_mark();
                    cells(v->items.size());
                    for (pref x : v->items) adopt(v, x);
                    push(v);
                    break;
                }
                case 'd': {  // DICT
                    auto v = make(pobj::dict);
                    auto it = pop_mark();
                    if (it.size() % 2) fail("DICT with an odd number of items");
                    cells(it.size() / 2);
                    for (size_t k = 0; k < it.size(); k += 2)
                        adopt(v, it[k]), adopt(v, it[k + 1]), v->entries.emplace_back(it[k], it[k + 1]);
                    push(v);
                    break;
                }
                case 'a': {  // APPEND
                    pref v = pop();
                    pref l = top();
                    if (l->kind != pobj::list) fail("APPEND to a non-list");
                    cells(1);
                    adopt(l, v);
                    l->items.push_back(v);
                    break;
                }
                case 'e': {  // APPENDS
                    auto it = pop_mark();
                    pref l = top();
                    if (l->kind != pobj::list) fail("APPENDS to a non-list");
                    cells(it.size());
                    for (pref x : it) adopt(l, x);
                    l->items.insert(l->items.end(), it.begin(), it.end());
                    break;
                }
                case 's': {  // SETITEM
                    pref v = pop(), k = pop();
                    pref dct = top();
                    if (dct->kind != pobj::dict) fail("SETITEM on a non-dict");
                    cells(1);
                    adopt(dct, k), adopt(dct, v);
                    dct->entries.emplace_back(k, v);
                    break;
                }
                case 'u': {  // SETITEMS
                    auto it = pop_mark();
                    pref dct = top();
                    if (dct->kind != pobj::dict) fail("SETITEMS on a non-dict");
                    if (it.size() % 2) fail("SETITEMS with an odd number of items");
                    cells(it.size() / 2);
                    for (size_t k = 0; k < it.size(); k += 2)
                        adopt(dct, it[k]), adopt(dct, it[k + 1]), dct->entries.emplace_back(it[k], it[k + 1]);
                    break;
                }
                case 'Q': {  // BINPERSID
                    pref pid = pop();
                    push(persistent_load(pid));
                    break;
                }
                case 'R': {  // REDUCE
                    pref args = pop(), fn = pop();
                    push(reduce(fn, args));
                    break;
                }
                case 0x81: {  // NEWOBJ: dict-like classes, or an opaque data class
                    pop();  // the arguments: ignored
                    pref cls = pop();
                    if (cls->kind == pobj::global && cls->s == "dict") push(make(pobj::dict));
                    else if (cls->kind == pobj::global && cls->s == "opaque") push(opaque_obj(cls));
                    else fail("NEWOBJ of a class that is not allowed");
                    break;
                }
                case 'b': {  // BUILD: state is ignored (OrderedDict _metadata, object __dict__)
                    pop();
                    top();
                    break;
                }
                case '0': pop(); break;  // POP
                case '.': {              // STOP
                    pref r = pop();
                    return r;
                }
                default:
                    TRANOVA_FAIL("{}: unsupported pickle opcode 0x{:02x} at offset {}", label_, op, op_at_);
            }
        }
    }

private:
    const uint8_t* d_;
    size_t n_, pos_ = 0, op_at_ = 0;
    std::string label_;
    std::vector<pref> stack_;
    std::vector<std::unique_ptr<pobj>> arena_;  // owns every object (see pobj)
    size_t cells_ = 0;
    std::unordered_map<uint64_t, pref> memo_;

    [[noreturn]] void fail(const std::string& what) {
        TRANOVA_FAIL("{}: bad pickle at offset {}: {}", label_, op_at_, what);
    }
    const uint8_t* take(uint64_t n) {
        if (n > n_ - pos_) TRANOVA_FAIL("{}: truncated pickle at offset {} (needs {} more bytes)", label_, pos_, n);
        const uint8_t* p = d_ + pos_;
        pos_ += n;
        return p;
    }
    uint8_t byte() { return *take(1); }
    uint64_t le(int bytes) {
        const uint8_t* p = take(bytes);
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
        return v;
    }
    std::string line() {
        size_t start = pos_;
        while (pos_ < n_ && d_[pos_] != '\n') pos_++;
        if (pos_ >= n_) TRANOVA_FAIL("{}: truncated pickle at offset {} (unterminated GLOBAL)", label_, start);
        return std::string(reinterpret_cast<const char*>(d_ + start), pos_++ - start);
    }
    void push(pref v) {
        if (stack_.size() >= kMaxPickleStack) fail(fmt::format("stack deeper than {} entries", kMaxPickleStack));
        stack_.push_back(std::move(v));
    }
    void push_int(int64_t v) {
        auto o = make(pobj::integer);
        o->i = v;
        push(o);
    }
    void push_str(pobj::kind_t k, uint64_t n) {
        auto o = make(k);
        const uint8_t* p = take(n);
        o->s.assign(reinterpret_cast<const char*>(p), n);
        push(o);
    }
    pref pop() {
        if (stack_.empty() || stack_.back()->kind == pobj::mark) fail("stack underflow");
        pref v = std::move(stack_.back());
        stack_.pop_back();
        return v;
    }
    pref top() {
        if (stack_.empty() || stack_.back()->kind == pobj::mark) fail("stack underflow");
        return stack_.back();
    }
    std::vector<pref> pop_mark() {
        size_t k = stack_.size();
        while (k > 0 && stack_[k - 1]->kind != pobj::mark) k--;
        if (k == 0) fail("no MARK on the stack");
        std::vector<pref> items(stack_.begin() + k, stack_.end());
        stack_.resize(k - 1);
        return items;
    }
    void memo_put(uint64_t idx) {
        if (memo_.size() >= kMaxPickleMemo && !memo_.count(idx))
            fail(fmt::format("memo larger than {} entries", kMaxPickleMemo));
        memo_[idx] = top();
    }
    void memo_get(uint64_t idx) {
        auto it = memo_.find(idx);
        if (it == memo_.end()) fail(fmt::format("memo key {} not defined", idx));
        push(it->second);
    }
    pref make_global(const std::string& mod, const std::string& name) {
        auto g = make(pobj::global);
        if (mod == "torch._utils" && name == "_rebuild_tensor_v2") g->s = "rebuild_tensor";
        else if (mod == "torch._utils" && name == "_rebuild_parameter") g->s = "rebuild_parameter";
        else if ((mod == "collections" && name == "OrderedDict") ||
                 (name == "AttributeDict" && (mod == "pytorch_lightning.utilities.parsing" ||
                                              mod == "lightning.fabric.utilities.data" ||
                                              mod == "lightning_fabric.utilities.data")))
            g->s = "dict";
        else if (mod == "torch._utils" && name == "_rebuild_parameter_with_state") g->s = "rebuild_parameter";
        else if (mod == "torch._tensor" && name == "_rebuild_from_type_v2") g->s = "rebuild_from_type";
        else if (mod == "torch" && name == "Size") g->s = "size";
        else if (mod == "torch" && name == "device") g->s = "device";
        else if (mod == "torch") {
            for (auto& e : kStorageTypes)
                if (name == e.name) {
                    g->s = "storage_type";
                    g->st = e.t;
                }
        }
        if (g->s.empty())
            for (auto& o : kOpaqueGlobals)
                if (mod == o.mod && name == o.name) g->s = "opaque", g->qual = mod + "." + name;
        if (g->s.empty())
            TRANOVA_FAIL("{}: pickle at offset {} refers to global '{}.{}', which is not allowed (only tensor "
                         "rebuilding, OrderedDict and storage types)",
                         label_, op_at_, mod, name);
        return g;
    }
    int64_t as_int(const pref& v, const char* what) {
        if (v->kind != pobj::integer) fail(fmt::format("{} is not an integer", what));
        return v->i;
    }
    std::vector<int64_t> int_tuple(const pref& v, const char* what) {
        if (v->kind != pobj::tuple && v->kind != pobj::list) fail(fmt::format("{} is not a tuple", what));
        std::vector<int64_t> r;
        for (auto& x : v->items) r.push_back(as_int(x, what));
        return r;
    }
    pref persistent_load(const pref& pid) {
        if (pid->kind != pobj::tuple || pid->items.size() < 5 || pid->items[0]->kind != pobj::str ||
            pid->items[0]->s != "storage")
            fail("persistent id is not a ('storage', type, key, location, numel) tuple");
        const pref& type = pid->items[1];
        if (type->kind != pobj::global || type->s != "storage_type") fail("persistent id has no storage type");
        if (pid->items[2]->kind != pobj::str) fail("storage key is not a string");
        auto s = make(pobj::storage);
        s->st = type->st;
        s->s = pid->items[2]->s;
        s->numel = as_int(pid->items[4], "storage size");
        if (s->numel < 0) fail("negative storage size");
        return s;
    }
    pref make(pobj::kind_t k) {
        if (arena_.size() >= kMaxPickleObjects)
            fail(fmt::format("more than {} objects (not a state_dict)", kMaxPickleObjects));
        arena_.push_back(std::make_unique<pobj>(k));
        return arena_.back().get();
    }
    // Records that `child` now sits inside `parent` (nesting depth bound).
    void adopt(pref parent, pref child) {
        if (child->depth + 1 > parent->depth) {
            parent->depth = child->depth + 1;
            if (parent->depth > kMaxPickleDepth)
                fail(fmt::format("containers nested deeper than {} levels (not a state_dict)", kMaxPickleDepth));
        }
    }
    // Accounts for `n` more container cells (list items, dict entries).
    void cells(size_t n) {
        cells_ += n;
        if (cells_ > kMaxPickleCells)
            fail(fmt::format("more than {} container items (not a state_dict)", kMaxPickleCells));
    }
    pref opaque_obj(const pref& cls) {
        auto o = make(pobj::global);
        o->s = "opaque_obj";
        o->qual = cls->qual;
        return o;
    }
    pref reduce(const pref& fn, const pref& args) {
        if (fn->kind != pobj::global) fail("REDUCE on a non-callable");
        if (fn->s == "opaque") return opaque_obj(fn);
        if (args->kind != pobj::tuple) fail("REDUCE arguments are not a tuple");
        const auto& a = args->items;
        if (fn->s == "rebuild_tensor") {
            if (a.size() < 4 || a[0]->kind != pobj::storage) fail("bad _rebuild_tensor_v2 arguments");
            auto t = make(pobj::tensor);
            t->store = a[0];
            t->offset = as_int(a[1], "storage offset");
            t->size = int_tuple(a[2], "tensor size");
            t->stride = int_tuple(a[3], "tensor stride");
            if (t->size.size() != t->stride.size()) fail("tensor size and stride ranks differ");
            if (t->size.size() > 64) fail("tensor rank above 64");
            return t;
        }
        if (fn->s == "rebuild_from_type") {  // (func, new_type, args, state) -> func(*args)
            if (a.size() < 3 || a[0]->kind != pobj::global || a[0]->s != "rebuild_tensor" || a[2]->kind != pobj::tuple)
                fail("bad _rebuild_from_type_v2 arguments");
            return reduce(a[0], a[2]);
        }
        if (fn->s == "rebuild_parameter") {
            if (a.empty() || a[0]->kind != pobj::tensor) fail("bad _rebuild_parameter arguments");
            return a[0];
        }
        if (fn->s == "dict") {
            auto dct = make(pobj::dict);
            if (!a.empty() && a[0]->kind == pobj::dict)
                cells(a[0]->entries.size()), dct->entries = a[0]->entries, dct->depth = a[0]->depth;
            return dct;
        }
        if (fn->s == "size") {
            auto t = make(pobj::tuple);
            if (!a.empty()) cells(a[0]->items.size()), t->items = a[0]->items, t->depth = a[0]->depth;
            return t;
        }
        if (fn->s == "device") {
            auto s = make(pobj::str);
            s->s = !a.empty() && a[0]->kind == pobj::str ? a[0]->s : "cpu";
            return s;
        }
        fail("REDUCE of a non-callable global");
    }
};

// Text of a metadata value: at most 64 items per list, 4 levels, 256 nodes in all and
// 1024 characters per string, so that shared or cyclic objects (memo references) cannot
// make it explode.
std::string clip(const std::string& s) { return s.size() <= 1024 ? s : s.substr(0, 1024) + "..."; }

std::string pobj_str(const pref& v, int depth, int& budget) {
    if (depth > 4 || --budget < 0) return "...";
    switch (v->kind) {
        case pobj::none: return "None";
        case pobj::boolean: return v->i ? "true" : "false";
        case pobj::integer: return std::to_string(v->i);
        case pobj::real: return fmt::format("{}", v->d);
        case pobj::str: case pobj::bytes: return clip(v->s);
        case pobj::list: case pobj::tuple: {
            std::string r = "[";
            for (size_t i = 0; i < v->items.size() && i < 64; i++)
                r += (i ? ", " : "") + pobj_str(v->items[i], depth + 1, budget);
            if (v->items.size() > 64) r += ", ...";
            return r + "]";
        }
        case pobj::dict: return fmt::format("<dict of {}>", v->entries.size());
        case pobj::tensor: return "<tensor " + shape_string(v->size) + ">";
        case pobj::global: return "<object " + (v->qual.empty() ? v->s : v->qual) + ">";
        default: return "<object>";
    }
}
std::string pobj_str(const pref& v) {
    int budget = 256;
    return pobj_str(v, 0, budget);
}

// Flattens dicts into "a.b.c" -> text entries, 6 levels deep. A dict referring to itself
// (or sharing big sub-dicts) could ask for astronomically many entries: more than
// kMaxMetaEntries visits is an error.
constexpr size_t kMaxMetaEntries = 100000;
struct meta_flattener {
    checkpoint& ck;
    size_t visits = 0;
    void operator()(const std::string& prefix, const pref& v, int depth) {
        TRANOVA_CHECK(++visits <= kMaxMetaEntries, "{}: checkpoint metadata has more than {} entries (not a state_dict)",
                      ck.path, kMaxMetaEntries);
        if (v->kind == pobj::dict && depth < 6) {
            for (auto& [k, x] : v->entries) {
                std::string key = k->kind == pobj::str ? clip(k->s) : pobj_str(k);
                (*this)(prefix.empty() ? key : prefix + "." + key, x, depth + 1);
            }
            return;
        }
        if ((v->kind == pobj::list || v->kind == pobj::tuple)) {
            for (auto& x : v->items)
                if (x->kind == pobj::dict || x->kind == pobj::list || x->kind == pobj::tuple) {
                    ck.meta[prefix] = fmt::format("<list of {}>", v->items.size());
                    return;
                }
        }
        ck.meta[prefix] = pobj_str(v);
    }
};

// `budget`: elements all tensors may still expand to (views may repeat storage elements,
// so many tensors on one storage could otherwise ask for far more memory than the file).
void materialize(checkpoint& ck, const std::string& name, const pobj& t,
                 const std::map<std::string, std::pair<const uint8_t*, size_t>>& storages, uint64_t& budget) {
    const pobj& s = *t.store;
    auto it = storages.find(s.s);
    TRANOVA_CHECK(it != storages.end(), "{}: tensor '{}': storage data/{} is missing from the archive", ck.path, name,
                  s.s);
    const size_t es = dtype_size(s.st);
    TRANOVA_CHECK((uint64_t)s.numel <= it->second.second / es,
                  "{}: tensor '{}': storage data/{} has {} bytes, needs {} ({} x {})", ck.path, name, s.s,
                  it->second.second, (uint64_t)s.numel * es, s.numel, dtype_name(s.st));
    checkpoint_tensor ct;
    ct.shape = t.size;
    ct.source = s.st;
    size_t n = checked_numel(t.size, ck.path, name);
    TRANOVA_CHECK(t.offset >= 0, "{}: tensor '{}' has a negative storage offset", ck.path, name);
    if (n) {
        // The last element read is offset + sum((size-1) * stride); each step is checked
        // against the storage size before it is added, so nothing can overflow.
        const uint64_t limit = (uint64_t)s.numel;
        auto past_end = [&] {
            TRANOVA_FAIL("{}: tensor '{}' (shape {}, offset {}) reads past its storage data/{} of {} elements",
                         ck.path, name, shape_string(t.size), t.offset, s.s, s.numel);
        };
        if ((uint64_t)t.offset >= limit) past_end();
        uint64_t maxi = (uint64_t)t.offset;
        for (size_t k = 0; k < t.size.size(); k++) {
            TRANOVA_CHECK(t.stride[k] >= 0 && t.stride[k] < (int64_t(1) << 40), "{}: tensor '{}' has a bad stride {}",
                          ck.path, name, t.stride[k]);
            const uint64_t steps = (uint64_t)(t.size[k] - 1), stride = (uint64_t)t.stride[k];
            if (stride && steps > (limit - 1 - maxi) / stride) past_end();
            maxi += steps * stride;
        }
        TRANOVA_CHECK(n <= 16 * (size_t)s.numel + 1024,
                      "{}: tensor '{}' (shape {}) expands its storage data/{} of {} elements more than 16-fold", ck.path,
                      name, shape_string(t.size), s.s, s.numel);
    }
    TRANOVA_CHECK(n <= budget, "{}: tensor '{}': the tensors' views add up to more than 16 times the file's elements",
                  ck.path, name);
    budget -= n;
    ct.data.resize(n);
    const uint8_t* base = it->second.first;
    // contiguous?
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t k = t.size.size(); k-- > 0;) {
        if (t.size[k] != 1 && t.stride[k] != expect) contiguous = false;
        expect *= t.size[k];
    }
    if (contiguous && s.st == dtype::f32) {
        if (n) std::memcpy(ct.data.data(), base + (size_t)t.offset * 4, n * 4);
    } else if (contiguous) {
        for (size_t i = 0; i < n; i++) ct.data[i] = load_as_float(base + ((size_t)t.offset + i) * es, s.st);
    } else {
        std::vector<int64_t> idx(t.size.size(), 0);
        for (size_t i = 0; i < n; i++) {
            size_t off = (size_t)t.offset;
            for (size_t k = 0; k < idx.size(); k++) off += (size_t)idx[k] * (size_t)t.stride[k];
            ct.data[i] = load_as_float(base + off * es, s.st);
            for (size_t k = idx.size(); k-- > 0;) {
                if (++idx[k] < t.size[k]) break;
                idx[k] = 0;
            }
        }
    }
    ck.names.push_back(name);
    ck.tensors.emplace(name, std::move(ct));
}

void read_torch_zip(checkpoint& ck, const uint8_t* data, size_t size, const checkpoint_options& opt) {
    std::vector<zip_entry> entries = zip_list(data, size, ck.path);
    const zip_entry* pkl = nullptr;
    for (auto& e : entries)
        if (e.name == "data.pkl" || (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0 &&
                                     e.name.find('/') == e.name.size() - 9)) {
            pkl = &e;
            break;
        }
    TRANOVA_CHECK(pkl, "{}: zip archive has no data.pkl (not a torch.save file)", ck.path);
    std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "archive/"
    for (auto& e : entries)
        if (e.name == prefix + "byteorder" && e.method == 0) {  // torch >= 2.1 writes it
            std::string bo(reinterpret_cast<const char*>(data + e.data_offset), (size_t)std::min<uint64_t>(e.size, 16));
            TRANOVA_CHECK(bo == "little", "{}: checkpoint byte order is '{}' (only little-endian is supported)", ck.path, bo);
        }
    std::vector<uint8_t> pkl_hold;
    auto [pdata, psize] = zip_entry_bytes(data, *pkl, pkl_hold, ck.path, 1u << 30);
    unpickler up(pdata, psize, ck.path + ":" + pkl->name);
    pref root = up.run();
    TRANOVA_CHECK(root->kind == pobj::dict, "{}: pickled object is not a dict (state_dict expected)", ck.path);

    const pobj* sd = root;
    std::string key = opt.state_dict_key;
    if (key.empty())
        for (auto& [k, v] : root->entries)
            if (k->kind == pobj::str && k->s == "state_dict" && v->kind == pobj::dict) key = "state_dict";
    meta_flattener flatten{ck};
    if (!key.empty()) {
        sd = nullptr;
        for (auto& [k, v] : root->entries)
            if (k->kind == pobj::str && k->s == key) {
                TRANOVA_CHECK(v->kind == pobj::dict, "{}: '{}' is not a dict", ck.path, key);
                sd = v;
            } else if (k->kind == pobj::str) {
                flatten(clip(k->s), v, 0);
            }
        TRANOVA_CHECK(sd, "{}: checkpoint has no '{}' entry", ck.path, key);
        ck.format = "lightning-ckpt";
    } else {
        ck.format = "pytorch-zip";
    }

    // storages referenced by the state dict (tensors elsewhere, e.g. optimizer state, are skipped)
    std::map<std::string, const zip_entry*> by_name;
    for (auto& e : entries) by_name[e.name] = &e;
    std::map<std::string, std::pair<const uint8_t*, size_t>> storages;
    std::vector<std::vector<uint8_t>> holds;
    for (auto& [k, v] : sd->entries) {
        if (v->kind != pobj::tensor) continue;
        const std::string& sk = v->store->s;
        if (storages.count(sk)) continue;
        auto it = by_name.find(prefix + "data/" + sk);
        if (it == by_name.end()) continue;  // reported by materialize
        holds.emplace_back();
        storages[sk] = zip_entry_bytes(data, *it->second, holds.back(), ck.path,
                                       (uint64_t)v->store->numel * dtype_size(v->store->st));
    }
    uint64_t budget = 16 * (uint64_t)size + (uint64_t(1) << 20);
    for (auto& [k, v] : sd->entries) {
        TRANOVA_CHECK(k->kind == pobj::str, "{}: state_dict key is not a string", ck.path);
        if (v->kind == pobj::tensor) {
            TRANOVA_CHECK(!ck.tensors.count(k->s), "{}: duplicate tensor '{}'", ck.path, k->s);
            materialize(ck, k->s, *v, storages, budget);
        } else {
            ck.meta["state_dict." + clip(k->s)] = pobj_str(v);  // e.g. _extra_state
        }
    }
}

void read_safetensors(checkpoint& ck, const uint8_t* data, size_t size) {
    span s{data, size, ck.path, "safetensors"};
    uint64_t hlen = s.le(0, 8);
    TRANOVA_CHECK(hlen <= size - 8 && hlen < (uint64_t(100) << 20),
                  "{}: truncated or corrupt safetensors (header length {} at offset 0, file {} bytes)", ck.path, hlen,
                  size);
    json_value h = json_parse(reinterpret_cast<const char*>(data + 8), hlen, ck.path + " (safetensors header)");
    TRANOVA_CHECK(h.kind == json_value::object_v, "{}: safetensors header is not a JSON object", ck.path);
    const uint64_t base = 8 + hlen, avail = size - base;
    ck.format = "safetensors";
    struct dt { const char* n; dtype t; };
    static const dt kTypes[] = {{"F32", dtype::f32}, {"F64", dtype::f64}, {"F16", dtype::f16}, {"BF16", dtype::bf16},
                                {"I64", dtype::i64}, {"I32", dtype::i32}, {"I16", dtype::i16}, {"I8", dtype::i8},
                                {"U8", dtype::u8},   {"BOOL", dtype::boolean}};
    struct extent { uint64_t begin, end; const std::string* name; };
    std::vector<extent> extents;
    for (auto& [name, v] : h.members) {
        if (name == "__metadata__") {
            TRANOVA_CHECK(v.kind == json_value::object_v, "{}: safetensors __metadata__ is not an object", ck.path);
            for (auto& [k, x] : v.members) ck.meta["__metadata__." + k] = x.kind == json_value::string_v ? x.str : x.dump();
            continue;
        }
        TRANOVA_CHECK(v.kind == json_value::object_v, "{}: safetensors entry '{}' is not an object", ck.path, name);
        const json_value *jt = v.find("dtype"), *js = v.find("shape"), *jo = v.find("data_offsets");
        TRANOVA_CHECK(jt && js && jo && jt->kind == json_value::string_v && js->kind == json_value::array_v &&
                          jo->kind == json_value::array_v && jo->items.size() == 2,
                      "{}: safetensors entry '{}' lacks dtype/shape/data_offsets", ck.path, name);
        checkpoint_tensor ct;
        bool known = false;
        for (auto& t : kTypes)
            if (jt->str == t.n) ct.source = t.t, known = true;
        TRANOVA_CHECK(known, "{}: tensor '{}' has unsupported dtype '{}' (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)",
                      ck.path, name, jt->str);
        TRANOVA_CHECK(js->items.size() <= 64, "{}: tensor '{}' has rank {} (above 64)", ck.path, name, js->items.size());
        for (auto& d : js->items) {
            TRANOVA_CHECK(d.kind == json_value::number_v && d.is_integer, "{}: tensor '{}' has a bad shape", ck.path,
                          name);
            ct.shape.push_back(d.integer);
        }
        size_t n = checked_numel(ct.shape, ck.path, name);
        for (auto& o : jo->items)
            TRANOVA_CHECK(o.kind == json_value::number_v && o.is_integer && o.integer >= 0,
                          "{}: tensor '{}' has bad data_offsets", ck.path, name);
        uint64_t b = (uint64_t)jo->items[0].integer, e = (uint64_t)jo->items[1].integer;
        const size_t es = dtype_size(ct.source);
        TRANOVA_CHECK(b <= e && e <= avail, "{}: tensor '{}' data [{}, {}) lies outside the file's {} data bytes",
                      ck.path, name, b, e, avail);
        TRANOVA_CHECK(e - b == (uint64_t)n * es, "{}: tensor '{}' has {} data bytes, shape {} x {} needs {}", ck.path,
                      name, e - b, shape_string(ct.shape), dtype_name(ct.source), (uint64_t)n * es);
        extents.push_back({b, e, &name});
        ct.data.resize(n);
        const uint8_t* p = data + base + b;
        if (ct.source == dtype::f32) {
            if (n) std::memcpy(ct.data.data(), p, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) ct.data[i] = load_as_float(p + i * es, ct.source);
        }
        TRANOVA_CHECK(!ck.tensors.count(name), "{}: duplicate tensor '{}'", ck.path, name);
        ck.names.push_back(name);
        ck.tensors.emplace(name, std::move(ct));
    }
    // As the safetensors reference reader demands: the tensors' byte ranges tile the data
    // area exactly (no overlap, which would alias two tensors; no gap or trailing bytes).
    std::sort(extents.begin(), extents.end(),
              [](const extent& a, const extent& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    uint64_t at = 0;
    const std::string* prev = nullptr;
    for (const extent& x : extents) {
        TRANOVA_CHECK(x.begin >= at, "{}: tensor '{}' data [{}, {}) overlaps tensor '{}' (ends at {})", ck.path,
                      *x.name, x.begin, x.end, prev ? *prev : std::string(), at);
        TRANOVA_CHECK(x.begin == at, "{}: safetensors data bytes [{}, {}) belong to no tensor (before '{}')", ck.path,
                      at, x.begin, *x.name);
        at = x.end;
        prev = x.name;
    }
    TRANOVA_CHECK(at == avail, "{}: safetensors data has {} bytes, its tensors cover {} (trailing bytes)", ck.path,
                  avail, at);
}

}  // namespace

checkpoint checkpoint_read_memory(const uint8_t* data, size_t size, const std::string& name,
                                  const checkpoint_options& opt) {
    checkpoint ck;
    ck.path = name;
    TRANOVA_CHECK(size >= 8, "{}: file too short to be a checkpoint ({} bytes)", name, size);
    if (data[0] == 'P' && data[1] == 'K') {
        read_torch_zip(ck, data, size, opt);
    } else if (size > 8 && data[8] == '{') {
        read_safetensors(ck, data, size);
    } else if (data[0] == 0x80) {
        TRANOVA_FAIL("{}: legacy torch.save format (pre-1.6, not a zip archive) is not supported; re-save it with "
                     "torch >= 1.6 or convert it to safetensors",
                     name);
    } else {
        TRANOVA_FAIL("{}: unrecognised checkpoint format (wrong magic: neither a zip archive nor safetensors)", name);
    }
    return ck;
}

checkpoint checkpoint_read(const std::string& path, const checkpoint_options& opt) {
    namespace fs = std::filesystem;
    std::string file = path;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        file.clear();
        for (const char* cand : {"model.safetensors", "pytorch_model.bin"})
            if (fs::exists(fs::path(path) / cand, ec)) {
                file = (fs::path(path) / cand).string();
                break;
            }
        TRANOVA_CHECK(!file.empty(), "{}: folder holds neither model.safetensors nor pytorch_model.bin", path);
    }
    mapped_file m(file);
    return checkpoint_read_memory(m.data, m.size, file, opt);
}

}  // namespace tranova::core

// Checkpoint import, the restricted pickle machine: the opcodes a state_dict (and
// Lightning's hyper_parameters) needs and a short list of globals; nothing is ever
// executed. See checkpoint.hpp for the safety rules and detail/checkpoint.hpp for the
// object graph it builds.
#include "core/detail/checkpoint.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cstring>
#include <unordered_map>

namespace tranova::core::detail {

namespace {

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
    // Hands over the objects built so far (run()'s result points into them).
    std::vector<std::unique_ptr<pobj>> release_arena() { return std::move(arena_); }

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

}  // namespace

pickle_graph pickle_load(const uint8_t* d, size_t n, const std::string& label) {
    unpickler up(d, n, label);
    pickle_graph g;
    g.root = up.run();
    g.arena = up.release_arena();
    return g;
}

std::string clip(const std::string& s) { return s.size() <= 1024 ? s : s.substr(0, 1024) + "..."; }

namespace {
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
}  // namespace

std::string pobj_str(const pref& v) {
    int budget = 256;
    return pobj_str(v, 0, budget);
}

}  // namespace tranova::core::detail

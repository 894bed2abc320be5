// RAII handles over the HDF5 C API and a checked-call macro. HDF5's own error stack
// printing is silenced (h5_quiet) so that a bad file gives our one-line error instead
// of a page of HDF5 internals. Modules build their schemas on top of these.
#pragma once

#include "util/error.hpp"

#include <hdf5.h>

#include <string>
#include <utility>

namespace tranova {

// Owns one hid_t and closes it with the matching H5?close.
class h5_handle {
public:
    h5_handle() = default;
    explicit h5_handle(hid_t id) : id_(id) {}
    ~h5_handle() { reset(); }
    h5_handle(h5_handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
    h5_handle& operator=(h5_handle&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
        }
        return *this;
    }
    h5_handle(const h5_handle&) = delete;
    h5_handle& operator=(const h5_handle&) = delete;

    hid_t get() const { return id_; }
    operator hid_t() const { return id_; }
    bool valid() const { return id_ >= 0; }
    void reset();

private:
    hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic error-stack printing for this process (call once).
void h5_quiet();

// HDF5 reads by seeking, so its files must be regular files: throws tranova::error saying
// exactly what `path` is instead ("no such file", "is a folder", "is a FIFO ..."); a FIFO
// is never opened (that would wait for a writer).
void h5_require_regular_file(const std::string& path);

// The name of an open attribute ("" if HDF5 cannot tell).
std::string h5_attr_name(hid_t attr);

}  // namespace tranova

// TRANOVA_H5_CHECK(expr, "context {}", args...): throw tranova::error when an HDF5 call
// returns a negative value (its failure convention); evaluates to the call's result.
#define TRANOVA_H5_CHECK(expr, ...)                                          \
    ([&] {                                                                   \
        auto tranova_h5_result = (expr);                                     \
        if (tranova_h5_result < 0)                                           \
            throw ::tranova::error(fmt::format(__VA_ARGS__), __FILE__, __LINE__); \
        return tranova_h5_result;                                            \
    }())

#include "util/h5.hpp"

#include "util/error.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tranova {

void h5_handle::reset() {
    if (id_ < 0) return;
    switch (H5Iget_type(id_)) {
        case H5I_FILE: H5Fclose(id_); break;
        case H5I_GROUP: H5Gclose(id_); break;
        case H5I_DATASET: H5Dclose(id_); break;
        case H5I_DATASPACE: H5Sclose(id_); break;
        case H5I_DATATYPE: H5Tclose(id_); break;
        case H5I_ATTR: H5Aclose(id_); break;
        case H5I_GENPROP_LST: H5Pclose(id_); break;
        default: break;
    }
    id_ = H5I_INVALID_HID;
}

void h5_quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void h5_require_regular_file(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) TRANOVA_FAIL("cannot open '{}': {}", path, std::strerror(errno));
    if (S_ISREG(st.st_mode)) return;
    const char* what = S_ISDIR(st.st_mode)    ? "is a folder, not an HDF5 file"
                       : S_ISFIFO(st.st_mode) ? "is a FIFO (named pipe); HDF5 files are read by seeking, so copy it to a "
                                                "regular file first"
                                              : "is a device or other special file, not an HDF5 file";
    TRANOVA_FAIL("cannot open '{}': it {}", path, what);
}

std::string h5_attr_name(hid_t attr) {
    const ssize_t n = H5Aget_name(attr, 0, nullptr);
    std::string name(static_cast<size_t>(std::max<ssize_t>(n, 0)), '\0');
    if (n > 0) H5Aget_name(attr, name.size() + 1, name.data());
    return name;
}

}  // namespace tranova

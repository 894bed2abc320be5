// Loading a Tranception model from an HDF5 weight file. Provisional: reads datasets
// named by the PyTorch state-dict names and the config from root attributes, until the
// project-wide weight format (src/core/weights.hpp) is merged.
#include "tranception/model.hpp"

#include "util/error.hpp"
#include "util/h5.hpp"

namespace tranova::tranception {

namespace {
int read_int_attr(hid_t obj, const char* name, const std::string& path) {
    TRANOVA_CHECK(H5Aexists(obj, name) > 0, "{}: missing attribute '{}'", path, name);
    h5_handle a(H5Aopen(obj, name, H5P_DEFAULT));
    long long v = 0;
    TRANOVA_H5_CHECK(H5Aread(a, H5T_NATIVE_LLONG, &v), "{}: cannot read attribute '{}'", path, name);
    return static_cast<int>(v);
}
}  // namespace

model model_load_h5(const std::string& path) {
    h5_quiet();
    h5_handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    TRANOVA_CHECK(f.valid(), "{}: cannot open as an HDF5 weight file", path);
    model_config c;
    c.n_layer = read_int_attr(f, "tranova.n_layer", path);
    c.n_embd = read_int_attr(f, "tranova.n_embd", path);
    c.n_head = read_int_attr(f, "tranova.n_head", path);
    c.n_inner = read_int_attr(f, "tranova.n_inner", path);
    c.n_ctx = read_int_attr(f, "tranova.n_ctx", path);
    tensor_reader r;
    r.source = path;
    hid_t fid = f.get();
    r.read = [fid, path](const std::string& name, std::vector<float>& out, std::vector<int64_t>& shape) {
        if (H5Lexists(fid, name.c_str(), H5P_DEFAULT) <= 0) return false;
        h5_handle ds(H5Dopen2(fid, name.c_str(), H5P_DEFAULT));
        TRANOVA_CHECK(ds.valid(), "{}: cannot open dataset '{}'", path, name);
        h5_handle sp(H5Dget_space(ds));
        int nd = H5Sget_simple_extent_ndims(sp);
        std::vector<hsize_t> dims(nd > 0 ? nd : 0);
        if (nd > 0) H5Sget_simple_extent_dims(sp, dims.data(), nullptr);
        shape.assign(dims.begin(), dims.end());
        size_t n = 1;
        for (auto d : dims) n *= d;
        out.resize(n);
        TRANOVA_H5_CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
                         "{}: cannot read dataset '{}'", path, name);
        return true;
    };
    return model_from_state_dict(r, c);
}

}  // namespace tranova::tranception

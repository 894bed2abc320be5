// `tranova version`: build details for bug reports and methods sections (compiler,
// flags, BLAS, HDF5, htslib, SeqAn3, OpenMP, MPI, CUDA). `tranova --version` is the bare form.
#include "cli.hpp"

#include "core/dist.hpp"
#include "tranova/build_info.hpp"

#include <hdf5.h>
#include <htslib/hts.h>

#include <cstdio>
#include <fmt/format.h>

extern "C" char* openblas_get_config() __attribute__((weak));

namespace {

int main_version(int argc, char** argv) {
    tranova::cli::parser p({"tranova version", "", "Print the version and how this binary was built.",
                            {"tranova version", "tranova --version   # the bare version, for pipelines"}});
    p.set_bare_prints_usage(false);
    if (auto rc = p.parse(argc, argv)) return *rc;
    unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
    H5get_libversion(&h5_major, &h5_minor, &h5_release);
    std::string s;
    s += fmt::format("tranova {}\n", TRANOVA_VERSION);
    if (*TRANOVA_GIT_DESCRIBE) s += fmt::format("git: {}\n", TRANOVA_GIT_DESCRIBE);
    s += fmt::format("build type: {}\n", TRANOVA_BUILD_TYPE);
    s += fmt::format("compiler: {}\n", TRANOVA_COMPILER);
    s += fmt::format("flags: {}\n", TRANOVA_BUILD_FLAGS);
    s += fmt::format("OpenMP: {}\n", _OPENMP);
    s += fmt::format("BLAS: {}{}\n", TRANOVA_BLAS_LIBRARY,
                     openblas_get_config ? fmt::format(" ({})", openblas_get_config()) : std::string());
    s += fmt::format("HDF5: {}.{}.{}\n", h5_major, h5_minor, h5_release);
    s += fmt::format("htslib: {}\n", hts_version());
    s += fmt::format("SeqAn3: {}\n", TRANOVA_SEQAN3_VERSION);
    s += fmt::format("MPI: {}\n", tranova::core::dist::built_with_mpi() ? "on (data-parallel training under mpirun/srun)" : "off");
    if (TRANOVA_CUDA_ENABLED)
        s += fmt::format("CUDA: on (nvcc {})\n", TRANOVA_CUDA_COMPILER_VERSION);
    else
        s += "CUDA: off\n";
    std::fputs(s.c_str(), stdout);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(version, {"version", "Information", "print the version and build details", main_version})

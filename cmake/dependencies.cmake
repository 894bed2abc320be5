# Debian 12 packages only (scripts/install-deps); CMake finders or pkg-config, never downloads.
find_package(OpenMP REQUIRED COMPONENTS CXX)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(TRANOVA_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas REQUIRED)
find_package(ZLIB REQUIRED)
set(HDF5_PREFER_PARALLEL OFF)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTSLIB REQUIRED IMPORTED_TARGET htslib)
find_package(EXPAT REQUIRED)
# MPI (Debian's OpenMPI, libopenmpi-dev) for data-parallel training across processes;
# optional: without it tranova trains in one process (src/core/dist.hpp).
find_package(MPI COMPONENTS C QUIET)
# SeqAn3 is header-only and slow to compile: link tranova::seqan3 only from the few
# translation units that need it (src/retrieval alignment).
find_package(SeqAn3 3.2 QUIET HINTS /usr/share/cmake)
if(NOT SeqAn3_FOUND)
  message(FATAL_ERROR "SeqAn3 not found: run scripts/install-deps (Debian package libseqan3-dev)")
endif()

add_library(tranova_blas INTERFACE)
target_link_libraries(tranova_blas INTERFACE BLAS::BLAS)
target_include_directories(tranova_blas INTERFACE ${TRANOVA_CBLAS_INCLUDE})

add_library(tranova_hdf5 INTERFACE)
target_link_libraries(tranova_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_include_directories(tranova_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(tranova_hdf5 INTERFACE ${HDF5_C_DEFINITIONS})

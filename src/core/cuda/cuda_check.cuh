// Checked CUDA / cuBLAS calls: throw tranova::error naming the call, file and line.
#pragma once

#include "util/error.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#define TRANOVA_CUDA_CHECK(call)                                                              \
    do {                                                                                      \
        cudaError_t tranova_cuda_err = (call);                                                \
        if (tranova_cuda_err != cudaSuccess)                                                  \
            TRANOVA_FAIL("CUDA error {} ({}) in {} at {}:{}", (int)tranova_cuda_err,          \
                         cudaGetErrorString(tranova_cuda_err), #call, __FILE__, __LINE__);    \
    } while (0)

#define TRANOVA_CUBLAS_CHECK(call)                                                            \
    do {                                                                                      \
        cublasStatus_t tranova_cublas_st = (call);                                            \
        if (tranova_cublas_st != CUBLAS_STATUS_SUCCESS)                                       \
            TRANOVA_FAIL("cuBLAS error {} in {} at {}:{}", (int)tranova_cublas_st, #call,     \
                         __FILE__, __LINE__);                                                 \
    } while (0)

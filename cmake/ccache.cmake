# Use ccache when present: CI rebuilds the same sources twice (Release and Sanitize).
find_program(TRANOVA_CCACHE ccache)
if(TRANOVA_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${TRANOVA_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${TRANOVA_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${TRANOVA_CCACHE})
endif()

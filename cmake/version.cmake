# Version and build description baked into the binary (`tranova version`).
find_package(Git QUIET)
set(TRANOVA_GIT_DESCRIBE "")
if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --tags
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE TRANOVA_GIT_DESCRIBE
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
string(TOUPPER "${CMAKE_BUILD_TYPE}" _tranova_bt)
set(TRANOVA_BUILD_FLAGS "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_tranova_bt}} -march=${TRANOVA_MARCH}")
string(STRIP "${TRANOVA_BUILD_FLAGS}" TRANOVA_BUILD_FLAGS)
set(TRANOVA_BLAS_LIBRARY "${BLAS_LIBRARIES}")
if(TRANOVA_WITH_CUDA)
  set(TRANOVA_CUDA_ENABLED_INT 1)
else()
  set(TRANOVA_CUDA_ENABLED_INT 0)
endif()
configure_file(${CMAKE_SOURCE_DIR}/src/util/build_info.hpp.in ${CMAKE_BINARY_DIR}/generated/tranova/build_info.hpp @ONLY)

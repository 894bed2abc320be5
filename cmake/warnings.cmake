# Warnings and architecture flags for every tranova target (through tranova_options).
add_library(tranova_options INTERFACE)
target_compile_options(tranova_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
  $<$<COMPILE_LANGUAGE:CXX,C>:-march=${TRANOVA_MARCH}>)

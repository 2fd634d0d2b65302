# Flags for the programs this repository builds (tests, examples, benchmarks).
# They are not part of legato::legato: a consumer keeps its own flags.
#
# legato_program(target) applies them and embeds the build configuration, so
# every program can print how it was built (see util/build_info.hpp).

set(LEGATO_PROGRAM_FLAGS -Wall -Wextra)
# GCC 12 reports false -W(maybe-)uninitialized inside the AVX-512 intrinsics
# that Eigen's GEMM inlines (GCC bug 105593, fixed in GCC 13).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND LEGATO_PROGRAM_FLAGS -Wno-maybe-uninitialized -Wno-uninitialized)
endif()
if(LEGATO_WERROR)
  list(APPEND LEGATO_PROGRAM_FLAGS -Werror)
endif()
if(NOT LEGATO_PORTABLE AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(LEGATO_ARCH_FLAGS -march=native)
endif()
set(LEGATO_SANITIZE_FLAGS "")
if(LEGATO_SANITIZE)
  set(LEGATO_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
endif()

function(legato_program target)
  target_link_libraries(${target} PRIVATE legato::legato)
  target_compile_options(${target} PRIVATE ${LEGATO_PROGRAM_FLAGS} ${LEGATO_ARCH_FLAGS} ${LEGATO_SANITIZE_FLAGS})
  if(CMAKE_BUILD_TYPE STREQUAL "Release")
    target_compile_options(${target} PRIVATE -O3)
  endif()
  if(LEGATO_SANITIZE)
    target_link_options(${target} PRIVATE ${LEGATO_SANITIZE_FLAGS})
  endif()
  string(TOUPPER "${CMAKE_BUILD_TYPE}" build_type_upper)
  string(JOIN " " flags_text ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${build_type_upper}}
         ${LEGATO_PROGRAM_FLAGS} ${LEGATO_ARCH_FLAGS} ${LEGATO_SANITIZE_FLAGS})
  if(CMAKE_BUILD_TYPE STREQUAL "Release")
    string(APPEND flags_text " -O3")
  endif()
  target_compile_definitions(${target} PRIVATE
    LEGATO_BUILD_FLAGS="${flags_text}"
    LEGATO_BUILD_TYPE="${CMAKE_BUILD_TYPE}")
  if(LEGATO_CUDA)
    target_link_libraries(${target} PRIVATE legato::cuda)
    target_compile_definitions(${target} PRIVATE LEGATO_CUDA=1)
  endif()
endfunction()

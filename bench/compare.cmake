# Side-by-side comparisons, linked into lstm_bench so that one run prints
# legato, oneDNN and libtorch on the identical model, batch and thread count.
# Each is built only when its Debian package is found:
#   LEGATO_SETUP_EXTRA="libtorch-dev libdnnl-dev libopenblas0-pthread" scripts/setup.sh
# (libopenblas0-pthread: without it libtorch runs on the reference netlib BLAS.)
# Their headers are not ours, so their sources build without -Werror.
if(NOT TARGET lstm_bench)
  return()
endif()

# Not find_package(dnnl): Debian's dnnl-config.cmake demands the OpenCL
# development files and fails the whole configure without them.
find_path(LEGATO_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp)
find_library(LEGATO_DNNL_LIBRARY dnnl)
if(LEGATO_DNNL_INCLUDE AND LEGATO_DNNL_LIBRARY)
  set(source ${CMAKE_CURRENT_LIST_DIR}/compare/dnnl_lstm.cpp)
  target_sources(lstm_bench PRIVATE ${source})
  set_source_files_properties(${source} PROPERTIES COMPILE_OPTIONS "-Wno-error")
  target_include_directories(lstm_bench SYSTEM PRIVATE ${LEGATO_DNNL_INCLUDE})
  target_link_libraries(lstm_bench PRIVATE ${LEGATO_DNNL_LIBRARY})
  target_compile_definitions(lstm_bench PRIVATE LEGATO_BENCH_DNNL=1)
  message(STATUS "legato: oneDNN found (${LEGATO_DNNL_LIBRARY}); lstm_bench compares with its LSTM primitive")
else()
  message(STATUS "legato: oneDNN not found; lstm_bench runs without the oneDNN comparison")
endif()

find_package(Torch CONFIG QUIET)
if(Torch_FOUND)
  set(source ${CMAKE_CURRENT_LIST_DIR}/compare/torch_lstm.cpp)
  target_sources(lstm_bench PRIVATE ${source})
  set_source_files_properties(${source} PROPERTIES COMPILE_OPTIONS "-Wno-error;-Wno-unused-parameter")
  target_link_libraries(lstm_bench PRIVATE ${TORCH_LIBRARIES})
  target_compile_definitions(lstm_bench PRIVATE LEGATO_BENCH_TORCH=1)
  message(STATUS "legato: libtorch found (${TORCH_INSTALL_PREFIX}); lstm_bench compares with torch::nn::LSTM")
else()
  message(STATUS "legato: libtorch not found; lstm_bench runs without the PyTorch comparison")
endif()

# Finds every third-party library fedkseed builds against. Offline builds point
# FEDKSEED_DEPS_PREFIX at a folder of unpacked Debian packages (scripts/setup.sh --offline).

set(FEDKSEED_DEPS_PREFIX "" CACHE PATH "Prefix holding unpacked .deb files (offline builds)")
if(FEDKSEED_DEPS_PREFIX)
  list(PREPEND CMAKE_PREFIX_PATH "${FEDKSEED_DEPS_PREFIX}/usr")
  list(PREPEND CMAKE_INCLUDE_PATH "${FEDKSEED_DEPS_PREFIX}/usr/include")
  list(PREPEND CMAKE_LIBRARY_PATH "${FEDKSEED_DEPS_PREFIX}/usr/lib/x86_64-linux-gnu")
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

# Torch's CMake ignores CMAKE_CUDA_ARCHITECTURES and, without a GPU to probe,
# asks nvcc for compute_50 (rejected by CUDA 13): give it TORCH_CUDA_ARCH_LIST.
set(_torch_archs "")
foreach(_arch IN LISTS FEDKSEED_CUDA_ARCHS)
  string(REGEX REPLACE "^([0-9]+)([0-9])$" "\\1.\\2" _dotted "${_arch}")
  list(APPEND _torch_archs "${_dotted}")
endforeach()
set(TORCH_CUDA_ARCH_LIST "${_torch_archs}" CACHE STRING "Passed to LibTorch's CMake")

set(FEDKSEED_WITH_CUDA OFF)
if(NOT FEDKSEED_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_ARCHITECTURES "${FEDKSEED_CUDA_ARCHS}")
    set(CMAKE_CUDA_STANDARD 17)
    enable_language(CUDA)
  elseif(FEDKSEED_CUDA STREQUAL "ON")
    message(FATAL_ERROR "FEDKSEED_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

find_package(Torch REQUIRED)
if(CAFFE2_USE_CUDA AND CMAKE_CUDA_COMPILER)
  set(FEDKSEED_WITH_CUDA ON)
endif()
message(STATUS "fedkseed: LibTorch ${Torch_VERSION} at ${TORCH_INSTALL_PREFIX}; CUDA kernels: ${FEDKSEED_WITH_CUDA}")

find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)

find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h REQUIRED)
find_library(SENTENCEPIECE_LIBRARY sentencepiece REQUIRED)
find_library(SENTENCEPIECE_TRAIN_LIBRARY sentencepiece_train REQUIRED)
add_library(fedkseed::sentencepiece INTERFACE IMPORTED)
target_include_directories(fedkseed::sentencepiece INTERFACE "${SENTENCEPIECE_INCLUDE_DIR}")
target_link_libraries(fedkseed::sentencepiece INTERFACE
  "${SENTENCEPIECE_TRAIN_LIBRARY}" "${SENTENCEPIECE_LIBRARY}")

# tokenizer.json support: PCRE2 runs the pre-tokenizer regexes (Unicode properties),
# utf8proc the NFC normalizer.
find_path(PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
find_library(PCRE2_LIBRARY pcre2-8 REQUIRED)
find_path(UTF8PROC_INCLUDE_DIR utf8proc.h REQUIRED)
find_library(UTF8PROC_LIBRARY utf8proc REQUIRED)
add_library(fedkseed::text INTERFACE IMPORTED)
target_include_directories(fedkseed::text INTERFACE "${PCRE2_INCLUDE_DIR}" "${UTF8PROC_INCLUDE_DIR}")
target_link_libraries(fedkseed::text INTERFACE "${PCRE2_LIBRARY}" "${UTF8PROC_LIBRARY}")

# Gloo's code is inside libtorch_cpu, but the wheel ships no gloo headers: Debian's
# libgloo-dev provides them (headers only, nothing is linked). Without them the build
# has no --backend gloo.
find_path(GLOO_INCLUDE_DIR gloo/rendezvous/store.h)
if(NOT GLOO_INCLUDE_DIR)
  message(WARNING "gloo headers not found (Debian libgloo-dev): building without --backend gloo")
endif()

function(fedkseed_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
endfunction()

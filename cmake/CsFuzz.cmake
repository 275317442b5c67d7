# CS_FUZZ: the libFuzzer tree (preset "fuzz"). Every object is instrumented for
# coverage (fuzzer-no-link) and checked by ASan and UBSan; only the executables of
# fuzz/ link the libFuzzer driver (cs_fuzz_target below), so the libraries stay
# usable by ordinary mains if someone builds them in this tree.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "CS_FUZZ=ON needs clang++ (libFuzzer); use the \"fuzz\" preset")
endif()
if(CS_SANITIZE)
  message(FATAL_ERROR "CS_FUZZ=ON already enables the sanitizers; drop CS_SANITIZE")
endif()

set(CS_FUZZ_COMPILE_SANITIZERS -fsanitize=fuzzer-no-link,address,undefined)
add_compile_options(
  ${CS_FUZZ_COMPILE_SANITIZERS}
  -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer
  -gline-tables-only)
add_link_options(-fsanitize=address,undefined)

# cs_fuzz_target(<name> SOURCES ... LIBS ...)
function(cs_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()

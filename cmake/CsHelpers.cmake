# Shared build helpers: generated proto libraries, embedded migrations, tests.

set(CS_PROTO_ROOT "${PROJECT_SOURCE_DIR}/protos")
set(CS_GEN_DIR "${PROJECT_BINARY_DIR}/gen")

# cs_proto_library(<target> PROTOS a.proto ... [DEPS <targets>])
# Generates message and gRPC code for protos given relative to protos/.
function(cs_proto_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  foreach(proto ${ARG_PROTOS})
    get_filename_component(dir "${proto}" DIRECTORY)
    get_filename_component(stem "${proto}" NAME_WE)
    set(out "${CS_GEN_DIR}/${dir}/${stem}")
    list(APPEND srcs "${out}.pb.cc" "${out}.grpc.pb.cc")
    add_custom_command(
      OUTPUT "${out}.pb.cc" "${out}.pb.h" "${out}.grpc.pb.cc" "${out}.grpc.pb.h"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${CS_GEN_DIR}"
      COMMAND protobuf::protoc
        --proto_path=${CS_PROTO_ROOT}
        --cpp_out=${CS_GEN_DIR}
        --grpc_out=${CS_GEN_DIR}
        --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}
        "${CS_PROTO_ROOT}/${proto}"
      DEPENDS "${CS_PROTO_ROOT}/${proto}" protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
  endforeach()
  add_library(${target} ${srcs})
  target_include_directories(${target} PUBLIC "${CS_GEN_DIR}")
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++ ${ARG_DEPS})
  # Generated code is not ours to warn about.
  target_compile_options(${target} PRIVATE -w)
endfunction()

# cs_embed_migrations(<target> <component> <dir>)
# Compiles every <dir>/NNN_name.sql into a library exposing
#   const std::vector<cs::db::Migration>& <component>_migrations();
# so a binary carries its own schema and needs no files beside it.
function(cs_embed_migrations target component dir)
  file(GLOB sql_files CONFIGURE_DEPENDS "${dir}/*.sql")
  list(SORT sql_files)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${component}_migrations.cc")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND}
      -DCOMPONENT=${component} -DOUTPUT=${out} "-DFILES=${sql_files}"
      -P "${PROJECT_SOURCE_DIR}/cmake/EmbedMigrations.cmake"
    DEPENDS ${sql_files} "${PROJECT_SOURCE_DIR}/cmake/EmbedMigrations.cmake"
    COMMENT "embedding ${component} migrations"
    VERBATIM)
  add_library(${target} "${out}")
  target_link_libraries(${target} PUBLIC cs_db)
endfunction()

# cs_test(<name> SOURCES ... LIBS ... [LABELS ...])
function(cs_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()

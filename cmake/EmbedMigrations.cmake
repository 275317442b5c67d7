# Script mode: writes a C++ source holding the given SQL files as migrations.
# Inputs: COMPONENT, OUTPUT, FILES (a list of NNN_name.sql paths, sorted).
set(body "")
foreach(path ${FILES})
  get_filename_component(name "${path}" NAME_WE)
  string(REGEX MATCH "^([0-9]+)_(.+)$" matched "${name}")
  if(NOT matched)
    message(FATAL_ERROR "migration ${path}: name must be NNN_name.sql")
  endif()
  set(version "${CMAKE_MATCH_1}")
  set(label "${CMAKE_MATCH_2}")
  math(EXPR version "${version} + 0")
  file(READ "${path}" sql)
  string(APPEND body "    {${version}, \"${label}\", R\"cs_sql(${sql})cs_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from migrations/*.sql; do not edit.
#include <vector>
#include \"common/db/migrations.h\"

const std::vector<cs::db::Migration>& ${COMPONENT}_migrations() {
  static const std::vector<cs::db::Migration> kMigrations = {
${body}  };
  return kMigrations;
}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")

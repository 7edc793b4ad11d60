# Libraries used by the core library's higher layers (identity, evidence, formats).
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SECP256K1 REQUIRED IMPORTED_TARGET libsecp256k1)
pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
target_link_libraries(cellacore PUBLIC PkgConfig::JANSSON PkgConfig::SECP256K1
                      PkgConfig::NETTLE PkgConfig::LIBZIP PkgConfig::YAML)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent libevent_openssl libevent_pthreads)
pkg_check_modules(LIBCURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
target_link_libraries(cellacore PUBLIC PkgConfig::SQLITE PkgConfig::LIBEVENT PkgConfig::LIBCURL
                      PkgConfig::LIBPQ)
# nodejs/http-parser (net/http_guard.c reads requests before evhttp does); no .pc file.
find_path(HTTP_PARSER_INCLUDE http_parser.h REQUIRED)
find_library(HTTP_PARSER_LIB http_parser REQUIRED)
target_include_directories(cellacore PUBLIC ${HTTP_PARSER_INCLUDE})
target_link_libraries(cellacore PUBLIC ${HTTP_PARSER_LIB})
# The FUSE shield (lib/runtime/shield.c): libfuse3.
pkg_check_modules(FUSE3 REQUIRED IMPORTED_TARGET fuse3)
target_link_libraries(cellacore PUBLIC PkgConfig::FUSE3)
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
target_link_libraries(cellacore PUBLIC PkgConfig::LIBARCHIVE)
# libarchive, libcurl and libpq are loaded on first use (lib/core/dl.h), by
# the soname of the library linked here, so that `cella` and cella-runtime
# start without them and their ~40 dependencies: the programs link with
# --as-needed (CMakeLists.txt), and nothing but the tables names them.
function(cella_soname def lib dirs)
  find_library(_so_${lib} ${lib} HINTS ${dirs} REQUIRED)
  execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${_so_${lib}} OUTPUT_VARIABLE _dyn
                  RESULT_VARIABLE _rc)
  string(REGEX MATCH "SONAME +([^ \n]+)" _m "${_dyn}")
  if(NOT _rc EQUAL 0 OR NOT CMAKE_MATCH_1)
    message(FATAL_ERROR "cannot read the soname of ${_so_${lib}}")
  endif()
  target_compile_definitions(cellacore PRIVATE ${def}="${CMAKE_MATCH_1}")
endfunction()
cella_soname(CELLA_ARCHIVE_SONAME archive "${LIBARCHIVE_LIBRARY_DIRS}")
cella_soname(CELLA_CURL_SONAME curl "${LIBCURL_LIBRARY_DIRS}")
cella_soname(CELLA_PQ_SONAME pq "${LIBPQ_LIBRARY_DIRS}")
target_link_libraries(cellacore PUBLIC ${CMAKE_DL_LIBS})
# System-call filters: processes holding a secret (lib/core/privsep.c) and cas's
# network process after start-up (lib/core/confine.c).
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
target_link_libraries(cellacore PUBLIC PkgConfig::SECCOMP)

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
# The unpacker loads libarchive on first use (lib/app/archive_lib.h), by the
# soname of the library linked here, so that cella-runtime starts without it.
find_library(CELLA_ARCHIVE_LIB archive HINTS ${LIBARCHIVE_LIBRARY_DIRS} REQUIRED)
execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${CELLA_ARCHIVE_LIB} OUTPUT_VARIABLE _la_dyn
                RESULT_VARIABLE _la_rc)
string(REGEX MATCH "SONAME +([^ \n]+)" _la_soname "${_la_dyn}")
if(NOT _la_rc EQUAL 0 OR NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "cannot read the soname of ${CELLA_ARCHIVE_LIB}")
endif()
target_compile_definitions(cellacore PRIVATE CELLA_ARCHIVE_SONAME="${CMAKE_MATCH_1}")
target_link_libraries(cellacore PUBLIC ${CMAKE_DL_LIBS})
# System-call filters: processes holding a secret (lib/core/privsep.c) and cas's
# network process after start-up (lib/core/confine.c).
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
target_link_libraries(cellacore PUBLIC PkgConfig::SECCOMP)

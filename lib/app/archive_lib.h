/* libarchive's reader, loaded when a tarball is first unpacked. Private to
 * lib/app.
 *
 * Why not linked: libarchive brings libxml2, ICU, libstdc++, libacl, lz4,
 * zstd... (11 more shared libraries); loading and relocating them cost every
 * `cella-runtime` start about 140 page faults and 7 ms of CPU on our VMs,
 * while only a task with a cella-volume dataset unpacks a tarball. So the
 * unpacker (tree_unpack.c) calls libarchive through this table, filled by
 * dlopen of the exact soname the build linked against (CELLA_ARCHIVE_SONAME,
 * found by CMake), searched like any DT_NEEDED entry. In the full `cella`
 * binary, which links libarchive for packing and image import, the dlopen
 * finds the copy already loaded. */
#ifndef CELLA_APP_ARCHIVE_LIB_H
#define CELLA_APP_ARCHIVE_LIB_H

#include <archive.h>
#include <archive_entry.h>

#include "core/error.h"

/* The functions the unpacker uses; each field has the type of its function
 * as <archive.h> declares it, so a call through the table is type-checked. */
#define CELLA_ARCHIVE_READER_FUNCS(X)                                                           \
    X(archive_read_new)                                                                         \
    X(archive_read_support_format_tar)                                                          \
    X(archive_read_support_filter_none)                                                         \
    X(archive_read_open_fd)                                                                     \
    X(archive_read_open_memory)                                                                 \
    X(archive_read_next_header)                                                                 \
    X(archive_read_data)                                                                        \
    X(archive_read_free)                                                                        \
    X(archive_error_string)                                                                     \
    X(archive_entry_pathname)                                                                   \
    X(archive_entry_filetype)                                                                   \
    X(archive_entry_symlink)                                                                    \
    X(archive_entry_hardlink)                                                                   \
    X(archive_entry_perm)                                                                       \
    X(archive_entry_size)                                                                       \
    X(archive_entry_size_is_set)

typedef struct {
#define CELLA_ARCHIVE_FIELD(f) __typeof__(f) *f;
    CELLA_ARCHIVE_READER_FUNCS(CELLA_ARCHIVE_FIELD)
#undef CELLA_ARCHIVE_FIELD
} cella_archive_lib;

/* The process's table, loaded on first use (thread-safe, never unloaded).
 * Fails with CELLA_E_UNSUPPORTED naming the library when it cannot be loaded
 * or lacks a function. */
CELLA_RESULT cella_archive_lib_get(const cella_archive_lib **lib);

/* Loads `soname` into `lib` (no caching): cella_archive_lib_get's work, apart
 * so that tests can point it at a missing or broken library. */
CELLA_RESULT cella_archive_lib_load(const char *soname, cella_archive_lib *lib);

#endif

/* libarchive, loaded when a tarball is first read or written (core/dl.h).
 * Private to lib/app.
 *
 * Why not linked: libarchive brings libxml2, ICU, libstdc++, libacl, lz4,
 * zstd... (11 more shared libraries); loading and relocating them cost every
 * `cella` and `cella-runtime` start about 140 page faults and 7 ms of CPU on
 * our VMs, while only packing, image import and a task with a cella-volume
 * dataset use a tarball. So those call libarchive through this table, filled
 * by dlopen of the exact soname the build linked against
 * (CELLA_ARCHIVE_SONAME, found by CMake). */
#ifndef CELLA_APP_ARCHIVE_LIB_H
#define CELLA_APP_ARCHIVE_LIB_H

#include <archive.h>
#include <archive_entry.h>

#include "core/dl.h"
#include "core/error.h"

/* The functions lib/app uses; each field has the type of its function as
 * <archive.h> declares it, so a call through the table is type-checked. */
#define CELLA_ARCHIVE_FUNCS(X)                                                                  \
    X(archive_read_new)                                                                         \
    X(archive_read_support_format_tar)                                                          \
    X(archive_read_support_filter_none)                                                         \
    X(archive_read_support_filter_gzip)                                                         \
    X(archive_read_support_filter_zstd)                                                         \
    X(archive_read_open_fd)                                                                     \
    X(archive_read_open_filename)                                                               \
    X(archive_read_open_memory)                                                                 \
    X(archive_read_open2)                                                                       \
    X(archive_read_next_header)                                                                 \
    X(archive_read_data)                                                                        \
    X(archive_read_free)                                                                        \
    X(archive_error_string)                                                                     \
    X(archive_set_error)                                                                        \
    X(archive_entry_pathname)                                                                   \
    X(archive_entry_filetype)                                                                   \
    X(archive_entry_symlink)                                                                    \
    X(archive_entry_hardlink)                                                                   \
    X(archive_entry_perm)                                                                       \
    X(archive_entry_size)                                                                       \
    X(archive_entry_size_is_set)                                                                \
    X(archive_entry_new)                                                                        \
    X(archive_entry_free)                                                                       \
    X(archive_entry_clear)                                                                      \
    X(archive_entry_set_filetype)                                                               \
    X(archive_entry_set_gid)                                                                    \
    X(archive_entry_set_gname)                                                                  \
    X(archive_entry_set_mtime)                                                                  \
    X(archive_entry_set_pathname)                                                               \
    X(archive_entry_set_perm)                                                                   \
    X(archive_entry_set_size)                                                                   \
    X(archive_entry_set_symlink)                                                                \
    X(archive_entry_set_uid)                                                                    \
    X(archive_entry_set_uname)                                                                  \
    X(archive_write_new)                                                                        \
    X(archive_write_set_format_pax_restricted)                                                  \
    X(archive_write_add_filter_none)                                                            \
    X(archive_write_set_bytes_per_block)                                                        \
    X(archive_write_open2)                                                                      \
    X(archive_write_header)                                                                     \
    X(archive_write_data)                                                                       \
    X(archive_write_close)                                                                      \
    X(archive_write_free)

typedef struct {
    CELLA_ARCHIVE_FUNCS(CELLA_DL_FIELD)
} cella_archive_lib;

/* The process's table, loaded on first use (thread-safe, never unloaded).
 * Fails with CELLA_E_UNSUPPORTED naming the library when it cannot be loaded
 * or lacks a function. Called before any archive object is made. */
CELLA_RESULT cella_archive_lib_get(const cella_archive_lib **lib);

/* The table once cella_archive_lib_get has succeeded in this process: for
 * code handed an archive object, whose maker loaded it. */
const cella_archive_lib *cella_archive_lib_loaded(void);

/* Loads `soname` into `lib` (no caching): cella_archive_lib_get's work, apart
 * so that tests can point it at a missing or broken library. */
CELLA_RESULT cella_archive_lib_load(const char *soname, cella_archive_lib *lib);

#endif

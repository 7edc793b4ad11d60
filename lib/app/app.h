/* App bundles, of two kinds (docs/app-measurement.md):
 *  - a directory bundle: an executable entrypoint and a manifest,
 *    `cella-app.json`, with only regular files and directories;
 *  - an image bundle (what `cella app import` writes from an OCI image): the
 *    manifest, whose "image" object holds the image config, and `rootfs/`, the
 *    image's flattened root file system, where symbolic links may appear (kept
 *    verbatim, only ever resolved inside the sandbox whose / is rootfs).
 * This module validates bundles, computes their measurement, and packs/unpacks
 * directory trees as deterministic tarballs (used for bundles and for whole
 * volume directories). Hard links in archives and special files are always
 * refused, by name; symbolic links everywhere except under an image's rootfs/.
 */
#ifndef CELLA_APP_APP_H
#define CELLA_APP_APP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_APP_MANIFEST "cella-app.json"
#define CELLA_APP_RUNTIME "cella-runtime-1"
#define CELLA_APP_MEASUREMENT_TAG "cella-app-measurement-v1\n"
#define CELLA_APP_MEASUREMENT_TAG_V2 "cella-app-measurement-v2\n" /* image bundles */
#define CELLA_APP_ROOTFS "rootfs"

#define CELLA_APP_MAX_MANIFEST (64u * 1024u)
#define CELLA_APP_MAX_PATH 4096u
#define CELLA_APP_MAX_ARGS 256u
#define CELLA_APP_MAX_ARG_LEN 4096u
#define CELLA_APP_MAX_ENV 128u
#define CELLA_APP_MAX_ENV_LEN 128u
#define CELLA_APP_MAX_HOST_FILES 64u
#define CELLA_APP_MAX_HEAP_MB 65536u
#define CELLA_APP_MIN_STACK_KB 64u
#define CELLA_APP_MAX_STACK_KB 1048576u
#define CELLA_TREE_MAX_DEPTH 64
#define CELLA_APP_MAX_IMAGE_ENV 1024u      /* "NAME=value" entries of an image */
#define CELLA_APP_MAX_IMAGE_ENV_LEN 32768u  /* and of an image entrypoint or cmd string */

/* The image config of an image bundle (the manifest's "image" object). */
typedef struct {
    char **entrypoint; size_t nentrypoint;
    char **cmd; size_t ncmd;
    char **env; size_t nenv;       /* "NAME=value", the image's order */
    char *working_dir;             /* absolute */
    uint32_t uid, gid;
} cella_app_image;

typedef struct {
    char *entrypoint;  /* relative path inside the bundle; NULL for an image bundle */
    char **args;       /* NULL for an image bundle */
    size_t nargs;
    uint32_t heap_mb;
    uint32_t stack_kb;
    char **env;        /* sorted bytewise, unique */
    size_t nenv;
    char **host_files; /* absolute, sorted bytewise, unique */
    size_t nhost_files;
    char *runtime;     /* CELLA_APP_RUNTIME */
    cella_app_image *image; /* NULL: a directory bundle */
} cella_app_manifest;

/* Parses and validates a manifest (JSON). Unknown, missing, duplicate or
 * ill-typed fields are CELLA_E_PARSE errors whose "where" names the field
 * ("cella-app.json: heap_mb", "cella-app.json: image.cmd"). With "image",
 * "entrypoint" and "args" must be absent; without it they are required. Does
 * not look at the file system. */
CELLA_RESULT cella_app_manifest_parse(cella_slice json, cella_app_manifest *out);
void cella_app_manifest_free(cella_app_manifest *m);
void cella_app_image_free(cella_app_image *im);

/* An image's working directory: absolute, "/" or "/" + a relative path as
 * cella_app_check_relpath allows (no trailing '/'). */
CELLA_RESULT cella_app_check_workdir(const char *p, const char *where);

/* Reads DIR/cella-app.json, validates it, and checks the bundle. A directory
 * bundle: only regular files and directories, the entrypoint present, regular
 * and executable. An image bundle: only the manifest and the directory
 * rootfs/, in which symbolic links are allowed too. */
CELLA_RESULT cella_app_load(const char *dir, cella_app_manifest *out);

/* Writes a template manifest into DIR (created if missing); refuses to
 * overwrite an existing manifest. */
CELLA_RESULT cella_app_init(const char *dir);

/* The measurement of a bundle (docs/app-measurement.md). */
CELLA_RESULT cella_app_measure(const char *dir, uint8_t out[static 32]);

/* Validates the bundle, then packs it (cella_tree_pack). */
CELLA_RESULT cella_app_pack(const char *dir, const char *out_path, uint8_t checksum[static 32]);

/* Unpacks a bundle tarball into `dir` (which must not exist) with the app
 * limits, then validates it as a bundle; on any failure nothing is left. */
CELLA_RESULT cella_app_unpack(const char *tarball, const char *dir);

/* ---- directory trees as deterministic tarballs ---------------------------------- */

typedef struct {
    uint64_t max_file;    /* bytes of one file */
    uint64_t max_total;   /* bytes of all files */
    uint32_t max_entries; /* files and directories */
} cella_tree_limits;

/* Defaults: 4 GiB a file, 16 GiB in all, 100000 entries. */
cella_tree_limits cella_tree_default_limits(void);

/* Packs every file and directory under `dir` into a pax (restricted: plain
 * ustar headers unless a name or size needs an extension) tarball at
 * `out_path`, written atomically: entries sorted by path bytewise, mtime 0,
 * uid/gid 0, empty user and group names, modes 0755 (directories and files
 * with the owner's execute bit) or 0644. `checksum` gets the SHA-256 of the
 * tarball. Refuses symlinks and special files. */
CELLA_RESULT cella_tree_pack(const char *dir, const char *out_path, uint8_t checksum[static 32]);

/* Unpacks a tarball into `dir`, which must not exist: entries are written
 * into a staging directory beside it that is renamed into place only when the
 * whole archive was read; on failure nothing is left. Refused: absolute
 * paths, "." or ".." components, empty components, links of any kind,
 * special files, duplicate entries, and anything above `lim` (NULL: the
 * defaults). A single leading "./" is accepted and stripped. */
CELLA_RESULT cella_tree_unpack(const char *tarball, const char *dir, const cella_tree_limits *lim);
CELLA_RESULT cella_tree_unpack_mem(cella_slice tar, const char *dir, const cella_tree_limits *lim);

/* Checks a relative path as found in a bundle or an archive (no leading '/',
 * no empty, "." or ".." components, at most CELLA_APP_MAX_PATH bytes). */
CELLA_RESULT cella_app_check_relpath(const char *p, const char *where);

#endif

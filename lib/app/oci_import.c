/* The import itself: staging directory, layers in order, manifest, check,
 * rename into place (app/oci.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/flatten.h"
#include "app/internal.h"
#include "app/oci_internal.h"
#include "app/archive_lib.h"
#include "core/fs.h"

/* libarchive, through its table (app/archive_lib.h): loaded by the maker of
 * every archive object this file is handed. */
#define AR cella_archive_lib_loaded()

typedef struct {
    oci_stream *st;
    uint8_t *buf;
} layer_io;

static la_ssize_t layer_read(struct archive *a, void *ud, const void **buf)
{
    layer_io *io = ud;
    long k = stream_read(io->st, io->buf, CELLA_IO_CHUNK);
    if (k < 0) {
        AR->archive_set_error(a, EIO, "%s", cella_error_what());
        return -1;
    }
    *buf = io->buf;
    return k;
}

/* One layer: a tar, plain, gzip or zstd (libarchive tells them apart), read
 * through a stream that hashes the blob; the digest is checked once the
 * layer was applied, before anything of the import is kept. */
static cella_res apply_layer(oci_src *s, const oci_blob *b, flatten_state *fs)
{
    char where[600];
    snprintf(where, sizeof where, "layer %zu: %s", fs->layer, b->name);
    oci_stream st;
    cella_res r = stream_open(s, b->name, &st);
    if (!cella_ok(r)) {
        stream_close(&st);
        return r;
    }
    const cella_archive_lib *L;
    r = cella_archive_lib_get(&L);
    layer_io io = {&st, cella_ok(r) ? malloc(CELLA_IO_CHUNK) : NULL};
    struct archive *a = cella_ok(r) ? L->archive_read_new() : NULL;
    if (cella_ok(r) && (!a || !io.buf))
        r = cella_fail(CELLA_E_NOMEM, where, "out of memory");
    if (cella_ok(r)) {
        AR->archive_read_support_format_tar(a);
        AR->archive_read_support_filter_none(a);
        AR->archive_read_support_filter_gzip(a);
        AR->archive_read_support_filter_zstd(a);
        if (AR->archive_read_open2(a, &io, NULL, layer_read, NULL, NULL) != ARCHIVE_OK)
            r = cella_fail(CELLA_E_PARSE, where, "tar: %s", AR->archive_error_string(a));
    }
    if (cella_ok(r))
        r = flatten_layer(fs, a);
    if (cella_ok(r))
        r = stream_finish(&st, b->size, b->has_sha ? b->sha : NULL, where);
    if (a)
        AR->archive_read_free(a);
    free(io.buf);
    stream_close(&st);
    return r;
}

static cella_res make_dir(int dfd, const char *name, const char *where, int *out)
{
    CELLA_ENSURE(mkdirat(dfd, name, 0700) == 0, CELLA_E_IO, where, "mkdir: %s", strerror(errno));
    *out = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(*out >= 0 && fchmod(*out, 0755) == 0, CELLA_E_IO, where, "cannot open: %s",
                 strerror(errno));
    return CELLA_OK_RES;
}

static cella_res write_manifest(json_t *config, int stage, int rootfd, uint32_t heap_mb)
{
    cella_app_image im;
    cella_res r = oci_config_image(config, rootfd, &im);
    char *text = NULL;
    if (cella_ok(r))
        r = oci_manifest_json(&im, heap_mb ? heap_mb : 512, &text);
    free(im.working_dir);
    cella_free_strv(im.entrypoint, im.nentrypoint);
    cella_free_strv(im.cmd, im.ncmd);
    cella_free_strv(im.env, im.nenv);
    if (cella_ok(r))
        r = cella_write_file_atomic(stage, CELLA_APP_MANIFEST, text, strlen(text), 0644, true);
    free(text);
    return r;
}

typedef struct {
    oci_src *s;
    const cella_import_opts *o;
    cella_import_limits lim;
} import_job;

static void progress(const import_job *j, size_t layer, size_t n, uint64_t bytes)
{
    if (j->o && j->o->progress)
        j->o->progress(j->o->progress_ud, layer, n, bytes);
}

/* Everything into the staging directory (tree_publish_dir renames it). */
static cella_res import_fill(int stage, void *ud)
{
    import_job *j = ud;
    oci_plan plan;
    json_t *config;
    CELLA_TRY(oci_plan_image(j->s, &j->lim, &plan, &config));
    flatten_state fs = {.rootfd = -1, .lim = j->lim};
    cella_res r = make_dir(stage, CELLA_APP_ROOTFS, CELLA_APP_ROOTFS, &fs.rootfd);
    for (size_t i = 0; cella_ok(r) && i < plan.nlayers; i++) {
        progress(j, i, plan.nlayers, fs.total);
        fs.layer = i + 1;
        r = apply_layer(j->s, &plan.layers[i], &fs);
    }
    if (cella_ok(r)) {
        progress(j, plan.nlayers, plan.nlayers, fs.total);
        r = write_manifest(config, stage, fs.rootfd, j->o ? j->o->heap_mb : 0);
    }
    /* What was written must load as a bundle (the manifest's own checks). */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", stage);
    cella_app_manifest m;
    if (cella_ok(r))
        r = cella_app_load(path, &m);
    if (cella_ok(r))
        cella_app_manifest_free(&m);
    flatten_state_free(&fs);
    if (fs.rootfd >= 0)
        close(fs.rootfd);
    json_decref(config);
    oci_plan_free(&plan);
    return r;
}

static cella_res import_src(oci_src *s, const char *dir, const cella_import_opts *o)
{
    import_job j = {s, o, (o && o->lim.max_total) ? o->lim : cella_import_default_limits()};
    return tree_publish_dir(dir, import_fill, &j);
}

cella_res cella_app_import(const char *image, const char *dir, const cella_import_opts *o)
{
    oci_src s;
    cella_res r = src_open(&s, image, (o && o->lim.max_entries) ? o->lim.max_entries : 100000);
    if (cella_ok(r))
        r = import_src(&s, dir, o);
    src_close(&s);
    return r;
}

cella_res cella_app_import_mem(cella_slice tar, const char *dir, const cella_import_opts *o)
{
    oci_src s;
    cella_res r = src_open_mem(&s, tar, (o && o->lim.max_entries) ? o->lim.max_entries : 100000);
    if (cella_ok(r))
        r = import_src(&s, dir, o);
    src_close(&s);
    return r;
}

#include "runtime/run.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/secure.h"
#include "app/app.h"
#include "runtime/image.h"
#include "runtime/manifest.h"
#include "runtime/sandbox.h"
#include "runtime/shield.h"
#include "volume/volume.h"

bool cella_runtime_private_mounts(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        cella_warn("cannot make a private mount namespace (%s): mounts are visible to the host",
                   strerror(errno));
        return false;
    }
    /* Nothing mounted from now on propagates back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        cella_warn("cannot make mounts private: %s", strerror(errno));
        return false;
    }
    return true;
}

/* One volume released by cas, and how it is presented. */
typedef struct {
    const char *name;
    const char *path;  /* inside the sandbox */
    uint8_t key[32];
    bool has_tag;
    uint8_t tag[16];
    const char *input_dir; /* ciphertext on the host, for inputs */
    char stage[1100];      /* mount point: FUSE shield, or a private tmpfs */
    bool mounted;
    cella_volume *vh;      /* open input volume, served by the shield */
    cella_shield *shield;
} vol;

/* A private, size-limited tmpfs: plaintext lives in memory only. */
cella_res cella_runtime_private_tmpfs(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, dir, "cannot create mount point: %s", strerror(errno));
    CELLA_ENSURE(mount("cella-plaintext", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") == 0,
                 CELLA_E_PERM, dir,
                 "cannot mount a private tmpfs for plaintext (%s); the runtime needs root or "
                 "CAP_SYS_ADMIN in its own namespace",
                 strerror(errno));
    return CELLA_OK_RES;
}

static void unmount_stage(vol *v)
{
    if (v->shield) {
        if (!cella_ok(cella_shield_unmount(v->shield)))
            cella_warn("unmounting input %s: %s", v->name, cella_error_what());
        v->shield = NULL;
        rmdir(v->stage);
    }
    if (v->vh) {
        cella_vol_close(v->vh);
        v->vh = NULL;
    }
    if (v->mounted) {
        umount2(v->stage, MNT_DETACH); /* the tmpfs and its plaintext are gone */
        rmdir(v->stage);
        v->mounted = false;
    }
}

static cella_res parse_volumes(const json_t *cfg, const cella_run_opts *o, vol *vs, size_t *n)
{
    const json_t *arr = json_object_get(cfg, "volumes");
    CELLA_ENSURE(json_is_array(arr) && json_array_size(arr) <= CELLA_RUN_MAX_VOLUMES, CELLA_E_PARSE,
                 "volumes", "cas sent a malformed volume list");
    *n = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        vol *x = &vs[(*n)++];
        memset(x, 0, sizeof *x);
        x->name = json_string_value(json_object_get(v, "name"));
        x->path = json_string_value(json_object_get(v, "path"));
        const char *k = json_string_value(json_object_get(v, "key"));
        const char *t = json_string_value(json_object_get(v, "tag"));
        CELLA_ENSURE(x->name && x->path && k, CELLA_E_PARSE, "volumes", "cas sent a malformed volume");
        CELLA_TRY(cella_hex_decode(x->key, 32, k, strlen(k), x->name));
        if (t) {
            CELLA_TRY(cella_hex_decode(x->tag, 16, t, strlen(t), x->name));
            x->has_tag = true;
        }
        for (size_t j = 0; j < o->ninputs; j++)
            if (!strcmp(o->inputs[j].name, x->name))
                x->input_dir = o->inputs[j].dir;
        /* Volumes given as inputs are read-only inputs; every other volume is
         * an output, written afresh and swapped in by compare-and-swap on the
         * tag cas holds now (so two runs cannot both win). */
    }
    for (size_t j = 0; j < o->ninputs; j++) {
        bool known = false;
        for (size_t k = 0; k < *n; k++)
            known |= !strcmp(vs[k].name, o->inputs[j].name);
        CELLA_ENSURE(known, CELLA_E_USAGE, o->inputs[j].name,
                     "this session mounts no volume of that name");
    }
    return CELLA_OK_RES;
}

/* Opens an input with the key and the tag cas holds and authenticates every
 * chunk: a stale or tampered volume is refused here, before the app exists.
 * The app then reads it through the FUSE shield, which decrypts lazily by
 * chunk (a 10 GiB input needs no 10 GiB of memory); where FUSE cannot mount,
 * the plaintext is staged in a private tmpfs instead. */
static cella_res present_input(vol *v)
{
    CELLA_ENSURE(v->has_tag, CELLA_E_POLICY, v->name, "input volume has no tag in cas");
    CELLA_TRY(cella_vol_open(v->input_dir, v->key, v->tag, &v->vh));
    CELLA_TRY(cella_vol_verify(v->vh, NULL));
    const char *why = NULL;
    if (cella_shield_available(&why)) {
        if (mkdir(v->stage, 0700) != 0 && errno != EEXIST)
            return cella_fail(CELLA_E_IO, v->stage, "cannot create mount point: %s",
                              strerror(errno));
        cella_shield_opts so = {.vol_dir = v->input_dir};
        return cella_shield_mount(v->vh, v->stage, &so, &v->shield);
    }
    cella_warn("FUSE is not available (%s): staging input %s in a private tmpfs", why ? why : "?",
               v->name);
    CELLA_TRY(cella_runtime_private_tmpfs(v->stage));
    v->mounted = true;
    CELLA_TRY(cella_vol_decrypt_private(v->vh, v->stage, NULL));
    chmod(v->stage, 0755);
    return CELLA_OK_RES;
}

static cella_res seal_output(const cella_run_opts *o, const cella_cas_instance *inst, vol *v,
                             cella_run_output *out)
{
    snprintf(out->name, sizeof out->name, "%s", v->name);
    snprintf(out->dir, sizeof out->dir, "%s/%s", o->outputs_dir, v->name);
    if (mkdir(o->outputs_dir, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, o->outputs_dir, "cannot create: %s", strerror(errno));
    CELLA_TRY(cella_vol_encrypt_dir(v->stage, out->dir, v->key, NULL, out->tag));
    /* Compare-and-swap on the tag cas gave us: if another instance pushed in
     * between, ours is refused and the volume we wrote is not current. */
    return cella_cas_push_tag(o->cas, inst, v->name, v->has_tag ? v->tag : NULL, out->tag);
}

/* Files the session injects (possibly holding secrets): written into their own
 * private tmpfs and bound read-only at their paths. */
static cella_res inject_files(const json_t *cfg, const char *stage, cella_bind *binds, size_t *nb,
                              char (*paths)[1200], size_t max)
{
    const json_t *arr = json_object_get(cfg, "injection_files");
    if (!json_array_size(arr))
        return CELLA_OK_RES;
    CELLA_TRY(cella_runtime_private_tmpfs(stage));
    chmod(stage, 0755);
    size_t i;
    const json_t *f;
    json_array_foreach(arr, i, f) {
        const char *dest = json_string_value(json_object_get(f, "path"));
        const char *content = json_string_value(json_object_get(f, "content"));
        CELLA_ENSURE(dest && content && dest[0] == '/', CELLA_E_PARSE, "injection_files",
                     "cas sent a malformed injection file");
        CELLA_ENSURE(*nb < max, CELLA_E_TOOBIG, "injection_files", "too many volumes and files");
        snprintf(paths[*nb], sizeof paths[*nb], "%s/file-%zu", stage, i);
        CELLA_TRY(cella_write_file_atomic(AT_FDCWD, paths[*nb], content, strlen(content), 0444, true));
        binds[*nb] = (cella_bind){paths[*nb], dest, false};
        (*nb)++;
    }
    return CELLA_OK_RES;
}

/* The session's environment, but only the variables the app's manifest lists
 * in "env": the manifest is measured, so the app gets what it was measured
 * asking for and nothing more (docs/app-measurement.md). */
static cella_res build_env(const json_t *cfg, const cella_app_manifest *m, cella_buf *envbuf,
                           const char ***env)
{
    const json_t *e = json_object_get(cfg, "environment");
    size_t n = json_object_size(e), i = 0;
    *env = calloc(n + 1, sizeof **env);
    CELLA_ENSURE(*env, CELLA_E_NOMEM, "environment", "out of memory");
    /* Offsets first: the buffer may move while it grows. */
    size_t *offs = calloc(n + 1, sizeof *offs);
    CELLA_ENSURE(offs, CELLA_E_NOMEM, "environment", "out of memory");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)e, k, v) {
        if (!cella_manifest_env_lists(m, k)) {
            cella_debug("%s is not in the app's manifest \"env\": withheld", k);
            continue;
        }
        offs[i++] = envbuf->len;
        const char *s = json_string_value(v);
        cella_buf_append(envbuf, k, strlen(k));
        cella_buf_append(envbuf, "=", 1);
        cella_buf_append(envbuf, s ? s : "", s ? strlen(s) : 0);
        cella_buf_append(envbuf, "", 1);
    }
    cella_res r = cella_buf_result(envbuf);
    for (size_t j = 0; cella_ok(r) && j < i; j++)
        (*env)[j] = (const char *)envbuf->p + offs[j];
    free(offs);
    return r;
}

cella_res cella_runtime_run(const cella_run_opts *o, cella_run_result *res)
{
    memset(res, 0, sizeof *res);
    cella_app_manifest m;
    CELLA_ENSURE(o->app_dir, CELLA_E_USAGE, "app", "no app bundle to run");
    CELLA_TRY(cella_app_load(o->app_dir, &m));
    cella_cas_instance inst;
    cella_res ar = cella_cas_attest(o->cas, o->tee, o->quote, o->quote_ctx, o->session, o->service,
                                    &inst);
    if (!cella_ok(ar)) {
        cella_app_manifest_free(&m);
        return ar;
    }
    cella_info("attested to cas for %s/%s; configuration received", o->session, o->service);
    vol vs[CELLA_RUN_MAX_VOLUMES];
    size_t nv = 0, nb = 0;
    cella_bind binds[2 * CELLA_RUN_MAX_VOLUMES];
    char filepaths[2 * CELLA_RUN_MAX_VOLUMES][1200];
    char inject_stage[1100];
    bool injected = false;
    const char **argv = NULL, **env = NULL;
    cella_buf envbuf;
    cella_buf_init(&envbuf, true);
    cella_res r = parse_volumes(inst.config, o, vs, &nv);
    for (size_t i = 0; cella_ok(r) && i < nv; i++) {
        snprintf(vs[i].stage, sizeof vs[i].stage, "%s/vol-%zu", o->work_dir, i);
        if (vs[i].input_dir) {
            r = present_input(&vs[i]);
        } else {
            r = cella_runtime_private_tmpfs(vs[i].stage);
            vs[i].mounted = cella_ok(r);
            if (cella_ok(r))
                chmod(vs[i].stage, 0777); /* the app writes as whoever it is */
        }
        binds[nb++] = (cella_bind){vs[i].stage, vs[i].path, vs[i].input_dir == NULL};
    }
    if (cella_ok(r) && json_array_size(json_object_get(inst.config, "injection_files"))) {
        snprintf(inject_stage, sizeof inject_stage, "%s/injected", o->work_dir);
        r = inject_files(inst.config, inject_stage, binds, &nb, filepaths,
                         sizeof binds / sizeof *binds);
        injected = true;
    }
    /* The command: argv from the session, environment exactly as released. */
    const json_t *cmd = json_object_get(inst.config, "command");
    if (cella_ok(r) && (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 256))
        r = cella_fail(CELLA_E_PARSE, "command", "cas sent no command");
    if (cella_ok(r)) {
        argv = calloc(json_array_size(cmd) + 1, sizeof *argv);
        for (size_t i = 0; argv && i < json_array_size(cmd); i++)
            argv[i] = json_string_value(json_array_get(cmd, i));
        if (!argv)
            r = cella_fail(CELLA_E_NOMEM, "command", "out of memory");
    }
    if (cella_ok(r))
        r = build_env(inst.config, &m, &envbuf, &env);
    cella_sandbox_result sr = {0};
    cella_image_run ir = {0};
    if (cella_ok(r)) {
        cella_sandbox_spec spec = {
            .argv = argv,
            .env = env,
            .cwd = json_string_value(json_object_get(inst.config, "pwd")),
            .app_dir = o->app_dir,
            .binds = binds,
            .nbinds = nb,
            .cpu_seconds = o->cpu_seconds,
            .wall_seconds = o->wall_seconds,
            .stdout_fd = o->app_stdout,
            .stderr_fd = o->app_stderr,
        };
        /* An image: its root, user and environment; the session's command plays
         * `docker run IMAGE COMMAND...` (Entrypoint ++ command) and its pwd
         * `docker run -w` (docs/architecture.md, "The sandbox"). */
        if (m.image) {
            r = cella_image_prepare(&m, o->app_dir, argv, json_array_size(cmd),
                                    env, &ir, &spec);
            spec.cwd = json_string_value(json_object_get(inst.config, "pwd"));
        }
        cella_manifest_limits(&m, o->mem_bytes, &spec); /* heap_mb, stack_kb, processes */
        if (cella_ok(r))
            r = cella_sandbox_run(&spec, &sr);
        res->exit_code = sr.exit_code;
        res->timed_out = sr.timed_out;
        if (cella_ok(r) && !cella_ok(cella_manifest_outcome(&m, &spec, &sr))) {
            cella_warn("%s: outputs discarded, tags unchanged", cella_error_what());
            cella_error_clear();
        }
    }
    /* Outputs count only if the app succeeded: a crash leaves the old tags. */
    if (cella_ok(r) && sr.exit_code == 0) {
        for (size_t i = 0; cella_ok(r) && i < nv; i++)
            if (!vs[i].input_dir)
                r = seal_output(o, &inst, &vs[i], &res->outputs[res->noutputs++]);
        res->sealed = cella_ok(r);
    }
    for (size_t i = 0; i < nv; i++) {
        unmount_stage(&vs[i]);
        cella_wipe(vs[i].key, sizeof vs[i].key);
    }
    if (injected) {
        umount2(inject_stage, MNT_DETACH);
        rmdir(inject_stage);
    }
    cella_image_run_free(&ir);
    free(argv);
    free(env);
    cella_buf_free(&envbuf);
    cella_cas_instance_free(&inst);
    cella_app_manifest_free(&m);
    return r;
}

/* Standard tasks: see standard.h. */
#include "runtime/standard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "runtime/task.h"

cella_res cella_standard_instance(const json_t *env, cella_cas_instance *inst)
{
    memset(inst, 0, sizeof *inst);
    CELLA_ENSURE(json_is_object(env) && json_is_string(json_object_get(env, "IEXEC_TASK_ID")),
                 CELLA_E_PARSE, "standard task", "the worker gave no task environment");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)env, k, v)
        CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, k, "not a string");
    inst->config = json_pack("{s:o}", "environment", json_deep_copy(env));
    CELLA_ENSURE(inst->config, CELLA_E_NOMEM, "standard task", "out of memory");
    return CELLA_OK_RES;
}

/* Copies src to dst (created, mode 0444), all of it. */
static cella_res copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    CELLA_ENSURE(in >= 0, CELLA_E_IO, "dataset", "cannot open the dataset file: %s",
                 strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
    cella_res r = out >= 0 ? CELLA_OK_RES
                           : cella_fail(CELLA_E_IO, "dataset", "cannot create it in /iexec_in: %s",
                                        strerror(errno));
    char buf[1 << 16];
    uint64_t off = 0;
    while (cella_ok(r)) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = cella_fail(CELLA_E_IO, "dataset", "read: %s", strerror(errno));
        if (n <= 0)
            break;
        r = cella_pwrite_full(out, buf, (size_t)n, off, "/iexec_in");
        off += (uint64_t)n;
    }
    close(in);
    if (out >= 0)
        close(out);
    return r;
}

cella_res cella_standard_pre_compute(const char *dataset, json_t *env, const char *in_dir)
{
    /* iExec's pre-compute flag; IEXEC_DATASET_ADDRESS is the zero address then */
    const char *required = json_string_value(json_object_get(env, "IS_DATASET_REQUIRED"));
    if (!required || strcmp(required, "true"))
        return CELLA_OK_RES; /* a task without a dataset */
    const char *addr = json_string_value(json_object_get(env, "IEXEC_DATASET_ADDRESS"));
    CELLA_ENSURE(addr, CELLA_E_PARSE, "IEXEC_DATASET_ADDRESS", "the worker gave none");
    const char *name = json_string_value(json_object_get(env, "IEXEC_DATASET_FILENAME"));
    CELLA_ENSURE(name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."),
                 CELLA_E_PATH, "IEXEC_DATASET_FILENAME", "not a plain file name");
    CELLA_ENSURE(dataset, CELLA_E_USAGE, "dataset", "the worker gave no dataset file");
    char where[80];
    snprintf(where, sizeof where, "dataset %s", addr);
    bool volume = false;
    CELLA_TRY(cella_task_is_volume(dataset, &volume));
    /* A cella volume is ciphertext whose key only an attested enclave gets. */
    CELLA_ENSURE(!volume, CELLA_E_POLICY, where,
                 "a cella volume dataset is encrypted: a standard task cannot decrypt it "
                 "(request it with a TEE tag)");
    char dst[1400];
    snprintf(dst, sizeof dst, "%s/%s", in_dir, name);
    cella_res r = copy_file(dataset, dst);
    if (!cella_ok(r))
        cella_error_set_where(where);
    return r;
}

json_t *cella_standard_computed(const char *taskhex, const char *det, const char *digest,
                                bool encrypted)
{
    /* no "tee", no enclave signature nor challenge: no enclave made it */
    return json_pack("{s:s, s:s, s:s, s:b, s:b}", "task-id", taskhex, "deterministic-output-path",
                     det, "result-digest", digest, "encrypted", encrypted, "standard", 1);
}

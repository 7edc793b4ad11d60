/* The SCONE seed's three steps: cella encryptedpush (client), cella run
 * (host), cella decrypt (client). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "blobs/client.h"
#include "args.h"
#include "cas_client.h"
#include "commands.h"
#include "enclave.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "core/keyfile.h"
#include "core/log.h"
#include "core/secure.h"
#include "core/stage.h"
#include "policy/session.h"
#include "runtime/run.h"
#include "runtime/task.h"
#include "tee/producers.h"
#include "tee/sim.h"
#include "volume/volume.h"

#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))

/* ---- encryptedpush ---------------------------------------------------------- */

/* Replaces each $NAME of `vars` in `tpl`. */
static cella_res substitute_vars(const char *tpl, const char *const vars[][2], size_t n,
                                 cella_buf *out)
{
    const char *p = tpl;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) {
            cella_buf_append(out, p, strlen(p));
            break;
        }
        cella_buf_append(out, p, (size_t)(d - p));
        size_t best = 0, k = n;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(vars[i][0]);
            if (!strncmp(d + 1, vars[i][0], l) && l > best) {
                best = l;
                k = i;
            }
        }
        if (k < n) {
            cella_buf_append(out, vars[k][1], strlen(vars[k][1]));
            p = d + 1 + best;
        } else {
            cella_buf_append(out, "$", 1);
            p = d + 1;
        }
    }
    cella_buf_append(out, "", 1);
    return cella_buf_result(out);
}

static void hex32(char out[65], const uint8_t b[32]) { cella_hex_encode(out, b, 32, false); }

static int encryptedpush(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS,
                   {"app", true, NULL},
                   {"session-template", true, NULL},
                   {"inputs", true, NULL},
                   {"keys", true, NULL},
                   {"session", true, NULL},
                   {"blobs", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    const char *app = cli_get(o, NOPTS(o), "app"), *tplf = cli_get(o, NOPTS(o), "session-template");
    const char *inputs = cli_get(o, NOPTS(o), "inputs"), *keys = cli_get(o, NOPTS(o), "keys");
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "encryptedpush");
    app = cli_get(o, NOPTS(o), "app");
    tplf = cli_get(o, NOPTS(o), "session-template");
    inputs = cli_get(o, NOPTS(o), "inputs");
    keys = cli_get(o, NOPTS(o), "keys");
    if (cella_ok(r) && (!app || !tplf || !inputs || !keys))
        r = cella_fail(CELLA_E_USAGE, "encryptedpush",
                       "usage: cella encryptedpush --app DIR --session-template T.yml --inputs "
                       "DIR --keys DIR --wallet-file W");
    uint8_t meas[32], tag[16];
    char mhex[65], inkey_hex[65], outkey_hex[65], tag_hex[33], session[80], path[4200],
        volpath[4200];
    uint8_t *tpl = NULL;
    size_t tpl_len = 0;
    CELLA_KEY32(inkey);
    CELLA_KEY32(outkey);
    cella_buf yaml;
    cella_buf_init(&yaml, true);
    json_t *doc = NULL, *reply = NULL;
    if (cella_ok(r) && mkdir(keys, 0700) != 0 && errno != EEXIST)
        r = cella_fail(CELLA_E_IO, keys, "cannot create: %s", strerror(errno));
    if (cella_ok(r))
        r = cella_app_measure(app, meas);
    if (cella_ok(r))
        r = cella_read_file(AT_FDCWD, tplf, 256 * 1024, false, &tpl, &tpl_len);
    /* Encrypt the inputs into a fresh volume with a fresh key in KEYS. */
    bool made;
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "%s/input.key", keys);
        r = cella_keyfile_load_or_create(path, inkey.b, &made);
    }
    if (cella_ok(r)) {
        snprintf(volpath, sizeof volpath, "%s/input.volume", keys);
        r = cella_vol_encrypt_dir(inputs, volpath, inkey.b, NULL, tag);
    }
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "%s/output.key", keys);
        r = cella_keyfile_load_or_create(path, outkey.b, &made);
    }
    if (cella_ok(r)) {
        const char *given = cli_get(o, NOPTS(o), "session");
        uint8_t rnd[8];
        char rh[17];
        r = cella_random(rnd, sizeof rnd);
        cella_hex_encode(rh, rnd, sizeof rnd, false);
        snprintf(session, sizeof session, "%s", given ? given : "");
        if (!given)
            snprintf(session, sizeof session, "cella-%s", rh);
    }
    if (cella_ok(r)) {
        hex32(mhex, meas);
        hex32(inkey_hex, inkey.b);
        hex32(outkey_hex, outkey.b);
        cella_hex_encode(tag_hex, tag, 16, false);
        const char *vars[][2] = {{"SESSION", session},          {"MRENCLAVE", mhex},
                                 {"INPUT_FSPF_KEY", inkey_hex}, {"INPUT_FSPF_TAG", tag_hex},
                                 {"OUTPUT_FSPF_KEY", outkey_hex}};
        r = substitute_vars((const char *)tpl, vars, 5, &yaml);
        cella_wipe(inkey_hex, sizeof inkey_hex);
        cella_wipe(outkey_hex, sizeof outkey_hex);
    }
    /* Validate locally (errors with line numbers), then create on cas. */
    if (cella_ok(r))
        r = cella_session_from_yaml((const char *)yaml.p, yaml.len - 1, &doc);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "%s/session.yml", keys);
        r = cella_write_file_atomic(AT_FDCWD, path, yaml.p, yaml.len - 1, 0600, false);
    }
    if (cella_ok(r))
        r = cas_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = cas_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = cas_signed_call(&c, "POST", "/v1/sessions", cella_slice_of(yaml.p, yaml.len - 1),
                            "application/yaml", &reply);
    /* Which volumes are inputs (given a tag) and which outputs, and the service. */
    const char *in_vol = NULL, *out_vol = NULL, *svc = NULL;
    if (cella_ok(r)) {
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(doc, "volumes"), i, v) {
            if (!json_is_null(json_object_get(v, "fspf_tag")))
                in_vol = json_string_value(json_object_get(v, "name"));
            else
                out_vol = json_string_value(json_object_get(v, "name"));
        }
        svc = json_string_value(json_object_get(json_array_get(json_object_get(doc, "services"), 0), "name"));
        if (!in_vol || !svc)
            r = cella_fail(CELLA_E_POLICY, tplf,
                           "the template needs a service and an input volume with "
                           "fspf_key: $INPUT_FSPF_KEY and fspf_tag: $INPUT_FSPF_TAG");
    }
    /* With a transfer service, the host fetches the input volume from it. */
    const char *blobs = cli_get(o, NOPTS(o), "blobs");
    char input_ref[4300];
    uint8_t sha[32];
    if (cella_ok(r) && blobs) {
        r = cella_blob_put_dir(blobs, volpath, sha);
        char sh[65];
        cella_hex_encode(sh, sha, 32, false);
        snprintf(input_ref, sizeof input_ref, "blob:%s", sh);
    }
    if (cella_ok(r)) {
        json_t *state = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s, s:s?}", "session", session,
                                  "service", svc, "input_volume", in_vol, "input_dir", volpath,
                                  "output_volume", out_vol, "cas", c.url, "fingerprint",
                                  c.fingerprint, "blobs", blobs);
        char *text = json_dumps(state, JSON_INDENT(2) | JSON_SORT_KEYS);
        snprintf(path, sizeof path, "%s/push.json", keys);
        r = cella_write_file_atomic(AT_FDCWD, path, text, strlen(text), 0600, false);
        free(text);
        json_decref(state);
    }
    if (cella_ok(r)) {
        char *abs_app = realpath(app, NULL), *abs_vol = realpath(volpath, NULL);
        printf("--session %s/%s --app %s --input %s=%s --cas %s --cas-fingerprint %s%s%s\n",
               session, svc, abs_app ? abs_app : app, in_vol,
               blobs ? input_ref : abs_vol ? abs_vol : volpath, c.url, c.fingerprint,
               blobs ? " --blobs " : "", blobs ? blobs : "");
        free(abs_app);
        free(abs_vol);
    }
    if (tpl)
        free(tpl);
    cella_buf_free(&yaml);
    json_decref(doc);
    json_decref(reply);
    cas_conn_close(&c);
    return cli_report(r);
}

/* ---- decrypt --------------------------------------------------------------------- */

static int decrypt_cmd(int argc, char **argv)
{
    cli_opt o[] = {CAS_CONN_OPTS,         {"keys", true, NULL}, {"volume", true, NULL},
                   {"url", true, NULL},   {"out", true, NULL}};
    const char *pos[1];
    int np;
    cas_conn c;
    memset(&c, 0, sizeof c);
    json_t *state = NULL, *reply = NULL;
    cella_volume *vol = NULL;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "decrypt");
    const char *keys = cli_get(o, NOPTS(o), "keys"), *vdir = cli_get(o, NOPTS(o), "volume");
    const char *out = cli_get(o, NOPTS(o), "out"), *url = cli_get(o, NOPTS(o), "url");
    if (cella_ok(r) && (!keys || (!vdir == !url) || !out))
        r = cella_fail(CELLA_E_USAGE, "decrypt",
                       "usage: cella decrypt --keys KEYS --volume DIR|--url URL --out OUTPUTS "
                       "--wallet-file W");
    if (cella_ok(r))
        r = cella_stage_trap_signals(); /* the plaintext staging goes on Ctrl-C too */
    /* --url BASE/v1/blobs/SHA: fetch the output volume (ciphertext) first. */
    char tmpdir[300] = "", tmpvol[340] = "";
    if (cella_ok(r) && url) {
        uint8_t sha[32];
        char base[1024];
        r = cella_blob_parse_url(url, "--url", base, sizeof base, sha);
        if (cella_ok(r)) {
            const char *t = getenv("TMPDIR");
            snprintf(tmpdir, sizeof tmpdir, "%s/cella-decrypt.XXXXXX", t && *t ? t : "/tmp");
            if (!mkdtemp(tmpdir))
                r = cella_fail(CELLA_E_IO, tmpdir, "cannot create a temporary directory");
            /* A fresh name inside our own 0700 directory: nobody can race us. */
            snprintf(tmpvol, sizeof tmpvol, "%s/volume", tmpdir);
        }
        if (cella_ok(r))
            r = cella_blob_get_dir(base, sha, tmpvol);
        vdir = tmpvol;
    }
    char path[4200], vpath[600], flag_url[CELLA_ENDPOINTS_TEXT_MAX],
        flag_fp[CELLA_ENDPOINTS_TEXT_MAX];
    if (cella_ok(r)) {
        json_error_t je;
        snprintf(path, sizeof path, "%s/push.json", keys);
        state = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!state)
            r = cella_fail(CELLA_E_NOTFOUND, path, "no push state (run cella encryptedpush first): %s",
                           je.text);
    }
    const char *session = json_string_value(json_object_get(state, "session"));
    const char *outvol = json_string_value(json_object_get(state, "output_volume"));
    if (cella_ok(r) && (!session || !outvol))
        r = cella_fail(CELLA_E_PARSE, path, "push state names no session or output volume");
    /* Connect to the cas recorded at push time unless flags say otherwise. */
    cli_opt co[NOPTS(o)];
    memcpy(co, o, sizeof co);
    if (cella_ok(r)) {
        for (int i = 0; i < NOPTS(o); i++) {
            if (!strcmp(co[i].name, "cas") && !co[i].value) {
                snprintf(flag_url, sizeof flag_url, "%s", json_string_value(json_object_get(state, "cas")));
                co[i].value = flag_url;
            }
            if (!strcmp(co[i].name, "cas-fingerprint") && !co[i].value) {
                snprintf(flag_fp, sizeof flag_fp, "%s", json_string_value(json_object_get(state, "fingerprint")));
                co[i].value = flag_fp;
            }
        }
        r = cas_conn_open(&c, co, NOPTS(o));
    }
    if (cella_ok(r))
        r = cas_conn_wallet(&c, co, NOPTS(o));
    /* The key is ours, but the current tag only cas knows: that is what
     * makes a stale or rolled-back output refused. */
    if (cella_ok(r)) {
        snprintf(vpath, sizeof vpath, "/v1/sessions/%s/volumes/%s", session, outvol);
        r = cas_signed_call(&c, "GET", vpath, cella_slice_of("", 0), "application/json", &reply);
    }
    const char *key = json_string_value(json_object_get(reply, "key"));
    const char *tag = json_string_value(json_object_get(reply, "tag"));
    if (cella_ok(r) && (!key || !tag))
        r = cella_fail(CELLA_E_ROLLBACK, outvol, "cas has no output for this session yet (did the "
                                                 "run finish and push its tag?)");
    CELLA_KEY32(k);
    uint8_t t[16];
    if (cella_ok(r))
        r = cella_hex_decode(k.b, 32, key, strlen(key), "key");
    if (cella_ok(r))
        r = cella_hex_decode(t, 16, tag, strlen(tag), "tag");
    if (cella_ok(r))
        r = cella_vol_open(vdir, k.b, t, &vol);
    if (cella_ok(r))
        r = cella_vol_decrypt(vol, out, NULL);
    cella_vol_close(vol);
    if (tmpdir[0])
        cella_rm_tree(AT_FDCWD, tmpdir);
    json_decref(state);
    json_decref(reply);
    cas_conn_close(&c);
    return cli_report(r);
}

const cli_command cli_run_commands[] = {
    {NULL, "encryptedpush", encryptedpush,
     "cella encryptedpush --app DIR --session-template T.yml --inputs DIR --keys DIR --wallet-file W "
     "[--blobs URL]",
     "Encrypt the inputs into a volume, create the session on cas (measurement, keys, tags "
     "filled in) and print the command line for the host."},
    {NULL, "run", cli_run_cmd,
     "cella run --session NAME/SERVICE --app DIR [--input VOLUME=DIR] [--outputs DIR] --cas URL "
     "--cas-fingerprint FP [--blobs URL] [--push URL] [--tee sim|sgx|tdx|snp] [--memory N] "
     "[--timeout S]",
     "Run an app as a (sim) enclave: attest, check the input volumes' tags, run sandboxed, seal "
     "the outputs and push their tags. Exits with the app's status."},
    {NULL, "run-task", cli_run_task_cmd,
     "cella run-task --session iexec-0xTASKID --app DIR [--dataset FILE] --out DIR [--log-dir DIR] "
     "[--error-file F] --cas URL --cas-fingerprint FP [--tee sim|sgx|tdx|snp] [--timeout S] | "
     "cella run-task --standard ENV.json --app DIR [--dataset FILE] --out DIR [--log-dir DIR] "
     "[--error-file F] [--timeout S]",
     "The enclave of a market task (started by `cella worker`): attest for the task's session, "
     "check and decrypt the dataset, run the app with iExec's conventions, encrypt the result for "
     "the beneficiary and sign its digest. Only the encrypted result.zip and computed.json reach "
     "OUT. --standard: a task without TEE (docs/worker.md): no attestation and no secrets, the "
     "environment from ENV.json (the worker's), the dataset as it is (never decrypted), the "
     "result zipped unencrypted and unsigned."},
    {NULL, "decrypt", decrypt_cmd,
     "cella decrypt --keys KEYS --volume DIR|--url URL --out OUTPUTS --wallet-file W",
     "Fetch the output key and current tag from cas, verify the output volume and decrypt it."},
    {NULL, NULL, NULL, NULL, NULL},
};

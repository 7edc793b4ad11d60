/* cella task show|list|watch|debug|authorize|contribute|reveal|finalize|reopen|claim:
 * the task lifecycle of PoCo on the hub. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_client.h"
#include "output.h"
#include "result_files.h"
#include "task_watch.h"
#include "core/encoding.h"
#include "core/fs.h"
#include "crypto/aead.h"
#include "hub/task.h"
#include "identity/eth.h"

/* ---- tasks ---- */

/* GET /v1/tasks/ID; --watch first follows it until it completes (or fails);
 * --download fetches its result, --decrypt decrypts that. */
static int task_show(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"watch", false, NULL}, CLI_RESULT_DOWNLOAD_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task show");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task show", "usage: cella task show TASKID");
    bool download = cli_result_wanted(o, NOPTS(o));
    char id[67], path[128];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    hub_conn c;
    json_t *task = NULL;
    if (cella_ok(r) && download) /* before waiting: what would refuse the result later */
        r = cli_result_preflight(o, NOPTS(o), id);
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && cli_get(o, NOPTS(o), "watch"))
        r = cli_task_watch(&c.hub.http, id, stderr, 0, NULL);
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/tasks/%s", id);
        r = hub_conn_call(&c, "GET", path, NULL, false, &task);
    }
    if (cella_ok(r) && download)
        r = cli_result_download(o, NOPTS(o), &c.hub, id, task);
    if (cella_ok(r)) { /* last: nothing on stdout when a step failed */
        cli_print_json(task);
        cli_json_set("task", json_incref(task));
    }
    json_decref(task);
    return cli_report(r);
}

static void sig_hex(const uint8_t sig[65], char out[133])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, sig, 65, false);
}

/* The workerpool owner authorizes a worker (offline): EIP-191 signature of
 * keccak256(worker || taskid || enclaveChallenge). */
static int task_authorize(int argc, char **argv)
{
    cli_opt o[] = {{"worker", true, NULL}, {"enclave-challenge", true, NULL},
                   CLI_WALLET_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task authorize");
    if (cella_ok(r) && (np != 1 || !cli_get(o, NOPTS(o), "worker")))
        r = cella_fail(CELLA_E_USAGE, "task authorize",
                       "usage: cella task authorize TASKID --worker 0xADDR "
                       "[--enclave-challenge 0xADDR] --wallet-file F");
    uint8_t taskid[32], worker[20], challenge[20] = {0}, h[32], sig[65];
    const char *ch = cli_get(o, NOPTS(o), "enclave-challenge");
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, pos[0], strlen(pos[0]), "task id");
    if (cella_ok(r))
        r = cella_eth_address_parse(worker, cli_get(o, NOPTS(o), "worker"), "--worker");
    if (cella_ok(r) && ch)
        r = cella_eth_address_parse(challenge, ch, "--enclave-challenge");
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        hub_authorization_hash(worker, taskid, challenge, h);
        r = cella_eth_personal_sign(c.priv, h, 32, sig);
    }
    if (cella_ok(r)) {
        char t[133];
        sig_hex(sig, t);
        printf("%s\n", t);
    }
    hub_conn_close(&c);
    return cli_report(r);
}

/* POST /v1/tasks/<id>/<verb> with `body` (taken; NULL: none), signed by the
 * wallet if `sign`, unless r already failed; prints "<id> <status>", closes c
 * and reports. */
static int task_post(cella_res r, hub_conn *c, const char *id, const char *verb, json_t *body,
                     bool sign)
{
    json_t *reply = NULL;
    if (cella_ok(r)) {
        char path[160];
        snprintf(path, sizeof path, "/v1/tasks/%s/%s", id, verb);
        r = hub_conn_call(c, "POST", path, body, sign, &reply);
    }
    if (cella_ok(r))
        printf("%s %s\n", id, json_string_value(json_object_get(reply, "status")));
    json_decref(body);
    json_decref(reply);
    hub_conn_close(c);
    return cli_report(r);
}

/* The result digest: --digest 0x.., or sha256 of the --result file. */
static cella_res digest_arg(const char *dg, const char *res, uint8_t digest[32])
{
    if (dg)
        return cella_hex_decode(digest, 32, dg, strlen(dg), "--digest");
    /* resultDigest = sha256 of the deterministic output file */
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, res, (size_t)1 << 30, false, &data, &len));
    cella_res r = cella_sha256(digest, data, len);
    free(data);
    return r;
}

static void hex32(const uint8_t b[32], char out[67])
{
    out[0] = '0';
    out[1] = 'x';
    cella_hex_encode(out + 2, b, 32, false);
}

/* contributeAndFinalize (trust 1), or with --no-finalize PoCo's contribute:
 * resultHash and resultSeal are computed here, the digest is not sent. */
static int task_contribute(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS,
                   {"digest", true, NULL},
                   {"result", true, NULL},
                   {"authorization", true, NULL},
                   {"enclave-challenge", true, NULL},
                   {"enclave-sign", true, NULL},
                   {"results", true, NULL},
                   {"no-finalize", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task contribute");
    const char *dg = cli_get(o, NOPTS(o), "digest"), *res = cli_get(o, NOPTS(o), "result"),
               *au = cli_get(o, NOPTS(o), "authorization"), *rs = cli_get(o, NOPTS(o), "results");
    bool sealed = cli_get(o, NOPTS(o), "no-finalize") != NULL;
    if (cella_ok(r) && (np != 1 || !au || !dg == !res))
        r = cella_fail(CELLA_E_USAGE, "task contribute",
                       "usage: cella task contribute TASKID --digest 0xSHA256|--result FILE "
                       "--authorization 0xSIG [--enclave-challenge 0xADDR --enclave-sign 0xSIG] "
                       "[--no-finalize] --wallet-file WORKER");
    if (cella_ok(r) && sealed && rs)
        r = cella_fail(CELLA_E_USAGE, "--results",
                       "with --no-finalize, the pool owner gives --results to task finalize");
    uint8_t taskid[32], digest[32];
    if (cella_ok(r))
        r = cella_hex_decode(taskid, 32, pos[0], strlen(pos[0]), "task id");
    if (cella_ok(r))
        r = digest_arg(dg, res, digest);
    char tid[67], dhex[67];
    json_t *body = NULL;
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        hex32(taskid, tid);
        if (sealed) {
            uint8_t h[32], sl[32];
            char hh[67], sh[67];
            hub_result_hash(taskid, digest, h);
            hub_result_seal(c.addr, taskid, digest, sl);
            hex32(h, hh);
            hex32(sl, sh);
            body = json_pack("{s:s, s:s, s:s}", "resultHash", hh, "resultSeal", sh,
                             "authorizationSign", au);
        } else {
            hex32(digest, dhex);
            body = json_pack("{s:s, s:s}", "resultDigest", dhex, "authorizationSign", au);
        }
        const char *ch = cli_get(o, NOPTS(o), "enclave-challenge"),
                   *es = cli_get(o, NOPTS(o), "enclave-sign");
        if (body && ch)
            json_object_set_new(body, "enclaveChallenge", json_string(ch));
        if (body && es)
            json_object_set_new(body, "enclaveSign", json_string(es));
        if (body && rs)
            json_object_set_new(body, "results", json_string(rs));
        if (!body)
            r = cella_fail(CELLA_E_NOMEM, "task", "out of memory");
    }
    return task_post(r, &c, tid, sealed ? "contribute" : "contribute-and-finalize", body, true);
}

/* PoCo reveal (the worker), finalize and reopen (the pool owner). */
static int task_consensus_verb(int argc, char **argv, const char *verb)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"digest", true, NULL}, {"result", true, NULL},
                   {"results", true, NULL}};
    const char *pos[1];
    int np;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "task %s", verb);
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, cmd);
    const char *dg = cli_get(o, NOPTS(o), "digest"), *res = cli_get(o, NOPTS(o), "result"),
               *rs = cli_get(o, NOPTS(o), "results");
    bool reveal = !strcmp(verb, "reveal"), finalize = !strcmp(verb, "finalize");
    if (cella_ok(r) && (np != 1 || (reveal ? !dg == !res : dg || res) || (rs && !finalize)))
        r = cella_fail(CELLA_E_USAGE, cmd, "usage: cella %s", reveal
                           ? "task reveal TASKID --digest 0xSHA256|--result FILE --wallet-file WORKER"
                       : finalize ? "task finalize TASKID [--results URL] --wallet-file POOL_OWNER"
                                  : "task reopen TASKID --wallet-file POOL_OWNER");
    uint8_t digest[32];
    char id[67];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    if (cella_ok(r) && reveal)
        r = digest_arg(dg, res, digest);
    json_t *body = json_object();
    if (cella_ok(r) && !body)
        r = cella_fail(CELLA_E_NOMEM, cmd, "out of memory");
    if (cella_ok(r) && reveal) {
        char dhex[67];
        hex32(digest, dhex);
        json_object_set_new(body, "resultDigest", json_string(dhex));
    }
    if (cella_ok(r) && rs)
        json_object_set_new(body, "results", json_string(rs));
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r))
        r = hub_conn_wallet(&c, o, NOPTS(o));
    return task_post(r, &c, id, verb, body, true);
}
static int task_reveal(int argc, char **argv) { return task_consensus_verb(argc, argv, "reveal"); }
static int task_finalize(int argc, char **argv)
{
    return task_consensus_verb(argc, argv, "finalize");
}
static int task_reopen(int argc, char **argv) { return task_consensus_verb(argc, argv, "reopen"); }

/* GET /v1/tasks?workerpool=..[&runnable=1][&status=S][&limit=N] */
static int task_list(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"workerpool", true, NULL},
                   {"runnable", false, NULL}, {"status", true, NULL},
                   {"limit", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 0, &np, "task list");
    const char *wp = cli_get(o, NOPTS(o), "workerpool"), *st = cli_get(o, NOPTS(o), "status"),
               *lim = cli_get(o, NOPTS(o), "limit");
    if (cella_ok(r) && !wp)
        r = cella_fail(CELLA_E_USAGE, "task list",
                       "usage: cella task list --workerpool 0xADDR [--runnable] [--status S] "
                       "[--limit N]");
    uint8_t a[20];
    unsigned long long n = 0;
    if (cella_ok(r))
        r = cella_eth_address_parse(a, wp, "--workerpool");
    if (cella_ok(r) && st && strcmp(st, "ACTIVE") && strcmp(st, "REVEALING") &&
        strcmp(st, "COMPLETED") && strcmp(st, "FAILED"))
        r = cella_fail(CELLA_E_USAGE, "--status", "ACTIVE, REVEALING, COMPLETED or FAILED");
    if (cella_ok(r) && lim) {
        r = cli_parse_size(lim, "--limit", &n);
        if (cella_ok(r) && (n == 0 || n > HUB_API_LIST_MAX))
            r = cella_fail(CELLA_E_USAGE, "--limit", "between 1 and %d", HUB_API_LIST_MAX);
    }
    char path[256], at[43];
    if (cella_ok(r)) {
        cella_eth_address_checksum(at, a);
        int k = snprintf(path, sizeof path, "/v1/tasks?workerpool=%s", at);
        if (cli_get(o, NOPTS(o), "runnable"))
            k += snprintf(path + k, sizeof path - (size_t)k, "&runnable=1");
        if (st)
            k += snprintf(path + k, sizeof path - (size_t)k, "&status=%s", st);
        if (lim)
            snprintf(path + k, sizeof path - (size_t)k, "&limit=%llu", n);
    }
    if (cella_ok(r))
        r = hub_get_print(o, NOPTS(o), path);
    return cli_report(r);
}

/* The task and why it failed; with --logs, the app's output (the requester's
 * wallet signs: only the deal's requester may read them). */
static int task_debug(int argc, char **argv)
{
    cli_opt o[] = {HUB_CONN_OPTS, {"logs", false, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task debug");
    bool logs = cli_get(o, NOPTS(o), "logs") != NULL;
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task debug",
                       "usage: cella task debug TASKID [--logs --wallet-file REQUESTER]");
    char id[67], path[160];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    hub_conn c;
    memset(&c, 0, sizeof c);
    json_t *task = NULL, *lg = NULL;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r) && logs)
        r = hub_conn_wallet(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/tasks/%s", id);
        r = hub_conn_call(&c, "GET", path, NULL, false, &task);
    }
    if (cella_ok(r) && logs) {
        snprintf(path, sizeof path, "/v1/tasks/%s/logs", id);
        r = hub_conn_call(&c, "GET", path, NULL, true, &lg);
    }
    if (cella_ok(r)) {
        const char *err = json_string_value(json_object_get(task, "error"));
        printf("task %s %s\n", id, json_string_value(json_object_get(task, "status")));
        if (err)
            printf("error: %s\n", err);
        const char *res = json_string_value(json_object_get(task, "results"));
        if (res)
            printf("results: %s\n", res);
        if (lg) {
            const char *out = json_string_value(json_object_get(lg, "stdout"));
            const char *er = json_string_value(json_object_get(lg, "stderr"));
            printf("---- stdout ----\n%s", out ? out : "");
            if (out && *out && out[strlen(out) - 1] != '\n')
                printf("\n");
            printf("---- stderr ----\n%s", er ? er : "");
            if (er && *er && er[strlen(er) - 1] != '\n')
                printf("\n");
        }
    }
    json_decref(task);
    json_decref(lg);
    hub_conn_close(&c);
    return cli_report(r);
}

/* Follows a task by the hub's event stream until it completes or fails. */
static int task_watch(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS, {"timeout", true, NULL}};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task watch");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task watch", "usage: cella task watch TASKID [--timeout S]");
    char id[67];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    const char *to = cli_get(o, NOPTS(o), "timeout");
    unsigned long long timeout = 0;
    if (cella_ok(r) && to) {
        r = cli_parse_size(to, "--timeout", &timeout);
        if (cella_ok(r) && (timeout == 0 || timeout > 86400 * 365))
            r = cella_fail(CELLA_E_USAGE, "--timeout", "between 1 and 31536000 seconds");
    }
    hub_conn c;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    json_t *task = NULL;
    if (cella_ok(r))
        r = cli_task_watch(&c.hub.http, id, stderr, (long)timeout, &task);
    if (cella_ok(r)) {
        const char *res = json_string_value(json_object_get(task, "results"));
        printf("%s COMPLETED%s%s\n", id, res ? " " : "", res ? res : "");
    }
    json_decref(task);
    return cli_report(r);
}

static int task_claim(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "task claim");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "task claim", "usage: cella task claim TASKID");
    char id[67];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "task id", id);
    hub_conn c;
    memset(&c, 0, sizeof c);
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    return task_post(r, &c, id, "claim", NULL, false);
}

/* claim every unfinished task of a deal (the SDK's `deal claim`): each is
 * printed with its new status; tasks already COMPLETED or FAILED are skipped;
 * the hub's refusal of one (before its final deadline) is the error. */
static int deal_claim(int argc, char **argv)
{
    cli_opt o[] = {HUB_URL_OPTS};
    const char *pos[1];
    int np;
    cella_res r = cli_parse(argc, argv, o, NOPTS(o), pos, 1, &np, "deal claim");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "deal claim", "usage: cella deal claim DEALID");
    char id[67], path[160];
    if (cella_ok(r))
        r = cli_hash_arg(pos[0], "deal id", id);
    hub_conn c;
    memset(&c, 0, sizeof c);
    json_t *deal = NULL;
    if (cella_ok(r))
        r = hub_conn_open(&c, o, NOPTS(o));
    if (cella_ok(r)) {
        snprintf(path, sizeof path, "/v1/deals/%s", id);
        r = hub_conn_call(&c, "GET", path, NULL, false, &deal);
    }
    const char *idx;
    json_t *v;
    int claimed = 0;
    json_object_foreach(json_object_get(deal, "tasks"), idx, v) {
        const char *tid = json_string_value(v);
        json_t *task = NULL, *reply = NULL;
        if (!cella_ok(r) || !tid)
            break;
        snprintf(path, sizeof path, "/v1/tasks/%s", tid);
        r = hub_conn_call(&c, "GET", path, NULL, false, &task);
        const char *st = json_string_value(json_object_get(task, "status"));
        if (cella_ok(r) && st && strcmp(st, "COMPLETED") && strcmp(st, "FAILED")) {
            snprintf(path, sizeof path, "/v1/tasks/%s/claim", tid);
            r = hub_conn_call(&c, "POST", path, NULL, false, &reply);
            if (cella_ok(r)) {
                printf("%s %s\n", tid, json_string_value(json_object_get(reply, "status")));
                claimed++;
            }
        }
        json_decref(task);
        json_decref(reply);
    }
    if (cella_ok(r) && claimed == 0)
        r = cella_fail(CELLA_E_NOTFOUND, "deal claim",
                       "no task of deal %s is left to claim (all COMPLETED or FAILED)", id);
    json_decref(deal);
    return cli_report(r);
}

const cli_command cli_task_commands[] = {
    {"task", "show", task_show,
     "cella task show TASKID [--watch] [--download [-o FILE] [--blobs URL]] [--decrypt "
     "[--decrypted FILE] [--key F]] [--hub-url URL]",
     "Show a task: status, deadlines, its deal's pool, requester and tag, lease, reported "
     "error, results and contribution, and \"tee\": the enclave kind that made the result as "
     "its worker says (not verified by the hub; \"sim\": no hardware protection). As the SDK's: --watch first follows it until it "
     "completes (non-zero if it fails); --download fetches its result to FILE (default "
     "<taskid>.zip) by content address (--blobs, else cella.json's blobsUrl, then the "
     "recorded URL); --decrypt also decrypts it with the beneficiary's key (--key, else "
     "the only key in .secrets/beneficiary) to --decrypted FILE (default results.zip). "
     "Either file is written whole or not at all and never replaces one; a missing key or "
     "an existing file is refused before anything is waited for or fetched. `cella app "
     "run --download --decrypt` does the same for the task it buys."},
    {"task", "list", task_list,
     "cella task list --workerpool 0xADDR [--runnable] [--status S] [--limit N] [--hub-url URL]",
     "List a workerpool's tasks, oldest first; --runnable: ACTIVE, before the contribution "
     "deadline, no error reported and not leased."},
    {"task", "debug", task_debug, "cella task debug TASKID [--logs] " CONN_USAGE,
     "Show a task's status and reported error; --logs also prints the app's stdout and stderr "
     "as the worker stored them (signed by the wallet: the deal's requester only)."},
    {"task", "authorize", task_authorize,
     "cella task authorize TASKID --worker 0xADDR [--enclave-challenge 0xADDR] " CLI_WALLET_USAGE,
     "As the workerpool owner, authorize a worker for a task (offline): prints the EIP-191 "
     "signature of keccak256(worker || taskid || enclaveChallenge)."},
    {"task", "contribute", task_contribute,
     "cella task contribute TASKID --digest 0xSHA256|--result FILE --authorization 0xSIG "
     "[--enclave-challenge 0xADDR --enclave-sign 0xSIG] [--results URL] " CONN_USAGE,
     "As the worker (the wallet), contribute a result and finalize a trust-1 task "
     "(contributeAndFinalize): the owners are paid and the pool's stake unlocked. TEE deals "
     "need the enclave challenge and signature. --results: where the result is (a blob URL), "
     "shown with the task. --no-finalize: PoCo's contribute (any trust): only resultHash and "
     "resultSeal are sent, the deal's worker stake is locked, and the task goes REVEALING "
     "when the contributions make a consensus."},
    {"task", "reveal", task_reveal,
     "cella task reveal TASKID --digest 0xSHA256|--result FILE " CONN_USAGE,
     "As a worker whose contribution is the consensus, reveal its result digest (checked "
     "against the contribution's resultHash and resultSeal), before the reveal deadline."},
    {"task", "finalize", task_finalize, "cella task finalize TASKID [--results URL] " CONN_USAGE,
     "As the workerpool owner, finalize a task in consensus once every winner revealed (or "
     "after the reveal deadline with one reveal): owners paid, winners rewarded and their "
     "stakes unlocked, other contributors' stakes seized."},
    {"task", "reopen", task_reopen, "cella task reopen TASKID " CONN_USAGE,
     "As the workerpool owner, reopen a task whose consensus nobody revealed before the reveal "
     "deadline: those contributions are rejected and the task takes contributions again."},
    {"task", "watch", task_watch, "cella task watch TASKID [--timeout SECONDS] [--hub-url URL]",
     "Follow a task by the hub's event stream (long polls of GET /v1/events for this task), "
     "printing its status at the start and at each change on stderr (\"task ID: STATUS\"). "
     "Exits 0 when it is COMPLETED (printing \"ID COMPLETED [RESULTS]\"), non-zero with the reason when it FAILED, a worker "
     "reported an error, it is past its final deadline unfinished, or --timeout passed."},
    {"task", "claim", task_claim, "cella task claim TASKID [--hub-url URL]",
     "After the final deadline of an unfinished task: the task fails and the sponsor is "
     "refunded."},
    {"deal", "claim", deal_claim, "cella deal claim DEALID [--hub-url URL]",
     "Claim every unfinished task of a deal after its final deadline, as the SDK's `deal "
     "claim`: each fails and the sponsor is refunded; prints each task with its status."},
    {NULL, NULL, NULL, NULL, NULL},
};

/* Unit tests for core/privsep (frames, the child's confinement, failing
 * closed) and worker/signer (its requests, what it refuses to sign, the key
 * living in another process). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "casapi/casapi.h"
#include "core/privsep.h"
#include "core/secure.h"
#include "hub/task.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "testutil.h"
#include "worker/signer.h"

#define MAGIC CELLA_SIGNER_MAGIC
#define TASKID_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TASK "/v1/tasks/0x" TASKID_HEX

static const uint8_t KEY[32] = {0x4c, 0x0f, 0x83, 0x1a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01, 0x02, 0x03, 0x04,
                                0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};

/* ---- frames ---- */

static size_t frame(uint8_t *out, uint32_t magic, uint16_t version, uint16_t op, const void *p,
                    size_t n)
{
    size_t len = 0;
    assert_succeeds(cella_frame_build(out, CELLA_PRIVSEP_MAX_FRAME, magic, version, op, 7,
                                      cella_slice_of(p, n), &len));
    return len;
}

static void frame_codec(void **state)
{
    (void)state;
    uint8_t b[CELLA_PRIVSEP_MAX_FRAME + 8];
    cella_frame f;
    size_t n = frame(b, MAGIC, 1, 3, "abc", 3);
    assert_int_equal(n, CELLA_PRIVSEP_HEADER + 3);
    assert_succeeds(cella_frame_parse(cella_slice_of(b, n), MAGIC, 1, &f));
    assert_int_equal(f.op, 3);
    assert_int_equal(f.id, 7);
    assert_int_equal(f.payload.len, 3);
    assert_memory_equal(f.payload.p, "abc", 3);
    /* wrong magic, wrong version */
    n = frame(b, MAGIC ^ 1, 1, 3, "abc", 3);
    assert_fails_with(cella_frame_parse(cella_slice_of(b, n), MAGIC, 1, &f), CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_what(), "magic"));
    n = frame(b, MAGIC, 2, 3, "abc", 3);
    assert_fails_with(cella_frame_parse(cella_slice_of(b, n), MAGIC, 1, &f), CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_what(), "version"));
    /* the length field must match the bytes that follow, both ways */
    n = frame(b, MAGIC, 1, 3, "abc", 3);
    assert_fails_with(cella_frame_parse(cella_slice_of(b, n - 1), MAGIC, 1, &f), CELLA_E_PARSE);
    b[n] = 'x';
    assert_fails_with(cella_frame_parse(cella_slice_of(b, n + 1), MAGIC, 1, &f), CELLA_E_PARSE);
    /* a header cut short; a length over the maximum (even with the bytes there) */
    assert_fails_with(cella_frame_parse(cella_slice_of(b, CELLA_PRIVSEP_HEADER - 1), MAGIC, 1, &f),
                      CELLA_E_PARSE);
    memset(b + CELLA_PRIVSEP_HEADER, 0, CELLA_PRIVSEP_MAX_PAYLOAD + 1);
    cella_put_u32le(b + 12, CELLA_PRIVSEP_MAX_PAYLOAD + 1);
    assert_fails_with(cella_frame_parse(cella_slice_of(b, CELLA_PRIVSEP_MAX_FRAME + 1), MAGIC, 1, &f),
                      CELLA_E_TOOBIG);
    cella_put_u32le(b + 12, 0xffffffffu);
    assert_fails_with(cella_frame_parse(cella_slice_of(b, 20), MAGIC, 1, &f), CELLA_E_TOOBIG);
    size_t len;
    assert_fails_with(cella_frame_build(b, sizeof b, MAGIC, 1, 1, 1,
                                        cella_slice_of(b, CELLA_PRIVSEP_MAX_PAYLOAD + 1), &len),
                      CELLA_E_TOOBIG);
    /* an error reply comes back as the child's error, its text made printable */
    uint8_t e[600];
    size_t en = cella_frame_error_payload(e, sizeof e, CELLA_E_AUTH, "wrong\npassword", "w.json");
    assert_fails_with(cella_frame_error_raise(cella_slice_of(e, en), "signer"), CELLA_E_AUTH);
    assert_string_equal(cella_error_what(), "wrong?password");
    assert_string_equal(cella_error_where(), "w.json");
    assert_fails_with(cella_frame_error_raise(cella_slice_of(e, en - 1), "signer"), CELLA_E_PARSE);
    e[2] = 0xff; /* what's length past the end */
    assert_fails_with(cella_frame_error_raise(cella_slice_of(e, en), "signer"), CELLA_E_PARSE);
}

/* ---- signer requests ---- */

static cella_signer_req sign_req(const char *method, const char *path)
{
    cella_signer_req q = {.op = CELLA_SIGNER_SIGN_REQUEST};
    snprintf(q.method, sizeof q.method, "%s", method);
    snprintf(q.path, sizeof q.path, "%s", path);
    memset(q.nonce_hex, 'a', 64);
    memset(q.body_sha256, 0x5a, 32);
    return q;
}

static void request_codec(void **state)
{
    (void)state;
    uint8_t b[CELLA_PRIVSEP_MAX_PAYLOAD];
    size_t n;
    cella_signer_req q = sign_req("POST", TASK "/lease"), got;
    assert_succeeds(cella_signer_req_encode(&q, b, sizeof b, &n));
    assert_int_equal(n, 1 + 4 + 2 + strlen(q.path) + 64 + 32);
    assert_succeeds(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got));
    assert_memory_equal(&q, &got, sizeof q);
    /* a trailing byte, a byte short */
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n + 1), &got), CELLA_E_PARSE);
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n - 1), &got), CELLA_E_PARSE);
    /* the method: upper-case letters, 1..8 of them */
    b[1] = 'p';
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    b[1] = 'P';
    b[0] = 0;
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    b[0] = 9;
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    b[0] = 4;
    /* the path: no space or control byte; its length field must be in range and true */
    b[7] = ' ';
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    b[7] = '/';
    cella_put_u16le(b + 5, CELLA_SIGNER_MAX_PATH + 1);
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    cella_put_u16le(b + 5, (uint16_t)(strlen(q.path) + 1));
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    cella_put_u16le(b + 5, (uint16_t)strlen(q.path));
    /* the nonce: hex digits only */
    b[7 + strlen(q.path)] = 'g';
    assert_fails_with(cella_signer_req_parse(q.op, cella_slice_of(b, n), &got), CELLA_E_PARSE);
    /* fixed-size ops: exactly their bytes; unknown ops refused */
    assert_succeeds(cella_signer_req_parse(CELLA_SIGNER_SIGN_TASK_CHALLENGE, cella_slice_of(b, 32), &got));
    assert_fails_with(cella_signer_req_parse(CELLA_SIGNER_SIGN_TASK_CHALLENGE, cella_slice_of(b, 31), &got),
                      CELLA_E_PARSE);
    assert_succeeds(cella_signer_req_parse(CELLA_SIGNER_SIGN_AUTHORIZATION, cella_slice_of(b, 72), &got));
    assert_fails_with(cella_signer_req_parse(CELLA_SIGNER_SIGN_AUTHORIZATION, cella_slice_of(b, 73), &got),
                      CELLA_E_PARSE);
    assert_succeeds(cella_signer_req_parse(CELLA_SIGNER_ADDRESS, cella_slice_of(b, 0), &got));
    assert_fails_with(cella_signer_req_parse(CELLA_SIGNER_ADDRESS, cella_slice_of(b, 1), &got), CELLA_E_PARSE);
    assert_fails_with(cella_signer_req_parse(0, cella_slice_of(b, 0), &got), CELLA_E_PARSE);
    assert_fails_with(cella_signer_req_parse(5, cella_slice_of(b, 0), &got), CELLA_E_PARSE);
    q = sign_req("POST", "");
    assert_fails_with(cella_signer_req_encode(&q, b, sizeof b, &n), CELLA_E_TOOBIG);
}

static void path_policy(void **state)
{
    (void)state;
    assert_true(cella_signer_path_allowed("POST", "/v1/tasks/lease-next"));
    assert_true(cella_signer_path_allowed("POST", TASK "/lease"));
    assert_true(cella_signer_path_allowed("POST", TASK "/report"));
    assert_true(cella_signer_path_allowed("POST", TASK "/contribute-and-finalize"));
    assert_true(cella_signer_path_allowed("PUT", TASK "/logs"));
    /* the routes the worker builds are the ones allowed */
    char path[200];
    for (int i = 0; i < CELLA_SIGNER_TASK__COUNT; i++) {
        const char *m = cella_signer_task_path((cella_signer_task_route)i,
                                               "0x" TASKID_HEX, path, sizeof path);
        assert_true(cella_signer_path_allowed(m, path));
    }
    assert_false(cella_signer_path_allowed("GET", TASK "/logs"));
    assert_false(cella_signer_path_allowed("PUT", TASK "/lease"));
    assert_false(cella_signer_path_allowed("POST", "/v1/accounts/withdraw"));
    assert_false(cella_signer_path_allowed("POST", "/v1/orders"));
    assert_false(cella_signer_path_allowed("POST", TASK "/lease?x=1"));
    assert_false(cella_signer_path_allowed("POST", TASK "/lease/../../accounts/withdraw"));
    assert_false(cella_signer_path_allowed("POST", "/v1/tasks/0x0123/lease"));
    assert_false(cella_signer_path_allowed("POST", "/v1/tasks/0xzz23456789abcdef0123456789abcdef"
                                                   "0123456789abcdef0123456789abcdef/lease"));
}

/* ---- a live signer ---- */

static pid_t g_loaded_in; /* set by the loader: in the signer's memory only */

static cella_res load_test_key(void *ctx, uint8_t priv[32])
{
    (void)ctx;
    g_loaded_in = getpid();
    memcpy(priv, KEY, 32);
    return CELLA_OK_RES;
}

static cella_res load_fails(void *ctx, uint8_t priv[32])
{
    (void)ctx;
    (void)priv;
    return cella_fail(CELLA_E_AUTH, "pool.json", "wrong password for this keystore");
}

static void signer_signs_typed_requests(void **state)
{
    (void)state;
    cella_signer s;
    uint8_t addr[20], got[20], sig[65], h[32], taskid[32], challenge[20];
    assert_succeeds(cella_eth_address_from_privkey(KEY, addr));
    g_loaded_in = 0;
    assert_succeeds(cella_signer_start(&s, load_test_key, NULL));
    /* the key was loaded in another process: this one never ran the loader */
    assert_int_equal(g_loaded_in, 0);
    assert_true(cella_signer_pid(&s) > 0 && cella_signer_pid(&s) != getpid());
    assert_memory_equal(s.addr, addr, 20);
    memset(taskid, 0x42, 32);
    memset(challenge, 0x17, 20);
    assert_succeeds(cella_signer_sign_task_challenge(&s, taskid, sig));
    cella_keccak256(h, taskid, 32);
    assert_succeeds(cella_eth_personal_recover(h, 32, sig, got));
    assert_memory_equal(got, addr, 20);
    assert_succeeds(cella_signer_sign_authorization(&s, taskid, challenge, addr, sig));
    hub_authorization_hash(addr, taskid, challenge, h);
    assert_succeeds(cella_eth_personal_recover(h, 32, sig, got));
    assert_memory_equal(got, addr, 20);
    /* the owner's consent for another worker of the pool (its own key) */
    uint8_t other[20];
    memset(other, 0x5a, 20);
    assert_succeeds(cella_signer_sign_authorization(&s, taskid, challenge, other, sig));
    hub_authorization_hash(other, taskid, challenge, h);
    assert_succeeds(cella_eth_personal_recover(h, 32, sig, got));
    assert_memory_equal(got, addr, 20);
    char nonce[65], msg[2000];
    memset(nonce, 'b', 64);
    nonce[64] = 0;
    memset(h, 3, 32);
    assert_succeeds(cella_signer_sign_request(&s, "POST", TASK "/report", nonce, h, sig));
    assert_succeeds(cella_cas_auth_message_sha(msg, sizeof msg, "POST", TASK "/report", nonce, h));
    assert_succeeds(cella_eth_personal_recover(msg, strlen(msg), sig, got));
    assert_memory_equal(got, addr, 20);
    /* not the worker's own request: refused by the signer, which keeps serving */
    assert_fails_with(cella_signer_sign_request(&s, "POST", "/v1/accounts/withdraw", nonce, h, sig),
                      CELLA_E_POLICY);
    assert_non_null(strstr(cella_error_what(), "/v1/accounts/withdraw"));
    assert_fails_with(cella_signer_sign_request(&s, "GET", TASK "/logs", nonce, h, sig), CELLA_E_POLICY);
    assert_true(cella_signer_alive(&s));
    assert_succeeds(cella_signer_check(&s));
    cella_signer_stop(&s);
}

static void signer_start_fails_with_the_loaders_error(void **state)
{
    (void)state;
    cella_signer s;
    assert_fails_with(cella_signer_start(&s, load_fails, NULL), CELLA_E_AUTH);
    assert_string_equal(cella_error_what(), "wrong password for this keystore");
    assert_string_equal(cella_error_where(), "pool.json");
}

static void signer_death_fails_closed(void **state)
{
    (void)state;
    cella_signer s;
    uint8_t taskid[32] = {1}, sig[65];
    assert_succeeds(cella_signer_start(&s, load_test_key, NULL));
    assert_int_equal(kill(cella_signer_pid(&s), SIGKILL), 0);
    assert_fails_with(cella_signer_sign_task_challenge(&s, taskid, sig), CELLA_E_UNAVAILABLE);
    assert_non_null(strstr(cella_error_what(), "killed by signal 9"));
    assert_string_equal(cella_error_where(), "signer");
    assert_false(cella_signer_alive(&s));
    assert_fails_with(cella_signer_check(&s), CELLA_E_UNAVAILABLE);
    /* and it stays failed */
    assert_fails_with(cella_signer_sign_task_challenge(&s, taskid, sig), CELLA_E_UNAVAILABLE);
    cella_signer_stop(&s);
}

/* ---- the child's system-call filter, on a child of its own ---- */

static cella_res no_init(void *ctx)
{
    (void)ctx;
    return CELLA_OK_RES;
}

static void no_wipe(void *ctx) { (void)ctx; }

/* A test child's one request: it runs its misbehaviour (ctx), then answers one byte. */
typedef struct {
    void (*fn)(void);
} misbehaviour;

static cella_res act_then_answer(void *ctx, uint16_t op, cella_slice payload, uint16_t *reply_op,
                                 uint8_t *out, size_t cap, size_t *len)
{
    (void)payload, (void)cap;
    ((const misbehaviour *)ctx)->fn();
    out[0] = 1;
    *reply_op = op;
    *len = 1;
    return CELLA_OK_RES;
}

/* A child of its own that misbehaves on its first request: the call must
 * fail with CELLA_E_UNAVAILABLE, `why` in its text, and stay failed. */
static void child_fails_closed(void (*fn)(void), unsigned timeout_ms, const char *why)
{
    static const cella_privsep_ops ops = {no_init, act_then_answer, no_wipe};
    misbehaviour m = {fn};
    cella_privsep p;
    uint8_t reply[8];
    size_t n;
    assert_succeeds(cella_privsep_start(&p, "test child", 0x54534554u, 1, &ops, &m));
    p.timeout_ms = timeout_ms;
    assert_fails_with(cella_privsep_call(&p, 1, cella_slice_of("", 0), 1, reply, sizeof reply, &n),
                      CELLA_E_UNAVAILABLE);
    if (!strstr(cella_error_what(), why))
        fail_msg("'%s' lacks '%s'", cella_error_what(), why);
    assert_fails_with(cella_privsep_check(&p), CELLA_E_UNAVAILABLE);
    cella_privsep_stop(&p);
}

/* A compromised child trying to open a file after its start. */
static void open_a_file(void) { (void)open("/etc/hostname", O_RDONLY); }

static void child_cannot_open_files(void **state)
{
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "killed by signal %d", SIGSYS);
    child_fails_closed(open_a_file, 0, want);
}

/* A child that does not answer in time (it spins for 2 s, without a system
 * call) is killed and never asked again. */
static void spin_2s(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 2000);
}

static void slow_child_times_out(void **state)
{
    (void)state;
    child_fails_closed(spin_2s, 200, "no answer in time; killed by signal 9");
}

/* A compromised child answering with bytes that are not a frame (on every
 * descriptor it may have: only its channel is open). */
static void send_junk(void)
{
    for (int fd = 3; fd < 64; fd++)
        (void)send(fd, "junk", 4, MSG_NOSIGNAL);
}

static void malformed_reply_fails_closed(void **state)
{
    (void)state;
    child_fails_closed(send_junk, 0, "it sent a malformed reply; killed by signal 9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_codec),
        cmocka_unit_test(request_codec),
        cmocka_unit_test(path_policy),
        cmocka_unit_test(signer_signs_typed_requests),
        cmocka_unit_test(signer_start_fails_with_the_loaders_error),
        cmocka_unit_test(signer_death_fails_closed),
        cmocka_unit_test(child_cannot_open_files),
        cmocka_unit_test(slow_child_times_out),
        cmocka_unit_test(malformed_reply_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

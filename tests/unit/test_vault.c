/* The cas vault (lib/vault): its messages (malformed ones refused), the seal
 * format (values sealed before the vault existed still open), what each grant
 * may open, tickets, and the unseal rate limit. */
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/keyfile.h"
#include "core/log.h"
#include "core/secure.h"
#include "crypto/aead.h"
#include "testutil.h"
#include "vault/vault.h"

static const char *const SESS = "cella-cas session v1|s1|";
static const char *const SECRET = "cella-cas secret v1|s1|pw";

static cella_vault *start_limited(char **dir, uint8_t key[32], cella_vault_limits lim)
{
    *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/master.key", *dir);
    cella_vault *v = NULL;
    assert_succeeds(cella_vault_start_limited(path, lim, &v));
    if (key)
        assert_succeeds(cella_keyfile_load(path, key));
    return v;
}

static cella_vault *start(char **dir, uint8_t key[32])
{
    return start_limited(dir, key, CELLA_VAULT_DEFAULT_LIMITS);
}

static void stop(cella_vault *v, char *dir)
{
    cella_vault_grant_clear();
    cella_vault_stop(v);
    test_rmdir(dir);
}

static void sealed_by(cella_vault *v, const char *ctx, const char *plain, cella_buf *out)
{
    cella_buf_init(out, false);
    assert_succeeds(cella_vault_seal(v, ctx, cella_slice_of(plain, strlen(plain)), out));
}

/* This thread's grant becomes a fresh ticket for `session`, as after a verified attestation. */
static void grant_verified(cella_vault *v, const char *session)
{
    uint8_t ticket[CELLA_VAULT_TICKET], ev[32] = {9};
    assert_succeeds(cella_vault_verified(v, session, ev, ticket));
    cella_vault_grant_ticket(ticket);
}

/* ---- messages ---------------------------------------------------------------------------- */

static size_t encode(const cella_vault_msg *m, uint8_t *out)
{
    cella_buf b;
    cella_buf_init(&b, false);
    cella_vault_encode(&b, m);
    memcpy(out, b.p, b.len);
    size_t n = b.len;
    cella_buf_free(&b);
    return n;
}

static void test_msg_refused(void **state)
{
    (void)state;
    uint8_t buf[256];
    cella_vault_msg m = {.op = CELLA_VAULT_SEAL, .ctx = cella_slice_of("ctx", 3),
                         .data = cella_slice_of("plain", 5)};
    size_t n = encode(&m, buf);
    cella_vault_msg got;
    assert_succeeds(cella_vault_parse(cella_slice_of(buf, n), false, &got));
    assert_int_equal(got.data.len, 5);
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), true, &got), CELLA_E_PARSE);
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n - 1), false, &got), CELLA_E_PARSE);
    uint8_t longer[257];
    memcpy(longer, buf, n);
    longer[n] = 0;
    assert_fails_with(cella_vault_parse(cella_slice_of(longer, n + 1), false, &got), CELLA_E_PARSE);
    buf[0] ^= 1; /* magic */
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), false, &got), CELLA_E_PARSE);
    buf[0] ^= 1;
    buf[4] = 2; /* version */
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), false, &got), CELLA_E_PARSE);
    buf[4] = 1;
    buf[12] = 0xff, buf[13] = 0xff, buf[14] = 0xff; /* data length past the cap */
    assert_fails_with(cella_vault_header(cella_slice_of(buf, CELLA_VAULT_HDR), false, &n),
                      CELLA_E_TOOBIG);
    /* UNSEAL with a truncated sealed value, or an unknown grant */
    cella_vault_msg u = {.op = CELLA_VAULT_UNSEAL, .ctx = cella_slice_of("c", 1),
                         .data = cella_slice_of("short", 5)};
    u.arg[0] = CELLA_VAULT_GRANT_TASK;
    n = encode(&u, buf);
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), false, &got), CELLA_E_PARSE);
    uint8_t sealed[40] = {0};
    u.data = cella_slice_of(sealed, sizeof sealed);
    u.arg[0] = 9;
    n = encode(&u, buf);
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), false, &got), CELLA_E_PARSE);
    u.arg[0] = CELLA_VAULT_GRANT_TASK;
    u.arg[5] = 1; /* bytes past the grant must be zero: one encoding per message */
    n = encode(&u, buf);
    assert_fails_with(cella_vault_parse(cella_slice_of(buf, n), false, &got), CELLA_E_PARSE);
}

/* ---- the vault ------------------------------------------------------------------------- */

/* A value sealed the way cas sealed in-process before the vault opens. */
static void test_old_seal_opens(void **state)
{
    (void)state;
    char *dir;
    uint8_t key[32];
    cella_vault *v = start(&dir, key);
    const char *plain = "{\"name\":\"s1\"}";
    uint8_t nonce[12] = {7}, tag[16], ct[64];
    cella_gcm *g = cella_gcm_new();
    assert_succeeds(cella_gcm_set_key(g, key, true));
    assert_succeeds(cella_gcm_seal(g, nonce, (const uint8_t *)SESS, strlen(SESS),
                                   (const uint8_t *)plain, strlen(plain), ct, tag));
    cella_gcm_free(g);
    cella_buf old, out;
    cella_buf_init(&old, false);
    cella_buf_append(&old, nonce, 12);
    cella_buf_append(&old, ct, strlen(plain));
    cella_buf_append(&old, tag, 16);
    cella_buf_init(&out, true);
    cella_vault_grant_owner("0x00000000000000000000000000000000000000aa");
    assert_succeeds(cella_vault_unseal(v, SESS, cella_slice_of(old.p, old.len), &out));
    assert_memory_equal(out.p, plain, strlen(plain));
    /* and what the vault seals has the same layout: it opens with the key */
    cella_buf s;
    sealed_by(v, SESS, plain, &s);
    assert_int_equal(s.len, 12 + strlen(plain) + 16);
    g = cella_gcm_new();
    assert_succeeds(cella_gcm_set_key(g, key, false));
    assert_succeeds(cella_gcm_open(g, s.p, (const uint8_t *)SESS, strlen(SESS), s.p + 12,
                                   strlen(plain), ct, s.p + 12 + strlen(plain)));
    cella_gcm_free(g);
    cella_wipe(key, 32);
    cella_buf_free(&old);
    cella_buf_free(&out);
    cella_buf_free(&s);
    stop(v, dir);
}

static void test_grants(void **state)
{
    (void)state;
    char *dir;
    cella_vault *v = start(&dir, NULL);
    cella_buf sess, secret, other, out;
    sealed_by(v, SESS, "doc", &sess);
    sealed_by(v, SECRET, "hunter2", &secret);
    sealed_by(v, "cella-cas secret v1|s2|pw", "other", &other);
    cella_buf_init(&out, true);
    cella_slice s_sess = cella_slice_of(sess.p, sess.len), s_secret = cella_slice_of(secret.p, secret.len);
    /* no grant: nothing */
    cella_vault_grant_clear();
    assert_fails_with(cella_vault_unseal(v, SESS, s_sess, &out), CELLA_E_PERM);
    /* an owner opens the session, never a secret */
    cella_vault_grant_owner("0x00000000000000000000000000000000000000aa");
    assert_succeeds(cella_vault_unseal(v, SESS, s_sess, &out));
    assert_fails_with(cella_vault_unseal(v, SECRET, s_secret, &out), CELLA_E_PERM);
    /* a task flow opens no ordinary session */
    cella_vault_grant_task();
    assert_fails_with(cella_vault_unseal(v, SESS, s_sess, &out), CELLA_E_PERM);
    /* a made-up ticket opens nothing */
    const uint8_t made_up[CELLA_VAULT_TICKET] = {1, 2, 3};
    cella_vault_grant_ticket(made_up);
    assert_fails_with(cella_vault_unseal(v, SECRET, s_secret, &out), CELLA_E_PERM);
    /* a ticket for s1 opens s1's secret, not s2's */
    grant_verified(v, "s1");
    cella_buf_free(&out);
    cella_buf_init(&out, true);
    assert_succeeds(cella_vault_unseal(v, SECRET, s_secret, &out));
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.p, "hunter2", 7);
    assert_fails_with(cella_vault_unseal(v, "cella-cas secret v1|s2|pw",
                                         cella_slice_of(other.p, other.len), &out),
                      CELLA_E_PERM);
    /* ... only so often */
    int opened = 1;
    while (cella_ok(cella_vault_unseal(v, SECRET, s_secret, &out)) && opened < 1000)
        opened++;
    assert_int_equal(opened, CELLA_VAULT_TICKET_USES);
    /* a wrong context (the AAD) does not open: the value is bound to its name */
    cella_vault_grant_owner("0x00000000000000000000000000000000000000aa");
    assert_fails_with(cella_vault_unseal(v, "cella-cas session v1|s2|", s_sess, &out), CELLA_E_AUTH);
    cella_buf_free(&sess);
    cella_buf_free(&secret);
    cella_buf_free(&other);
    cella_buf_free(&out);
    stop(v, dir);
}

static void test_create(void **state)
{
    (void)state;
    char *dir;
    cella_vault *v = start(&dir, NULL);
    cella_buf sealed, out;
    cella_buf_init(&sealed, false);
    cella_buf_init(&out, true);
    assert_succeeds(cella_vault_create(v, SECRET, CELLA_VAULT_FORM_HEX, 16, &sealed));
    grant_verified(v, "s1");
    assert_succeeds(cella_vault_unseal(v, SECRET, cella_slice_of(sealed.p, sealed.len), &out));
    assert_int_equal(out.len, 32);
    for (size_t i = 0; i < out.len; i++)
        assert_true(strchr("0123456789abcdef", out.p[i]));
    cella_buf_free(&sealed);
    cella_buf_free(&out);
    stop(v, dir);
}

/* TAG: keyed by the master key (another vault's key gives another tag), the
 * same input under the same domain gives the same tag, another domain or
 * input another one; the key itself never comes back. */
static void test_tag(void **state)
{
    (void)state;
    char *dir, *dir2;
    uint8_t key[32];
    cella_vault *v = start(&dir, key), *w = start(&dir2, NULL);
    uint8_t in[32] = {1, 2, 3}, a[32], b[32], c[32], d[32], e[32];
    assert_succeeds(cella_vault_tag(v, "cella-test tag v1", in, a));
    assert_succeeds(cella_vault_tag(v, "cella-test tag v1", in, b));
    assert_memory_equal(a, b, 32);
    assert_succeeds(cella_vault_tag(v, "cella-test tag v2", in, c));
    assert_memory_not_equal(a, c, 32);
    in[31] ^= 1;
    assert_succeeds(cella_vault_tag(v, "cella-test tag v1", in, d));
    assert_memory_not_equal(a, d, 32);
    in[31] ^= 1;
    assert_succeeds(cella_vault_tag(w, "cella-test tag v1", in, e));
    assert_memory_not_equal(a, e, 32);
    assert_memory_not_equal(a, key, 32);
    cella_vault_stop(w);
    test_rmdir(dir2);
    stop(v, dir);
}

/* Past CELLA_VAULT_BURST unseals at once, the bucket is empty: refused as
 * unavailable (503), with the reason. */
static void test_rate_limit(void **state)
{
    (void)state;
    /* 1 a second, 20 saved: the 21st unseal of a fast loop is refused
     * however slow the machine (valgrind), unless the loop takes seconds;
     * 200 tries bound it. */
    enum { BURST = 20, TRIES = 200 };
    char *dir;
    cella_vault *v = start_limited(&dir, NULL, (cella_vault_limits){1, BURST});
    cella_buf sess, out;
    sealed_by(v, SESS, "doc", &sess);
    cella_buf_init(&out, true);
    cella_vault_grant_owner("0x00000000000000000000000000000000000000aa");
    cella_res r = CELLA_OK_RES;
    long n = 0;
    for (; n < TRIES && cella_ok(r); n++) {
        out.len = 0;
        r = cella_vault_unseal(v, SESS, cella_slice_of(sess.p, sess.len), &out);
    }
    assert_int_equal(r.code, CELLA_E_UNAVAILABLE);
    assert_non_null(strstr(cella_error_what(), "rate limit"));
    assert_true(n > BURST);
    cella_buf_free(&sess);
    cella_buf_free(&out);
    stop(v, dir);
}

/* The vault dies: requests fail as unavailable, for good. */
static void test_dead_vault(void **state)
{
    (void)state;
    char *dir;
    cella_vault *v = start(&dir, NULL);
    cella_buf out;
    cella_buf_init(&out, false);
    kill(cella_vault_pid(v), SIGKILL);
    usleep(100000);
    assert_fails_with(cella_vault_seal(v, SESS, cella_slice_of("x", 1), &out), CELLA_E_UNAVAILABLE);
    assert_fails_with(cella_vault_seal(v, SESS, cella_slice_of("x", 1), &out), CELLA_E_UNAVAILABLE);
    cella_buf_free(&out);
    stop(v, dir);
}

int main(void)
{
    cella_log_set_level(CELLA_LOG_WARN); /* the vault's audit lines, thousands here */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_refused), cmocka_unit_test(test_old_seal_opens),
        cmocka_unit_test(test_grants),      cmocka_unit_test(test_create),
        cmocka_unit_test(test_rate_limit),  cmocka_unit_test(test_dead_vault), cmocka_unit_test(test_tag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

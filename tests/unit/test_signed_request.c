/* Unit tests for lib/net/signed_request: stateless challenges, each refused
 * for its own reason (forged tag, another purpose, expired, replayed), on
 * SQLite (consumed challenges in memory) and, with $CELLA_TEST_PG, on
 * PostgreSQL (a shared key and a table, as replicas use them). */
#include <stdio.h>
#include <string.h>

#include "net/signed_request.h"
#include "store/cas_store.h"
#include "testutil.h"

typedef struct {
    char *dir;
    char url[600];
    cella_cas_store *st;
    cella_sigreq *a;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    test_db_url(f->url, sizeof f->url, f->dir);
    assert_succeeds(cella_cas_store_open(f->url, &f->st));
    assert_succeeds(cella_sigreq_new("cas", cella_cas_store_db(f->st), &f->a));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cella_sigreq_free(f->a);
    cella_cas_store_close(f->st);
    test_rmdir(f->dir);
    free(f);
    return 0;
}

/* A fresh challenge from the fixture's server, at `now`. */
static void issue(fixture *f, cella_challenge_purpose p, int64_t now, uint8_t c[32])
{
    int64_t exp;
    assert_succeeds(cella_sigreq_issue(f->a, p, now, c, &exp));
}

/* Consumes on the fixture's own connection. */
static cella_res consume(fixture *f, const uint8_t c[32], cella_challenge_purpose p, int64_t now)
{
    return cella_sigreq_consume(f->a, cella_cas_store_db(f->st), c, p, now);
}

static void refused_because(cella_res r, const char *why)
{
    assert_int_equal(r.code, CELLA_E_AUTH);
    if (!strstr(cella_error_what(), why))
        fail_msg("refused for \"%s\", expected \"%s\"", cella_error_what(), why);
}

static void accepted_once(void **state)
{
    fixture *f = *state;
    uint8_t c1[32], c2[32];
    int64_t exp;
    assert_succeeds(cella_sigreq_issue(f->a, CELLA_CHALLENGE_OWNER, 1000, c1, &exp));
    assert_int_equal(exp, 1120);
    issue(f, CELLA_CHALLENGE_OWNER, 1000, c2);
    assert_memory_not_equal(c1, c2, 32);
    assert_succeeds(consume(f, c1, CELLA_CHALLENGE_OWNER, 1119));
    assert_succeeds(consume(f, c2, CELLA_CHALLENGE_OWNER, 1120));
}

static void forged_tag_refused(void **state)
{
    fixture *f = *state;
    cella_db *db = cella_cas_store_db(f->st);
    uint8_t c[32];
    int64_t exp;
    assert_succeeds(cella_sigreq_issue(f->a, CELLA_CHALLENGE_OWNER, 1000, c, &exp));
    for (size_t i = 0; i < 32; i += 5) { /* random, purpose, expiry and tag bytes alike */
        uint8_t bad[32];
        memcpy(bad, c, 32);
        bad[i] ^= 0x40;
        refused_because(consume(f, bad, CELLA_CHALLENGE_OWNER, 1000),
                        "not issued by this cas");
    }
    /* a later expiry written into a real challenge */
    uint8_t later[32];
    memcpy(later, c, 32);
    later[15] ^= 1;
    refused_because(cella_sigreq_check(f->a, later, CELLA_CHALLENGE_OWNER, 1000),
                    "not issued by this cas");
    /* made up whole: zeros */
    uint8_t zeros[32] = {0};
    refused_because(cella_sigreq_check(f->a, zeros, CELLA_CHALLENGE_OWNER, 0), "not issued");
    /* another service's challenge (the hub's) */
    cella_sigreq *hub;
    assert_succeeds(cella_sigreq_new("hub", db, &hub));
    uint8_t h[32];
    assert_succeeds(cella_sigreq_issue(hub, CELLA_CHALLENGE_OWNER, 1000, h, &exp));
    assert_succeeds(cella_sigreq_check(hub, h, CELLA_CHALLENGE_OWNER, 1000));
    refused_because(cella_sigreq_check(f->a, h, CELLA_CHALLENGE_OWNER, 1000),
                    "not issued by this cas");
    cella_sigreq_free(hub);
    /* the original still works: refusals consumed nothing */
    assert_succeeds(consume(f, c, CELLA_CHALLENGE_OWNER, 1000));
}

static void wrong_purpose_refused(void **state)
{
    fixture *f = *state;
    uint8_t att[32], own[32];
    int64_t exp;
    assert_succeeds(cella_sigreq_issue(f->a, CELLA_CHALLENGE_ATTEST, 1000, att, &exp));
    assert_int_equal(exp, 1060);
    issue(f, CELLA_CHALLENGE_OWNER, 1000, own);
    refused_because(consume(f, att, CELLA_CHALLENGE_OWNER, 1000),
                    "issued for attestation, not for a signed request");
    refused_because(consume(f, own, CELLA_CHALLENGE_ATTEST, 1000),
                    "issued for a signed request, not for attestation");
    assert_succeeds(consume(f, att, CELLA_CHALLENGE_ATTEST, 1000));
}

static void expired_refused(void **state)
{
    fixture *f = *state;
    uint8_t c[32];
    issue(f, CELLA_CHALLENGE_OWNER, 1000, c);
    refused_because(consume(f, c, CELLA_CHALLENGE_OWNER, 1121),
                    "challenge expired");
    /* a clock far behind the issuer's: the expiry is further than one TTL */
    refused_because(consume(f, c, CELLA_CHALLENGE_OWNER, 999),
                    "too far ahead");
}

static void replay_refused(void **state)
{
    fixture *f = *state;
    uint8_t c[32];
    issue(f, CELLA_CHALLENGE_OWNER, 1000, c);
    assert_succeeds(consume(f, c, CELLA_CHALLENGE_OWNER, 1000));
    refused_because(consume(f, c, CELLA_CHALLENGE_OWNER, 1001),
                    "already used");
    refused_because(consume(f, c, CELLA_CHALLENGE_OWNER, 1119),
                    "already used");
}

/* Replicas on PostgreSQL: one key, made once; a challenge issued by one is
 * consumed once, by any. (On SQLite each process has its own key.) */
static void replicas_share(void **state)
{
    fixture *f = *state;
    cella_db *db = cella_cas_store_db(f->st);
    cella_cas_store *st2;
    assert_succeeds(cella_cas_store_open(f->url, &st2));
    cella_sigreq *b;
    assert_succeeds(cella_sigreq_new("cas", cella_cas_store_db(st2), &b));
    uint8_t c[32];
    issue(f, CELLA_CHALLENGE_OWNER, 1000, c);
    if (cella_db_kind_of(db) == CELLA_DB_POSTGRES) {
        assert_succeeds(cella_sigreq_consume(b, cella_cas_store_db(st2), c, CELLA_CHALLENGE_OWNER,
                                             1000));
        refused_because(consume(f, c, CELLA_CHALLENGE_OWNER, 1000),
                        "already used");
    } else {
        refused_because(cella_sigreq_consume(b, cella_cas_store_db(st2), c,
                                             CELLA_CHALLENGE_OWNER, 1000),
                        "not issued by this cas");
    }
    cella_sigreq_free(b);
    cella_cas_store_close(st2);
}

/* Memory follows consumptions x TTL, not history: ten rounds of 40 000
 * signed requests, each round after the last one's challenges expired. */
static void spent_bounded(void **state)
{
    fixture *f = *state;
    cella_db *db = cella_cas_store_db(f->st);
    if (cella_db_kind_of(db) == CELLA_DB_POSTGRES)
        skip(); /* rows, purged in batches: see the flood test */
    uint8_t c[32];
    for (int64_t round = 1; round <= 10; round++)
        for (int i = 0; i < 40000; i++) {
            issue(f, CELLA_CHALLENGE_OWNER, round * 1000, c);
            assert_succeeds(consume(f, c, CELLA_CHALLENGE_OWNER, round * 1000));
        }
    size_t n = cella_sigreq_spent_count(f->a);
    if (n > 2 * 40000)
        fail_msg("%zu consumed challenges remembered, expected at most 80000", n);
}

/* At the cap, a signed request gets 503 (rather than memory growing without
 * bound) until consumed challenges expire; what was consumed stays refused. */
static void spent_capped(void **state)
{
    fixture *f = *state;
    cella_db *db = cella_cas_store_db(f->st);
    if (cella_db_kind_of(db) == CELLA_DB_POSTGRES)
        skip();
    cella_sigreq_cap_for_tests(f->a, 2048); /* 1024 live at most */
    uint8_t c[32], first[32];
    for (int i = 0; i < 1024; i++) {
        issue(f, CELLA_CHALLENGE_OWNER, 1000, c);
        assert_succeeds(consume(f, c, CELLA_CHALLENGE_OWNER, 1000));
        if (i == 0)
            memcpy(first, c, 32);
    }
    issue(f, CELLA_CHALLENGE_OWNER, 1000, c);
    assert_fails_with(consume(f, c, CELLA_CHALLENGE_OWNER, 1001),
                      CELLA_E_UNAVAILABLE);
    assert_non_null(strstr(cella_error_what(), "too many signed requests"));
    refused_because(consume(f, first, CELLA_CHALLENGE_OWNER, 1001),
                    "already used");
    /* the first ones expired: room again */
    issue(f, CELLA_CHALLENGE_OWNER, 1121, c);
    assert_succeeds(consume(f, c, CELLA_CHALLENGE_OWNER, 1121));
    assert_true(cella_sigreq_spent_count(f->a) <= 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accepted_once, setup, teardown),
        cmocka_unit_test_setup_teardown(forged_tag_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_purpose_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(expired_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(replicas_share, setup, teardown),
        cmocka_unit_test_setup_teardown(spent_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(spent_capped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

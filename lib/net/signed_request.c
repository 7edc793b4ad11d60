/* Stateless challenges and signed requests: see signed_request.h. */
#include "net/signed_request.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "crypto/aead.h"
#include "identity/eth.h"
#include "store/challenges.h"

#define RANDOM_LEN 11
#define BODY_LEN 16 /* random || purpose || expires: what the tag covers */
#define TAG_DOMAIN "cella-challenge-v1"

/* Consumed challenges in memory (SQLite): open addressing over a power-of-two
 * table of (random, purpose, expiry), swept of expired entries when half
 * full and doubled when a sweep frees too little. SPENT_MAX_SLOTS bounds it:
 * 2^23 slots of 16 bytes (128 MiB) hold 2^22 live entries, which need 35 000
 * verified signatures a second for the whole TTL, beyond what one server
 * checks; past that, a signed request gets 503 until some expire. */
#define SPENT_MIN_SLOTS 1024u
#define SPENT_MAX_SLOTS (1u << 23)
#define PURGE_EVERY 256 /* PostgreSQL: consumptions between two purges, per process */
#define PURGE_BATCH 1000 /* rows per purge: a bounded statement */

typedef struct {
    uint8_t id[BODY_LEN - 4]; /* random || purpose */
    uint32_t expires;         /* 0: empty slot */
} spent_slot;

struct cella_sigreq {
    char service[16];
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed; /* HMAC-SHA256 under the server key; duplicated per use */
    bool in_db;         /* PostgreSQL: consumed challenges are rows */
    pthread_mutex_t lock;
    spent_slot *t;
    size_t cap, used, max_slots;
    int64_t swept_at;  /* the clock at the last sweep */
    unsigned consumed; /* atomic; paces the purges on PostgreSQL */
};

int cella_challenge_ttl(cella_challenge_purpose p) { return p == CELLA_CHALLENGE_ATTEST ? 60 : 120; }

static const char *purpose_name(unsigned p)
{
    return p == CELLA_CHALLENGE_OWNER ? "a signed request" : p == CELLA_CHALLENGE_ATTEST ? "attestation" : "nothing known";
}

/* ---- the key ---- */

static cella_res keyed_mac(cella_sigreq *a, const uint8_t key[32])
{
    a->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    CELLA_ENSURE(a->mac, CELLA_E_CRYPTO, "challenge", "HMAC is not available");
    a->keyed = EVP_MAC_CTX_new(a->mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    CELLA_ENSURE(a->keyed && EVP_MAC_init(a->keyed, key, 32, params), CELLA_E_CRYPTO, "challenge",
                 "cannot key HMAC-SHA256");
    return CELLA_OK_RES;
}

cella_res cella_sigreq_new(const char *service, cella_db *db, cella_sigreq **out)
{
    *out = NULL;
    CELLA_ENSURE(strlen(service) < 16, CELLA_E_USAGE, service, "service name too long");
    cella_sigreq *a = calloc(1, sizeof *a);
    CELLA_ENSURE(a, CELLA_E_NOMEM, service, "out of memory");
    snprintf(a->service, sizeof a->service, "%s", service);
    pthread_mutex_init(&a->lock, NULL);
    a->in_db = cella_db_kind_of(db) == CELLA_DB_POSTGRES;
    CELLA_KEY32(key);
    char name[40];
    snprintf(name, sizeof name, "challenge/%s", service);
    /* PostgreSQL: the replicas' shared key, read once here. */
    cella_res r = a->in_db ? cella_challenge_key_db(db, name, key.b) : cella_random(key.b, 32);
    if (cella_ok(r))
        r = keyed_mac(a, key.b);
    if (cella_ok(r) && !a->in_db) {
        a->cap = SPENT_MIN_SLOTS;
        a->max_slots = SPENT_MAX_SLOTS;
        a->t = calloc(a->cap, sizeof *a->t);
        if (!a->t)
            r = cella_fail(CELLA_E_NOMEM, service, "out of memory");
    }
    if (!cella_ok(r)) {
        cella_sigreq_free(a);
        return r;
    }
    *out = a;
    return CELLA_OK_RES;
}

void cella_sigreq_free(cella_sigreq *a)
{
    if (!a)
        return;
    EVP_MAC_CTX_free(a->keyed);
    EVP_MAC_free(a->mac);
    pthread_mutex_destroy(&a->lock);
    free(a->t);
    free(a);
}

/* ---- issuing and checking ---- */

static cella_res tag_of(const cella_sigreq *a, const uint8_t body[BODY_LEN],
                        uint8_t tag[CELLA_CHALLENGE_TAG_LEN])
{
    uint8_t full[32];
    size_t n = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(a->keyed);
    bool ok = c && EVP_MAC_update(c, (const uint8_t *)TAG_DOMAIN, sizeof TAG_DOMAIN) &&
              EVP_MAC_update(c, (const uint8_t *)a->service, strlen(a->service) + 1) &&
              EVP_MAC_update(c, body, BODY_LEN) && EVP_MAC_final(c, full, &n, sizeof full) &&
              n == sizeof full;
    EVP_MAC_CTX_free(c);
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, "challenge", "HMAC-SHA256 failed");
    memcpy(tag, full, CELLA_CHALLENGE_TAG_LEN);
    return CELLA_OK_RES;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

cella_res cella_sigreq_issue(const cella_sigreq *a, cella_challenge_purpose p, int64_t now,
                             uint8_t out[CELLA_CHALLENGE_LEN], int64_t *expires)
{
    int64_t exp = now + cella_challenge_ttl(p);
    CELLA_ENSURE(exp > 0 && exp <= UINT32_MAX, CELLA_E_INTERNAL, "challenge",
                 "the clock is outside 1970..2106");
    CELLA_TRY(cella_random(out, RANDOM_LEN));
    out[RANDOM_LEN] = (uint8_t)p;
    for (int i = 0; i < 4; i++)
        out[RANDOM_LEN + 1 + i] = (uint8_t)((uint64_t)exp >> (24 - 8 * i));
    CELLA_TRY(tag_of(a, out, out + BODY_LEN));
    *expires = exp;
    return CELLA_OK_RES;
}

cella_res cella_sigreq_check(const cella_sigreq *a, const uint8_t c[CELLA_CHALLENGE_LEN],
                             cella_challenge_purpose p, int64_t now)
{
    uint8_t tag[CELLA_CHALLENGE_TAG_LEN];
    CELLA_TRY(tag_of(a, c, tag));
    CELLA_ENSURE(cella_ct_eq(tag, c + BODY_LEN, sizeof tag), CELLA_E_AUTH, "challenge",
                 "challenge not issued by this %s (forged, or from another server)", a->service);
    CELLA_ENSURE(c[RANDOM_LEN] == (uint8_t)p, CELLA_E_AUTH, "challenge",
                 "challenge was issued for %s, not for %s", purpose_name(c[RANDOM_LEN]),
                 purpose_name(p));
    int64_t exp = get_be32(c + RANDOM_LEN + 1);
    CELLA_ENSURE(exp >= now, CELLA_E_AUTH, "challenge", "challenge expired; ask for a new one");
    CELLA_ENSURE(exp <= now + cella_challenge_ttl(p), CELLA_E_AUTH, "challenge",
                 "challenge expires too far ahead");
    return CELLA_OK_RES;
}

/* ---- consumed challenges in memory ---- */

static size_t home(const spent_slot *s, size_t cap)
{
    uint64_t h;
    memcpy(&h, s->id, sizeof h); /* random bytes */
    return (size_t)h & (cap - 1);
}

static bool contains(const spent_slot *t, size_t cap, const spent_slot *s)
{
    for (size_t i = home(s, cap);; i = (i + 1) & (cap - 1)) {
        if (!t[i].expires)
            return false;
        if (t[i].expires == s->expires && !memcmp(t[i].id, s->id, sizeof s->id))
            return true;
    }
}

/* Inserts s, known to be absent. */
static void put(spent_slot *t, size_t cap, const spent_slot *s)
{
    size_t i = home(s, cap);
    while (t[i].expires)
        i = (i + 1) & (cap - 1);
    t[i] = *s;
}

/* Rebuilds the table into `cap` slots without the expired entries. */
static bool rebuild(cella_sigreq *a, size_t cap, int64_t now)
{
    spent_slot *fresh = calloc(cap, sizeof *fresh);
    if (!fresh)
        return false;
    size_t used = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->t[i].expires && (int64_t)a->t[i].expires >= now) {
            put(fresh, cap, &a->t[i]);
            used++;
        }
    free(a->t);
    a->t = fresh;
    a->cap = cap;
    a->used = used;
    return true;
}

/* Makes room for one more: sweep when half full (at most once per second of
 * the clock: a second sweep at the same time would free nothing), double when
 * the sweep left more than a quarter, up to SPENT_MAX_SLOTS. */
static cella_res make_room(cella_sigreq *a, int64_t now)
{
    if (a->used + 1 <= a->cap / 2)
        return CELLA_OK_RES;
    if (now != a->swept_at) {
        CELLA_ENSURE(rebuild(a, a->cap, now), CELLA_E_NOMEM, "challenge", "out of memory");
        a->swept_at = now;
        if (a->used + 1 <= a->cap / 4)
            return CELLA_OK_RES;
    }
    if (a->cap < a->max_slots) {
        CELLA_ENSURE(rebuild(a, a->cap * 2, now), CELLA_E_NOMEM, "challenge", "out of memory");
        return CELLA_OK_RES;
    }
    CELLA_ENSURE(a->used + 1 <= a->cap / 2, CELLA_E_UNAVAILABLE, "challenge",
                 "too many signed requests in the last %d s; try again shortly",
                 cella_challenge_ttl(CELLA_CHALLENGE_OWNER));
    return CELLA_OK_RES;
}

static cella_res spend_in_memory(cella_sigreq *a, const uint8_t c[CELLA_CHALLENGE_LEN],
                                 int64_t now)
{
    spent_slot s;
    memcpy(s.id, c, sizeof s.id);
    s.expires = get_be32(c + RANDOM_LEN + 1);
    pthread_mutex_lock(&a->lock);
    /* A replay is refused as one even at the cap; room is made for new ones. */
    bool seen = contains(a->t, a->cap, &s);
    cella_res r = seen ? CELLA_OK_RES : make_room(a, now);
    if (!seen && cella_ok(r)) {
        put(a->t, a->cap, &s);
        a->used++;
    }
    pthread_mutex_unlock(&a->lock);
    CELLA_ENSURE(!seen, CELLA_E_AUTH, "challenge", "challenge already used (replay?)");
    return r;
}

size_t cella_sigreq_spent_count(const cella_sigreq *a) { return a->in_db ? 0 : a->used; }

void cella_sigreq_cap_for_tests(cella_sigreq *a, size_t slots) { a->max_slots = slots; }

/* ---- consumed challenges in PostgreSQL ---- */

static cella_res spend_in_db(cella_sigreq *a, cella_db *db, const uint8_t c[CELLA_CHALLENGE_LEN],
                             int64_t now)
{
    if (__atomic_add_fetch(&a->consumed, 1, __ATOMIC_RELAXED) % PURGE_EVERY == 0)
        CELLA_TRY(cella_challenge_purge_db(db, now, PURGE_BATCH));
    bool fresh = false;
    CELLA_TRY(cella_challenge_spend_db(db, c, BODY_LEN, get_be32(c + RANDOM_LEN + 1), &fresh));
    CELLA_ENSURE(fresh, CELLA_E_AUTH, "challenge", "challenge already used (replay?)");
    return CELLA_OK_RES;
}

/* Remembers a challenge that passed cella_sigreq_check. */
static cella_res spend(cella_sigreq *a, cella_db *db, const uint8_t c[CELLA_CHALLENGE_LEN],
                       int64_t now)
{
    return a->in_db ? spend_in_db(a, db, c, now) : spend_in_memory(a, c, now);
}

cella_res cella_sigreq_consume(cella_sigreq *a, cella_db *db, const uint8_t c[CELLA_CHALLENGE_LEN],
                               cella_challenge_purpose p, int64_t now)
{
    CELLA_TRY(cella_sigreq_check(a, c, p, now));
    return spend(a, db, c, now);
}

/* ---- signed requests ---- */

/* The message clients sign: net/auth_message.c (apart, so that a client
 * links none of the server side above). */

cella_res cella_cas_parse_authorization(const char *header, size_t len, uint8_t addr[20],
                                        uint8_t nonce[32], char nonce_hex[65], uint8_t sig[65])
{
    CELLA_ENSURE(len < 400 && !memchr(header, '\0', len), CELLA_E_AUTH, "Authorization",
                 "malformed Authorization header");
    /* Split on single spaces into exactly four fields. */
    const char *f[4];
    size_t fl[4], k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && header[i] != ' ')
            continue;
        CELLA_ENSURE(k < 4 && i > start, CELLA_E_AUTH, "Authorization",
                     "malformed Authorization header");
        f[k] = header + start;
        fl[k++] = i - start;
        start = i + 1;
    }
    CELLA_ENSURE(k == 4 && fl[0] == 12 && !memcmp(f[0], "CELLA-EIP191", 12), CELLA_E_AUTH,
                 "Authorization", "Authorization must be: CELLA-EIP191 ADDRESS NONCE SIGNATURE");
    char a[64];
    CELLA_ENSURE(fl[1] < sizeof a, CELLA_E_AUTH, "Authorization", "bad address");
    memcpy(a, f[1], fl[1]);
    a[fl[1]] = '\0';
    CELLA_TRY(cella_eth_address_parse(addr, a, "Authorization address"));
    CELLA_TRY(cella_hex_decode(nonce, 32, f[2], fl[2], "Authorization nonce"));
    memcpy(nonce_hex, f[2], 64);
    nonce_hex[64] = '\0';
    return cella_hex_decode(sig, 65, f[3], fl[3], "Authorization signature");
}


cella_res cella_sigreq_authenticate(cella_sigreq *a, cella_db *db, cella_http_req *req,
                                    int64_t now, uint8_t who[20])
{
    const char *h = cella_http_header(req, "Authorization");
    CELLA_ENSURE(h, CELLA_E_AUTH, "Authorization", "this request must be signed by a wallet");
    uint8_t addr[20], c[CELLA_CHALLENGE_LEN], sig[65], signer[20];
    char c_hex[2 * CELLA_CHALLENGE_LEN + 1];
    CELLA_TRY(cella_cas_parse_authorization(h, strlen(h), addr, c, c_hex, sig));
    /* The tag first: it costs one HMAC, the signature an ECDSA recovery. */
    CELLA_TRY(cella_sigreq_check(a, c, CELLA_CHALLENGE_OWNER, now));
    char msg[2600];
    cella_slice body = cella_http_body(req);
    CELLA_TRY(cella_cas_auth_message(msg, sizeof msg, cella_http_method(req),
                                     cella_http_target(req), c_hex, body.p, body.len));
    cella_res r = cella_eth_personal_recover(msg, strlen(msg), sig, signer);
    CELLA_ENSURE(cella_ok(r) && !memcmp(signer, addr, 20), CELLA_E_AUTH, "Authorization",
                 "signature does not match the address (forged or for another request)");
    /* Consumed only now: a request nobody signed cannot burn a challenge
     * (checked above already: one HMAC per request). */
    CELLA_TRY(spend(a, db, c, now));
    memcpy(who, addr, 20);
    return CELLA_OK_RES;
}

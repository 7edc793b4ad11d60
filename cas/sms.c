/* iExec's secret management service (SMS) inside cas, with iExec's endpoints,
 * bodies and authentication, so the iExec SDK's push-secret calls work.
 *
 *   HEAD|POST      /secrets/web3?secretAddress=A            dataset key (owner only, no update)
 *   HEAD|POST|PUT  /secrets/web2?ownerAddress=O&secretName=N  e.g. the beneficiary's result key
 *   HEAD|POST      /apps/A/secrets                          app developer secret (owner only)
 *   HEAD|POST      /requesters/R/secrets/N                  requester secret (no update)
 *
 * Authorization: an EIP-191 signature (personal_sign) of the 32-byte challenge
 *   keccak256(keccak256("IEXEC_SMS_DOMAIN") || address(20) [|| keccak256(name)] || keccak256(value))
 * (iexec-sdk src/common/sms/push.js). The body is the secret, raw text, at most 4096 bytes.
 * Values are sealed at rest like every cas secret.
 *
 * Replays. iExec's challenge has no nonce and no endpoint: a push, once seen,
 * would be accepted again (an old result key put back after a rotation), and
 * a requester secret's signature is also one for /secrets/web2 with the same
 * owner and name. So every accepted challenge is remembered for good (the
 * store's sms_used, keyed by the vault's TAG of the challenge) and refused on any
 * endpoint afterwards: 403 "accepted before (replay)". A new push needs a new
 * value. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cas/internal.h"
#include "core/encoding.h"
#include "core/secure.h"
#include "identity/eth.h"
#include "iexec/sms.h"
#include "net/http_client.h"
#include "vault/vault.h"

#define SMS_MAX_SECRET CELLA_IEXEC_SMS_MAX_SECRET

/* Recovers who signed the challenge for (addr, name, body), and gives the
 * challenge. */
static cella_res sms_signer(cella_http_req *req, const uint8_t addr[20], const char *name,
                            uint8_t signer[20], uint8_t challenge[32])
{
    const char *auth = cella_http_header(req, "Authorization");
    CELLA_ENSURE(auth, CELLA_E_AUTH, "Authorization", "missing signature");
    uint8_t sig[65];
    CELLA_TRY(cella_hex_decode(sig, 65, auth, strlen(auth), "Authorization"));
    cella_iexec_sms_challenge(challenge, addr, name, cella_http_body(req));
    return cella_eth_personal_recover(challenge, 32, sig, signer);
}

/* What the store remembers of an accepted challenge: keyed, since the
 * challenge is an unsalted hash of the secret. Any signature over the same
 * challenge (a malleated one too) maps to the same tag. */
static cella_res replay_tag(const cas_app *a, const uint8_t challenge[32], uint8_t tag[32])
{
    return cella_vault_tag(a->vault, "cella-cas sms-replay v1", challenge, tag);
}

/* Who owns an app or dataset, according to the hub's registry. */
static cella_res registry_owner(cas_thread *t, const char *kind, const uint8_t addr[20],
                                uint8_t owner[20])
{
    char a[43], path[128];
    cella_eth_address_checksum(a, addr);
    snprintf(path, sizeof path, "/v1/%ss/%s", kind, a);
    json_t *j = NULL;
    cella_res r = cas_hub_get(t, path, kind, &j);
    if (r.code == CELLA_E_NOTFOUND) /* refused like any owner mismatch, naming the address */
        r = cella_fail(CELLA_E_POLICY, a, "no such %s in the hub's registry", kind);
    const char *o = cella_ok(r) ? json_string_value(json_object_get(j, "owner")) : NULL;
    if (cella_ok(r))
        r = o ? cella_eth_address_parse(owner, o, "owner")
              : cella_fail(CELLA_E_PARSE, t->app->opt.hub_url, "the hub sent no owner");
    json_decref(j);
    return r;
}

typedef enum { SMS_WEB3, SMS_WEB2, SMS_APP, SMS_REQUESTER } sms_kind;

static const char *kind_name(sms_kind k)
{
    static const char *const n[] = {"sms-web3", "sms-web2", "sms-app", "sms-requester"};
    return n[k];
}

static void sms_handle(cas_thread *t, cella_http_req *req, sms_kind kind, const uint8_t addr[20],
                       const char *name)
{
    const char *m = cella_http_method(req);
    char a[43], object[400], who[43] = "?";
    cella_eth_address_checksum(a, addr);
    snprintf(object, sizeof object, "%s %s%s%s", kind_name(kind), a, name ? "/" : "", name ? name : "");
    char key[300];
    snprintf(key, sizeof key, "%s|%s", a, name ? name : "");
    cella_buf found;
    cella_buf_init(&found, false);
    cella_res r = cella_cas_sealed_get(t->st, "", kind_name(kind), key, &found);
    cella_buf_free(&found);
    bool exists = cella_ok(r);
    if (!exists && r.code != CELLA_E_NOTFOUND) {
        cas_reply_err(req, r);
        return;
    }
    if (!strcmp(m, "HEAD")) {
        /* Existence only: never the value. */
        cella_http_reply(req, exists ? 204 : 404, NULL);
        return;
    }
    bool put = !strcmp(m, "PUT");
    r = CELLA_OK_RES;
    if (strcmp(m, "POST") && !put)
        r = cella_fail(CELLA_E_USAGE, object, "method not allowed");
    else if (put && kind != SMS_WEB2)
        r = cella_fail(CELLA_E_EXISTS, object, "this secret can never be updated");
    cella_slice body = cella_http_body(req);
    if (cella_ok(r) && (body.len == 0 || body.len > SMS_MAX_SECRET))
        r = cella_fail(CELLA_E_TOOBIG, object, "a secret is 1 to %d bytes", SMS_MAX_SECRET);
    /* The app secret's challenge uses "1" (its former index) as the name. */
    uint8_t signer[20], owner[20], challenge[32], tag[32];
    if (cella_ok(r))
        r = sms_signer(req, addr, kind == SMS_WEB3 ? NULL : kind == SMS_APP ? "1" : name, signer,
                       challenge);
    if (cella_ok(r))
        cella_eth_address_checksum(who, signer);
    if (cella_ok(r)) {
        if (kind == SMS_WEB3 || kind == SMS_APP)
            r = registry_owner(t, kind == SMS_WEB3 ? "dataset" : "app", addr, owner);
        else
            memcpy(owner, addr, 20);
    }
    if (cella_ok(r) && memcmp(owner, signer, 20))
        r = cella_fail(CELLA_E_AUTH, object, "%s is not allowed to set this secret", who);
    if (cella_ok(r) && exists && !put)
        r = cella_fail(CELLA_E_EXISTS, object, "secret already exists");
    if (cella_ok(r) && put && !exists)
        r = cella_fail(CELLA_E_NOTFOUND, object, "no such secret to update");
    /* A replay is refused by the store's insert-if-absent of this tag, in
     * the push's transaction (so between replicas too), after the statuses
     * iExec clients expect (409 exists): one statement, no lookup first. */
    if (cella_ok(r))
        r = replay_tag(t->app, challenge, tag);
    cella_buf sealed;
    cella_buf_init(&sealed, false);
    char ctx[512];
    snprintf(ctx, sizeof ctx, "cella-cas %s v1||%s", kind_name(kind), key);
    if (cella_ok(r))
        r = cas_seal(t->app, ctx, body, &sealed);
    if (cella_ok(r))
        r = cella_cas_sms_put(t->st, kind_name(kind), key, cella_slice_of(sealed.p, sealed.len),
                              put, tag, cas_now());
    cella_buf_free(&sealed);
    if (!cella_ok(r)) {
        cas_audit(t, who, put ? "secret.update" : "secret.push", object, "refused", cella_error_what());
        /* iExec's statuses: 401 not allowed, 409 exists. */
        cas_reply_err(req, r);
        return;
    }
    cas_audit(t, who, put ? "secret.update" : "secret.push", object, "ok", "");
    cella_http_reply(req, put ? 200 : 204, NULL);
}

bool cas_sms_route(cas_thread *t, cella_http_req *req)
{
    const char *p = cella_http_path(req);
    char a[64], n[128];
    uint8_t addr[20];
    const char *q;
    if (!strcmp(p, "/secrets/web3")) {
        q = cella_http_query(req, "secretAddress");
        if (!q || !cella_ok(cella_eth_address_parse(addr, q, "secretAddress"))) {
            cas_reply_err(req, cella_fail(CELLA_E_USAGE, "secretAddress", "a 0x address is required"));
            return true;
        }
        sms_handle(t, req, SMS_WEB3, addr, NULL);
        return true;
    }
    if (!strcmp(p, "/secrets/web2")) {
        q = cella_http_query(req, "ownerAddress");
        const char *name = cella_http_query(req, "secretName");
        if (!q || !name || strlen(name) > 128 || !*name ||
            !cella_ok(cella_eth_address_parse(addr, q, "ownerAddress"))) {
            cas_reply_err(req, cella_fail(CELLA_E_USAGE, "ownerAddress",
                                          "ownerAddress and secretName are required"));
            return true;
        }
        sms_handle(t, req, SMS_WEB2, addr, name);
        return true;
    }
    if (sscanf(p, "/apps/%63[^/]/secrets", a) == 1 && strlen(p) == 14 + strlen(a)) {
        if (!cella_ok(cella_eth_address_parse(addr, a, "app"))) {
            cas_reply_err(req, cella_fail(CELLA_E_USAGE, "app", "not an address"));
            return true;
        }
        sms_handle(t, req, SMS_APP, addr, NULL);
        return true;
    }
    if (sscanf(p, "/requesters/%63[^/]/secrets/%127[^/]", a, n) == 2 &&
        strlen(p) == 21 + strlen(a) + strlen(n)) {
        if (!cella_iexec_secret_name_ok(n) ||
            !cella_ok(cella_eth_address_parse(addr, a, "requester"))) {
            cas_reply_err(req, cella_fail(CELLA_E_USAGE, "secret name",
                                          "a requester secret name is [A-Za-z0-9-_]{1,64}"));
            return true;
        }
        sms_handle(t, req, SMS_REQUESTER, addr, n);
        return true;
    }
    return false;
}

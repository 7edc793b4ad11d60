#include "casapi/casapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "crypto/aead.h"
#include "identity/eth.h"

static cella_res decode_reply(cella_http_response *resp, json_t **out)
{
    if (resp->status < 200 || resp->status >= 300)
        return cella_http_fail_from(resp, resp->base_url);
    json_error_t je;
    *out = json_loadb((const char *)resp->body.p, resp->body.len, 0, &je);
    CELLA_ENSURE(*out, CELLA_E_PARSE, resp->base_url, "the reply is not JSON");
    return CELLA_OK_RES;
}

/* One JSON call; *outcome says how far it got (net/endpoints.h). */
static cella_res call_with(const cella_http_client *c, const char *method, const char *path,
                           const char *const *hdr, cella_slice body, json_t **out,
                           cella_net_outcome *outcome)
{
    cella_http_response resp;
    *out = NULL;
    cella_res r = cella_http_call(c, method, path, hdr, body, &resp);
    if (outcome)
        *outcome = resp.outcome;
    CELLA_TRY(r);
    r = decode_reply(&resp, out);
    cella_http_response_free(&resp);
    return r;
}

cella_res cella_cas_call(const cella_http_client *c, const char *method, const char *path,
                         cella_slice body, json_t **out)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    return call_with(c, method, path, hdr, body, out, NULL);
}

struct signed_call {
    cella_cas_sign_fn sign;
    void *sign_ctx;
    const char *method, *path, *content_type;
    cella_slice body;
    uint8_t body_sha256[32]; /* hashed once for every replica tried */
    json_t **out;
};

/* The signed request on one replica, over a challenge of that replica: a
 * nonce is single use, so a request that may have consumed one is never sent
 * again with it; the next replica gives a new one. */
static cella_res signed_attempt(const cella_http_client *one, void *ctx, cella_net_outcome *outcome)
{
    const struct signed_call *sc = ctx;
    json_t *ch = NULL;
    cella_net_outcome got = CELLA_NET_LOCAL;
    cella_res r = call_with(one, "GET", "/v1/challenge", NULL, cella_slice_of("", 0), &ch, &got);
    /* no challenge: nothing signed was sent */
    *outcome = cella_ok(r) || got == CELLA_NET_ANSWERED || got == CELLA_NET_LOCAL ? got
                                                                                  : CELLA_NET_UNSENT;
    CELLA_TRY(r);
    const char *nonce = json_string_value(json_object_get(ch, "nonce"));
    char auth[512], ctype[128], addr[43], sighex[131];
    uint8_t sig[65], a[20];
    r = nonce ? CELLA_OK_RES : cella_fail(CELLA_E_PARSE, one->base_url, "no challenge from the server");
    if (cella_ok(r))
        r = sc->sign(sc->sign_ctx, sc->method, sc->path, nonce, sc->body_sha256, sig, a);
    if (cella_ok(r)) {
        cella_eth_address_checksum(addr, a);
        cella_hex_encode(sighex, sig, 65, false);
        snprintf(auth, sizeof auth, "Authorization: CELLA-EIP191 %s %s 0x%s", addr, nonce, sighex);
        snprintf(ctype, sizeof ctype, "Content-Type: %s", sc->content_type);
        const char *hdr[] = {auth, ctype, NULL};
        r = call_with(one, sc->method, sc->path, hdr, sc->body, sc->out, outcome);
    }
    json_decref(ch);
    return r;
}

cella_res cella_cas_signed_call_by(const cella_http_client *c, cella_cas_sign_fn sign,
                                   void *sign_ctx, const char *method, const char *path,
                                   cella_slice body, const char *content_type, json_t **out)
{
    struct signed_call sc = {sign, sign_ctx, method, path, content_type, body, {0}, out};
    char what[300];
    snprintf(what, sizeof what, "%s %.250s", method, path);
    *out = NULL;
    CELLA_TRY(cella_sha256(sc.body_sha256, body.p, body.len));
    return cella_failover(c, c->repeatable || cella_net_repeatable_method(method), what,
                          signed_attempt, &sc);
}

/* Signing with a key this process holds. */
static cella_res sign_with_key(void *ctx, const char *method, const char *path,
                               const char *nonce_hex, const uint8_t body_sha256[32],
                               uint8_t sig[65], uint8_t addr[20])
{
    const uint8_t *priv = ctx;
    char msg[2600];
    CELLA_TRY(cella_cas_auth_message_sha(msg, sizeof msg, method, path, nonce_hex, body_sha256));
    CELLA_TRY(cella_eth_personal_sign(priv, msg, strlen(msg), sig));
    return cella_eth_address_from_privkey(priv, addr);
}

cella_res cella_cas_signed_call(const cella_http_client *c, const uint8_t priv[32],
                                const char *method, const char *path, cella_slice body,
                                const char *content_type, json_t **out)
{
    return cella_cas_signed_call_by(c, sign_with_key, (void *)priv, method, path, body,
                                    content_type, out);
}

struct attest_identity {
    cella_tee_kind kind;
    cella_quote_fn quote;
    void *quote_ctx;
    EVP_PKEY *key;
    X509 *cert;
};

/* Called by the TLS client when cas asks for a certificate: the evidence binds
 * the fresh key and this handshake's randoms (cas's server random is the
 * nonce), so no separate nonce request is needed. */
static cella_res make_attest_identity(const uint8_t client_random[32],
                                      const uint8_t server_random[32], void *ctx, X509 **cert,
                                      EVP_PKEY **key)
{
    struct attest_identity *a = ctx;
    uint8_t binding[32];
    /* A handshake with a replica that then failed made an identity already:
     * this handshake (with the next replica) gets its own; the last one made
     * is the one of the connection that answers. */
    EVP_PKEY_free(a->key);
    X509_free(a->cert);
    a->key = NULL;
    a->cert = NULL;
    CELLA_TRY(cella_ratls_handshake_binding(client_random, server_random, binding));
    CELLA_TRY(cella_ratls_make(a->kind, binding, a->quote, a->quote_ctx, &a->key, &a->cert));
    *cert = a->cert;
    *key = a->key;
    return CELLA_OK_RES;
}

cella_res cella_cas_attest(const cella_http_client *c, cella_tee_kind kind, cella_quote_fn quote,
                           void *quote_ctx, const char *session, const char *service,
                           cella_cas_instance *out)
{
    memset(out, 0, sizeof *out);
    struct attest_identity id = {kind, quote, quote_ctx, NULL, NULL};
    cella_http_client mc = *c;
    mc.client_cert = NULL;
    mc.client_key = NULL;
    mc.identity = make_attest_identity;
    mc.identity_ctx = &id;
    /* Safe to send again to another replica after a failure that may have
     * reached one: each attempt is a new handshake with new evidence bound to
     * it, and what cas keeps of an attestation is a new instance token each
     * time (the unused one expires), so nothing is consumed twice. A cas
     * killed mid-attest then costs a retry, not the task (cluster.cas_kill). */
    mc.repeatable = true;
    json_t *req = json_pack("{s:s, s:s}", "session", session, "service", service);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    cella_res r = body ? cella_cas_call(&mc, "POST", "/v1/attest", cella_slice_of(body, strlen(body)),
                                        &out->config)
                       : cella_fail(CELLA_E_NOMEM, NULL, "out of memory");
    free(body);
    out->key = id.key;
    out->cert = id.cert;
    if (cella_ok(r) && (!out->key || !out->cert))
        r = cella_fail(CELLA_E_AUTH, "POST /v1/attest", "cas did not ask for the RA-TLS certificate");
    if (!cella_ok(r))
        cella_cas_instance_free(out);
    return r;
}

/* Wipes every string of a JSON value in place (jansson owns the buffers;
 * the values are released keys and secrets). */
static void wipe_json_strings(json_t *j)
{
    if (json_is_string(j)) {
        cella_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
            wipe_json_strings(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
            wipe_json_strings(v);
    }
}

void cella_cas_instance_free(cella_cas_instance *inst)
{
    EVP_PKEY_free(inst->key);
    X509_free(inst->cert);
    if (inst->config) {
        /* The configuration holds keys: wipe its own strings before freeing. */
        wipe_json_strings(inst->config);
        json_decref(inst->config);
    }
    memset(inst, 0, sizeof *inst);
}

cella_res cella_cas_push_tag(const cella_http_client *c, const cella_cas_instance *inst,
                             const char *volume, const uint8_t *old_tag, const uint8_t new_tag[16])
{
    char nt[33], ot[33];
    cella_hex_encode(nt, new_tag, 16, false);
    if (old_tag)
        cella_hex_encode(ot, old_tag, 16, false);
    json_t *req = json_pack("{s:O, s:s, s:s, s:o}", "instance",
                            json_object_get(inst->config, "instance"), "volume", volume, "new_tag",
                            nt, "old_tag", old_tag ? json_string(ot) : json_null());
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    CELLA_ENSURE(body, CELLA_E_NOMEM, volume, "out of memory");
    cella_http_client mc = *c;
    mc.client_cert = inst->cert;
    mc.client_key = inst->key;
    json_t *reply = NULL;
    cella_res r = cella_cas_call(&mc, "POST", "/v1/volumes/tag", cella_slice_of(body, strlen(body)), &reply);
    free(body);
    json_decref(reply);
    return r;
}

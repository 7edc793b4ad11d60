/* Sessions at rest and what an attested service receives from them: session
 * rows, volume keys and tags, secrets and their substitution, and the
 * configuration. Every value is sealed and unsealed by the vault
 * (lib/vault), under the grant of the request being served. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cas/internal.h"
#include "core/encoding.h"
#include "core/secure.h"
#include "policy/session.h"
#include "vault/vault.h"

/* ---- sealing at rest, by the vault ------------------------------------------------------ */

cella_res cas_seal(const cas_app *a, const char *context, cella_slice plain, cella_buf *out)
{
    return cella_vault_seal(a->vault, context, plain, out);
}

cella_res cas_unseal(const cas_app *a, const char *context, cella_slice in, cella_buf *out)
{
    return cella_vault_unseal(a->vault, context, in, out);
}

static void ctx_name(char *out, size_t cap, const char *kind, const char *a, const char *b)
{
    snprintf(out, cap, "cella-cas %s v1|%s|%s", kind, a, b ? b : "");
}

/* ---- sessions ---------------------------------------------------------------------------- */

cella_res cas_load_session(cas_thread *t, const char *name, cella_cas_session_row *row,
                           json_t **doc)
{
    cella_buf_init(&row->sealed, false);
    CELLA_TRY(cella_cas_session_get(t->st, name, row));
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "session", name, NULL);
    cella_buf plain;
    cella_buf_init(&plain, true);
    cella_res r = cas_unseal(t->app, ctx, cella_slice_of(row->sealed.p, row->sealed.len), &plain);
    json_error_t je;
    if (cella_ok(r)) {
        *doc = json_loadb((const char *)plain.p, plain.len, 0, &je);
        if (!*doc)
            r = cella_fail(CELLA_E_INTERNAL, name, "stored session is not JSON");
    }
    cella_buf_free(&plain);
    if (!cella_ok(r))
        cella_buf_free(&row->sealed);
    return r;
}

cella_res cas_store_row(cas_thread *t, const char *name, const json_t *doc, const char *owner,
                        cella_cas_session_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->owner, sizeof row->owner, "%s", owner);
    CELLA_TRY(cella_session_hash(doc, row->hash));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    CELLA_ENSURE(text, CELLA_E_NOMEM, name, "out of memory");
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "session", name, NULL);
    cella_buf_init(&row->sealed, false);
    cella_res r = cas_seal(t->app, ctx, cella_slice_of(text, strlen(text)), &row->sealed);
    cella_wipe(text, strlen(text));
    free(text);
    return r;
}

/* A value generated once per name (first writer wins), sealed, into `stored`:
 * the stored one if there is one, else a fresh one the vault makes and seals
 * (the candidate never exists in clear here). */
static cella_res generated_once(cas_thread *t, const char *session, const char *kind,
                                const char *name, const char *ctx, cella_vault_form form,
                                uint16_t size, cella_buf *stored)
{
    cella_res r = cella_cas_sealed_get(t->st, session, kind, name, stored);
    if (r.code != CELLA_E_NOTFOUND)
        return r;
    cella_buf cand;
    cella_buf_init(&cand, false);
    r = cella_vault_create(t->app->vault, ctx, form, size, &cand);
    if (cella_ok(r)) {
        stored->len = 0;
        r = cella_cas_sealed_get_or_put(t->st, session, kind, name,
                                        cella_slice_of(cand.p, cand.len), stored);
    }
    cella_buf_free(&cand);
    return r;
}

/* The key of a session volume: given in the session, else generated once. */
cella_res cas_volume_key(cas_thread *t, const char *session, const json_t *doc,
                         const char *volume, uint8_t key[32])
{
    const json_t *v = cella_session_volume(doc, volume);
    CELLA_ENSURE(v, CELLA_E_NOTFOUND, volume, "the session has no such volume");
    const char *given = json_string_value(json_object_get(v, "fspf_key"));
    if (given)
        return cella_hex_decode(key, 32, given, strlen(given), volume);
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "volume-key", session, volume);
    cella_buf stored, plain;
    cella_buf_init(&stored, false);
    cella_buf_init(&plain, true);
    cella_res r = generated_once(t, session, "volume", volume, ctx, CELLA_VAULT_FORM_RAW, 32,
                                 &stored);
    if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(stored.p, stored.len), &plain);
    if (cella_ok(r) && plain.len != 32)
        r = cella_fail(CELLA_E_INTERNAL, volume, "stored volume key has the wrong size");
    if (cella_ok(r))
        memcpy(key, plain.p, 32);
    cella_buf_free(&stored);
    cella_buf_free(&plain);
    return r;
}

/* The current tag: the last one pushed, else the session's initial tag. */
cella_res cas_volume_tag(cas_thread *t, const char *session, const json_t *doc,
                         const char *volume, json_t **tag_json)
{
    uint8_t tag[16];
    bool has;
    CELLA_TRY(cella_cas_tag_get(t->st, session, volume, tag, &has));
    if (has) {
        *tag_json = cas_hex_json(tag, 16);
        return CELLA_OK_RES;
    }
    const char *init = json_string_value(json_object_get(cella_session_volume(doc, volume), "fspf_tag"));
    *tag_json = init ? json_string(init) : json_null();
    return CELLA_OK_RES;
}

/* A generated secret: printable for ascii, random bytes (as hex) for binary. */
static cella_res secret_value(cas_thread *t, const char *session, const json_t *spec,
                              cella_buf *out)
{
    const char *name = json_string_value(json_object_get(spec, "name"));
    const char *kind = json_string_value(json_object_get(spec, "kind"));
    const char *given = json_string_value(json_object_get(spec, "value"));
    if (given) {
        cella_buf_append(out, given, strlen(given));
        return cella_buf_result(out);
    }
    json_int_t size = json_integer_value(json_object_get(spec, "size"));
    CELLA_ENSURE(size > 0 && size <= 4096, CELLA_E_POLICY, name, "bad secret size");
    bool binary = kind && !strcmp(kind, "binary");
    char ctx[512];
    ctx_name(ctx, sizeof ctx, "secret", session, name);
    cella_buf stored;
    cella_buf_init(&stored, false);
    /* binary: random bytes as hex; else A-Za-z0-9 */
    cella_res r = generated_once(t, session, "secret", name, ctx,
                                 binary ? CELLA_VAULT_FORM_HEX : CELLA_VAULT_FORM_ALNUM,
                                 (uint16_t)size, &stored);
    if (cella_ok(r))
        r = cas_unseal(t->app, ctx, cella_slice_of(stored.p, stored.len), out);
    cella_buf_free(&stored);
    return r;
}

/* Replaces $$SCONE::name$$ and $$CELLA::name$$ with secret values. */
static cella_res substitute(cas_thread *t, const char *session, const json_t *doc,
                            const char *in, json_t **out)
{
    cella_buf b;
    cella_buf_init(&b, true);
    cella_res r = CELLA_OK_RES;
    const char *p = in;
    while (cella_ok(r) && *p) {
        const char *s1 = strstr(p, "$$SCONE::"), *s2 = strstr(p, "$$CELLA::");
        const char *s = !s1 ? s2 : !s2 ? s1 : (s1 < s2 ? s1 : s2);
        if (!s) {
            cella_buf_append(&b, p, strlen(p));
            break;
        }
        cella_buf_append(&b, p, (size_t)(s - p));
        const char *nm = s + 9, *end = strstr(nm, "$$");
        if (!end) {
            cella_buf_append(&b, s, strlen(s));
            break;
        }
        char name[129];
        size_t nl = (size_t)(end - nm);
        if (nl >= sizeof name) {
            r = cella_fail(CELLA_E_POLICY, "secrets", "secret reference too long");
            break;
        }
        memcpy(name, nm, nl);
        name[nl] = '\0';
        const json_t *spec = NULL, *v;
        size_t i;
        json_array_foreach(json_object_get(doc, "secrets"), i, v)
            if (!strcmp(json_string_value(json_object_get(v, "name")), name))
                spec = v;
        if (!spec)
            r = cella_fail(CELLA_E_POLICY, name, "reference to an undeclared secret");
        else
            r = secret_value(t, session, spec, &b);
        p = end + 2;
    }
    if (cella_ok(r))
        r = cella_buf_result(&b);
    if (cella_ok(r)) {
        /* An empty value has no buffer at all: json_stringn(NULL, 0) fails. */
        *out = json_stringn(b.len ? (const char *)b.p : "", b.len);
        if (!*out)
            r = cella_fail(CELLA_E_POLICY, "secrets", "secret value is not valid UTF-8");
    }
    cella_buf_free(&b);
    return r;
}

/* The configuration released to an attested service. */
cella_res cas_build_config(cas_thread *t, const char *session, const json_t *doc,
                           const json_t *svc, json_t **out)
{
    json_t *cfg = json_object(), *env = json_object(), *vols = json_array(), *files = json_array();
    json_object_set_new(cfg, "command", json_deep_copy(json_object_get(svc, "command")));
    json_object_set_new(cfg, "pwd", json_deep_copy(json_object_get(svc, "pwd")));
    json_object_set_new(cfg, "environment", env);
    json_object_set_new(cfg, "volumes", vols);
    json_object_set_new(cfg, "injection_files", files);
    cella_res r = CELLA_OK_RES;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(svc, "environment"), k, v) {
        json_t *val = NULL;
        r = substitute(t, session, doc, json_string_value(v), &val);
        if (!cella_ok(r))
            break;
        json_object_set_new(env, k, val);
    }
    const char *image = json_string_value(json_object_get(svc, "image_name"));
    size_t i, j;
    const json_t *img, *mnt;
    json_array_foreach(json_object_get(doc, "images"), i, img) {
        if (!cella_ok(r) || !image || strcmp(json_string_value(json_object_get(img, "name")), image))
            continue;
        json_array_foreach(json_object_get(img, "volumes"), j, mnt) {
            const char *vn = json_string_value(json_object_get(mnt, "name"));
            uint8_t key[32];
            json_t *tag = NULL;
            r = cas_volume_key(t, session, doc, vn, key);
            if (cella_ok(r))
                r = cas_volume_tag(t, session, doc, vn, &tag);
            if (!cella_ok(r))
                break;
            json_array_append_new(vols, json_pack("{s:s, s:O, s:o, s:o}", "name", vn, "path",
                                                  json_object_get(mnt, "path"), "key",
                                                  cas_hex_json(key, 32), "tag", tag));
            cella_wipe(key, 32);
        }
        json_array_foreach(json_object_get(img, "injection_files"), j, mnt) {
            json_t *content = NULL;
            r = substitute(t, session, doc, json_string_value(json_object_get(mnt, "content")),
                           &content);
            if (!cella_ok(r))
                break;
            json_array_append_new(files, json_pack("{s:O, s:o}", "path",
                                                   json_object_get(mnt, "path"), "content", content));
        }
    }
    if (!cella_ok(r)) {
        json_decref(cfg);
        return r;
    }
    *out = cfg;
    return CELLA_OK_RES;
}

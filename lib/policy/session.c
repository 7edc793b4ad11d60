/* cas sessions: YAML (libyaml events) or JSON (jansson) in, one validator, the
 * normalised JSON form out (see session.h and docs/session-policy.md).
 *
 * Both inputs are first turned into the same small tree of nodes (`snode`),
 * each carrying its source line, so that one validator serves both and every
 * error can say "line N, services[0].mrenclaves[1]". The tree is built
 * without recursion (an explicit stack no deeper than SESSION_MAX_DEPTH), and
 * the validator only descends into the fixed shape of a session.
 *
 * Error codes: CELLA_E_TOOBIG (input over the cap, before parsing),
 * CELLA_E_PARSE (not YAML, a refused YAML feature, wrong shape: type, unknown,
 * missing or duplicate field, malformed value), CELLA_E_POLICY (well-formed
 * but breaks a rule: duplicate names, dangling references, unsafe paths,
 * inconsistent security settings), CELLA_E_NOMEM. Error texts never contain
 * field values, only field paths (and secret names, which are not secret).
 *
 * This file: security, access policy, the whole session and the interface;
 * the rest is in session_tree.c, session_check.c and session_parts.c
 * (session_int.h lists them). */
#include "policy/session.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"
#include "crypto/aead.h"
#include "policy/session_int.h"

/* ---- security */

enum { TEE_SGX = 1, TEE_TDX = 2, TEE_SNP = 4, TEE_SIM = 8 };
static const char *const g_tee_names[] = {"sgx", "tdx", "snp", "sim"};

enum {
    TCB_UPTODATE = 1,
    TCB_SWHARDENING = 2,
    TCB_CONFIG = 4,
    TCB_CONFIG_SWHARDENING = 8,
    TCB_OUTOFDATE = 16,
    TCB_OUTOFDATE_CONFIG = 32,
};
static const char *const g_tcb_names[] = {"UpToDate",
                                          "SWHardeningNeeded",
                                          "ConfigurationNeeded",
                                          "ConfigurationAndSWHardeningNeeded",
                                          "OutOfDate",
                                          "OutOfDateConfigurationNeeded"};

static json_t *mask_array(unsigned mask, const char *const *names, size_t count)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < count; i++)
        if ((mask & (1u << i)) && json_array_append_new(a, json_string(names[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* A non-empty list of names from a fixed table, as a bit mask. */
static cella_res parse_mask_list(vctx *c, const snode *list, const char *const *names,
                                 size_t count, const char *what, unsigned *mask)
{
    CELLA_TRY(sess_want_seq(c, list));
    if (list->n == 0)
        return sess_verr(c, list->line, CELLA_E_POLICY, "empty list");
    *mask = 0;
    for (size_t i = 0; i < list->n; i++) {
        const snode *e = list->items[i];
        const char *s;
        size_t len;
        size_t m = sess_pb_idx(&c->p, i);
        CELLA_TRY(sess_get_str(c, e, &s, &len));
        size_t k = 0;
        while (k < count && !sess_text_is(s, len, names[k]))
            k++;
        if (k == count) {
            if (names == g_tcb_names && sess_text_is(s, len, "Revoked"))
                return sess_verr(c, e->line, CELLA_E_POLICY, "a revoked TCB cannot be accepted");
            return sess_verr(c, e->line, CELLA_E_PARSE, "unknown %s", what);
        }
        if (*mask & (1u << k))
            return sess_verr(c, e->line, CELLA_E_POLICY, "duplicate %s", what);
        *mask |= 1u << k;
        sess_pb_pop(&c->p, m);
    }
    return CELLA_OK_RES;
}

static bool advisory_ok(const char *s, size_t len)
{
    if (sess_text_is(s, len, "*"))
        return true;
    if (len < 1 || len > ADVISORY_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!sess_is_name_char(s[i]) || s[i] == '~')
            return false;
    return true;
}

_Static_assert(ADVISORY_MAX_LEN < SESS_ENTRY_MAX, "an advisory id fits an entry's buffer");

static cella_res advisory_entry(vctx *c, const snode *e, const char *s, size_t len,
                                const void *debug, char out[SESS_ENTRY_MAX])
{
    if (!advisory_ok(s, len))
        return sess_verr(c, e->line, CELLA_E_PARSE,
                         "invalid advisory id (1-64 of A-Z a-z 0-9 _ . -, or *)");
    if (sess_text_is(s, len, "*") && !*(const bool *)debug)
        return sess_verr(c, e->line, CELLA_E_POLICY, "'*' is allowed only when debug is allowed");
    memcpy(out, s, len); /* advisory_ok: at most ADVISORY_MAX_LEN bytes */
    out[len] = '\0';
    return CELLA_OK_RES;
}

static cella_res parse_advisories(vctx *c, const snode *parent, const char *key, bool debug,
                                  json_t **out)
{
    const snode *list = sess_map_opt(parent, key);
    *out = NULL;
    if (!list) {
        *out = json_array();
        return *out ? CELLA_OK_RES : sess_nomem();
    }
    size_t mark = sess_pb_key(&c->p, key);
    CELLA_TRY(sess_want_seq(c, list));
    return sess_string_list(c, list, key, mark, advisory_entry, &debug, "advisory", out);
}

static cella_res parse_attestation(vctx *c, const snode *att, bool *debug, unsigned *tcb,
                                   json_t **adv)
{
    static const char *const known[] = {"tolerate", "ignore_advisories", NULL};
    static const char *const tolerate_names[] = {"debug-mode", "outdated-tcb",
                                                 "software-hardening-needed",
                                                 "insecure-configuration"};
    static const char *const unsupported[] = {"hyperthreading", "insecure-igpu", "aepic-leak",
                                              NULL};
    size_t base = sess_pb_key(&c->p, "attestation");
    CELLA_TRY(sess_want_map(c, att));
    CELLA_TRY(sess_check_fields(c, att, known));
    const snode *tol = sess_map_opt(att, "tolerate");
    *tcb = TCB_UPTODATE;
    if (tol) {
        size_t m = sess_pb_key(&c->p, "tolerate");
        CELLA_TRY(sess_want_seq(c, tol));
        unsigned seen = 0;
        for (size_t i = 0; i < tol->n; i++) {
            const snode *e = tol->items[i];
            const char *s;
            size_t len;
            size_t mi = sess_pb_idx(&c->p, i);
            CELLA_TRY(sess_get_str(c, e, &s, &len));
            size_t k = 0;
            while (k < 4 && !sess_text_is(s, len, tolerate_names[k]))
                k++;
            if (k == 4) {
                for (const char *const *u = unsupported; *u; u++)
                    if (sess_text_is(s, len, *u))
                        return sess_verr(c, e->line, CELLA_E_POLICY,
                                         "tolerating this is not supported by cella");
                return sess_verr(c, e->line, CELLA_E_PARSE, "unknown tolerate value");
            }
            if (seen & (1u << k))
                return sess_verr(c, e->line, CELLA_E_POLICY, "duplicate tolerate value");
            seen |= 1u << k;
            sess_pb_pop(&c->p, mi);
        }
        sess_pb_pop(&c->p, m);
        if (seen & 1)
            *debug = true;
        if (seen & 2)
            *tcb |= TCB_OUTOFDATE;
        if (seen & 4)
            *tcb |= TCB_SWHARDENING;
        if (seen & 8)
            *tcb |= TCB_CONFIG | TCB_CONFIG_SWHARDENING;
        if ((seen & 2) && (seen & 8))
            *tcb |= TCB_OUTOFDATE_CONFIG;
    }
    CELLA_TRY(parse_advisories(c, att, "ignore_advisories", *debug, adv));
    sess_pb_pop(&c->p, base);
    return CELLA_OK_RES;
}

static cella_res parse_security(vctx *c, const snode *root, json_t **out)
{
    static const char *const known[] = {"allow_debug", "allow_sim", "tee", "accepted_tcb",
                                        "tolerated_advisories", "attestation", NULL};
    const snode *sec = sess_map_opt(root, "security");
    (void)sess_pb_key(&c->p, "security");
    bool debug = false, sim = false;
    unsigned tee = 0, tcb = TCB_UPTODATE;
    json_t *adv = NULL, *o = NULL;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (sec) {
        CELLA_TRY(sess_want_map(c, sec));
        CELLA_TRY(sess_check_fields(c, sec, known));
    }
    const snode *att = sess_map_opt(sec, "attestation");
    if (att) {
        static const char *const excl[] = {"allow_debug", "accepted_tcb", "tolerated_advisories",
                                           NULL};
        for (const char *const *f = excl; *f; f++) {
            const snode *x = sess_map_opt(sec, *f);
            if (x) {
                (void)sess_pb_key(&c->p, *f);
                return sess_verr(c, x->line, CELLA_E_POLICY,
                                 "cannot be combined with security.attestation");
            }
        }
        CELLA_TRY(parse_attestation(c, att, &debug, &tcb, &adv));
    } else {
        CELLA_TRY(sess_bool_field(c, sec, "allow_debug", false, &debug));
        const snode *list = sess_map_opt(sec, "accepted_tcb");
        if (list) {
            size_t m = sess_pb_key(&c->p, "accepted_tcb");
            CELLA_TRY(parse_mask_list(c, list, g_tcb_names, 6, "TCB status", &tcb));
            sess_pb_pop(&c->p, m);
        }
        CELLA_TRY(parse_advisories(c, sec, "tolerated_advisories", debug, &adv));
    }
    CELLA_GUARD(r, sess_bool_field(c, sec, "allow_sim", false, &sim), done);
    const snode *tl = sess_map_opt(sec, "tee");
    if (tl) {
        size_t m = sess_pb_key(&c->p, "tee");
        CELLA_GUARD(r, parse_mask_list(c, tl, g_tee_names, 4, "TEE kind", &tee), done);
        if ((tee & TEE_SIM) && !sim) {
            r = sess_verr(c, tl->line, CELLA_E_POLICY, "lists sim but allow_sim is not true");
            goto done;
        }
        if (!(tee & TEE_SIM) && sim) {
            r = sess_verr(c, tl->line, CELLA_E_POLICY, "allow_sim is true but sim is not listed");
            goto done;
        }
        sess_pb_pop(&c->p, m);
    } else {
        tee = TEE_SGX | TEE_TDX | TEE_SNP | (sim ? TEE_SIM : 0);
    }
    o = json_object();
    if (!o || !sess_jset(o, "allow_debug", json_boolean(debug)) ||
        !sess_jset(o, "allow_sim", json_boolean(sim)) ||
        !sess_jset(o, "tee", mask_array(tee, g_tee_names, 4)) ||
        !sess_jset(o, "accepted_tcb", mask_array(tcb, g_tcb_names, 6)) ||
        !sess_jset(o, "tolerated_advisories", json_incref(adv))) {
        r = sess_nomem();
        goto done;
    }
    *out = o;
    o = NULL;
done:
    json_decref(o);
    json_decref(adv);
    return r;
}

/* ---- access policy */

/* CREATOR, ANY or NONE (the last two alone), or a 0x address, lowercased.
 * ctx: the list, whose length says whether an entry is alone. */
static cella_res access_entry(vctx *c, const snode *e, const char *s, size_t len,
                              const void *list, char out[SESS_ENTRY_MAX])
{
    if (sess_text_is(s, len, "CREATOR") || sess_text_is(s, len, "ANY") ||
        sess_text_is(s, len, "NONE")) {
        if (((const snode *)list)->n > 1 && !sess_text_is(s, len, "CREATOR"))
            return sess_verr(c, e->line, CELLA_E_POLICY, "ANY and NONE must be the only entry");
        memcpy(out, s, len);
        out[len] = '\0';
    } else if (len == 42 && s[0] == '0' && s[1] == 'x' && sess_hex_lower(s + 2, 40, out + 2)) {
        out[0] = '0';
        out[1] = 'x';
    } else {
        return sess_verr(c, e->line, CELLA_E_PARSE,
                         "not CREATOR, ANY, NONE or a 0x address of 40 hex digits");
    }
    return CELLA_OK_RES;
}

static cella_res parse_access_list(vctx *c, const snode *ap, const char *key, json_t **out)
{
    const snode *list = sess_map_opt(ap, key);
    *out = NULL;
    if (!list) {
        json_t *a = json_array();
        if (!a || json_array_append_new(a, json_string("CREATOR")) != 0) {
            json_decref(a);
            return sess_nomem();
        }
        *out = a;
        return CELLA_OK_RES;
    }
    size_t mark = sess_pb_key(&c->p, key);
    CELLA_TRY(sess_want_seq(c, list));
    if (list->n == 0)
        return sess_verr(c, list->line, CELLA_E_POLICY, "empty list (write NONE for nobody)");
    return sess_string_list(c, list, key, mark, access_entry, list, "entry", out);
}

static cella_res parse_access_policy(vctx *c, const snode *root, json_t **out)
{
    static const char *const known[] = {"read", "update", NULL};
    const snode *ap = sess_map_opt(root, "access_policy");
    (void)sess_pb_key(&c->p, "access_policy");
    json_t *rd = NULL, *up = NULL, *o = NULL;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (ap) {
        CELLA_TRY(sess_want_map(c, ap));
        CELLA_TRY(sess_check_fields(c, ap, known));
    }
    CELLA_GUARD(r, parse_access_list(c, ap, "read", &rd), done);
    CELLA_GUARD(r, parse_access_list(c, ap, "update", &up), done);
    o = json_object();
    if (!o) {
        r = sess_nomem();
        goto done;
    }
    int bad = json_object_set_new(o, "read", rd);
    bad |= json_object_set_new(o, "update", up);
    rd = up = NULL; /* both consumed */
    if (bad) {
        json_decref(o);
        r = sess_nomem();
        goto done;
    }
    *out = o;
done:
    json_decref(rd);
    json_decref(up);
    return r;
}

/* ---- the whole session */

static cella_res parse_version(vctx *c, const snode *root)
{
    const snode *vn;
    const char *s;
    size_t len, mark;
    CELLA_TRY(sess_str_field(c, root, "version", false, &vn, &s, &len, &mark));
    if (vn) {
        bool ok = sess_text_is(s, len, "0.3");
        if (!ok && len >= 5 && memcmp(s, "0.3.", 4) == 0) {
            const char *p = s + 4;
            size_t pl = len - 4;
            ok = (pl == 1 && p[0] >= '0' && p[0] <= '9') || sess_text_is(p, pl, "10");
        }
        if (!ok)
            return sess_verr(c, vn->line, CELLA_E_PARSE,
                             "unsupported session language version (0.3 to 0.3.10)");
    }
    sess_pb_pop(&c->p, mark);
    return CELLA_OK_RES;
}

static cella_res validate(vctx *c, const snode *root, json_t **out)
{
    static const char *const known[] = {"name",     "version", "digest",  "predecessor",
                                        "services", "volumes", "images",  "secrets",
                                        "security", "access_policy", NULL};
    json_t *head = NULL, *services = NULL, *volumes = NULL, *images = NULL, *secrets = NULL,
           *security = NULL, *access = NULL, *o = NULL;
    cella_res r;
    *out = NULL;
    if (root->kind != NK_MAP)
        return sess_verr(c, root->line, CELLA_E_PARSE, "a session must be a mapping");
    CELLA_TRY(sess_check_fields(c, root, known));
    CELLA_TRY(parse_version(c, root));
    if (!(head = json_object()))
        return sess_nomem();
    CELLA_GUARD(r, sess_name_field(c, root, "name", NAME_SESSION, NULL, head), done);
    CELLA_GUARD(r, sess_hex_field(c, root, "predecessor", 32, head), done);
    /* secrets first: the others refer to them; volumes and images before
     * the images and services that name them */
    CELLA_GUARD(r,
                sess_parse_named_list(c, root, "secrets", sess_parse_secret, "secret name",
                                      &c->secrets, &c->nsecrets, &secrets),
                done);
    CELLA_GUARD(r,
                sess_parse_named_list(c, root, "volumes", sess_parse_volume, "volume name",
                                      &c->volumes, &c->nvolumes, &volumes),
                done);
    CELLA_GUARD(r,
                sess_parse_named_list(c, root, "images", sess_parse_image, "image name",
                                      &c->images, &c->nimages, &images),
                done);
    CELLA_GUARD(r,
                sess_parse_named_list(c, root, "services", sess_parse_service, "service name",
                                      NULL, NULL, &services),
                done);
    CELLA_GUARD(r, parse_security(c, root, &security), done);
    sess_pb_pop(&c->p, 0);
    CELLA_GUARD(r, parse_access_policy(c, root, &access), done);
    sess_pb_pop(&c->p, 0);

    /* the header's key order, for readers of stored sessions */
    if (!(o = json_object()) || !sess_jset(o, "version", json_string(SESSION_VERSION)) ||
        !sess_jset(o, "name", json_incref(json_object_get(head, "name"))) ||
        !sess_jset(o, "predecessor", json_incref(json_object_get(head, "predecessor"))) ||
        !sess_jset(o, "services", json_incref(services)) ||
        !sess_jset(o, "volumes", json_incref(volumes)) ||
        !sess_jset(o, "images", json_incref(images)) ||
        !sess_jset(o, "secrets", json_incref(secrets)) ||
        !sess_jset(o, "security", json_incref(security)) ||
        !sess_jset(o, "access_policy", json_incref(access))) {
        r = sess_nomem();
        goto done;
    }
    *out = o;
    o = NULL;
done:
    json_decref(o);
    json_decref(head);
    json_decref(services);
    json_decref(volumes);
    json_decref(images);
    json_decref(secrets);
    json_decref(security);
    json_decref(access);
    return r;
}

static void vctx_free(vctx *c)
{
    free(c->secrets);
    free(c->volumes);
    free(c->images);
}

/* ------------------------------------------------------------- interface */

CELLA_RESULT cella_session_from_yaml(const char *yaml, size_t len, json_t **out)
{
    if (!out || (!yaml && len))
        CELLA_MISUSE("cella_session_from_yaml: NULL argument");
    *out = NULL;
    if (len > CELLA_SESSION_MAX_BYTES)
        return cella_fail(CELLA_E_TOOBIG, "session", "session is %zu bytes; the limit is %u",
                          len, CELLA_SESSION_MAX_BYTES);
    snode *root = NULL;
    CELLA_TRY(sess_yaml_to_nodes(yaml, len, &root));
    vctx c = {.yaml = true};
    cella_res r = validate(&c, root, out);
    vctx_free(&c);
    sess_node_free(root);
    return r;
}

CELLA_RESULT cella_session_normalize(const json_t *in, json_t **out)
{
    if (!in || !out)
        CELLA_MISUSE("cella_session_normalize: NULL argument");
    *out = NULL;
    snode *root = NULL;
    pathbuf p = {.len = 0};
    CELLA_TRY(sess_json_to_node(in, 0, &p, &root));
    vctx c = {.yaml = false};
    cella_res r = validate(&c, root, out);
    vctx_free(&c);
    sess_node_free(root);
    return r;
}

CELLA_RESULT cella_session_hash(const json_t *normalised, uint8_t out[32])
{
    if (!normalised || !out)
        CELLA_MISUSE("cella_session_hash: NULL argument");
    char *s = json_dumps(normalised, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s)
        return cella_fail(CELLA_E_NOMEM, "session", "cannot serialise the session");
    size_t n = strlen(s);
    cella_res r = cella_sha256(out, s, n);
    cella_wipe(s, n); /* holds secret values */
    free(s);
    return r;
}

static bool redact_field(json_t *list, const char *field)
{
    size_t i;
    json_t *e;
    if (!json_is_array(list))
        return true;
    json_array_foreach(list, i, e)
    {
        json_t *v = json_object_get(e, field);
        if (v && !json_is_null(v) && json_object_set_new(e, field, json_string(REDACTED)) != 0)
            return false;
    }
    return true;
}

json_t *cella_session_redact(const json_t *normalised)
{
    if (!normalised)
        return NULL;
    json_t *c = json_deep_copy(normalised);
    if (!c)
        return NULL;
    if (!redact_field(json_object_get(c, "secrets"), "value") ||
        !redact_field(json_object_get(c, "volumes"), "fspf_key")) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static const json_t *find_named(const json_t *normalised, const char *list, const char *name)
{
    if (!normalised || !name)
        return NULL;
    const json_t *a = json_object_get(normalised, list);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

const json_t *cella_session_service(const json_t *normalised, const char *service)
{
    return find_named(normalised, "services", service);
}

const json_t *cella_session_volume(const json_t *normalised, const char *volume)
{
    return find_named(normalised, "volumes", volume);
}

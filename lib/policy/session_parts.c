/* cas sessions: the named lists a session declares (secrets, volumes,
 * images, services), each entry checked by session_check.c's primitives and
 * its references resolved against the lists declared before it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"
#include "policy/session_int.h"

/* ---- secrets */

/* The value of a secret: printable ASCII, or hex for binary (lowercased). */
static cella_res secret_value(vctx *c, const snode *vn, const char *str, size_t len, bool binary,
                              json_t **value, long long *vsize)
{
    *value = NULL;
    if (binary) {
        if (len == 0 || len % 2 != 0 || len / 2 > SECRET_MAX_SIZE)
            return sess_verr(c, vn->line, CELLA_E_PARSE,
                             "not an even number of hex digits (1..%d bytes)", SECRET_MAX_SIZE);
        char *hex = malloc(len + 1);
        if (!hex)
            return sess_nomem();
        bool ok = sess_hex_lower(str, len, hex);
        *value = ok ? sess_jstr(hex, len) : NULL;
        cella_wipe(hex, len + 1);
        free(hex);
        if (!ok)
            return sess_verr(c, vn->line, CELLA_E_PARSE, "not hex digits");
        *vsize = (long long)(len / 2);
    } else {
        if (len == 0 || len > SECRET_MAX_SIZE)
            return sess_verr(c, vn->line, CELLA_E_PARSE, "not 1..%d characters", SECRET_MAX_SIZE);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)str[i] < 0x20 || (unsigned char)str[i] > 0x7e)
                return sess_verr(c, vn->line, CELLA_E_PARSE, "not printable ASCII");
        *value = sess_jstr(str, len);
        *vsize = (long long)len;
    }
    return *value ? CELLA_OK_RES : sess_nomem();
}

cella_res sess_parse_secret(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "kind", "size", "value", NULL};
    json_t *o;
    CELLA_TRY(sess_item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    size_t base = c->p.len;

    const snode *vn;
    const char *str;
    size_t len, mark;
    bool binary = false;
    CELLA_GUARD(r, sess_str_field(c, s, "kind", false, &vn, &str, &len, &mark), fail);
    if (vn && sess_text_is(str, len, "binary")) {
        binary = true;
    } else if (vn && !sess_text_is(str, len, "ascii")) {
        r = sess_verr(c, vn->line, CELLA_E_PARSE, "unknown secret kind (ascii or binary)");
        goto fail;
    }
    sess_pb_pop(&c->p, mark);
    if (!sess_jset(o, "kind", json_string(binary ? "binary" : "ascii")))
        goto oom;

    long long size = -1;
    const snode *sn = sess_map_opt(s, "size");
    if (sn) {
        mark = sess_pb_key(&c->p, "size");
        if (sn->kind != NK_SCALAR || sn->st != ST_INT) {
            r = sess_verr(c, sn->line, CELLA_E_PARSE, "expected an integer");
            goto fail;
        }
        if (sn->i < 1 || sn->i > SECRET_MAX_SIZE) {
            r = sess_verr(c, sn->line, CELLA_E_POLICY, "out of range (1..%d bytes)",
                          SECRET_MAX_SIZE);
            goto fail;
        }
        size = sn->i;
        sess_pb_pop(&c->p, mark);
    }

    CELLA_GUARD(r, sess_str_field(c, s, "value", false, &vn, &str, &len, &mark), fail);
    if (vn) {
        json_t *value = NULL;
        long long vsize = 0;
        CELLA_GUARD(r, secret_value(c, vn, str, len, binary, &value, &vsize), fail);
        if (!sess_jset(o, "value", value))
            goto oom;
        if (sn && size != vsize) {
            sess_pb_pop(&c->p, base);
            (void)sess_pb_key(&c->p, "size");
            r = sess_verr(c, sn->line, CELLA_E_POLICY, "does not match the value (%lld bytes)",
                          vsize);
            goto fail;
        }
        size = vsize;
    } else {
        if (!sess_jset(o, "value", json_null()))
            goto oom;
        if (size < 0)
            size = binary ? 32 : 20;
    }
    sess_pb_pop(&c->p, base);
    if (!sess_jset(o, "size", json_integer(size)))
        goto oom;
    it->j = o;
    return CELLA_OK_RES;
oom:
    r = sess_nomem();
fail:
    json_decref(o);
    return r;
}

/* Parses a top-level list of named mappings with `one`; keeps the sorted names
 * in *names (if given) and returns the sorted JSON array. */

cella_res sess_parse_named_list(vctx *c, const snode *root, const char *key, entry_fn one,
                                const char *what, item **names, size_t *nnames, json_t **out)
{
    const snode *list = sess_map_opt(root, key);
    item *v = NULL;
    size_t n = 0;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (!list) {
        *out = json_array();
        return *out ? CELLA_OK_RES : sess_nomem();
    }
    size_t mark = sess_pb_key(&c->p, key);
    CELLA_TRY(sess_want_seq(c, list));
    CELLA_TRY(sess_items_alloc(list, &v));
    for (; n < list->n; n++) {
        size_t m = sess_pb_idx(&c->p, n);
        v[n].idx = n;
        CELLA_GUARD(r, one(c, list->items[n], &v[n]), done);
        sess_pb_pop(&c->p, m);
    }
    sess_pb_pop(&c->p, mark);
    CELLA_GUARD(r, sess_items_finish(c, key, "name", v, n, what, out), done);
done:
    if (cella_ok(r) && names) {
        for (size_t i = 0; i < n; i++) {
            json_decref(v[i].j);
            v[i].j = NULL;
        }
        *names = v;
        *nnames = n;
    } else {
        sess_items_drop(v, list->n);
    }
    return r;
}

/* ---- volumes */

cella_res sess_parse_volume(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "fspf_key", "fspf_tag", NULL};
    json_t *o;
    CELLA_TRY(sess_item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    CELLA_GUARD(r, sess_hex_field(c, s, "fspf_key", 32, o), fail);
    CELLA_GUARD(r, sess_hex_field(c, s, "fspf_tag", 16, o), fail);
    if (json_is_null(json_object_get(o, "fspf_key")) &&
        !json_is_null(json_object_get(o, "fspf_tag"))) {
        (void)sess_pb_key(&c->p, "fspf_tag");
        r = sess_verr(c, sess_map_opt(s, "fspf_tag")->line, CELLA_E_POLICY,
                      "fspf_tag given without fspf_key");
        goto fail;
    }
    it->j = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

/* ---- images */

static cella_res parse_mount(vctx *c, const snode *s, item *by_name, item *it)
{
    static const char *const known[] = {"name", "path", NULL};
    json_t *o;
    CELLA_TRY(sess_item_open(c, s, known, NAME_PLAIN, by_name, &o));
    cella_res r;
    if (!sess_items_has(c->volumes, c->nvolumes, by_name->s, by_name->len)) {
        (void)sess_pb_key(&c->p, "name");
        r = sess_verr(c, by_name->line, CELLA_E_POLICY, "names no volume declared in volumes");
        goto fail;
    }
    const snode *vn;
    const char *str;
    size_t len, mark;
    CELLA_GUARD(r, sess_str_field(c, s, "path", true, &vn, &str, &len, &mark), fail);
    CELLA_GUARD(r, sess_check_abs_path(c, vn, str, len, false), fail);
    sess_pb_pop(&c->p, mark);
    if (!sess_jset(o, "path", sess_jstr(str, len))) {
        r = sess_nomem();
        goto fail;
    }
    *it = (item){.s = str, .len = len, .idx = by_name->idx, .line = vn->line, .j = o};
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

static cella_res parse_injection(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"path", "content", NULL};
    CELLA_TRY(sess_want_map(c, s));
    CELLA_TRY(sess_check_fields(c, s, known));
    json_t *o = json_object();
    cella_res r;
    if (!o)
        return sess_nomem();
    const snode *pn, *cn;
    const char *path, *content;
    size_t plen, clen, mark;
    CELLA_GUARD(r, sess_str_field(c, s, "path", true, &pn, &path, &plen, &mark), fail);
    CELLA_GUARD(r, sess_check_abs_path(c, pn, path, plen, false), fail);
    sess_pb_pop(&c->p, mark);
    CELLA_GUARD(r, sess_str_field(c, s, "content", true, &cn, &content, &clen, &mark), fail);
    CELLA_GUARD(r, sess_check_secret_refs(c, cn, content, clen), fail);
    sess_pb_pop(&c->p, mark);
    if (!sess_jset(o, "path", sess_jstr(path, plen)) ||
        !sess_jset(o, "content", sess_jstr(content, clen))) {
        r = sess_nomem();
        goto fail;
    }
    it->s = path;
    it->len = plen;
    it->line = pn->line;
    it->j = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

static cella_res parse_mounts(vctx *c, const snode *img, json_t *o)
{
    const snode *list = sess_map_opt(img, "volumes");
    item *names = NULL, *v = NULL;
    size_t n = 0;
    json_t *a = NULL;
    cella_res r = CELLA_OK_RES;
    if (!list) {
        a = json_array();
        return sess_jset(o, "volumes", a) ? CELLA_OK_RES : sess_nomem();
    }
    size_t mark = sess_pb_key(&c->p, "volumes");
    CELLA_TRY(sess_want_seq(c, list));
    CELLA_GUARD(r, sess_items_alloc(list, &names), done);
    CELLA_GUARD(r, sess_items_alloc(list, &v), done);
    for (; n < list->n; n++) {
        size_t m = sess_pb_idx(&c->p, n);
        names[n].idx = n;
        CELLA_GUARD(r, parse_mount(c, list->items[n], &names[n], &v[n]), done);
        sess_pb_pop(&c->p, m);
    }
    sess_pb_pop(&c->p, mark);
    size_t d = sess_items_sort_find_dup(names, n);
    if (d != SIZE_MAX) {
        (void)sess_pb_key(&c->p, "volumes");
        (void)sess_pb_idx(&c->p, names[d].idx);
        (void)sess_pb_key(&c->p, "name");
        r = sess_verr(c, names[d].line, CELLA_E_POLICY, "volume mounted twice in this image");
        goto done;
    }
    CELLA_GUARD(r, sess_items_finish(c, "volumes", "path", v, n, "mount path", &a), done);
    if (!sess_jset(o, "volumes", a))
        r = sess_nomem();
done:
    free(names);
    sess_items_drop(v, n);
    return r;
}

static cella_res parse_injections(vctx *c, const snode *img, json_t *o)
{
    const snode *list = sess_map_opt(img, "injection_files");
    item *v = NULL;
    size_t n = 0;
    json_t *a = NULL;
    cella_res r = CELLA_OK_RES;
    if (!list) {
        a = json_array();
        return sess_jset(o, "injection_files", a) ? CELLA_OK_RES : sess_nomem();
    }
    size_t mark = sess_pb_key(&c->p, "injection_files");
    CELLA_TRY(sess_want_seq(c, list));
    CELLA_TRY(sess_items_alloc(list, &v));
    for (; n < list->n; n++) {
        size_t m = sess_pb_idx(&c->p, n);
        v[n].idx = n;
        CELLA_GUARD(r, parse_injection(c, list->items[n], &v[n]), done);
        sess_pb_pop(&c->p, m);
    }
    sess_pb_pop(&c->p, mark);
    CELLA_GUARD(
        r, sess_items_finish(c, "injection_files", "path", v, n, "injection file path", &a), done);
    if (!sess_jset(o, "injection_files", a))
        r = sess_nomem();
done:
    sess_items_drop(v, n);
    return r;
}

cella_res sess_parse_image(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "mrenclaves", "tags", "volumes",
                                        "injection_files", NULL};
    json_t *o;
    CELLA_TRY(sess_item_open(c, s, known, NAME_IMAGE, it, &o));
    cella_res r;
    CELLA_GUARD(r, parse_mounts(c, s, o), fail);
    CELLA_GUARD(r, parse_injections(c, s, o), fail);
    it->j = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

/* ---- services */

/* 64 hex digits: SGX MRENCLAVE (and sim); 96: TDX MRTD or SNP MEASUREMENT. */
static cella_res measurement_entry(vctx *c, const snode *e, const char *s, size_t len,
                                   const void *ctx, char out[SESS_ENTRY_MAX])
{
    (void)ctx;
    if ((len != 64 && len != 96) || !sess_hex_lower(s, len, out))
        return sess_verr(c, e->line, CELLA_E_PARSE,
                         "not 64 hex digits (SGX MRENCLAVE) or 96 (TDX MRTD, SNP measurement)");
    return CELLA_OK_RES;
}

/* A list of measurements under `key` of map m (a service's "mrenclaves", an
 * attestation variant's "mrenclave"), sorted and lowercased into o[key]. */
static cella_res parse_measurements(vctx *c, const snode *m, const char *key, json_t *o)
{
    const snode *list = sess_map_opt(m, key);
    size_t mark = sess_pb_key(&c->p, key);
    if (!list)
        return sess_verr(c, m->line, CELLA_E_PARSE, "missing field");
    CELLA_TRY(sess_want_seq(c, list));
    if (list->n == 0)
        return sess_verr(c, list->line, CELLA_E_POLICY,
                         "empty: a service must pin at least one measurement");
    json_t *a = NULL;
    CELLA_TRY(sess_string_list(c, list, key, mark, measurement_entry, NULL, "mrenclave", &a));
    return sess_jset(o, key, a) ? CELLA_OK_RES : sess_nomem();
}

/* An integer field of m from 0 to 65535 (SGX ISVPRODID, ISVSVN); `def` when
 * absent and not required. */
static cella_res u16_field(vctx *c, const snode *m, const char *key, bool required, long long def,
                           json_t *o)
{
    const snode *n = sess_map_opt(m, key);
    size_t mark = sess_pb_key(&c->p, key);
    if (!n) {
        if (required)
            return sess_verr(c, m->line, CELLA_E_PARSE, "missing field");
    } else if (n->kind != NK_SCALAR || n->st != ST_INT) {
        return sess_verr(c, n->line, CELLA_E_PARSE, "expected an integer");
    } else if (n->i < 0 || n->i > 65535) {
        return sess_verr(c, n->line, CELLA_E_POLICY, "out of range (0..65535)");
    }
    sess_pb_pop(&c->p, mark);
    return sess_jset(o, key, json_integer(n ? n->i : def)) ? CELLA_OK_RES : sess_nomem();
}

/* SCONE's signer factor: {mrsigner, isvprodid, isvsvn_min}. An enclave
 * matches if it was signed by that key, as that product, at that security
 * version or a later one. */
static cella_res parse_signer(vctx *c, const snode *sg, json_t **out)
{
    static const char *const known[] = {"mrsigner", "isvprodid", "isvsvn_min", NULL};
    *out = NULL;
    CELLA_TRY(sess_want_map(c, sg));
    CELLA_TRY(sess_check_fields(c, sg, known));
    json_t *o = json_object();
    if (!o)
        return sess_nomem();
    cella_res r;
    size_t base = c->p.len;
    if (!sess_map_opt(sg, "mrsigner")) {
        (void)sess_pb_key(&c->p, "mrsigner");
        r = sess_verr(c, sg->line, CELLA_E_PARSE, "missing field");
        goto fail;
    }
    CELLA_GUARD(r, sess_hex_field(c, sg, "mrsigner", 32, o), fail);
    sess_pb_pop(&c->p, base);
    CELLA_GUARD(r, u16_field(c, sg, "isvprodid", true, 0, o), fail);
    sess_pb_pop(&c->p, base);
    CELLA_GUARD(r, u16_field(c, sg, "isvsvn_min", false, 0, o), fail);
    sess_pb_pop(&c->p, base);
    *out = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

/* SCONE's attestation variants: any one of them must match (OR); within a
 * variant, every factor given must (AND): `mrenclave` (a list, any of it)
 * and/or `signer`. Kept in the order given. */
static cella_res parse_attestation_variants(vctx *c, const snode *list, json_t *o)
{
    size_t mark = sess_pb_key(&c->p, "attestation");
    CELLA_TRY(sess_want_seq(c, list));
    if (list->n == 0)
        return sess_verr(c, list->line, CELLA_E_POLICY,
                         "empty: a service must allow at least one attestation variant");
    if (list->n > 16)
        return sess_verr(c, list->line, CELLA_E_POLICY, "too many variants (at most 16)");
    static const char *const known[] = {"mrenclave", "signer", NULL};
    json_t *a = json_array();
    if (!a)
        return sess_nomem();
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; i < list->n; i++) {
        const snode *v = list->items[i];
        size_t vi = sess_pb_idx(&c->p, i), vbase = c->p.len;
        CELLA_GUARD(r, sess_want_map(c, v), fail);
        CELLA_GUARD(r, sess_check_fields(c, v, known), fail);
        const snode *mr = sess_map_opt(v, "mrenclave"), *sg = sess_map_opt(v, "signer");
        if (!mr && !sg) {
            r = sess_verr(c, v->line, CELLA_E_POLICY, "a variant needs mrenclave, signer or both");
            goto fail;
        }
        json_t *vo = json_object(), *so = NULL;
        if (!vo || json_array_append_new(a, vo) != 0) {
            r = sess_nomem();
            goto fail;
        }
        if (mr) {
            CELLA_GUARD(r, parse_measurements(c, v, "mrenclave", vo), fail);
            sess_pb_pop(&c->p, vbase);
        } else if (!sess_jset(vo, "mrenclave", json_null())) {
            r = sess_nomem();
            goto fail;
        }
        if (sg) {
            (void)sess_pb_key(&c->p, "signer");
            CELLA_GUARD(r, parse_signer(c, sg, &so), fail);
            sess_pb_pop(&c->p, vbase);
        }
        if (!sess_jset(vo, "signer", so ? so : json_null())) {
            r = sess_nomem();
            goto fail;
        }
        sess_pb_pop(&c->p, vi);
    }
    sess_pb_pop(&c->p, mark);
    return sess_jset(o, "attestation", a) ? CELLA_OK_RES : sess_nomem();
fail:
    json_decref(a);
    return r;
}

/* A service pins its enclaves by `mrenclaves` (any of them), or by SCONE's
 * `attestation` variants; not both. */
static cella_res parse_mrenclaves(vctx *c, const snode *svc, json_t *o)
{
    const snode *att = sess_map_opt(svc, "attestation");
    if (!att)
        return parse_measurements(c, svc, "mrenclaves", o);
    if (sess_map_opt(svc, "mrenclaves")) {
        (void)sess_pb_key(&c->p, "attestation");
        return sess_verr(
            c, att->line, CELLA_E_POLICY,
            "cannot be combined with mrenclaves (list the measurements in a variant's "
            "mrenclave)");
    }
    return parse_attestation_variants(c, att, o);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static cella_res parse_command(vctx *c, const snode *svc, json_t *o)
{
    const snode *cmd = sess_map_opt(svc, "command");
    (void)sess_pb_key(&c->p, "command");
    if (!cmd)
        return sess_verr(c, svc->line, CELLA_E_PARSE, "missing field");
    json_t *a = json_array();
    if (!a)
        return sess_nomem();
    cella_res r = CELLA_OK_RES;
    if (cmd->kind == NK_SEQ) {
        for (size_t i = 0; i < cmd->n; i++) {
            const char *s;
            size_t len;
            size_t m = sess_pb_idx(&c->p, i);
            CELLA_GUARD(r, sess_get_str(c, cmd->items[i], &s, &len), fail);
            CELLA_GUARD(r, sess_check_secret_refs(c, cmd->items[i], s, len), fail);
            sess_pb_pop(&c->p, m);
            if (json_array_append_new(a, sess_jstr(s, len)) != 0) {
                r = sess_nomem();
                goto fail;
            }
        }
    } else {
        const char *s;
        size_t len;
        CELLA_GUARD(r, sess_get_str(c, cmd, &s, &len), fail);
        CELLA_GUARD(r, sess_check_secret_refs(c, cmd, s, len), fail);
        for (size_t i = 0; i < len;) {
            while (i < len && is_space(s[i]))
                i++;
            size_t st = i;
            while (i < len && !is_space(s[i]))
                i++;
            if (i > st && json_array_append_new(a, sess_jstr(s + st, i - st)) != 0) {
                r = sess_nomem();
                goto fail;
            }
        }
    }
    if (json_array_size(a) == 0) {
        r = sess_verr(c, cmd->line, CELLA_E_POLICY, "empty command");
        goto fail;
    }
    if (json_array_size(a) > SESSION_MAX_ITEMS) {
        r = sess_verr(c, cmd->line, CELLA_E_TOOBIG, "more than 4096 arguments");
        goto fail;
    }
    return sess_jset(o, "command", a) ? CELLA_OK_RES : sess_nomem();
fail:
    json_decref(a);
    return r;
}

static cella_res parse_environment(vctx *c, const snode *svc, json_t *o)
{
    const snode *env = sess_map_opt(svc, "environment");
    json_t *e = json_object();
    if (!e)
        return sess_nomem();
    cella_res r = CELLA_OK_RES;
    (void)sess_pb_key(&c->p, "environment");
    if (env) {
        CELLA_GUARD(r, sess_want_map(c, env), fail);
        for (size_t i = 0; i + 1 < env->n; i += 2) {
            const snode *k = env->items[i], *v = env->items[i + 1];
            if (!sess_env_name_ok(k->text, k->len)) {
                r = sess_verr(c, k->line, CELLA_E_PARSE,
                              "invalid variable name (A-Z a-z 0-9 _, not starting with a digit)");
                goto fail;
            }
            size_t m = sess_pb_keyn(&c->p, k->text, k->len);
            const char *s = NULL;
            size_t len = 0;
            CELLA_GUARD(r, sess_get_scalar_text(c, v, &s, &len), fail);
            CELLA_GUARD(r, sess_check_secret_refs(c, v, s, len), fail);
            sess_pb_pop(&c->p, m);
            if (!sess_jset(e, k->text, sess_jstr(s, len))) {
                r = sess_nomem();
                goto fail;
            }
        }
    }
    return sess_jset(o, "environment", e) ? CELLA_OK_RES : sess_nomem();
fail:
    json_decref(e);
    return r;
}

cella_res sess_parse_service(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name",    "image_name", "mrenclaves",  "attestation",
                                        "tags",    "command",    "pwd",         "environment",
                                        NULL};
    json_t *o;
    CELLA_TRY(sess_item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    size_t base = c->p.len;

    const snode *vn;
    const char *str;
    size_t len, mark;
    CELLA_GUARD(r, sess_str_field(c, s, "image_name", false, &vn, &str, &len, &mark), fail);
    if (vn) {
        if (!sess_image_name_ok(str, len)) {
            r = sess_verr(c, vn->line, CELLA_E_PARSE,
                          "invalid image name (1-256 of A-Z a-z 0-9 _ . ~ - / : @ +)");
            goto fail;
        }
        if (!sess_items_has(c->images, c->nimages, str, len)) {
            r = sess_verr(c, vn->line, CELLA_E_POLICY, "names no image declared in images");
            goto fail;
        }
    }
    sess_pb_pop(&c->p, mark);
    if (!sess_jset(o, "image_name", vn ? sess_jstr(str, len) : json_null())) {
        r = sess_nomem();
        goto fail;
    }
    CELLA_GUARD(r, parse_mrenclaves(c, s, o), fail);
    sess_pb_pop(&c->p, base);
    CELLA_GUARD(r, parse_command(c, s, o), fail);
    sess_pb_pop(&c->p, base);
    CELLA_GUARD(r, sess_str_field(c, s, "pwd", true, &vn, &str, &len, &mark), fail);
    CELLA_GUARD(r, sess_check_abs_path(c, vn, str, len, true), fail);
    sess_pb_pop(&c->p, mark);
    if (!sess_jset(o, "pwd", sess_jstr(str, len))) {
        r = sess_nomem();
        goto fail;
    }
    CELLA_GUARD(r, parse_environment(c, s, o), fail);
    sess_pb_pop(&c->p, base);
    it->j = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

/* cas sessions: the validator's primitives. Each reads one field of the node
 * tree (session_tree.c) in the fixed shape of a session, refuses a wrong type,
 * an unknown field or a malformed value with the field's path, and writes the
 * normalised JSON. Error texts never contain field values. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secure.h"
#include "policy/session_int.h"

/* ------------------------------------------------------------- validator */

cella_res sess_verr(vctx *c, unsigned long line, cella_code code, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sess_fail_at(&c->p, line, code, what);
}

cella_res sess_nomem(void)
{
    return cella_fail(CELLA_E_NOMEM, "session", "out of memory normalising the session");
}

static const snode *map_get(const snode *m, const char *key)
{
    if (!m || m->kind != NK_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (sess_text_is(m->items[i]->text, m->items[i]->len, key))
            return m->items[i + 1];
    return NULL;
}

static bool is_null(const snode *n) { return n->kind == NK_SCALAR && n->st == ST_NULL; }

/* A field that is absent or null is "not given". */
const snode *sess_map_opt(const snode *m, const char *key)
{
    const snode *v = map_get(m, key);
    return v && !is_null(v) ? v : NULL;
}

cella_res sess_want_map(vctx *c, const snode *n)
{
    if (n->kind != NK_MAP)
        return sess_verr(c, n->line, CELLA_E_PARSE, "expected a mapping");
    return CELLA_OK_RES;
}

cella_res sess_want_seq(vctx *c, const snode *n)
{
    if (n->kind != NK_SEQ)
        return sess_verr(c, n->line, CELLA_E_PARSE, "expected a list");
    return CELLA_OK_RES;
}

/* Refuses keys not in `known` (which lists the ignored keys too). */
cella_res sess_check_fields(vctx *c, const snode *m, const char *const *known)
{
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const snode *k = m->items[i];
        bool ok = false;
        for (const char *const *f = known; *f && !ok; f++)
            ok = sess_text_is(k->text, k->len, *f);
        if (!ok) {
            (void)sess_pb_keyn(&c->p, k->text, k->len);
            return sess_verr(c, k->line, CELLA_E_PARSE, "unknown field");
        }
    }
    return CELLA_OK_RES;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = s[i];
        size_t k;
        unsigned cp;
        if (ch < 0x80) {
            i++;
            continue;
        } else if ((ch & 0xe0) == 0xc0) {
            k = 1;
            cp = ch & 0x1f;
        } else if ((ch & 0xf0) == 0xe0) {
            k = 2;
            cp = ch & 0x0f;
        } else if ((ch & 0xf8) == 0xf0) {
            k = 3;
            cp = ch & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static cella_res text_ok(vctx *c, const snode *n)
{
    if (memchr(n->text, '\0', n->len))
        return sess_verr(c, n->line, CELLA_E_PARSE, "contains a NUL byte");
    if (!utf8_ok((const unsigned char *)n->text, n->len))
        return sess_verr(c, n->line, CELLA_E_PARSE, "not valid UTF-8");
    return CELLA_OK_RES;
}

/* A string; from YAML, a plain number counts as its text (hex digests may be
 * all digits). */
cella_res sess_get_str(vctx *c, const snode *n, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (n->kind != NK_SCALAR || !(n->st == ST_STR || (c->yaml && n->st == ST_INT)))
        return sess_verr(c, n->line, CELLA_E_PARSE, "expected a string");
    CELLA_TRY(text_ok(c, n));
    *s = n->text;
    *len = n->len;
    return CELLA_OK_RES;
}

/* Environment values: any non-null scalar, as written. */
cella_res sess_get_scalar_text(vctx *c, const snode *n, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (n->kind != NK_SCALAR || n->st == ST_NULL)
        return sess_verr(c, n->line, CELLA_E_PARSE, "expected a string, number or boolean");
    CELLA_TRY(text_ok(c, n));
    *s = n->text;
    *len = n->len;
    return CELLA_OK_RES;
}

json_t *sess_jstr(const char *s, size_t len) { return json_stringn(s, len); }

/* Sets obj[key] = v (stealing v); false when out of memory. */
bool sess_jset(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

bool sess_is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '~' || ch == '-';
}

static bool name_ok(const char *s, size_t len)
{
    if (len < 1 || len > NAME_MAX_LEN || sess_text_is(s, len, ".") || sess_text_is(s, len, ".."))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!sess_is_name_char(s[i]))
            return false;
    return true;
}

static bool session_name_ok(const char *s, size_t len)
{
    if (len < 1 || len > SESSION_NAME_MAX_LEN)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (!name_ok(s + start, i - start))
                return false;
            start = i + 1;
        }
    }
    return true;
}

/* Container image references: "registry/repo:tag" or "@sha256:...". */
bool sess_image_name_ok(const char *s, size_t len)
{
    if (len < 1 || len > IMAGE_NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!sess_is_name_char(s[i]) && s[i] != '/' && s[i] != ':' && s[i] != '@' && s[i] != '+')
            return false;
    return true;
}

bool sess_env_name_ok(const char *s, size_t len)
{
    if (len < 1 || len > ENV_NAME_MAX_LEN || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
    }
    return true;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Lowercases `len` hex digits into out[len+1]; false if any is not hex. */
bool sess_hex_lower(const char *s, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    bool ok = true;
    for (size_t i = 0; i < len; i++) {
        int v = hexval(s[i]);
        ok &= v >= 0;
        out[i] = digits[v & 15];
    }
    out[len] = '\0';
    return ok;
}

/* Absolute, at most PATH_MAX_LEN bytes, no empty, "." or ".." component, no
 * trailing '/' ("/" itself only where allowed). */
cella_res sess_check_abs_path(vctx *c, const snode *n, const char *s, size_t len, bool allow_root)
{
    if (len == 0 || s[0] != '/')
        return sess_verr(c, n->line, CELLA_E_POLICY, "not an absolute path");
    if (len > PATH_MAX_LEN)
        return sess_verr(c, n->line, CELLA_E_POLICY, "path longer than %d bytes", PATH_MAX_LEN);
    if (len == 1)
        return allow_root ? CELLA_OK_RES
                          : sess_verr(c, n->line, CELLA_E_POLICY, "path is the root directory");
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || s[i] == '/') {
            const char *comp = s + start;
            size_t cl = i - start;
            if (sess_text_is(comp, cl, ".."))
                return sess_verr(c, n->line, CELLA_E_POLICY, "path contains '..'");
            if (sess_text_is(comp, cl, "."))
                return sess_verr(c, n->line, CELLA_E_POLICY, "path contains a '.' component");
            if (cl == 0)
                return sess_verr(c, n->line, CELLA_E_POLICY,
                                 "path has an empty component or a trailing '/'");
            start = i + 1;
        }
    }
    return CELLA_OK_RES;
}

/* Validates every $$SCONE::name$$ / $$CELLA::name$$ in s (no substitution). */
cella_res sess_check_secret_refs(vctx *c, const snode *n, const char *s, size_t len)
{
    size_t i = 0;
    while (i + 9 <= len) {
        if (s[i] != '$' || s[i + 1] != '$' ||
            (memcmp(s + i + 2, "SCONE::", 7) != 0 && memcmp(s + i + 2, "CELLA::", 7) != 0)) {
            i++;
            continue;
        }
        size_t st = i + 9, e = st;
        while (e < len && sess_is_name_char(s[e]))
            e++;
        if (e == st || e + 1 >= len || s[e] != '$' || s[e + 1] != '$' || !name_ok(s + st, e - st))
            return sess_verr(c, n->line, CELLA_E_PARSE,
                             "malformed secret reference (expected $$SCONE::name$$)");
        if (!sess_items_has(c->secrets, c->nsecrets, s + st, e - st))
            return sess_verr(c, n->line, CELLA_E_POLICY, "references undeclared secret '%.*s'",
                             (int)(e - st), s + st);
        i = e + 2;
    }
    return CELLA_OK_RES;
}

void sess_items_drop(item *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(v[i].j);
    free(v);
}

/* Allocates room for the entries of a list node (cap checked when it was built). */
cella_res sess_items_alloc(const snode *list, item **v)
{
    *v = calloc(list->n ? list->n : 1, sizeof **v);
    return *v ? CELLA_OK_RES : sess_nomem();
}

/* Sorts v by text, refuses a duplicate (named at "<list>[i]<sub>"), and
 * returns a new JSON array of the entries in sorted order. The caller keeps
 * its references in v. Path: the list's parent. */
cella_res sess_items_finish(vctx *c, const char *list, const char *sub, item *v, size_t n,
                            const char *what, json_t **out)
{
    *out = NULL;
    size_t d = sess_items_sort_find_dup(v, n);
    if (d != SIZE_MAX) {
        (void)sess_pb_key(&c->p, list);
        (void)sess_pb_idx(&c->p, v[d].idx);
        if (sub)
            (void)sess_pb_key(&c->p, sub);
        return sess_verr(c, v[d].line, CELLA_E_POLICY, "duplicate %s", what);
    }
    json_t *a = json_array();
    if (!a)
        return sess_nomem();
    for (size_t i = 0; i < n; i++)
        if (json_array_append(a, v[i].j) != 0) {
            json_decref(a);
            return sess_nomem();
        }
    *out = a;
    return CELLA_OK_RES;
}

/* The sequence `list` under `key` (its path pushed at `mark`): each entry a
 * string that `norm` checks and writes normalised into its buffer, the whole
 * sorted into *out with duplicates refused ("duplicate <what>"). */
cella_res sess_string_list(vctx *c, const snode *list, const char *key, size_t mark,
                           sess_entry_fn norm, const void *ctx, const char *what, json_t **out)
{
    item *v = NULL;
    size_t n = 0;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    CELLA_TRY(sess_items_alloc(list, &v));
    for (; n < list->n; n++) {
        const snode *e = list->items[n];
        const char *s;
        size_t len;
        char buf[SESS_ENTRY_MAX];
        size_t m = sess_pb_idx(&c->p, n);
        CELLA_GUARD(r, sess_get_str(c, e, &s, &len), done);
        CELLA_GUARD(r, norm(c, e, s, len, ctx, buf), done);
        sess_pb_pop(&c->p, m);
        json_t *j = json_string(buf);
        if (!j) {
            r = sess_nomem();
            goto done;
        }
        v[n] = (item){.s = json_string_value(j), .len = strlen(buf), .idx = n, .line = e->line,
                      .j = j};
    }
    sess_pb_pop(&c->p, mark);
    CELLA_GUARD(r, sess_items_finish(c, key, NULL, v, n, what, out), done);
done:
    sess_items_drop(v, n);
    return r;
}

/* A required (or optional) string field; *vn = NULL when optional and absent.
 * Leaves the key pushed on the path (caller pops with the returned mark). */
cella_res sess_str_field(vctx *c, const snode *m, const char *key, bool required, const snode **vn,
                         const char **s, size_t *len, size_t *mark)
{
    *mark = sess_pb_key(&c->p, key);
    *vn = sess_map_opt(m, key);
    *s = NULL;
    *len = 0;
    if (!*vn) {
        if (required)
            return sess_verr(c, m->line, CELLA_E_PARSE, "missing field");
        sess_pb_pop(&c->p, *mark);
        return CELLA_OK_RES;
    }
    return sess_get_str(c, *vn, s, len);
}

/* A name field, required; fills the item (text, line) for duplicate checks. */
cella_res sess_name_field(vctx *c, const snode *m, const char *key, enum namekind kind, item *it,
                          json_t *obj)
{
    const snode *vn;
    const char *s;
    size_t len, mark;
    CELLA_TRY(sess_str_field(c, m, key, true, &vn, &s, &len, &mark));
    bool ok = kind == NAME_SESSION ? session_name_ok(s, len)
              : kind == NAME_IMAGE ? sess_image_name_ok(s, len)
                                   : name_ok(s, len);
    if (!ok)
        return sess_verr(
            c, vn->line, CELLA_E_PARSE,
            kind == NAME_SESSION ? "invalid session name (parts of 1-128 of A-Z a-z 0-9 _ . ~ -, "
                                   "separated by '/')"
            : kind == NAME_IMAGE ? "invalid image name (1-256 of A-Z a-z 0-9 _ . ~ - / : @ +)"
                                 : "invalid name (1-128 of A-Z a-z 0-9 _ . ~ -)");
    sess_pb_pop(&c->p, mark);
    if (it) {
        it->s = s;
        it->len = len;
        it->line = vn->line;
    }
    return sess_jset(obj, key, sess_jstr(s, len)) ? CELLA_OK_RES : sess_nomem();
}

/* The common start of every list item (secret, volume, image volume, image,
 * service): a mapping with only the `known` fields, a fresh JSON object *o,
 * and the item's "name" checked (as `kind`) and stored in it. On failure
 * nothing is left allocated. */
cella_res sess_item_open(vctx *c, const snode *s, const char *const *known, enum namekind kind,
                         item *it, json_t **o)
{
    CELLA_TRY(sess_want_map(c, s));
    CELLA_TRY(sess_check_fields(c, s, known));
    *o = json_object();
    if (!*o)
        return sess_nomem();
    cella_res r = sess_name_field(c, s, "name", kind, it, *o);
    if (!cella_ok(r)) {
        json_decref(*o);
        *o = NULL;
    }
    return r;
}

/* An optional hex field of nbytes bytes; null when absent. */
cella_res sess_hex_field(vctx *c, const snode *m, const char *key, size_t nbytes, json_t *obj)
{
    const snode *vn;
    const char *s;
    size_t len, mark;
    char buf[2 * 32 + 1];
    CELLA_TRY(sess_str_field(c, m, key, false, &vn, &s, &len, &mark));
    if (!vn)
        return sess_jset(obj, key, json_null()) ? CELLA_OK_RES : sess_nomem();
    if (nbytes * 2 >= sizeof buf)
        CELLA_MISUSE("hex field too long");
    if (len != 2 * nbytes || !sess_hex_lower(s, len, buf)) {
        cella_wipe(buf, sizeof buf);
        return sess_verr(c, vn->line, CELLA_E_PARSE, "not %zu hex digits", 2 * nbytes);
    }
    sess_pb_pop(&c->p, mark);
    bool ok = sess_jset(obj, key, sess_jstr(buf, len));
    cella_wipe(buf, sizeof buf);
    return ok ? CELLA_OK_RES : sess_nomem();
}

cella_res sess_bool_field(vctx *c, const snode *m, const char *key, bool def, bool *out)
{
    const snode *vn = sess_map_opt(m, key);
    *out = def;
    if (!vn)
        return CELLA_OK_RES;
    size_t mark = sess_pb_key(&c->p, key);
    if (vn->kind != NK_SCALAR || vn->st != ST_BOOL)
        return sess_verr(c, vn->line, CELLA_E_PARSE, "expected true or false");
    sess_pb_pop(&c->p, mark);
    *out = vn->b;
    return CELLA_OK_RES;
}

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
 * field values, only field paths (and secret names, which are not secret). */
#include "policy/session.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/secure.h"
#include "crypto/aead.h"

#define SESSION_MAX_DEPTH 32     /* nested mappings/sequences */
#define SESSION_MAX_ITEMS 4096   /* entries of one sequence or mapping */
#define NAME_MAX_LEN 128         /* service, volume, secret names; session name parts */
#define SESSION_NAME_MAX_LEN 512 /* whole "ns/proj/name" */
#define IMAGE_NAME_MAX_LEN 256
#define ENV_NAME_MAX_LEN 256
#define PATH_MAX_LEN 4096
#define SECRET_MAX_SIZE 4096 /* bytes */
#define ADVISORY_MAX_LEN 64
#define SESSION_VERSION "0.3.10"
#define REDACTED "<redacted>"

/* ------------------------------------------------------------------ nodes */

typedef enum { NK_SCALAR, NK_SEQ, NK_MAP } nkind;
typedef enum { ST_NULL, ST_BOOL, ST_INT, ST_REAL, ST_STR } stype;

typedef struct snode {
    nkind kind;
    stype st;           /* scalars: resolved type */
    unsigned long line; /* 1-based source line; 0 when unknown (JSON input) */
    char *text;         /* scalars (and map keys): always allocated, NUL-terminated */
    size_t len;
    bool b;
    long long i;
    struct snode **items; /* seq: elements; map: key, value, key, value ... */
    size_t n, cap;
} snode;

static void node_free(snode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->items[i]);
    free(n->items);
    if (n->text) {
        cella_wipe(n->text, n->len); /* may be a secret value or volume key */
        free(n->text);
    }
    free(n);
}

static snode *node_new(nkind kind, unsigned long line)
{
    snode *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

static bool node_set_text(snode *n, const char *s, size_t len)
{
    n->text = malloc(len + 1);
    if (!n->text)
        return false;
    if (len)
        memcpy(n->text, s, len);
    n->text[len] = '\0';
    n->len = len;
    return true;
}

/* Entries of a node: elements of a sequence, pairs of a mapping. */
static size_t node_entries(const snode *n) { return n->kind == NK_MAP ? n->n / 2 : n->n; }

/* Appends with the per-collection cap checked before growing. */
static bool node_append(snode *parent, snode *child)
{
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap ? parent->cap * 2 : 4;
        snode **p = realloc(parent->items, ncap * sizeof *p);
        if (!p)
            return false;
        parent->items = p;
        parent->cap = ncap;
    }
    parent->items[parent->n++] = child;
    return true;
}

static bool text_is(const char *s, size_t len, const char *lit)
{
    size_t l = strlen(lit);
    return len == l && memcmp(s, lit, l) == 0;
}

/* YAML 1.2 core schema, for plain scalars only: null, bool, decimal int; the
 * rest (floats included) stays text. Quoted scalars are always strings. */
static void resolve_plain(snode *n)
{
    const char *t = n->text;
    size_t l = n->len;
    n->st = ST_STR;
    if (l == 0 || text_is(t, l, "~") || text_is(t, l, "null") || text_is(t, l, "Null") ||
        text_is(t, l, "NULL")) {
        n->st = ST_NULL;
    } else if (text_is(t, l, "true") || text_is(t, l, "True") || text_is(t, l, "TRUE")) {
        n->st = ST_BOOL;
        n->b = true;
    } else if (text_is(t, l, "false") || text_is(t, l, "False") || text_is(t, l, "FALSE")) {
        n->st = ST_BOOL;
        n->b = false;
    } else {
        size_t k = (t[0] == '-' || t[0] == '+') ? 1 : 0;
        if (k == l)
            return;
        unsigned long long v = 0;
        bool over = false;
        for (size_t j = k; j < l; j++) {
            if (t[j] < '0' || t[j] > '9')
                return;
            unsigned d = (unsigned)(t[j] - '0');
            if (v > (ULLONG_MAX - d) / 10)
                over = true;
            else
                v = v * 10 + d;
        }
        n->st = ST_INT;
        if (t[0] == '-')
            n->i = (over || v > (unsigned long long)LLONG_MAX + 1) ? LLONG_MIN
                   : v == (unsigned long long)LLONG_MAX + 1        ? LLONG_MIN
                                                                   : -(long long)v;
        else
            n->i = (over || v > (unsigned long long)LLONG_MAX) ? LLONG_MAX : (long long)v;
    }
}

/* ------------------------------------------------------------ field paths */

typedef struct {
    char s[900];
    size_t len;
} pathbuf;

static void pb_append(pathbuf *p, const char *s, size_t n)
{
    size_t room = sizeof p->s - 1 - p->len;
    if (n > room)
        n = room;
    memcpy(p->s + p->len, s, n);
    p->len += n;
    p->s[p->len] = '\0';
}

static bool key_printable(const char *k, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("_.~/:@+-", ch)))
            return false;
    }
    return true;
}

/* Pushes ".key" (or "key" at the root); keys that would make the message
 * unreadable are shown as "?". Returns a mark for pb_pop. */
static size_t pb_keyn(pathbuf *p, const char *key, size_t n)
{
    size_t mark = p->len;
    if (p->len)
        pb_append(p, ".", 1);
    if (key_printable(key, n))
        pb_append(p, key, n);
    else
        pb_append(p, "?", 1);
    return mark;
}

static size_t pb_key(pathbuf *p, const char *key) { return pb_keyn(p, key, strlen(key)); }

static size_t pb_idx(pathbuf *p, size_t i)
{
    size_t mark = p->len;
    char b[32];
    int k = snprintf(b, sizeof b, "[%zu]", i);
    pb_append(p, b, (size_t)k);
    return mark;
}

static void pb_pop(pathbuf *p, size_t mark)
{
    if (mark <= p->len) {
        p->len = mark;
        p->s[mark] = '\0';
    }
}

static cella_res fail_at(const pathbuf *p, unsigned long line, cella_code code,
                         const char *what)
{
    char where[1000];
    if (line && p->len)
        snprintf(where, sizeof where, "line %lu, %s", line, p->s);
    else if (line)
        snprintf(where, sizeof where, "line %lu", line);
    else
        snprintf(where, sizeof where, "%s", p->len ? p->s : "session");
    return cella_fail(code, where, "%s", what);
}

/* ---------------------------------------------------------- YAML -> nodes */

typedef struct {
    snode *stack[SESSION_MAX_DEPTH];
    int depth;
    snode *root;
} ybuild;

/* The path of the node about to be attached at the top of the stack
 * (pending=true) or of the collection at the top (pending=false). */
static void ybuild_path(const ybuild *b, bool pending, pathbuf *p)
{
    p->len = 0;
    p->s[0] = '\0';
    int levels = pending ? b->depth : b->depth - 1;
    for (int d = 0; d < levels; d++) {
        const snode *c = b->stack[d];
        bool last = pending && d == levels - 1;
        if (c->kind == NK_SEQ) {
            (void)pb_idx(p, last ? c->n : c->n - 1);
        } else if (last) {
            if (c->n % 2 == 1)
                (void)pb_keyn(p, c->items[c->n - 1]->text, c->items[c->n - 1]->len);
        } else if (c->n >= 2) {
            (void)pb_keyn(p, c->items[c->n - 2]->text, c->items[c->n - 2]->len);
        }
    }
}

static cella_res ybuild_fail(const ybuild *b, bool pending, unsigned long line, cella_code code,
                             const char *what)
{
    pathbuf p;
    ybuild_path(b, pending, &p);
    return fail_at(&p, line, code, what);
}

/* Takes ownership of n. */
static cella_res ybuild_attach(ybuild *b, snode *n)
{
    if (b->depth == 0) {
        b->root = n;
        return CELLA_OK_RES;
    }
    snode *parent = b->stack[b->depth - 1];
    bool is_key = parent->kind == NK_MAP && parent->n % 2 == 0;
    cella_res r = CELLA_OK_RES;
    if (is_key && n->kind != NK_SCALAR)
        r = ybuild_fail(b, true, n->line, CELLA_E_PARSE, "mapping key is not a scalar");
    else if (is_key && memchr(n->text, '\0', n->len))
        r = ybuild_fail(b, true, n->line, CELLA_E_PARSE, "mapping key contains a NUL byte");
    else if ((is_key || parent->kind == NK_SEQ) && node_entries(parent) >= SESSION_MAX_ITEMS)
        r = ybuild_fail(b, false, n->line, CELLA_E_TOOBIG, "more than 4096 entries");
    else if (!node_append(parent, n))
        r = cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing the session");
    if (!cella_ok(r))
        node_free(n);
    return r;
}

typedef struct {
    const char *s;
    size_t len;
    size_t idx;
    unsigned long line;
    json_t *j;
} item;

static int item_cmp_text(const char *as, size_t al, const char *bs, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int d = m ? memcmp(as, bs, m) : 0;
    if (d)
        return d;
    return al < bl ? -1 : al > bl;
}

static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    int d = item_cmp_text(x->s, x->len, y->s, y->len);
    if (d)
        return d;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorts by (text, input index). Returns the sorted position of the earliest
 * (in input order) item equal to an earlier one, or SIZE_MAX. */
static size_t items_sort_find_dup(item *v, size_t n)
{
    if (n < 2)
        return SIZE_MAX;
    qsort(v, n, sizeof *v, item_cmp);
    size_t best = SIZE_MAX;
    for (size_t i = 1; i < n; i++)
        if (item_cmp_text(v[i - 1].s, v[i - 1].len, v[i].s, v[i].len) == 0 &&
            (best == SIZE_MAX || v[i].idx < v[best].idx))
            best = i;
    return best;
}

static bool items_has(const item *v, size_t n, const char *s, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = item_cmp_text(v[mid].s, v[mid].len, s, len);
        if (d == 0)
            return true;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static cella_res ybuild_check_dup_keys(const ybuild *b, const snode *map)
{
    size_t n = map->n / 2;
    if (n < 2)
        return CELLA_OK_RES;
    item *v = calloc(n, sizeof *v);
    if (!v)
        return cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing the session");
    for (size_t i = 0; i < n; i++) {
        const snode *k = map->items[2 * i];
        v[i] = (item){.s = k->text, .len = k->len, .idx = i, .line = k->line};
    }
    size_t d = items_sort_find_dup(v, n);
    cella_res r = CELLA_OK_RES;
    if (d != SIZE_MAX) {
        pathbuf p;
        ybuild_path(b, false, &p);
        (void)pb_keyn(&p, v[d].s, v[d].len);
        r = fail_at(&p, v[d].line, CELLA_E_PARSE, "duplicate key");
    }
    free(v);
    return r;
}

static cella_res yaml_problem(const yaml_parser_t *p, const ybuild *b)
{
    if (p->error == YAML_MEMORY_ERROR)
        return cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing YAML");
    char what[300];
    if (p->context)
        snprintf(what, sizeof what, "invalid YAML: %s: %s", p->context,
                 p->problem ? p->problem : "syntax error");
    else
        snprintf(what, sizeof what, "invalid YAML: %s", p->problem ? p->problem : "syntax error");
    return ybuild_fail(b, true, (unsigned long)p->problem_mark.line + 1, CELLA_E_PARSE, what);
}

/* One event; sets *done at the end of the stream. */
static cella_res ybuild_event(ybuild *b, const yaml_event_t *ev, int *docs, bool *done)
{
    unsigned long line = (unsigned long)ev->start_mark.line + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    nkind kind = NK_SCALAR;
    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return CELLA_OK_RES;
    case YAML_DOCUMENT_START_EVENT:
        if ((*docs)++ > 0)
            return ybuild_fail(b, true, line, CELLA_E_PARSE,
                               "more than one YAML document (one session per input)");
        return CELLA_OK_RES;
    case YAML_ALIAS_EVENT:
        return ybuild_fail(b, true, line, CELLA_E_PARSE, "YAML aliases are not accepted");
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        kind = NK_SEQ;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        kind = NK_MAP;
        break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        if (b->depth == 0)
            return cella_fail(CELLA_E_INTERNAL, "session", "unbalanced YAML events");
        cella_res r = CELLA_OK_RES;
        if (ev->type == YAML_MAPPING_END_EVENT)
            r = ybuild_check_dup_keys(b, b->stack[b->depth - 1]);
        b->depth--;
        return r;
    }
    default:
        return CELLA_OK_RES;
    }
    if (anchor)
        return ybuild_fail(b, true, line, CELLA_E_PARSE, "YAML anchors are not accepted");
    if (tag)
        return ybuild_fail(b, true, line, CELLA_E_PARSE, "YAML tags are not accepted");
    if (kind != NK_SCALAR && b->depth >= SESSION_MAX_DEPTH)
        return ybuild_fail(b, true, line, CELLA_E_PARSE, "nested deeper than 32 levels");

    snode *n = node_new(kind, line);
    if (!n)
        return cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing the session");
    if (kind == NK_SCALAR) {
        if (!node_set_text(n, (const char *)ev->data.scalar.value, ev->data.scalar.length)) {
            node_free(n);
            return cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing the session");
        }
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            resolve_plain(n);
        else
            n->st = ST_STR;
    }
    CELLA_TRY(ybuild_attach(b, n));
    if (kind != NK_SCALAR)
        b->stack[b->depth++] = n;
    return CELLA_OK_RES;
}

static cella_res yaml_to_nodes(const char *yaml, size_t len, snode **out)
{
    yaml_parser_t p;
    yaml_event_t ev;
    ybuild b = {.depth = 0};
    cella_res r = CELLA_OK_RES;
    int docs = 0;
    bool done = false;

    if (!yaml_parser_initialize(&p))
        return cella_fail(CELLA_E_NOMEM, "session", "out of memory parsing YAML");
    yaml_parser_set_input_string(&p, (const unsigned char *)(yaml ? yaml : ""), len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            r = yaml_problem(&p, &b);
            break;
        }
        r = ybuild_event(&b, &ev, &docs, &done);
        yaml_event_delete(&ev);
        if (!cella_ok(r))
            break;
    }
    yaml_parser_delete(&p);
    if (cella_ok(r) && !b.root)
        r = cella_fail(CELLA_E_PARSE, "line 1", "empty document: no session");
    if (!cella_ok(r)) {
        node_free(b.root);
        return r;
    }
    *out = b.root;
    return CELLA_OK_RES;
}

/* ---------------------------------------------------------- JSON -> nodes */

static cella_res json_to_node(const json_t *j, int depth, pathbuf *p, snode **out)
{
    *out = NULL;
    char num[64];
    int k;
    snode *n = NULL;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
    case JSON_ARRAY: {
        bool obj = json_is_object(j);
        if (depth >= SESSION_MAX_DEPTH)
            return fail_at(p, 0, CELLA_E_PARSE, "nested deeper than 32 levels");
        size_t cnt = obj ? json_object_size(j) : json_array_size(j);
        if (cnt > SESSION_MAX_ITEMS)
            return fail_at(p, 0, CELLA_E_TOOBIG, "more than 4096 entries");
        n = node_new(obj ? NK_MAP : NK_SEQ, 0);
        if (!n || !(n->items = calloc(cnt ? (obj ? 2 * cnt : cnt) : 1, sizeof *n->items)))
            goto nomem;
        n->cap = cnt ? (obj ? 2 * cnt : cnt) : 1;
        if (obj) {
            json_t *jo = (json_t *)(uintptr_t)j; /* iteration does not modify */
            for (void *it = json_object_iter(jo); it; it = json_object_iter_next(jo, it)) {
                const char *key = json_object_iter_key(it);
                size_t klen = json_object_iter_key_len(it);
                size_t mark = pb_keyn(p, key, klen);
                if (memchr(key, '\0', klen)) {
                    node_free(n);
                    return fail_at(p, 0, CELLA_E_PARSE, "key contains a NUL byte");
                }
                snode *kn = node_new(NK_SCALAR, 0), *vn = NULL;
                if (!kn || !node_set_text(kn, key, klen)) {
                    node_free(kn);
                    goto nomem;
                }
                kn->st = ST_STR;
                n->items[n->n++] = kn;
                cella_res r = json_to_node(json_object_iter_value(it), depth + 1, p, &vn);
                if (!cella_ok(r)) {
                    node_free(n);
                    return r;
                }
                n->items[n->n++] = vn;
                pb_pop(p, mark);
            }
        } else {
            for (size_t i = 0; i < cnt; i++) {
                size_t mark = pb_idx(p, i);
                snode *vn = NULL;
                cella_res r = json_to_node(json_array_get(j, i), depth + 1, p, &vn);
                if (!cella_ok(r)) {
                    node_free(n);
                    return r;
                }
                n->items[n->n++] = vn;
                pb_pop(p, mark);
            }
        }
        *out = n;
        return CELLA_OK_RES;
    }
    case JSON_STRING:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, json_string_value(j), json_string_length(j)))
            goto nomem;
        n->st = ST_STR;
        break;
    case JSON_INTEGER:
        k = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, num, (size_t)k))
            goto nomem;
        n->st = ST_INT;
        n->i = (long long)json_integer_value(j);
        break;
    case JSON_REAL:
        k = snprintf(num, sizeof num, "%.17g", json_real_value(j));
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, num, (size_t)k))
            goto nomem;
        n->st = ST_REAL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, json_is_true(j) ? "true" : "false",
                                 json_is_true(j) ? 4 : 5))
            goto nomem;
        n->st = ST_BOOL;
        n->b = json_is_true(j);
        break;
    case JSON_NULL:
    default:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, "", 0))
            goto nomem;
        n->st = ST_NULL;
        break;
    }
    *out = n;
    return CELLA_OK_RES;
nomem:
    node_free(n);
    return cella_fail(CELLA_E_NOMEM, "session", "out of memory reading the session");
}

/* ------------------------------------------------------------- validator */

typedef struct {
    bool yaml;  /* YAML plain numbers are accepted where text is expected */
    pathbuf p;
    item *secrets; /* declared names, sorted (texts borrowed from the node tree) */
    size_t nsecrets;
    item *volumes;
    size_t nvolumes;
    item *images;
    size_t nimages;
} vctx;

static cella_res verr(vctx *c, unsigned long line, cella_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static cella_res verr(vctx *c, unsigned long line, cella_code code, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail_at(&c->p, line, code, what);
}

static cella_res nomem(void)
{
    return cella_fail(CELLA_E_NOMEM, "session", "out of memory normalising the session");
}

static const snode *map_get(const snode *m, const char *key)
{
    if (!m || m->kind != NK_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (text_is(m->items[i]->text, m->items[i]->len, key))
            return m->items[i + 1];
    return NULL;
}

static bool is_null(const snode *n) { return n->kind == NK_SCALAR && n->st == ST_NULL; }

/* A field that is absent or null is "not given". */
static const snode *map_opt(const snode *m, const char *key)
{
    const snode *v = map_get(m, key);
    return v && !is_null(v) ? v : NULL;
}

static cella_res want_map(vctx *c, const snode *n)
{
    if (n->kind != NK_MAP)
        return verr(c, n->line, CELLA_E_PARSE, "expected a mapping");
    return CELLA_OK_RES;
}

static cella_res want_seq(vctx *c, const snode *n)
{
    if (n->kind != NK_SEQ)
        return verr(c, n->line, CELLA_E_PARSE, "expected a list");
    return CELLA_OK_RES;
}

/* Refuses keys not in `known` (which lists the ignored keys too). */
static cella_res check_fields(vctx *c, const snode *m, const char *const *known)
{
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const snode *k = m->items[i];
        bool ok = false;
        for (const char *const *f = known; *f && !ok; f++)
            ok = text_is(k->text, k->len, *f);
        if (!ok) {
            (void)pb_keyn(&c->p, k->text, k->len);
            return verr(c, k->line, CELLA_E_PARSE, "unknown field");
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
        return verr(c, n->line, CELLA_E_PARSE, "contains a NUL byte");
    if (!utf8_ok((const unsigned char *)n->text, n->len))
        return verr(c, n->line, CELLA_E_PARSE, "not valid UTF-8");
    return CELLA_OK_RES;
}

/* A string; from YAML, a plain number counts as its text (hex digests may be
 * all digits). */
static cella_res get_str(vctx *c, const snode *n, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (n->kind != NK_SCALAR || !(n->st == ST_STR || (c->yaml && n->st == ST_INT)))
        return verr(c, n->line, CELLA_E_PARSE, "expected a string");
    CELLA_TRY(text_ok(c, n));
    *s = n->text;
    *len = n->len;
    return CELLA_OK_RES;
}

/* Environment values: any non-null scalar, as written. */
static cella_res get_scalar_text(vctx *c, const snode *n, const char **s, size_t *len)
{
    *s = "";
    *len = 0;
    if (n->kind != NK_SCALAR || n->st == ST_NULL)
        return verr(c, n->line, CELLA_E_PARSE, "expected a string, number or boolean");
    CELLA_TRY(text_ok(c, n));
    *s = n->text;
    *len = n->len;
    return CELLA_OK_RES;
}

static json_t *jstr(const char *s, size_t len) { return json_stringn(s, len); }

/* Sets obj[key] = v (stealing v); false when out of memory. */
static bool jset(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

static bool is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '~' || ch == '-';
}

static bool name_ok(const char *s, size_t len)
{
    if (len < 1 || len > NAME_MAX_LEN || text_is(s, len, ".") || text_is(s, len, ".."))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]))
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
static bool image_name_ok(const char *s, size_t len)
{
    if (len < 1 || len > IMAGE_NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]) && s[i] != '/' && s[i] != ':' && s[i] != '@' && s[i] != '+')
            return false;
    return true;
}

static bool env_name_ok(const char *s, size_t len)
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
static bool hex_lower(const char *s, size_t len, char *out)
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
static cella_res check_abs_path(vctx *c, const snode *n, const char *s, size_t len,
                                bool allow_root)
{
    if (len == 0 || s[0] != '/')
        return verr(c, n->line, CELLA_E_POLICY, "not an absolute path");
    if (len > PATH_MAX_LEN)
        return verr(c, n->line, CELLA_E_POLICY, "path longer than %d bytes", PATH_MAX_LEN);
    if (len == 1)
        return allow_root ? CELLA_OK_RES
                          : verr(c, n->line, CELLA_E_POLICY, "path is the root directory");
    size_t start = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i == len || s[i] == '/') {
            const char *comp = s + start;
            size_t cl = i - start;
            if (text_is(comp, cl, ".."))
                return verr(c, n->line, CELLA_E_POLICY, "path contains '..'");
            if (text_is(comp, cl, "."))
                return verr(c, n->line, CELLA_E_POLICY, "path contains a '.' component");
            if (cl == 0)
                return verr(c, n->line, CELLA_E_POLICY,
                            "path has an empty component or a trailing '/'");
            start = i + 1;
        }
    }
    return CELLA_OK_RES;
}

/* Validates every $$SCONE::name$$ / $$CELLA::name$$ in s (no substitution). */
static cella_res check_secret_refs(vctx *c, const snode *n, const char *s, size_t len)
{
    size_t i = 0;
    while (i + 9 <= len) {
        if (s[i] != '$' || s[i + 1] != '$' ||
            (memcmp(s + i + 2, "SCONE::", 7) != 0 && memcmp(s + i + 2, "CELLA::", 7) != 0)) {
            i++;
            continue;
        }
        size_t st = i + 9, e = st;
        while (e < len && is_name_char(s[e]))
            e++;
        if (e == st || e + 1 >= len || s[e] != '$' || s[e + 1] != '$' || !name_ok(s + st, e - st))
            return verr(c, n->line, CELLA_E_PARSE,
                        "malformed secret reference (expected $$SCONE::name$$)");
        if (!items_has(c->secrets, c->nsecrets, s + st, e - st))
            return verr(c, n->line, CELLA_E_POLICY, "references undeclared secret '%.*s'",
                        (int)(e - st), s + st);
        i = e + 2;
    }
    return CELLA_OK_RES;
}

static void items_drop(item *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(v[i].j);
    free(v);
}

/* Allocates room for the entries of a list node (cap checked when it was built). */
static cella_res items_alloc(const snode *list, item **v)
{
    *v = calloc(list->n ? list->n : 1, sizeof **v);
    return *v ? CELLA_OK_RES : nomem();
}

/* Sorts v by text, refuses a duplicate (named at "<list>[i]<sub>"), and
 * returns a new JSON array of the entries in sorted order. The caller keeps
 * its references in v. Path: the list's parent. */
static cella_res items_finish(vctx *c, const char *list, const char *sub, item *v, size_t n,
                              const char *what, json_t **out)
{
    *out = NULL;
    size_t d = items_sort_find_dup(v, n);
    if (d != SIZE_MAX) {
        (void)pb_key(&c->p, list);
        (void)pb_idx(&c->p, v[d].idx);
        if (sub)
            (void)pb_key(&c->p, sub);
        return verr(c, v[d].line, CELLA_E_POLICY, "duplicate %s", what);
    }
    json_t *a = json_array();
    if (!a)
        return nomem();
    for (size_t i = 0; i < n; i++)
        if (json_array_append(a, v[i].j) != 0) {
            json_decref(a);
            return nomem();
        }
    *out = a;
    return CELLA_OK_RES;
}

/* A required (or optional) string field; *vn = NULL when optional and absent.
 * Leaves the key pushed on the path (caller pops with the returned mark). */
static cella_res str_field(vctx *c, const snode *m, const char *key, bool required,
                           const snode **vn, const char **s, size_t *len, size_t *mark)
{
    *mark = pb_key(&c->p, key);
    *vn = map_opt(m, key);
    *s = NULL;
    *len = 0;
    if (!*vn) {
        if (required)
            return verr(c, m->line, CELLA_E_PARSE, "missing field");
        pb_pop(&c->p, *mark);
        return CELLA_OK_RES;
    }
    return get_str(c, *vn, s, len);
}

enum namekind { NAME_PLAIN, NAME_SESSION, NAME_IMAGE };

/* A name field, required; fills the item (text, line) for duplicate checks. */
static cella_res name_field(vctx *c, const snode *m, const char *key, enum namekind kind,
                            item *it, json_t *obj)
{
    const snode *vn;
    const char *s;
    size_t len, mark;
    CELLA_TRY(str_field(c, m, key, true, &vn, &s, &len, &mark));
    bool ok = kind == NAME_SESSION ? session_name_ok(s, len)
              : kind == NAME_IMAGE ? image_name_ok(s, len)
                                   : name_ok(s, len);
    if (!ok)
        return verr(c, vn->line, CELLA_E_PARSE,
                    kind == NAME_SESSION
                        ? "invalid session name (parts of 1-128 of A-Z a-z 0-9 _ . ~ -, "
                          "separated by '/')"
                    : kind == NAME_IMAGE ? "invalid image name (1-256 of A-Z a-z 0-9 _ . ~ - / : @ +)"
                                         : "invalid name (1-128 of A-Z a-z 0-9 _ . ~ -)");
    pb_pop(&c->p, mark);
    if (it) {
        it->s = s;
        it->len = len;
        it->line = vn->line;
    }
    return jset(obj, key, jstr(s, len)) ? CELLA_OK_RES : nomem();
}

/* The common start of every list item (secret, volume, image volume, image,
 * service): a mapping with only the `known` fields, a fresh JSON object *o,
 * and the item's "name" checked (as `kind`) and stored in it. On failure
 * nothing is left allocated. */
static cella_res item_open(vctx *c, const snode *s, const char *const *known, enum namekind kind,
                           item *it, json_t **o)
{
    CELLA_TRY(want_map(c, s));
    CELLA_TRY(check_fields(c, s, known));
    *o = json_object();
    if (!*o)
        return nomem();
    cella_res r = name_field(c, s, "name", kind, it, *o);
    if (!cella_ok(r)) {
        json_decref(*o);
        *o = NULL;
    }
    return r;
}

/* An optional hex field of nbytes bytes; null when absent. */
static cella_res hex_field(vctx *c, const snode *m, const char *key, size_t nbytes, json_t *obj)
{
    const snode *vn;
    const char *s;
    size_t len, mark;
    char buf[2 * 32 + 1];
    CELLA_TRY(str_field(c, m, key, false, &vn, &s, &len, &mark));
    if (!vn)
        return jset(obj, key, json_null()) ? CELLA_OK_RES : nomem();
    if (nbytes * 2 >= sizeof buf)
        CELLA_MISUSE("hex field too long");
    if (len != 2 * nbytes || !hex_lower(s, len, buf)) {
        cella_wipe(buf, sizeof buf);
        return verr(c, vn->line, CELLA_E_PARSE, "not %zu hex digits", 2 * nbytes);
    }
    pb_pop(&c->p, mark);
    bool ok = jset(obj, key, jstr(buf, len));
    cella_wipe(buf, sizeof buf);
    return ok ? CELLA_OK_RES : nomem();
}

static cella_res bool_field(vctx *c, const snode *m, const char *key, bool def, bool *out)
{
    const snode *vn = map_opt(m, key);
    *out = def;
    if (!vn)
        return CELLA_OK_RES;
    size_t mark = pb_key(&c->p, key);
    if (vn->kind != NK_SCALAR || vn->st != ST_BOOL)
        return verr(c, vn->line, CELLA_E_PARSE, "expected true or false");
    pb_pop(&c->p, mark);
    *out = vn->b;
    return CELLA_OK_RES;
}

/* ---- secrets */

/* The value of a secret: printable ASCII, or hex for binary (lowercased). */
static cella_res secret_value(vctx *c, const snode *vn, const char *str, size_t len, bool binary,
                              json_t **value, long long *vsize)
{
    *value = NULL;
    if (binary) {
        if (len == 0 || len % 2 != 0 || len / 2 > SECRET_MAX_SIZE)
            return verr(c, vn->line, CELLA_E_PARSE,
                        "not an even number of hex digits (1..%d bytes)", SECRET_MAX_SIZE);
        char *hex = malloc(len + 1);
        if (!hex)
            return nomem();
        bool ok = hex_lower(str, len, hex);
        *value = ok ? jstr(hex, len) : NULL;
        cella_wipe(hex, len + 1);
        free(hex);
        if (!ok)
            return verr(c, vn->line, CELLA_E_PARSE, "not hex digits");
        *vsize = (long long)(len / 2);
    } else {
        if (len == 0 || len > SECRET_MAX_SIZE)
            return verr(c, vn->line, CELLA_E_PARSE, "not 1..%d characters", SECRET_MAX_SIZE);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)str[i] < 0x20 || (unsigned char)str[i] > 0x7e)
                return verr(c, vn->line, CELLA_E_PARSE, "not printable ASCII");
        *value = jstr(str, len);
        *vsize = (long long)len;
    }
    return *value ? CELLA_OK_RES : nomem();
}

static cella_res parse_secret(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "kind", "size", "value", NULL};
    json_t *o;
    CELLA_TRY(item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    size_t base = c->p.len;

    const snode *vn;
    const char *str;
    size_t len, mark;
    bool binary = false;
    CELLA_GUARD(r, str_field(c, s, "kind", false, &vn, &str, &len, &mark), fail);
    if (vn && text_is(str, len, "binary")) {
        binary = true;
    } else if (vn && !text_is(str, len, "ascii")) {
        r = verr(c, vn->line, CELLA_E_PARSE, "unknown secret kind (ascii or binary)");
        goto fail;
    }
    pb_pop(&c->p, mark);
    if (!jset(o, "kind", json_string(binary ? "binary" : "ascii")))
        goto oom;

    long long size = -1;
    const snode *sn = map_opt(s, "size");
    if (sn) {
        mark = pb_key(&c->p, "size");
        if (sn->kind != NK_SCALAR || sn->st != ST_INT) {
            r = verr(c, sn->line, CELLA_E_PARSE, "expected an integer");
            goto fail;
        }
        if (sn->i < 1 || sn->i > SECRET_MAX_SIZE) {
            r = verr(c, sn->line, CELLA_E_POLICY, "out of range (1..%d bytes)",
                     SECRET_MAX_SIZE);
            goto fail;
        }
        size = sn->i;
        pb_pop(&c->p, mark);
    }

    CELLA_GUARD(r, str_field(c, s, "value", false, &vn, &str, &len, &mark), fail);
    if (vn) {
        json_t *value = NULL;
        long long vsize = 0;
        CELLA_GUARD(r, secret_value(c, vn, str, len, binary, &value, &vsize), fail);
        if (!jset(o, "value", value))
            goto oom;
        if (sn && size != vsize) {
            pb_pop(&c->p, base);
            (void)pb_key(&c->p, "size");
            r = verr(c, sn->line, CELLA_E_POLICY, "does not match the value (%lld bytes)",
                     vsize);
            goto fail;
        }
        size = vsize;
    } else {
        if (!jset(o, "value", json_null()))
            goto oom;
        if (size < 0)
            size = binary ? 32 : 20;
    }
    pb_pop(&c->p, base);
    if (!jset(o, "size", json_integer(size)))
        goto oom;
    it->j = o;
    return CELLA_OK_RES;
oom:
    r = nomem();
fail:
    json_decref(o);
    return r;
}

/* Parses a top-level list of named mappings with `one`; keeps the sorted names
 * in *names (if given) and returns the sorted JSON array. */
typedef cella_res (*entry_fn)(vctx *c, const snode *n, item *it);

static cella_res parse_named_list(vctx *c, const snode *root, const char *key, entry_fn one,
                                  const char *what, item **names, size_t *nnames, json_t **out)
{
    const snode *list = map_opt(root, key);
    item *v = NULL;
    size_t n = 0;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (!list) {
        *out = json_array();
        return *out ? CELLA_OK_RES : nomem();
    }
    size_t mark = pb_key(&c->p, key);
    CELLA_TRY(want_seq(c, list));
    CELLA_TRY(items_alloc(list, &v));
    for (; n < list->n; n++) {
        size_t m = pb_idx(&c->p, n);
        v[n].idx = n;
        CELLA_GUARD(r, one(c, list->items[n], &v[n]), done);
        pb_pop(&c->p, m);
    }
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, items_finish(c, key, "name", v, n, what, out), done);
done:
    if (cella_ok(r) && names) {
        for (size_t i = 0; i < n; i++) {
            json_decref(v[i].j);
            v[i].j = NULL;
        }
        *names = v;
        *nnames = n;
    } else {
        items_drop(v, list->n);
    }
    return r;
}

/* ---- volumes */

static cella_res parse_volume(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "fspf_key", "fspf_tag", NULL};
    json_t *o;
    CELLA_TRY(item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    CELLA_GUARD(r, hex_field(c, s, "fspf_key", 32, o), fail);
    CELLA_GUARD(r, hex_field(c, s, "fspf_tag", 16, o), fail);
    if (json_is_null(json_object_get(o, "fspf_key")) &&
        !json_is_null(json_object_get(o, "fspf_tag"))) {
        (void)pb_key(&c->p, "fspf_tag");
        r = verr(c, map_opt(s, "fspf_tag")->line, CELLA_E_POLICY,
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
    CELLA_TRY(item_open(c, s, known, NAME_PLAIN, by_name, &o));
    cella_res r;
    if (!items_has(c->volumes, c->nvolumes, by_name->s, by_name->len)) {
        (void)pb_key(&c->p, "name");
        r = verr(c, by_name->line, CELLA_E_POLICY, "names no volume declared in volumes");
        goto fail;
    }
    const snode *vn;
    const char *str;
    size_t len, mark;
    CELLA_GUARD(r, str_field(c, s, "path", true, &vn, &str, &len, &mark), fail);
    CELLA_GUARD(r, check_abs_path(c, vn, str, len, false), fail);
    pb_pop(&c->p, mark);
    if (!jset(o, "path", jstr(str, len))) {
        r = nomem();
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
    CELLA_TRY(want_map(c, s));
    CELLA_TRY(check_fields(c, s, known));
    json_t *o = json_object();
    cella_res r;
    if (!o)
        return nomem();
    const snode *pn, *cn;
    const char *path, *content;
    size_t plen, clen, mark;
    CELLA_GUARD(r, str_field(c, s, "path", true, &pn, &path, &plen, &mark), fail);
    CELLA_GUARD(r, check_abs_path(c, pn, path, plen, false), fail);
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, str_field(c, s, "content", true, &cn, &content, &clen, &mark), fail);
    CELLA_GUARD(r, check_secret_refs(c, cn, content, clen), fail);
    pb_pop(&c->p, mark);
    if (!jset(o, "path", jstr(path, plen)) || !jset(o, "content", jstr(content, clen))) {
        r = nomem();
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
    const snode *list = map_opt(img, "volumes");
    item *names = NULL, *v = NULL;
    size_t n = 0;
    json_t *a = NULL;
    cella_res r = CELLA_OK_RES;
    if (!list) {
        a = json_array();
        return jset(o, "volumes", a) ? CELLA_OK_RES : nomem();
    }
    size_t mark = pb_key(&c->p, "volumes");
    CELLA_TRY(want_seq(c, list));
    CELLA_GUARD(r, items_alloc(list, &names), done);
    CELLA_GUARD(r, items_alloc(list, &v), done);
    for (; n < list->n; n++) {
        size_t m = pb_idx(&c->p, n);
        names[n].idx = n;
        CELLA_GUARD(r, parse_mount(c, list->items[n], &names[n], &v[n]), done);
        pb_pop(&c->p, m);
    }
    pb_pop(&c->p, mark);
    size_t d = items_sort_find_dup(names, n);
    if (d != SIZE_MAX) {
        (void)pb_key(&c->p, "volumes");
        (void)pb_idx(&c->p, names[d].idx);
        (void)pb_key(&c->p, "name");
        r = verr(c, names[d].line, CELLA_E_POLICY, "volume mounted twice in this image");
        goto done;
    }
    CELLA_GUARD(r, items_finish(c, "volumes", "path", v, n, "mount path", &a), done);
    if (!jset(o, "volumes", a))
        r = nomem();
done:
    free(names);
    items_drop(v, n);
    return r;
}

static cella_res parse_injections(vctx *c, const snode *img, json_t *o)
{
    const snode *list = map_opt(img, "injection_files");
    item *v = NULL;
    size_t n = 0;
    json_t *a = NULL;
    cella_res r = CELLA_OK_RES;
    if (!list) {
        a = json_array();
        return jset(o, "injection_files", a) ? CELLA_OK_RES : nomem();
    }
    size_t mark = pb_key(&c->p, "injection_files");
    CELLA_TRY(want_seq(c, list));
    CELLA_TRY(items_alloc(list, &v));
    for (; n < list->n; n++) {
        size_t m = pb_idx(&c->p, n);
        v[n].idx = n;
        CELLA_GUARD(r, parse_injection(c, list->items[n], &v[n]), done);
        pb_pop(&c->p, m);
    }
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, items_finish(c, "injection_files", "path", v, n, "injection file path", &a),
                done);
    if (!jset(o, "injection_files", a))
        r = nomem();
done:
    items_drop(v, n);
    return r;
}

static cella_res parse_image(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name", "mrenclaves", "tags", "volumes",
                                        "injection_files", NULL};
    json_t *o;
    CELLA_TRY(item_open(c, s, known, NAME_IMAGE, it, &o));
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

/* A list of measurements under `key` of map m (a service's "mrenclaves", an
 * attestation variant's "mrenclave"), sorted and lowercased into o[key]. */
static cella_res parse_measurements(vctx *c, const snode *m, const char *key, json_t *o)
{
    const snode *list = map_opt(m, key);
    size_t mark = pb_key(&c->p, key);
    if (!list)
        return verr(c, m->line, CELLA_E_PARSE, "missing field");
    CELLA_TRY(want_seq(c, list));
    if (list->n == 0)
        return verr(c, list->line, CELLA_E_POLICY,
                    "empty: a service must pin at least one measurement");
    item *v = NULL;
    size_t n = 0;
    json_t *a = NULL;
    cella_res r = CELLA_OK_RES;
    CELLA_TRY(items_alloc(list, &v));
    for (; n < list->n; n++) {
        const snode *e = list->items[n];
        const char *s;
        size_t len;
        char buf[97];
        size_t mi = pb_idx(&c->p, n);
        CELLA_GUARD(r, get_str(c, e, &s, &len), done);
        /* 64: SGX MRENCLAVE (and sim); 96: TDX MRTD or SNP MEASUREMENT. */
        if ((len != 64 && len != 96) || !hex_lower(s, len, buf)) {
            r = verr(c, e->line, CELLA_E_PARSE,
                     "not 64 hex digits (SGX MRENCLAVE) or 96 (TDX MRTD, SNP measurement)");
            goto done;
        }
        pb_pop(&c->p, mi);
        json_t *j = json_string(buf);
        if (!j) {
            r = nomem();
            goto done;
        }
        v[n] = (item){.s = json_string_value(j), .len = len, .idx = n, .line = e->line, .j = j};
    }
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, items_finish(c, key, NULL, v, n, "mrenclave", &a), done);
    if (!jset(o, key, a))
        r = nomem();
done:
    items_drop(v, n);
    return r;
}

/* An integer field of m from 0 to 65535 (SGX ISVPRODID, ISVSVN); `def` when
 * absent and not required. */
static cella_res u16_field(vctx *c, const snode *m, const char *key, bool required, long long def,
                           json_t *o)
{
    const snode *n = map_opt(m, key);
    size_t mark = pb_key(&c->p, key);
    if (!n) {
        if (required)
            return verr(c, m->line, CELLA_E_PARSE, "missing field");
    } else if (n->kind != NK_SCALAR || n->st != ST_INT) {
        return verr(c, n->line, CELLA_E_PARSE, "expected an integer");
    } else if (n->i < 0 || n->i > 65535) {
        return verr(c, n->line, CELLA_E_POLICY, "out of range (0..65535)");
    }
    pb_pop(&c->p, mark);
    return jset(o, key, json_integer(n ? n->i : def)) ? CELLA_OK_RES : nomem();
}

/* SCONE's signer factor: {mrsigner, isvprodid, isvsvn_min}. An enclave
 * matches if it was signed by that key, as that product, at that security
 * version or a later one. */
static cella_res parse_signer(vctx *c, const snode *sg, json_t **out)
{
    static const char *const known[] = {"mrsigner", "isvprodid", "isvsvn_min", NULL};
    *out = NULL;
    CELLA_TRY(want_map(c, sg));
    CELLA_TRY(check_fields(c, sg, known));
    json_t *o = json_object();
    if (!o)
        return nomem();
    cella_res r;
    size_t base = c->p.len;
    if (!map_opt(sg, "mrsigner")) {
        (void)pb_key(&c->p, "mrsigner");
        r = verr(c, sg->line, CELLA_E_PARSE, "missing field");
        goto fail;
    }
    CELLA_GUARD(r, hex_field(c, sg, "mrsigner", 32, o), fail);
    pb_pop(&c->p, base);
    CELLA_GUARD(r, u16_field(c, sg, "isvprodid", true, 0, o), fail);
    pb_pop(&c->p, base);
    CELLA_GUARD(r, u16_field(c, sg, "isvsvn_min", false, 0, o), fail);
    pb_pop(&c->p, base);
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
    size_t mark = pb_key(&c->p, "attestation");
    CELLA_TRY(want_seq(c, list));
    if (list->n == 0)
        return verr(c, list->line, CELLA_E_POLICY,
                    "empty: a service must allow at least one attestation variant");
    if (list->n > 16)
        return verr(c, list->line, CELLA_E_POLICY, "too many variants (at most 16)");
    static const char *const known[] = {"mrenclave", "signer", NULL};
    json_t *a = json_array();
    if (!a)
        return nomem();
    cella_res r = CELLA_OK_RES;
    for (size_t i = 0; i < list->n; i++) {
        const snode *v = list->items[i];
        size_t vi = pb_idx(&c->p, i), vbase = c->p.len;
        CELLA_GUARD(r, want_map(c, v), fail);
        CELLA_GUARD(r, check_fields(c, v, known), fail);
        const snode *mr = map_opt(v, "mrenclave"), *sg = map_opt(v, "signer");
        if (!mr && !sg) {
            r = verr(c, v->line, CELLA_E_POLICY, "a variant needs mrenclave, signer or both");
            goto fail;
        }
        json_t *vo = json_object(), *so = NULL;
        if (!vo || json_array_append_new(a, vo) != 0) {
            r = nomem();
            goto fail;
        }
        if (mr) {
            CELLA_GUARD(r, parse_measurements(c, v, "mrenclave", vo), fail);
            pb_pop(&c->p, vbase);
        } else if (!jset(vo, "mrenclave", json_null())) {
            r = nomem();
            goto fail;
        }
        if (sg) {
            (void)pb_key(&c->p, "signer");
            CELLA_GUARD(r, parse_signer(c, sg, &so), fail);
            pb_pop(&c->p, vbase);
        }
        if (!jset(vo, "signer", so ? so : json_null())) {
            r = nomem();
            goto fail;
        }
        pb_pop(&c->p, vi);
    }
    pb_pop(&c->p, mark);
    return jset(o, "attestation", a) ? CELLA_OK_RES : nomem();
fail:
    json_decref(a);
    return r;
}

/* A service pins its enclaves by `mrenclaves` (any of them), or by SCONE's
 * `attestation` variants; not both. */
static cella_res parse_mrenclaves(vctx *c, const snode *svc, json_t *o)
{
    const snode *att = map_opt(svc, "attestation");
    if (!att)
        return parse_measurements(c, svc, "mrenclaves", o);
    if (map_opt(svc, "mrenclaves")) {
        (void)pb_key(&c->p, "attestation");
        return verr(c, att->line, CELLA_E_POLICY,
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
    const snode *cmd = map_opt(svc, "command");
    (void)pb_key(&c->p, "command");
    if (!cmd)
        return verr(c, svc->line, CELLA_E_PARSE, "missing field");
    json_t *a = json_array();
    if (!a)
        return nomem();
    cella_res r = CELLA_OK_RES;
    if (cmd->kind == NK_SEQ) {
        for (size_t i = 0; i < cmd->n; i++) {
            const char *s;
            size_t len;
            size_t m = pb_idx(&c->p, i);
            CELLA_GUARD(r, get_str(c, cmd->items[i], &s, &len), fail);
            CELLA_GUARD(r, check_secret_refs(c, cmd->items[i], s, len), fail);
            pb_pop(&c->p, m);
            if (json_array_append_new(a, jstr(s, len)) != 0) {
                r = nomem();
                goto fail;
            }
        }
    } else {
        const char *s;
        size_t len;
        CELLA_GUARD(r, get_str(c, cmd, &s, &len), fail);
        CELLA_GUARD(r, check_secret_refs(c, cmd, s, len), fail);
        for (size_t i = 0; i < len;) {
            while (i < len && is_space(s[i]))
                i++;
            size_t st = i;
            while (i < len && !is_space(s[i]))
                i++;
            if (i > st && json_array_append_new(a, jstr(s + st, i - st)) != 0) {
                r = nomem();
                goto fail;
            }
        }
    }
    if (json_array_size(a) == 0) {
        r = verr(c, cmd->line, CELLA_E_POLICY, "empty command");
        goto fail;
    }
    if (json_array_size(a) > SESSION_MAX_ITEMS) {
        r = verr(c, cmd->line, CELLA_E_TOOBIG, "more than 4096 arguments");
        goto fail;
    }
    return jset(o, "command", a) ? CELLA_OK_RES : nomem();
fail:
    json_decref(a);
    return r;
}

static cella_res parse_environment(vctx *c, const snode *svc, json_t *o)
{
    const snode *env = map_opt(svc, "environment");
    json_t *e = json_object();
    if (!e)
        return nomem();
    cella_res r = CELLA_OK_RES;
    (void)pb_key(&c->p, "environment");
    if (env) {
        CELLA_GUARD(r, want_map(c, env), fail);
        for (size_t i = 0; i + 1 < env->n; i += 2) {
            const snode *k = env->items[i], *v = env->items[i + 1];
            if (!env_name_ok(k->text, k->len)) {
                r = verr(c, k->line, CELLA_E_PARSE,
                         "invalid variable name (A-Z a-z 0-9 _, not starting with a digit)");
                goto fail;
            }
            size_t m = pb_keyn(&c->p, k->text, k->len);
            const char *s = NULL;
            size_t len = 0;
            CELLA_GUARD(r, get_scalar_text(c, v, &s, &len), fail);
            CELLA_GUARD(r, check_secret_refs(c, v, s, len), fail);
            pb_pop(&c->p, m);
            if (!jset(e, k->text, jstr(s, len))) {
                r = nomem();
                goto fail;
            }
        }
    }
    return jset(o, "environment", e) ? CELLA_OK_RES : nomem();
fail:
    json_decref(e);
    return r;
}

static cella_res parse_service(vctx *c, const snode *s, item *it)
{
    static const char *const known[] = {"name",    "image_name", "mrenclaves",  "attestation",
                                        "tags",    "command",    "pwd",         "environment",
                                        NULL};
    json_t *o;
    CELLA_TRY(item_open(c, s, known, NAME_PLAIN, it, &o));
    cella_res r;
    size_t base = c->p.len;

    const snode *vn;
    const char *str;
    size_t len, mark;
    CELLA_GUARD(r, str_field(c, s, "image_name", false, &vn, &str, &len, &mark), fail);
    if (vn) {
        if (!image_name_ok(str, len)) {
            r = verr(c, vn->line, CELLA_E_PARSE,
                     "invalid image name (1-256 of A-Z a-z 0-9 _ . ~ - / : @ +)");
            goto fail;
        }
        if (!items_has(c->images, c->nimages, str, len)) {
            r = verr(c, vn->line, CELLA_E_POLICY, "names no image declared in images");
            goto fail;
        }
    }
    pb_pop(&c->p, mark);
    if (!jset(o, "image_name", vn ? jstr(str, len) : json_null())) {
        r = nomem();
        goto fail;
    }
    CELLA_GUARD(r, parse_mrenclaves(c, s, o), fail);
    pb_pop(&c->p, base);
    CELLA_GUARD(r, parse_command(c, s, o), fail);
    pb_pop(&c->p, base);
    CELLA_GUARD(r, str_field(c, s, "pwd", true, &vn, &str, &len, &mark), fail);
    CELLA_GUARD(r, check_abs_path(c, vn, str, len, true), fail);
    pb_pop(&c->p, mark);
    if (!jset(o, "pwd", jstr(str, len))) {
        r = nomem();
        goto fail;
    }
    CELLA_GUARD(r, parse_environment(c, s, o), fail);
    pb_pop(&c->p, base);
    it->j = o;
    return CELLA_OK_RES;
fail:
    json_decref(o);
    return r;
}

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
    CELLA_TRY(want_seq(c, list));
    if (list->n == 0)
        return verr(c, list->line, CELLA_E_POLICY, "empty list");
    *mask = 0;
    for (size_t i = 0; i < list->n; i++) {
        const snode *e = list->items[i];
        const char *s;
        size_t len;
        size_t m = pb_idx(&c->p, i);
        CELLA_TRY(get_str(c, e, &s, &len));
        size_t k = 0;
        while (k < count && !text_is(s, len, names[k]))
            k++;
        if (k == count) {
            if (names == g_tcb_names && text_is(s, len, "Revoked"))
                return verr(c, e->line, CELLA_E_POLICY, "a revoked TCB cannot be accepted");
            return verr(c, e->line, CELLA_E_PARSE, "unknown %s", what);
        }
        if (*mask & (1u << k))
            return verr(c, e->line, CELLA_E_POLICY, "duplicate %s", what);
        *mask |= 1u << k;
        pb_pop(&c->p, m);
    }
    return CELLA_OK_RES;
}

static bool advisory_ok(const char *s, size_t len)
{
    if (text_is(s, len, "*"))
        return true;
    if (len < 1 || len > ADVISORY_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(s[i]) || s[i] == '~')
            return false;
    return true;
}

static cella_res parse_advisories(vctx *c, const snode *parent, const char *key, bool debug,
                                  json_t **out)
{
    const snode *list = map_opt(parent, key);
    *out = NULL;
    if (!list) {
        *out = json_array();
        return *out ? CELLA_OK_RES : nomem();
    }
    size_t mark = pb_key(&c->p, key);
    CELLA_TRY(want_seq(c, list));
    item *v = NULL;
    size_t n = 0;
    cella_res r = CELLA_OK_RES;
    CELLA_TRY(items_alloc(list, &v));
    for (; n < list->n; n++) {
        const snode *e = list->items[n];
        const char *s;
        size_t len;
        size_t m = pb_idx(&c->p, n);
        CELLA_GUARD(r, get_str(c, e, &s, &len), done);
        if (!advisory_ok(s, len)) {
            r = verr(c, e->line, CELLA_E_PARSE,
                     "invalid advisory id (1-64 of A-Z a-z 0-9 _ . -, or *)");
            goto done;
        }
        if (text_is(s, len, "*") && !debug) {
            r = verr(c, e->line, CELLA_E_POLICY, "'*' is allowed only when debug is allowed");
            goto done;
        }
        pb_pop(&c->p, m);
        v[n] = (item){.s = s, .len = len, .idx = n, .line = e->line, .j = jstr(s, len)};
        if (!v[n].j) {
            r = nomem();
            goto done;
        }
    }
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, items_finish(c, key, NULL, v, n, "advisory", out), done);
done:
    items_drop(v, n);
    return r;
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
    size_t base = pb_key(&c->p, "attestation");
    CELLA_TRY(want_map(c, att));
    CELLA_TRY(check_fields(c, att, known));
    const snode *tol = map_opt(att, "tolerate");
    *tcb = TCB_UPTODATE;
    if (tol) {
        size_t m = pb_key(&c->p, "tolerate");
        CELLA_TRY(want_seq(c, tol));
        unsigned seen = 0;
        for (size_t i = 0; i < tol->n; i++) {
            const snode *e = tol->items[i];
            const char *s;
            size_t len;
            size_t mi = pb_idx(&c->p, i);
            CELLA_TRY(get_str(c, e, &s, &len));
            size_t k = 0;
            while (k < 4 && !text_is(s, len, tolerate_names[k]))
                k++;
            if (k == 4) {
                for (const char *const *u = unsupported; *u; u++)
                    if (text_is(s, len, *u))
                        return verr(c, e->line, CELLA_E_POLICY,
                                    "tolerating this is not supported by cella");
                return verr(c, e->line, CELLA_E_PARSE, "unknown tolerate value");
            }
            if (seen & (1u << k))
                return verr(c, e->line, CELLA_E_POLICY, "duplicate tolerate value");
            seen |= 1u << k;
            pb_pop(&c->p, mi);
        }
        pb_pop(&c->p, m);
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
    pb_pop(&c->p, base);
    return CELLA_OK_RES;
}

static cella_res parse_security(vctx *c, const snode *root, json_t **out)
{
    static const char *const known[] = {"allow_debug", "allow_sim", "tee", "accepted_tcb",
                                        "tolerated_advisories", "attestation", NULL};
    const snode *sec = map_opt(root, "security");
    (void)pb_key(&c->p, "security");
    bool debug = false, sim = false;
    unsigned tee = 0, tcb = TCB_UPTODATE;
    json_t *adv = NULL, *o = NULL;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (sec) {
        CELLA_TRY(want_map(c, sec));
        CELLA_TRY(check_fields(c, sec, known));
    }
    const snode *att = map_opt(sec, "attestation");
    if (att) {
        static const char *const excl[] = {"allow_debug", "accepted_tcb", "tolerated_advisories",
                                           NULL};
        for (const char *const *f = excl; *f; f++) {
            const snode *x = map_opt(sec, *f);
            if (x) {
                (void)pb_key(&c->p, *f);
                return verr(c, x->line, CELLA_E_POLICY,
                            "cannot be combined with security.attestation");
            }
        }
        CELLA_TRY(parse_attestation(c, att, &debug, &tcb, &adv));
    } else {
        CELLA_TRY(bool_field(c, sec, "allow_debug", false, &debug));
        const snode *list = map_opt(sec, "accepted_tcb");
        if (list) {
            size_t m = pb_key(&c->p, "accepted_tcb");
            CELLA_TRY(parse_mask_list(c, list, g_tcb_names, 6, "TCB status", &tcb));
            pb_pop(&c->p, m);
        }
        CELLA_TRY(parse_advisories(c, sec, "tolerated_advisories", debug, &adv));
    }
    CELLA_GUARD(r, bool_field(c, sec, "allow_sim", false, &sim), done);
    const snode *tl = map_opt(sec, "tee");
    if (tl) {
        size_t m = pb_key(&c->p, "tee");
        CELLA_GUARD(r, parse_mask_list(c, tl, g_tee_names, 4, "TEE kind", &tee), done);
        if ((tee & TEE_SIM) && !sim) {
            r = verr(c, tl->line, CELLA_E_POLICY, "lists sim but allow_sim is not true");
            goto done;
        }
        if (!(tee & TEE_SIM) && sim) {
            r = verr(c, tl->line, CELLA_E_POLICY, "allow_sim is true but sim is not listed");
            goto done;
        }
        pb_pop(&c->p, m);
    } else {
        tee = TEE_SGX | TEE_TDX | TEE_SNP | (sim ? TEE_SIM : 0);
    }
    o = json_object();
    if (!o || !jset(o, "allow_debug", json_boolean(debug)) ||
        !jset(o, "allow_sim", json_boolean(sim)) ||
        !jset(o, "tee", mask_array(tee, g_tee_names, 4)) ||
        !jset(o, "accepted_tcb", mask_array(tcb, g_tcb_names, 6)) ||
        !jset(o, "tolerated_advisories", json_incref(adv))) {
        r = nomem();
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

static cella_res parse_access_list(vctx *c, const snode *ap, const char *key, json_t **out)
{
    const snode *list = map_opt(ap, key);
    *out = NULL;
    if (!list) {
        json_t *a = json_array();
        if (!a || json_array_append_new(a, json_string("CREATOR")) != 0) {
            json_decref(a);
            return nomem();
        }
        *out = a;
        return CELLA_OK_RES;
    }
    size_t mark = pb_key(&c->p, key);
    CELLA_TRY(want_seq(c, list));
    if (list->n == 0)
        return verr(c, list->line, CELLA_E_POLICY, "empty list (write NONE for nobody)");
    item *v = NULL;
    size_t n = 0;
    cella_res r = CELLA_OK_RES;
    CELLA_TRY(items_alloc(list, &v));
    for (; n < list->n; n++) {
        const snode *e = list->items[n];
        const char *s;
        size_t len;
        char buf[43];
        size_t m = pb_idx(&c->p, n);
        CELLA_GUARD(r, get_str(c, e, &s, &len), done);
        if (text_is(s, len, "CREATOR") || text_is(s, len, "ANY") || text_is(s, len, "NONE")) {
            if (list->n > 1 && !text_is(s, len, "CREATOR")) {
                r = verr(c, e->line, CELLA_E_POLICY, "ANY and NONE must be the only entry");
                goto done;
            }
            memcpy(buf, s, len);
            buf[len] = '\0';
        } else if (len == 42 && s[0] == '0' && s[1] == 'x' && hex_lower(s + 2, 40, buf + 2)) {
            buf[0] = '0';
            buf[1] = 'x';
        } else {
            r = verr(c, e->line, CELLA_E_PARSE,
                     "not CREATOR, ANY, NONE or a 0x address of 40 hex digits");
            goto done;
        }
        pb_pop(&c->p, m);
        json_t *j = json_string(buf);
        if (!j) {
            r = nomem();
            goto done;
        }
        v[n] = (item){.s = json_string_value(j), .len = strlen(buf), .idx = n, .line = e->line,
                      .j = j};
    }
    pb_pop(&c->p, mark);
    CELLA_GUARD(r, items_finish(c, key, NULL, v, n, "entry", out), done);
done:
    items_drop(v, n);
    return r;
}

static cella_res parse_access_policy(vctx *c, const snode *root, json_t **out)
{
    static const char *const known[] = {"read", "update", NULL};
    const snode *ap = map_opt(root, "access_policy");
    (void)pb_key(&c->p, "access_policy");
    json_t *rd = NULL, *up = NULL, *o = NULL;
    cella_res r = CELLA_OK_RES;
    *out = NULL;
    if (ap) {
        CELLA_TRY(want_map(c, ap));
        CELLA_TRY(check_fields(c, ap, known));
    }
    CELLA_GUARD(r, parse_access_list(c, ap, "read", &rd), done);
    CELLA_GUARD(r, parse_access_list(c, ap, "update", &up), done);
    o = json_object();
    if (!o) {
        r = nomem();
        goto done;
    }
    int bad = json_object_set_new(o, "read", rd);
    bad |= json_object_set_new(o, "update", up);
    rd = up = NULL; /* both consumed */
    if (bad) {
        json_decref(o);
        r = nomem();
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
    CELLA_TRY(str_field(c, root, "version", false, &vn, &s, &len, &mark));
    if (vn) {
        bool ok = text_is(s, len, "0.3");
        if (!ok && len >= 5 && memcmp(s, "0.3.", 4) == 0) {
            const char *p = s + 4;
            size_t pl = len - 4;
            ok = (pl == 1 && p[0] >= '0' && p[0] <= '9') || text_is(p, pl, "10");
        }
        if (!ok)
            return verr(c, vn->line, CELLA_E_PARSE,
                        "unsupported session language version (0.3 to 0.3.10)");
    }
    pb_pop(&c->p, mark);
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
        return verr(c, root->line, CELLA_E_PARSE, "a session must be a mapping");
    CELLA_TRY(check_fields(c, root, known));
    CELLA_TRY(parse_version(c, root));
    if (!(head = json_object()))
        return nomem();
    CELLA_GUARD(r, name_field(c, root, "name", NAME_SESSION, NULL, head), done);
    CELLA_GUARD(r, hex_field(c, root, "predecessor", 32, head), done);
    /* secrets first: the others refer to them; volumes and images before
     * the images and services that name them */
    CELLA_GUARD(r, parse_named_list(c, root, "secrets", parse_secret, "secret name",
                                    &c->secrets, &c->nsecrets, &secrets),
                done);
    CELLA_GUARD(r, parse_named_list(c, root, "volumes", parse_volume, "volume name",
                                    &c->volumes, &c->nvolumes, &volumes),
                done);
    CELLA_GUARD(r, parse_named_list(c, root, "images", parse_image, "image name", &c->images,
                                    &c->nimages, &images),
                done);
    CELLA_GUARD(r, parse_named_list(c, root, "services", parse_service, "service name", NULL,
                                    NULL, &services),
                done);
    CELLA_GUARD(r, parse_security(c, root, &security), done);
    pb_pop(&c->p, 0);
    CELLA_GUARD(r, parse_access_policy(c, root, &access), done);
    pb_pop(&c->p, 0);

    /* the header's key order, for readers of stored sessions */
    if (!(o = json_object()) || !jset(o, "version", json_string(SESSION_VERSION)) ||
        !jset(o, "name", json_incref(json_object_get(head, "name"))) ||
        !jset(o, "predecessor", json_incref(json_object_get(head, "predecessor"))) ||
        !jset(o, "services", json_incref(services)) ||
        !jset(o, "volumes", json_incref(volumes)) || !jset(o, "images", json_incref(images)) ||
        !jset(o, "secrets", json_incref(secrets)) ||
        !jset(o, "security", json_incref(security)) ||
        !jset(o, "access_policy", json_incref(access))) {
        r = nomem();
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
    CELLA_TRY(yaml_to_nodes(yaml, len, &root));
    vctx c = {.yaml = true};
    cella_res r = validate(&c, root, out);
    vctx_free(&c);
    node_free(root);
    return r;
}

CELLA_RESULT cella_session_normalize(const json_t *in, json_t **out)
{
    if (!in || !out)
        CELLA_MISUSE("cella_session_normalize: NULL argument");
    *out = NULL;
    snode *root = NULL;
    pathbuf p = {.len = 0};
    CELLA_TRY(json_to_node(in, 0, &p, &root));
    vctx c = {.yaml = false};
    cella_res r = validate(&c, root, out);
    vctx_free(&c);
    node_free(root);
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

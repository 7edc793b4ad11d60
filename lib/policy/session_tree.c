/* cas sessions, first step: YAML (libyaml events) or JSON (jansson) into one
 * small tree of nodes (`snode`, session_int.h), each with its source line, so
 * that one validator serves both inputs. The tree is built without recursion
 * (an explicit stack no deeper than SESSION_MAX_DEPTH). Also here: the field
 * paths errors name ("services[0].mrenclaves[1]") and sorted name lists. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/secure.h"
#include "policy/session_int.h"

/* ------------------------------------------------------------------ nodes */

void sess_node_free(snode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        sess_node_free(n->items[i]);
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

bool sess_text_is(const char *s, size_t len, const char *lit)
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
    if (l == 0 || sess_text_is(t, l, "~") || sess_text_is(t, l, "null") ||
        sess_text_is(t, l, "Null") || sess_text_is(t, l, "NULL")) {
        n->st = ST_NULL;
    } else if (sess_text_is(t, l, "true") || sess_text_is(t, l, "True") ||
               sess_text_is(t, l, "TRUE")) {
        n->st = ST_BOOL;
        n->b = true;
    } else if (sess_text_is(t, l, "false") || sess_text_is(t, l, "False") ||
               sess_text_is(t, l, "FALSE")) {
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
 * unreadable are shown as "?". Returns a mark for sess_pb_pop. */
size_t sess_pb_keyn(pathbuf *p, const char *key, size_t n)
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

size_t sess_pb_key(pathbuf *p, const char *key) { return sess_pb_keyn(p, key, strlen(key)); }

size_t sess_pb_idx(pathbuf *p, size_t i)
{
    size_t mark = p->len;
    char b[32];
    int k = snprintf(b, sizeof b, "[%zu]", i);
    pb_append(p, b, (size_t)k);
    return mark;
}

void sess_pb_pop(pathbuf *p, size_t mark)
{
    if (mark <= p->len) {
        p->len = mark;
        p->s[mark] = '\0';
    }
}

cella_res sess_fail_at(const pathbuf *p, unsigned long line, cella_code code, const char *what)
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
            (void)sess_pb_idx(p, last ? c->n : c->n - 1);
        } else if (last) {
            if (c->n % 2 == 1)
                (void)sess_pb_keyn(p, c->items[c->n - 1]->text, c->items[c->n - 1]->len);
        } else if (c->n >= 2) {
            (void)sess_pb_keyn(p, c->items[c->n - 2]->text, c->items[c->n - 2]->len);
        }
    }
}

static cella_res ybuild_fail(const ybuild *b, bool pending, unsigned long line, cella_code code,
                             const char *what)
{
    pathbuf p;
    ybuild_path(b, pending, &p);
    return sess_fail_at(&p, line, code, what);
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
        sess_node_free(n);
    return r;
}

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
size_t sess_items_sort_find_dup(item *v, size_t n)
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

bool sess_items_has(const item *v, size_t n, const char *s, size_t len)
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
    size_t d = sess_items_sort_find_dup(v, n);
    cella_res r = CELLA_OK_RES;
    if (d != SIZE_MAX) {
        pathbuf p;
        ybuild_path(b, false, &p);
        (void)sess_pb_keyn(&p, v[d].s, v[d].len);
        r = sess_fail_at(&p, v[d].line, CELLA_E_PARSE, "duplicate key");
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
            sess_node_free(n);
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

cella_res sess_yaml_to_nodes(const char *yaml, size_t len, snode **out)
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
        sess_node_free(b.root);
        return r;
    }
    *out = b.root;
    return CELLA_OK_RES;
}

/* ---------------------------------------------------------- JSON -> nodes */

cella_res sess_json_to_node(const json_t *j, int depth, pathbuf *p, snode **out)
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
            return sess_fail_at(p, 0, CELLA_E_PARSE, "nested deeper than 32 levels");
        size_t cnt = obj ? json_object_size(j) : json_array_size(j);
        if (cnt > SESSION_MAX_ITEMS)
            return sess_fail_at(p, 0, CELLA_E_TOOBIG, "more than 4096 entries");
        n = node_new(obj ? NK_MAP : NK_SEQ, 0);
        if (!n || !(n->items = calloc(cnt ? (obj ? 2 * cnt : cnt) : 1, sizeof *n->items)))
            goto sess_nomem;
        n->cap = cnt ? (obj ? 2 * cnt : cnt) : 1;
        if (obj) {
            json_t *jo = (json_t *)(uintptr_t)j; /* iteration does not modify */
            for (void *it = json_object_iter(jo); it; it = json_object_iter_next(jo, it)) {
                const char *key = json_object_iter_key(it);
                size_t klen = json_object_iter_key_len(it);
                size_t mark = sess_pb_keyn(p, key, klen);
                if (memchr(key, '\0', klen)) {
                    sess_node_free(n);
                    return sess_fail_at(p, 0, CELLA_E_PARSE, "key contains a NUL byte");
                }
                snode *kn = node_new(NK_SCALAR, 0), *vn = NULL;
                if (!kn || !node_set_text(kn, key, klen)) {
                    sess_node_free(kn);
                    goto sess_nomem;
                }
                kn->st = ST_STR;
                n->items[n->n++] = kn;
                cella_res r = sess_json_to_node(json_object_iter_value(it), depth + 1, p, &vn);
                if (!cella_ok(r)) {
                    sess_node_free(n);
                    return r;
                }
                n->items[n->n++] = vn;
                sess_pb_pop(p, mark);
            }
        } else {
            for (size_t i = 0; i < cnt; i++) {
                size_t mark = sess_pb_idx(p, i);
                snode *vn = NULL;
                cella_res r = sess_json_to_node(json_array_get(j, i), depth + 1, p, &vn);
                if (!cella_ok(r)) {
                    sess_node_free(n);
                    return r;
                }
                n->items[n->n++] = vn;
                sess_pb_pop(p, mark);
            }
        }
        *out = n;
        return CELLA_OK_RES;
    }
    case JSON_STRING:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, json_string_value(j), json_string_length(j)))
            goto sess_nomem;
        n->st = ST_STR;
        break;
    case JSON_INTEGER:
        k = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, num, (size_t)k))
            goto sess_nomem;
        n->st = ST_INT;
        n->i = (long long)json_integer_value(j);
        break;
    case JSON_REAL:
        k = snprintf(num, sizeof num, "%.17g", json_real_value(j));
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, num, (size_t)k))
            goto sess_nomem;
        n->st = ST_REAL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, json_is_true(j) ? "true" : "false",
                                 json_is_true(j) ? 4 : 5))
            goto sess_nomem;
        n->st = ST_BOOL;
        n->b = json_is_true(j);
        break;
    case JSON_NULL:
    default:
        n = node_new(NK_SCALAR, 0);
        if (!n || !node_set_text(n, "", 0))
            goto sess_nomem;
        n->st = ST_NULL;
        break;
    }
    *out = n;
    return CELLA_OK_RES;
sess_nomem:
    sess_node_free(n);
    return cella_fail(CELLA_E_NOMEM, "session", "out of memory reading the session");
}

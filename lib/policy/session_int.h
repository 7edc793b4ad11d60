/* Internal to lib/policy/session*.c: the node tree both inputs become, the
 * validator's context, and the helpers the validator's parts share.
 *   session_tree.c   YAML and JSON -> nodes, field paths, sorted name lists
 *   session_check.c  the validator's primitives (typed fields, names, paths)
 *   session_parts.c  secrets, volumes, images, services
 *   session.c        security, access policy, the whole session, interface
 * Not a public header: nothing outside lib/policy includes it. */
#ifndef CELLA_POLICY_SESSION_INT_H
#define CELLA_POLICY_SESSION_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

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

typedef struct {
    char s[900];
    size_t len;
} pathbuf;

typedef struct {
    const char *s;
    size_t len;
    size_t idx;
    unsigned long line;
    json_t *j;
} item;

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

enum namekind { NAME_PLAIN, NAME_SESSION, NAME_IMAGE };

typedef cella_res (*entry_fn)(vctx *c, const snode *n, item *it);

/* Checks one string entry (s, len) of a list and writes it normalised into
 * out (NUL-terminated, shorter than SESS_ENTRY_MAX), or refuses it at e's
 * line. ctx: the caller's (sess_string_list). */
#define SESS_ENTRY_MAX 128
typedef cella_res (*sess_entry_fn)(vctx *c, const snode *e, const char *s, size_t len,
                                   const void *ctx, char out[SESS_ENTRY_MAX]);

void sess_node_free(snode *n);
bool sess_text_is(const char *s, size_t len, const char *lit);
size_t sess_pb_keyn(pathbuf *p, const char *key, size_t n);
size_t sess_pb_key(pathbuf *p, const char *key);
size_t sess_pb_idx(pathbuf *p, size_t i);
void sess_pb_pop(pathbuf *p, size_t mark);
cella_res sess_fail_at(const pathbuf *p, unsigned long line, cella_code code, const char *what);
size_t sess_items_sort_find_dup(item *v, size_t n);
bool sess_items_has(const item *v, size_t n, const char *s, size_t len);
cella_res sess_yaml_to_nodes(const char *yaml, size_t len, snode **out);
cella_res sess_json_to_node(const json_t *j, int depth, pathbuf *p, snode **out);
cella_res sess_verr(vctx *c, unsigned long line, cella_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
cella_res sess_nomem(void);
const snode *sess_map_opt(const snode *m, const char *key);
cella_res sess_want_map(vctx *c, const snode *n);
cella_res sess_want_seq(vctx *c, const snode *n);
cella_res sess_check_fields(vctx *c, const snode *m, const char *const *known);
cella_res sess_get_str(vctx *c, const snode *n, const char **s, size_t *len);
cella_res sess_get_scalar_text(vctx *c, const snode *n, const char **s, size_t *len);
json_t *sess_jstr(const char *s, size_t len);
bool sess_jset(json_t *obj, const char *key, json_t *v);
bool sess_is_name_char(char ch);
bool sess_image_name_ok(const char *s, size_t len);
bool sess_env_name_ok(const char *s, size_t len);
bool sess_hex_lower(const char *s, size_t len, char *out);
cella_res sess_check_abs_path(vctx *c, const snode *n, const char *s, size_t len, bool allow_root);
cella_res sess_check_secret_refs(vctx *c, const snode *n, const char *s, size_t len);
void sess_items_drop(item *v, size_t n);
cella_res sess_items_alloc(const snode *list, item **v);
cella_res sess_items_finish(vctx *c, const char *list, const char *sub, item *v, size_t n,
                            const char *what, json_t **out);
cella_res sess_string_list(vctx *c, const snode *list, const char *key, size_t mark,
                           sess_entry_fn norm, const void *ctx, const char *what, json_t **out);
cella_res sess_str_field(vctx *c, const snode *m, const char *key, bool required, const snode **vn,
                         const char **s, size_t *len, size_t *mark);
cella_res sess_name_field(vctx *c, const snode *m, const char *key, enum namekind kind, item *it,
                          json_t *obj);
cella_res sess_item_open(vctx *c, const snode *s, const char *const *known, enum namekind kind,
                         item *it, json_t **o);
cella_res sess_hex_field(vctx *c, const snode *m, const char *key, size_t nbytes, json_t *obj);
cella_res sess_bool_field(vctx *c, const snode *m, const char *key, bool def, bool *out);
cella_res sess_parse_secret(vctx *c, const snode *s, item *it);
cella_res sess_parse_named_list(vctx *c, const snode *root, const char *key, entry_fn one,
                                const char *what, item **names, size_t *nnames, json_t **out);
cella_res sess_parse_volume(vctx *c, const snode *s, item *it);
cella_res sess_parse_image(vctx *c, const snode *s, item *it);
cella_res sess_parse_service(vctx *c, const snode *s, item *it);

#endif

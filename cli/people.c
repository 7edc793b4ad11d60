#include "people.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "table.h"
#include "identity/eip712.h"

bool cli_for_people(void)
{
    if (cli_json())
        return false;
    const char *o = getenv("CELLA_OUTPUT");
    if (o && !strcmp(o, "people"))
        return true;
    if (o && !strcmp(o, "json"))
        return false;
    return isatty(STDOUT_FILENO);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

static bool is_time_key(const char *k)
{
    return ends_with(k, "Deadline") || ends_with(k, "Time") || ends_with(k, "Timestamp") ||
           !strcmp(k, "time") || !strcmp(k, "created") || !strcmp(k, "expires") ||
           !strcmp(k, "leaseExpires");
}

static bool is_amount_key(const char *k)
{
    return ends_with(k, "price") || !strcmp(k, "balance") || !strcmp(k, "locked") ||
           !strcmp(k, "workerStake") || !strcmp(k, "amount") || !strcmp(k, "withdrawn");
}

/* One value as text for people: times, amounts and tags made readable;
 * objects and arrays of objects as compact JSON. */
static void value_text(const char *key, const json_t *v, int64_t now, char *out, size_t cap)
{
    if (json_is_null(v) || !v) {
        snprintf(out, cap, "-");
    } else if (json_is_integer(v) && is_time_key(key) && json_integer_value(v) > 0) {
        cli_time_text(json_integer_value(v), now, out, cap);
    } else if ((json_is_integer(v) || json_is_string(v)) && is_amount_key(key)) {
        if (json_is_integer(v))
            snprintf(out, cap, "%lld nRLC", (long long)json_integer_value(v));
        else
            snprintf(out, cap, "%s nRLC", json_string_value(v));
    } else if (json_is_string(v) && !strcmp(key, "tag")) {
        uint8_t t[32];
        char names[128] = "";
        if (cella_ok(cella_tag_parse(json_string_value(v), t, "tag")))
            cella_tag_names(t, names, sizeof names);
        snprintf(out, cap, "%s", names[0] ? names : "none");
    } else if (json_is_string(v)) {
        snprintf(out, cap, "%s", *json_string_value(v) ? json_string_value(v) : "-");
    } else if (json_is_true(v) || json_is_false(v)) {
        snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
    } else if (json_is_integer(v)) {
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        snprintf(out, cap, "%s", t ? t : "?");
        free(t);
    }
}

/* "key  value" lines, keys aligned; one level of nested objects as
 * "key.sub". */
static void print_object(FILE *f, const json_t *o, int64_t now)
{
    size_t width = 0;
    const char *k, *k2;
    json_t *v, *v2;
    json_object_foreach((json_t *)o, k, v) {
        size_t w = strlen(k);
        if (json_is_object(v)) {
            json_object_foreach(v, k2, v2) {
                size_t w2 = strlen(k) + 1 + strlen(k2);
                w = w2 > w ? w2 : w;
            }
        }
        width = w > width ? w : width;
    }
    char text[1024], name[256];
    json_object_foreach((json_t *)o, k, v) {
        if (json_is_object(v) && json_object_size(v)) {
            json_object_foreach(v, k2, v2) {
                snprintf(name, sizeof name, "%s.%s", k, k2);
                value_text(k2, v2, now, text, sizeof text);
                fprintf(f, "%-*s  %s\n", (int)width, name, text);
            }
            continue;
        }
        value_text(k, v, now, text, sizeof text);
        fprintf(f, "%-*s  %s\n", (int)width, k, text);
    }
}

/* The columns of a list's rows: for orders and tasks, the ones people read;
 * else the first row's scalar fields (at most CLI_TABLE_MAX_COLS). */
static int columns(const char *list, const json_t *first, const char **cols)
{
    static const char *const orders[] = {"orderHash", "kind", "price", "remaining", "tag",
                                         "publicationTimestamp"};
    static const char *const tasks[] = {"taskid", "status", "contributionDeadline",
                                        "finalDeadline", "worker"};
    if (!strcmp(list, "orders")) {
        memcpy(cols, orders, sizeof orders);
        return 6;
    }
    if (!strcmp(list, "tasks")) {
        memcpy(cols, tasks, sizeof tasks);
        return 5;
    }
    int n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)first, k, v) {
        if (n < CLI_TABLE_MAX_COLS && !json_is_object(v) && !json_is_array(v))
            cols[n++] = k;
    }
    return n;
}

/* A cell: for an order entry, price and tag live in its "order". */
static const json_t *cell(const json_t *row, const char *col, const char **key)
{
    *key = col;
    const json_t *order = json_object_get(row, "order");
    if (!strcmp(col, "price") && order) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)order, k, v) {
            if (ends_with(k, "price")) {
                *key = k;
                return v;
            }
        }
    }
    if (!strcmp(col, "tag") && order)
        return json_object_get(order, "tag");
    return json_object_get(row, col);
}

static void print_list(FILE *f, const char *name, const json_t *rows, int64_t now)
{
    const char *cols[CLI_TABLE_MAX_COLS];
    int n = columns(name, json_array_get(rows, 0), cols);
    char heads[CLI_TABLE_MAX_COLS][64];
    const char *hp[CLI_TABLE_MAX_COLS];
    static const struct {
        const char *key, *head;
    } named[] = {{"orderHash", "ORDER HASH"},         {"publicationTimestamp", "PUBLISHED"},
                 {"taskid", "TASK ID"},               {"dealid", "DEAL ID"},
                 {"contributionDeadline", "CONTRIBUTE BY"}, {"finalDeadline", "FINAL DEADLINE"},
                 {"remaining", "LEFT"}};
    for (int c = 0; c < n; c++) {
        hp[c] = NULL;
        for (size_t m = 0; m < sizeof named / sizeof named[0]; m++)
            if (!strcmp(cols[c], named[m].key))
                hp[c] = named[m].head;
        if (hp[c])
            continue;
        size_t i = 0;
        for (; cols[c][i] && i + 1 < sizeof heads[c]; i++)
            heads[c][i] = (char)(cols[c][i] >= 'a' && cols[c][i] <= 'z' ? cols[c][i] - 32
                                                                          : cols[c][i]);
        heads[c][i] = '\0';
        hp[c] = heads[c];
    }
    cli_table t;
    cli_table_init(&t, n, hp);
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)rows, i, row) {
        char cells[CLI_TABLE_MAX_COLS][256];
        const char *cp[CLI_TABLE_MAX_COLS];
        for (int c = 0; c < n; c++) {
            const char *key;
            const json_t *v = cell(row, cols[c], &key);
            value_text(key, v, now, cells[c], sizeof cells[c]);
            cp[c] = cells[c];
        }
        cli_table_add(&t, cp);
    }
    cli_table_print(&t, f);
    cli_table_free(&t);
}

void cli_print_people(FILE *f, const json_t *j)
{
    int64_t now = (int64_t)time(NULL);
    if (!json_is_object(j)) {
        char *t = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
        fprintf(f, "%s\n", t ? t : "");
        free(t);
        return;
    }
    /* a list reply: {"count"|"total", ..., "<name>": [objects]} */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
            print_list(f, k, v, now);
            fprintf(f, "(%zu %s)\n", json_array_size(v), k);
            return;
        }
    }
    print_object(f, j, now);
}

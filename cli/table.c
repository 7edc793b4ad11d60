#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"

void cli_table_init(cli_table *t, int ncols, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols > CLI_TABLE_MAX_COLS ? CLI_TABLE_MAX_COLS : ncols;
    for (int c = 0; c < t->ncols; c++)
        t->head[c] = head[c];
}

int cli_table_add(cli_table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **n = realloc(t->cells, cap * (size_t)t->ncols * sizeof *n);
        if (!n)
            return 0;
        t->cells = n;
        t->cap = cap;
    }
    char **row = t->cells + t->rows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return 0;
        }
    }
    t->rows++;
    return 1;
}

void cli_table_print(const cli_table *t, FILE *f)
{
    size_t width[CLI_TABLE_MAX_COLS];
    for (int c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t w = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * (size_t)t->ncols + (size_t)c];
            if (c + 1 < t->ncols)
                fprintf(f, "%-*s  ", (int)width[c], s);
            else
                fprintf(f, "%s\n", s);
        }
    }
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

void cli_time_text(int64_t t, int64_t now, char *out, size_t cap)
{
    char iso[CELLA_ISO_TIME_LEN];
    cella_iso_time(t, iso);
    int64_t d = now - t, a = d < 0 ? -d : d;
    static const struct {
        int64_t secs;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
    size_t u = 0;
    while (u + 1 < sizeof units / sizeof units[0] && a < units[u].secs)
        u++;
    long long n = (long long)(a / units[u].secs);
    if (a < 1)
        snprintf(out, cap, "%s (now)", iso);
    else if (d > 0)
        snprintf(out, cap, "%s (%lld %s ago)", iso, n, units[u].unit);
    else
        snprintf(out, cap, "%s (in %lld %s)", iso, n, units[u].unit);
}

/* Output for people: lists as aligned tables, times as ISO 8601 UTC with how
 * long ago (or how soon) they are, amounts with their unit. */
#ifndef CELLA_CLI_TABLE_H
#define CELLA_CLI_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_TABLE_MAX_COLS 8

typedef struct {
    int ncols;
    const char *head[CLI_TABLE_MAX_COLS];
    char **cells; /* rows * ncols strings, owned */
    size_t rows, cap;
} cli_table;

/* A table with these column heads (at most CLI_TABLE_MAX_COLS). */
void cli_table_init(cli_table *t, int ncols, const char *const *head);
/* Appends a row of ncols cells (copied); false when out of memory. */
int cli_table_add(cli_table *t, const char *const *cells);
/* Prints the heads and rows, each column as wide as its widest cell; the
 * last column is not padded. */
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_free(cli_table *t);

/* "2026-12-07T00:56:17Z (3 min ago)", or "in 2 h" for a time to come,
 * relative to `now`. */
void cli_time_text(int64_t t, int64_t now, char *out, size_t cap);

#endif

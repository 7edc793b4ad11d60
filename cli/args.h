/* A small, strict command-line parser shared by every verb: long options with
 * a value (`--key-file F` or `--key-file=F`), boolean flags, positionals.
 * `-o` is accepted for `--output`. Unknown options and missing values are
 * errors, never ignored. */
#ifndef CELLA_CLI_ARGS_H
#define CELLA_CLI_ARGS_H

#include <stdbool.h>

#include "core/error.h"

typedef struct {
    const char *name;  /* without the leading "--" */
    bool takes_value;
    const char *value; /* filled: value (the last one), or "1" for a flag that was given */
} cli_opt;

/* A list option (like the iExec SDK's --secret 1=a 2=b): every value is
 * kept, from repeats (--secret 1=a --secret 2=b) and from the arguments with
 * a '=' that follow it (--secret 1=a 2=b). Its name must be in the opts too. */
#define CLI_MAX_VALUES 32
typedef struct {
    const char *name;
    int count;
    const char *values[CLI_MAX_VALUES];
} cli_list;

/* Parses argv into opts and positionals (at most max_pos). `verb` names the
 * command in errors. */
CELLA_RESULT cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char **pos,
                       int max_pos, int *npos, const char *verb);
/* cli_parse, also filling the list options in lists[0..nlists). */
CELLA_RESULT cli_parse_lists(int argc, char **argv, cli_opt *opts, int nopts, cli_list *lists,
                             int nlists, const char **pos, int max_pos, int *npos,
                             const char *verb);

const char *cli_get(const cli_opt *opts, int nopts, const char *name);


/* Parses a plain unsigned decimal (digits only) of at most `max`. */
CELLA_RESULT cli_parse_uint(const char *s, const char *what, unsigned long long max,
                            unsigned long long *out);

/* Parses an unsigned decimal with optional K/M/G suffix (binary units). */
CELLA_RESULT cli_parse_size(const char *s, const char *what, unsigned long long *out);

#endif

/* Help from the one command table: the top-level overview (groups and their
 * verbs, each verb once), a group's verbs, one verb's usage and help, the
 * cella(1) man page, and "did you mean" suggestions for typos. */
#ifndef CELLA_CLI_HELP_H
#define CELLA_CLI_HELP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "commands.h"

/* Lines of help are wrapped to at most this many columns. */
#define CLI_HELP_WIDTH 100

/* The overview: groups with their verbs, then the top-level commands. */
void cli_help_all(FILE *f);

/* Every verb of `group` with its usage and the first sentence of its help;
 * false if no verb has that group. */
bool cli_help_group(FILE *f, const char *group);

/* One verb: its usage, then its whole help, wrapped. */
void cli_help_verb(FILE *f, const cli_command *c);

/* The cella(1) man page (roff), from the same table. */
void cli_help_man(FILE *f);

/* Whether some verb has this group. */
bool cli_is_group(const char *group);

/* The verb of `group` named `name` (group NULL: a top-level verb), or NULL. */
const cli_command *cli_find(const char *group, const char *name);

/* The candidate closest to `word` (an edit distance of at most 2, and less
 * than half its length, or a unique prefix), or NULL when none is close. */
const char *cli_closest(const char *word, const char *const *cands, size_t n);

/* The group or top-level verb closest to `word`, or NULL. */
const char *cli_closest_command(const char *word);

/* The verb of `group` closest to `word`, or NULL. */
const char *cli_closest_verb(const char *group, const char *word);

#endif

/* Output for programs: with --json (or the iExec SDK's --raw) any verb prints
 * exactly one JSON document on stdout, with the same exit status:
 *   {"ok": true, FIELDS...}
 *   {"ok": false, "error": {"message": "...", "where": "...", "code": "usage"}}
 * A verb states its result's fields with cli_json_set; what it would have
 * printed for people is then dropped. A verb that states none gets its text
 * output as it is: "result" when that text is one JSON value (the show verbs),
 * else "output", its lines as an array of strings. The error line still goes
 * to stderr for people watching. */
#ifndef CELLA_CLI_OUTPUT_H
#define CELLA_CLI_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>

#include "commands.h"

/* Whether this run prints JSON. */
bool cli_json(void);

/* Sets a field of the success document (takes the reference to v). Does
 * nothing without --json, so verbs may call it unconditionally. */
void cli_json_set(const char *key, json_t *v);
/* Shorthand for a string field. */
void cli_json_set_str(const char *key, const char *s);

/* Records the failure for the document (called by cli_report). */
void cli_json_error(const char *message, const char *where, const char *code);

/* Runs the verb with --json: stdout captured, one document printed. */
int cli_json_run(const cli_command *c, int argc, char **argv);

#endif

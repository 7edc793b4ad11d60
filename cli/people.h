/* Show and list verbs for people: on a terminal (or with CELLA_OUTPUT=people)
 * an object is printed as aligned "key  value" lines and a list as an aligned
 * table, with times as ISO 8601 UTC and how long ago, amounts in nRLC and tags
 * by name; piped (or with CELLA_OUTPUT=json) they print indented JSON as
 * before, and --json gives the one-document form (output.h). */
#ifndef CELLA_CLI_PEOPLE_H
#define CELLA_CLI_PEOPLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

/* Whether this run prints for people rather than programs. */
bool cli_for_people(void);

/* Prints a hub reply for people (see above). */
void cli_print_people(FILE *f, const json_t *j);

#endif

#include "help.h"

#include <string.h>

/* Every table of verbs; the order is the order of the help. */
static const cli_command *const g_tables[] = {
    cli_up_commands,        cli_volume_commands,   cli_dataset_commands, cli_app_commands,
    cli_apprun_commands,    cli_registry_commands, cli_publish_commands, cli_hub_commands,
    cli_order_commands,     cli_orderbook_commands, cli_book_commands,   cli_task_commands,
    cli_account_commands,   cli_secret_commands,   cli_result_commands,  cli_wallet_commands,
    cli_cas_commands,       cli_run_commands,      cli_worker_commands,  cli_blobs_commands,
    cli_evidence_commands,  cli_doctor_commands};

#define NTABLES (sizeof g_tables / sizeof g_tables[0])
#define MAX_NAMES 256

/* Loops `c` over every verb, in help order. */
#define FOR_EACH_COMMAND(c)                                                                \
    for (size_t t_ = 0; t_ < NTABLES; t_++)                                                \
        for (const cli_command *c = g_tables[t_]; c->name; c++)

const cli_command *cli_find(const char *group, const char *name)
{
    FOR_EACH_COMMAND(c) {
        bool same_group = group ? c->group && !strcmp(c->group, group) : !c->group;
        if (same_group && !strcmp(c->name, name))
            return c;
    }
    return NULL;
}

bool cli_is_group(const char *group)
{
    FOR_EACH_COMMAND(c) {
        if (c->group && !strcmp(c->group, group))
            return true;
    }
    return false;
}

/* ---- words, wrapped ---- */

/* Prints `text` from column `col`, breaking at spaces so that no line passes
 * `width` (a word longer than a line gets a line of its own); continuation
 * lines start with `indent` spaces. Ends with a newline. */
static void wrap(FILE *f, const char *text, size_t len, int col, int indent, int width)
{
    const char *p = text, *end = text + len;
    bool first = true;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *w = p;
        while (p < end && *p != ' ')
            p++;
        int wl = (int)(p - w);
        if (wl == 0)
            break;
        if (!first && col + 1 + wl > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fwrite(w, 1, (size_t)wl, f);
        col += wl;
        first = false;
    }
    fputc('\n', f);
}

/* The length of the first sentence of `help` (up to ". " or the end). */
static size_t first_sentence(const char *help)
{
    const char *dot = strstr(help, ". ");
    return dot ? (size_t)(dot - help) + 1 : strlen(help);
}

/* The first `room` columns of text, cut at a space and marked with "..."
 * when it is longer: the overview gives each command one line. */
static void one_line(FILE *f, const char *text, size_t len, size_t room)
{
    if (len <= room) {
        fprintf(f, "%.*s\n", (int)len, text);
        return;
    }
    size_t cut = room - 3;
    while (cut > 0 && text[cut] != ' ')
        cut--;
    fprintf(f, "%.*s...\n", (int)(cut ? cut : room - 3), text);
}

/* ---- the overview ---- */

/* The distinct groups in help order, at most cap. */
static size_t groups(const char **out, size_t cap)
{
    size_t n = 0;
    FOR_EACH_COMMAND(c) {
        if (!c->group)
            continue;
        size_t k = 0;
        while (k < n && strcmp(out[k], c->group))
            k++;
        if (k == n && n < cap)
            out[n++] = c->group;
    }
    return n;
}

void cli_help_all(FILE *f)
{
    fprintf(f, "usage: cella COMMAND [ARGS...]\n"
               "       cella COMMAND --help, or cella help COMMAND: one command or group\n"
               "       any verb with --json (or --raw): one JSON document on stdout\n\n"
               "groups (cella GROUP --help lists their verbs with their usage):\n");
    const char *g[MAX_NAMES];
    size_t ng = groups(g, MAX_NAMES);
    for (size_t i = 0; i < ng; i++) {
        char line[2048];
        size_t n = 0;
        FOR_EACH_COMMAND(c) {
            if (c->group && !strcmp(c->group, g[i]) && n + strlen(c->name) + 2 < sizeof line)
                n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", c->name);
        }
        fprintf(f, "  %-13s ", g[i]);
        wrap(f, line, n, 16, 16, CLI_HELP_WIDTH);
    }
    fprintf(f, "\ncommands:\n");
    FOR_EACH_COMMAND(c) {
        if (c->group)
            continue;
        fprintf(f, "  %-13s ", c->name);
        one_line(f, c->help, first_sentence(c->help), CLI_HELP_WIDTH - 16);
    }
    fprintf(f, "  %-13s this overview, or with COMMAND its usage and help\n", "help");
    fprintf(f, "  %-13s print the version\n", "--version");
}

bool cli_help_group(FILE *f, const char *group)
{
    bool any = false;
    FOR_EACH_COMMAND(c) {
        if (!c->group || strcmp(c->group, group))
            continue;
        if (!any)
            fprintf(f, "usage:\n");
        fprintf(f, "  ");
        wrap(f, c->usage, strlen(c->usage), 2, 8, CLI_HELP_WIDTH);
        fprintf(f, "      ");
        wrap(f, c->help, first_sentence(c->help), 6, 6, CLI_HELP_WIDTH);
        any = true;
    }
    if (any)
        fprintf(f, "\ncella %s VERB --help shows a verb's whole help.\n", group);
    return any;
}

void cli_help_verb(FILE *f, const cli_command *c)
{
    fprintf(f, "usage: ");
    wrap(f, c->usage, strlen(c->usage), 7, 11, CLI_HELP_WIDTH);
    fputc('\n', f);
    wrap(f, c->help, strlen(c->help), 0, 0, CLI_HELP_WIDTH);
}

/* ---- the man page ---- */

/* Text for roff: backslashes and hyphens escaped, no line starting with a
 * control character ('.' or '\''). */
static void roff(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
    }
}

void cli_help_man(FILE *f)
{
    fprintf(f, ".TH CELLA 1 \"\" \"cella %s\" \"User Commands\"\n", CELLA_VERSION);
    fprintf(f, ".SH NAME\ncella \\- compute on data that nobody else may see\n");
    fprintf(f, ".SH SYNOPSIS\n.B cella\n.I COMMAND\n[\n.I ARGS...\n]\n");
    fprintf(f, ".SH DESCRIPTION\n"
               "cella runs iExec's TEE workflow and SCONE's trusted DApps: encrypted volumes, a\n"
               "configuration and attestation service (cas), a marketplace hub, a blob store and\n"
               "workers that run apps in a TEE. Errors are one line,\n"
               ".B cella: error: WHAT (WHERE),\n"
               "with exit status 2 for usage errors and 1 otherwise.\n"
               ".PP\nEvery verb takes\n.B \\-\\-json\n(or the iExec SDK's\n.BR \\-\\-raw ):\n"
               "it then prints exactly one JSON document on standard output, {\"ok\": true, ...} or\n"
               "{\"ok\": false, \"error\": {\"message\", \"where\", \"code\"}}, with the same exit "
               "status.\n");
    fprintf(f, ".SH COMMANDS\n");
    FOR_EACH_COMMAND(c) {
        fprintf(f, ".TP\n.B ");
        roff(f, c->usage);
        fputc('\n', f);
        roff(f, c->help);
        fputc('\n', f);
    }
    fprintf(f, ".SH SEE ALSO\nThe documents in the docs/ folder of cella's sources.\n");
}

/* ---- did you mean ---- */

/* cli_closest: cli/closest.c (also in cella-runtime, which has no help). */

const char *cli_closest_command(const char *word)
{
    const char *names[MAX_NAMES];
    size_t n = groups(names, MAX_NAMES);
    FOR_EACH_COMMAND(c) {
        if (!c->group && n < MAX_NAMES)
            names[n++] = c->name;
    }
    return cli_closest(word, names, n);
}

const char *cli_closest_verb(const char *group, const char *word)
{
    const char *names[MAX_NAMES];
    size_t n = 0;
    FOR_EACH_COMMAND(c) {
        if (c->group && !strcmp(c->group, group) && n < MAX_NAMES)
            names[n++] = c->name;
    }
    return cli_closest(word, names, n);
}

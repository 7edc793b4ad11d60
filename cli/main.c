/* cella: one binary, verbs grouped like the iExec SDK and the SCONE CLI. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/log.h"
#include "core/secure.h"

static const cli_command *const g_tables[] = {cli_volume_commands, cli_evidence_commands,
                                                    cli_dataset_commands, cli_result_commands,
                                                    cli_wallet_commands, cli_order_commands,
                                                    cli_cas_commands, cli_app_commands,
                                                    cli_blobs_commands, cli_run_commands,
                                                    cli_secret_commands,
                                                    cli_hub_commands, cli_worker_commands,
                                                    cli_market_commands, cli_up_commands,
                                                    cli_doctor_commands};

#define NTABLES (sizeof g_tables / sizeof g_tables[0])

int cli_report(cella_res r)
{
    if (cella_ok(r))
        return 0;
    char line[2048];
    const char *where = cella_error_where();
    if (where && *where)
        snprintf(line, sizeof line, "%s (%s)", cella_error_what(), where);
    else
        snprintf(line, sizeof line, "%s", cella_error_what());
    cella_redact(line, sizeof line);
    fprintf(stderr, "cella: error: %s\n", line);
    return r.code == CELLA_E_USAGE ? 2 : 1;
}

static void print_usage_all(FILE *f)
{
    fprintf(f, "usage: cella COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t t = 0; t < NTABLES; t++)
        for (const cli_command *c = g_tables[t]; c->name; c++)
            fprintf(f, "  %-60s %s\n", c->usage, c->help);
    fprintf(f, "  %-60s %s\n", "cella help [COMMAND]", "show help for a command");
    fprintf(f, "  %-60s %s\n", "cella --version", "print the version");
}

static const cli_command *find(const char *a, const char *b, int *consumed)
{
    for (size_t t = 0; t < NTABLES; t++)
        for (const cli_command *c = g_tables[t]; c->name; c++) {
            if (c->group && b && !strcmp(c->group, a) && !strcmp(c->name, b)) {
                *consumed = 2;
                return c;
            }
            if (!c->group && !strcmp(c->name, a)) {
                *consumed = 1;
                return c;
            }
        }
    return NULL;
}

static int group_help(const char *group, FILE *f)
{
    int any = 0;
    for (size_t t = 0; t < NTABLES; t++)
        for (const cli_command *c = g_tables[t]; c->name; c++)
            if (c->group && !strcmp(c->group, group)) {
                if (!any)
                    fprintf(f, "usage:\n");
                fprintf(f, "  %-60s %s\n", c->usage, c->help);
                any = 1;
            }
    return any;
}

static int help(int argc, char **argv)
{
    if (argc == 0) {
        print_usage_all(stdout);
        return 0;
    }
    int used;
    const cli_command *c = find(argv[0], argc > 1 ? argv[1] : NULL, &used);
    if (c) {
        printf("usage: %s\n\n%s\n", c->usage, c->help);
        return 0;
    }
    if (group_help(argv[0], stdout))
        return 0;
    return cli_report(cella_fail(CELLA_E_USAGE, "help", "unknown command '%s'", argv[0]));
}

int main(int argc, char **argv)
{
    cella_harden_process();
    if (argc < 2) {
        print_usage_all(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("cella %s\n", CELLA_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return help(argc - 2, argv + 2);
    int used = 0;
    const cli_command *c = find(argv[1], argc > 2 ? argv[2] : NULL, &used);
    if (!c) {
        if (group_help(argv[1], stderr))
            return cli_report(cella_fail(CELLA_E_USAGE, argv[1],
                                         argc > 2 ? "unknown subcommand '%s'"
                                                  : "missing subcommand%s",
                                         argc > 2 ? argv[2] : ""));
        return cli_report(cella_fail(CELLA_E_USAGE, "cella",
                                     "unknown command '%s' (try: cella help)", argv[1]));
    }
    int sub_argc = argc - 1 - used;
    char **sub_argv = argv + 1 + used;
    for (int i = 0; i < sub_argc; i++)
        if (!strcmp(sub_argv[i], "--help") || !strcmp(sub_argv[i], "-h")) {
            printf("usage: %s\n\n%s\n", c->usage, c->help);
            return 0;
        }
    return c->fn(sub_argc, sub_argv);
}

/* cella: one binary, verbs grouped like the iExec SDK and the SCONE CLI. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "core/json_wipe.h"
#include "core/log.h"
#include "core/secure.h"
#include "help.h"
#include "output.h"

static bool is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help");
}

/* cella help [--man | COMMAND [VERB]] */
static int help(int argc, char **argv)
{
    if (argc == 0) {
        cli_help_all(stdout);
        return 0;
    }
    if (!strcmp(argv[0], "--man")) {
        cli_help_man(stdout);
        return 0;
    }
    const cli_command *c = argc > 1 ? cli_find(argv[0], argv[1]) : NULL;
    if (!c)
        c = cli_find(NULL, argv[0]);
    if (c) {
        cli_help_verb(stdout, c);
        return 0;
    }
    if (argc > 1 && cli_help_group(stderr, argv[0]))
        return cli_report(cella_fail(CELLA_E_USAGE, "help", "'%s' has no verb '%s'", argv[0],
                                     argv[1]));
    if (cli_help_group(stdout, argv[0]))
        return 0;
    const char *near = cli_closest_command(argv[0]);
    return cli_report(cella_fail(CELLA_E_USAGE, "help", "unknown command '%s'%s%s%s", argv[0],
                                 near ? " (did you mean '" : "", near ? near : "",
                                 near ? "'?)" : ""));
}

/* A group given without a known verb: its help for --help/-h, else an error
 * that suggests the verb meant. */
static int group_without_verb(const char *group, int argc, char **argv)
{
    if (argc == 0) {
        cli_help_group(stderr, group);
        return cli_report(cella_fail(CELLA_E_USAGE, group, "missing verb"));
    }
    if (is_help(argv[0])) {
        cli_help_group(stdout, group);
        return 0;
    }
    const char *near = cli_closest_verb(group, argv[0]);
    if (near)
        return cli_report(cella_fail(CELLA_E_USAGE, group,
                                     "unknown subcommand '%s' (did you mean 'cella %s %s'?)",
                                     argv[0], group, near));
    return cli_report(cella_fail(CELLA_E_USAGE, group,
                                 "unknown subcommand '%s' (cella %s --help lists them)",
                                 argv[0], group));
}

static int cli_main(int argc, char **argv)
{
    cella_harden_process();
    cella_json_wipe_install(); /* before any JSON: freed trees leave no secrets */
    if (argc < 2) {
        cli_help_all(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("cella %s\n", CELLA_VERSION);
        return 0;
    }
    if (is_help(argv[1]))
        return help(argc - 2, argv + 2);
    int used = 2;
    const cli_command *c = argc > 2 ? cli_find(argv[1], argv[2]) : NULL;
    if (!c) {
        used = 1;
        c = cli_find(NULL, argv[1]);
    }
    if (!c && cli_is_group(argv[1]))
        return group_without_verb(argv[1], argc - 2, argv + 2);
    if (!c) {
        const char *near = cli_closest_command(argv[1]);
        if (near)
            return cli_report(cella_fail(CELLA_E_USAGE, "cella",
                                         "unknown command '%s' (did you mean '%s'?)", argv[1],
                                         near));
        return cli_report(cella_fail(CELLA_E_USAGE, "cella",
                                     "unknown command '%s' (try: cella help)", argv[1]));
    }
    int sub_argc = argc - 1 - used;
    char **sub_argv = argv + 1 + used;
    bool json = false;
    for (int i = 0; i < sub_argc; i++) {
        if (!strcmp(sub_argv[i], "--"))
            break;
        if (!strcmp(sub_argv[i], "--help") || !strcmp(sub_argv[i], "-h")) {
            cli_help_verb(stdout, c);
            return 0;
        }
        /* --json, or the SDK's --raw: taken out before the verb parses */
        if (!strcmp(sub_argv[i], "--json") || !strcmp(sub_argv[i], "--raw")) {
            json = true;
            memmove(sub_argv + i, sub_argv + i + 1, (size_t)(sub_argc - i - 1) * sizeof *sub_argv);
            sub_argc--;
            i--;
        }
    }
    return json ? cli_json_run(c, sub_argc, sub_argv) : c->fn(sub_argc, sub_argv);
}

#if defined(__SANITIZE_ADDRESS__)
#define CELLA_EXIT_HANDLERS 1 /* LeakSanitizer reports from an exit handler */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CELLA_EXIT_HANDLERS 1
#endif
#endif

int main(int argc, char **argv)
{
    int rc = cli_main(argc, argv);
    /* a full disk, a closed pipe: not a success (ferror: an earlier write failed) */
    bool flush_failed = fflush(NULL) != 0;
    if ((flush_failed || ferror(stdout)) && rc == 0) {
        fprintf(stderr, "cella: error: cannot write the output%s%s (stdout)\n",
                flush_failed ? ": " : "", flush_failed ? strerror(errno) : "");
        rc = 1;
    }
#ifdef CELLA_EXIT_HANDLERS
    return rc;
#else
    /* Out without exit()'s handlers and the shared libraries' destructors:
     * they only free memory the process gives back anyway (OpenSSL's tables,
     * libcurl's when a transfer loaded it), and each touched code pages not
     * yet mapped in, a page fault each (about 7% of a short command's time
     * here). cella registers no exit handler; every file it writes is closed
     * or staged and renamed by then, and stdio's buffers were flushed above. */
    _exit(rc);
#endif
}

#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "help.h"

/* "unknown option '--x'", with the option meant when one is close. */
static cella_res unknown_option(const cli_opt *opts, int nopts, const char *name, size_t nlen,
                                const char *verb)
{
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)(nlen < sizeof word ? nlen : sizeof word - 1),
             name);
    const char *names[128];
    size_t n = 0;
    for (int k = 0; k < nopts && n < 128; k++)
        names[n++] = opts[k].name;
    const char *near = cli_closest(word, names, n);
    if (near)
        return cella_fail(CELLA_E_USAGE, verb, "unknown option '--%.*s' (did you mean '--%s'?)",
                          (int)nlen, name, near);
    return cella_fail(CELLA_E_USAGE, verb, "unknown option '--%.*s'", (int)nlen, name);
}

/* A list option's value just parsed (o->value), then the arguments after
 * argv[*i] that hold a '=' and are not options: the SDK's --secret 1=a 2=b. */
static cella_res add_values(cli_list *l, cli_opt *o, int argc, char **argv, int *i,
                            const char *verb)
{
    for (;;) {
        CELLA_ENSURE(l->count < CLI_MAX_VALUES, CELLA_E_USAGE, verb,
                     "option '--%s' given more than %d times", o->name, CLI_MAX_VALUES);
        l->values[l->count++] = o->value;
        const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
        if (!next || next[0] == '-' || !strchr(next, '='))
            return CELLA_OK_RES;
        o->value = argv[++*i];
    }
}

static cli_list *list_of(cli_list *lists, int nlists, const char *name)
{
    for (int k = 0; k < nlists; k++)
        if (!strcmp(lists[k].name, name))
            return &lists[k];
    return NULL;
}

cella_res cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char **pos,
                    int max_pos, int *npos, const char *verb)
{
    return cli_parse_lists(argc, argv, opts, nopts, NULL, 0, pos, max_pos, npos, verb);
}

cella_res cli_parse_lists(int argc, char **argv, cli_opt *opts, int nopts, cli_list *lists,
                          int nlists, const char **pos, int max_pos, int *npos, const char *verb)
{
    *npos = 0;
    for (int k = 0; k < nlists; k++)
        lists[k].count = 0;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            CELLA_ENSURE(*npos < max_pos, CELLA_E_USAGE, verb, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        /* The one short option users type without thinking: -o for --output. */
        if (!strcmp(a, "-o"))
            a = "--output";
        CELLA_ENSURE(a[1] == '-', CELLA_E_USAGE, verb, "unknown option '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, name, nlen))
                o = &opts[k];
        if (!o)
            return unknown_option(opts, nopts, name, nlen, verb);
        if (!o->takes_value) {
            CELLA_ENSURE(!eq, CELLA_E_USAGE, verb, "option '--%s' takes no value", o->name);
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else {
            CELLA_ENSURE(i + 1 < argc, CELLA_E_USAGE, verb, "option '--%s' needs a value",
                         o->name);
            o->value = argv[++i];
        }
        cli_list *l = o->takes_value ? list_of(lists, nlists, o->name) : NULL;
        if (l)
            CELLA_TRY(add_values(l, o, argc, argv, &i, verb));
    }
    return CELLA_OK_RES;
}

const char *cli_get(const cli_opt *opts, int nopts, const char *name)
{
    for (int k = 0; k < nopts; k++)
        if (!strcmp(opts[k].name, name))
            return opts[k].value;
    return NULL;
}

cella_res cli_parse_uint(const char *s, const char *what, unsigned long long max,
                         unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    CELLA_ENSURE(*s && strspn(s, "0123456789") == strlen(s) && !*end && !errno, CELLA_E_USAGE,
                 what, "expected a decimal number, got '%s'", s);
    CELLA_ENSURE(v <= max, CELLA_E_USAGE, what, "out of range (0..%llu)", max);
    *out = v;
    return CELLA_OK_RES;
}

cella_res cli_parse_size(const char *s, const char *what, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    CELLA_ENSURE(errno == 0 && end != s && s[0] != '-', CELLA_E_USAGE, what,
                 "not a number: '%s'", s);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end == 'i' && shift)
        end++;
    if (*end == 'B' && shift)
        end++;
    CELLA_ENSURE(*end == '\0', CELLA_E_USAGE, what, "not a size: '%s'", s);
    CELLA_ENSURE(v <= (~0ULL >> shift), CELLA_E_USAGE, what, "size too large: '%s'", s);
    *out = v << shift;
    return CELLA_OK_RES;
}

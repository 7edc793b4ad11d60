/* cella evidence show|verify: hardware evidence (SGX/TDX quotes, SNP reports). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "commands.h"
#include "core/fs.h"
#include "evidence/collateral.h"
#include "evidence/evidence.h"
#include "evidence/ossl.h"

#define EV_MAX_FILE (4u << 20)

typedef struct {
    uint8_t *p;
    size_t n;
} file_buf;

static cella_res load(const char *path, file_buf *f)
{
    if (!path)
        return CELLA_OK_RES;
    return cella_read_file(AT_FDCWD, path, EV_MAX_FILE, false, &f->p, &f->n);
}

static void print_json(json_t *o)
{
    if (!o) {
        fprintf(stderr, "cella: error: out of memory\n");
        return;
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static cella_res parse_kind(const char *s, cella_evidence_kind *k)
{
    *k = CELLA_EV_AUTO;
    if (!s)
        return CELLA_OK_RES;
    CELLA_ENSURE(cella_evidence_kind_parse(s, k), CELLA_E_USAGE, "--kind",
                 "must be sgx, tdx or snp");
    return CELLA_OK_RES;
}

static int evidence_show(int argc, char **argv)
{
    cli_opt o[] = {{"kind", true, NULL}};
    const char *pos[1];
    int np;
    cella_evidence_kind kind = CELLA_EV_AUTO;
    file_buf ev = {0};
    cella_res r = cli_parse(argc, argv, o, 1, pos, 1, &np, "evidence show");
    if (cella_ok(r) && np != 1)
        r = cella_fail(CELLA_E_USAGE, "evidence show",
                       "usage: cella evidence show FILE [--kind sgx|tdx|snp]");
    if (cella_ok(r))
        r = parse_kind(cli_get(o, 1, "kind"), &kind);
    if (cella_ok(r))
        r = load(pos[0], &ev);
    cella_evidence_claims *c = calloc(1, sizeof *c);
    if (cella_ok(r) && !c)
        r = cella_fail(CELLA_E_NOMEM, "evidence show", "out of memory");
    if (cella_ok(r)) {
        r = cella_evidence_parse(kind, cella_slice_of(ev.p, ev.n), c);
        if (!cella_ok(r))
            cella_error_set_where(pos[0]);
    }
    if (cella_ok(r))
        print_json(cella_evidence_claims_json(c, false));
    free(c);
    free(ev.p);
    return cli_report(r);
}

/* Comma-separated list applied one item at a time. */
static cella_res each_item(const char *list, cella_evidence_policy *p,
                           cella_res (*fn)(cella_evidence_policy *, const char *))
{
    if (!list)
        return CELLA_OK_RES;
    char buf[1024];
    CELLA_ENSURE(strlen(list) < sizeof buf, CELLA_E_USAGE, "policy", "list too long");
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        CELLA_TRY(fn(p, t));
    return CELLA_OK_RES;
}

static cella_res build_policy(const cli_opt *o, int n, cella_evidence_policy *p)
{
    file_buf pf = {0};
    const char *path = cli_get(o, n, "policy");
    if (path) {
        CELLA_TRY(load(path, &pf));
        cella_res r = cella_evidence_policy_from_json(cella_slice_of(pf.p, pf.n), p);
        free(pf.p);
        CELLA_TRY(r);
    } else {
        cella_evidence_policy_default(p);
    }
    if (cli_get(o, n, "allow-debug"))
        p->allow_debug = true;
    CELLA_TRY(each_item(cli_get(o, n, "accept-tcb"), p, cella_evidence_policy_accept_tcb));
    CELLA_TRY(each_item(cli_get(o, n, "tolerate"), p, cella_evidence_policy_tolerate));
    return CELLA_OK_RES;
}

enum {
    O_KIND,
    O_COLL,
    O_CERT,
    O_CHAIN,
    O_NOW,
    O_POLICY,
    O_DEBUG,
    O_TCB,
    O_TOL,
    O_CDIR,
    O_PCCS,
    O_PCACHE,
    O_PINSEC,
    O_N
};

/* The default PCCS cache: $XDG_CACHE_HOME/cella/pccs or ~/.cache/cella/pccs. */
static cella_res default_cache(char *out, size_t cap)
{
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    char base[4096];
    if (x && *x)
        snprintf(base, sizeof base, "%s", x);
    else if (h && *h)
        snprintf(base, sizeof base, "%s/.cache", h);
    else
        return cella_fail(CELLA_E_USAGE, "--pccs-cache", "no HOME: give --pccs-cache DIR");
    char cella_dir[4200];
    snprintf(cella_dir, sizeof cella_dir, "%s/cella", base);
    (void)mkdir(base, 0700);
    (void)mkdir(cella_dir, 0700);
    snprintf(out, cap, "%s/pccs", cella_dir);
    return CELLA_OK_RES;
}

static int evidence_verify(int argc, char **argv)
{
    cli_opt o[O_N] = {{"kind", true, NULL},       {"collateral", true, NULL},
                      {"cert", true, NULL},       {"chain", true, NULL},
                      {"now", true, NULL},        {"policy", true, NULL},
                      {"allow-debug", false, NULL}, {"accept-tcb", true, NULL},
                      {"tolerate", true, NULL},   {"collateral-dir", true, NULL},
                      {"pccs", true, NULL},       {"pccs-cache", true, NULL},
                      {"pccs-insecure-tls", false, NULL}};
    const char *pos[1];
    int np;
    cella_evidence_kind kind = CELLA_EV_AUTO;
    file_buf ev = {0}, coll = {0}, cert = {0}, chain = {0};
    cella_evidence_policy *pol = calloc(1, sizeof *pol);
    cella_evidence_claims *c = calloc(1, sizeof *c);
    time_t now = time(NULL);
    bool verified_run = false;
    cella_res r = cli_parse(argc, argv, o, O_N, pos, 1, &np, "evidence verify");
    if (cella_ok(r) && (!pol || !c))
        r = cella_fail(CELLA_E_NOMEM, "evidence verify", "out of memory");
    bool sourced = o[O_CDIR].value || o[O_PCCS].value;
    if (cella_ok(r) && (np != 1 || (!o[O_COLL].value && !o[O_CERT].value && !sourced)))
        r = cella_fail(CELLA_E_USAGE, "evidence verify",
                       "usage: cella evidence verify FILE --collateral C.json | --cert VCEK "
                       "--chain ASK_ARK.pem | --collateral-dir DIR | --pccs URL "
                       "[--now ISO8601] [--policy P.json]");
    if (cella_ok(r) && sourced && (o[O_COLL].value || o[O_CERT].value))
        r = cella_fail(CELLA_E_USAGE, "evidence verify",
                       "--collateral-dir/--pccs and --collateral/--cert exclude each other");
    if (cella_ok(r) && o[O_CERT].value && !o[O_CHAIN].value)
        r = cella_fail(CELLA_E_USAGE, "--chain", "SNP verification needs the AMD chain");
    if (cella_ok(r))
        r = parse_kind(o[O_KIND].value, &kind);
    if (cella_ok(r) && o[O_NOW].value)
        r = cella_ev_parse_time(o[O_NOW].value, &now, "--now");
    if (cella_ok(r))
        r = build_policy(o, O_N, pol);
    if (cella_ok(r))
        r = load(pos[0], &ev);
    if (cella_ok(r))
        r = load(o[O_COLL].value, &coll);
    if (cella_ok(r))
        r = load(o[O_CERT].value, &cert);
    if (cella_ok(r))
        r = load(o[O_CHAIN].value, &chain);
    cella_pccs pccs = {.url = o[O_PCCS].value,
                       .cache_dir = o[O_PCACHE].value,
                       .insecure_tls = o[O_PINSEC].value != NULL};
    char cache[4300];
    if (cella_ok(r) && pccs.url && !pccs.cache_dir) {
        r = default_cache(cache, sizeof cache);
        pccs.cache_dir = cache;
    }
    cella_collateral_source src = {o[O_CDIR].value, pccs.url ? &pccs : NULL};
    cella_collateral_found found;
    memset(&found, 0, sizeof found);
    if (cella_ok(r) && sourced) {
        /* Parse first to know which collateral to look for. */
        r = cella_evidence_parse(kind, cella_slice_of(ev.p, ev.n), c);
        if (!cella_ok(r))
            cella_error_set_where(pos[0]);
        if (cella_ok(r))
            r = cella_collateral_find(&src, c, now, &found);
        if (cella_ok(r))
            fprintf(stderr, "cella: collateral from %s\n", found.origin);
    }
    if (cella_ok(r)) {
        cella_evidence_collateral cl = {cella_slice_of(coll.p, coll.n),
                                        cella_slice_of(cert.p, cert.n),
                                        cella_slice_of(chain.p, chain.n)};
        if (sourced)
            cl = cella_collateral_view(&found);
        r = cella_evidence_verify(kind, cella_slice_of(ev.p, ev.n), &cl, pol, now, c);
        verified_run = c->parsed;
        if (!verified_run)
            cella_error_set_where(pos[0]);
        if (c->verified && sourced) {
            char what[600], where[300];
            snprintf(what, sizeof what, "%s", cella_error_what());
            snprintf(where, sizeof where, "%s", cella_error_where());
            cella_res cr = cella_collateral_commit(&src, &found);
            if (!cella_ok(cr)) {
                fprintf(stderr, "cella: warning: PCCS collateral not cached: %s\n",
                        cella_error_what());
                /* keep the verdict's error for the report below */
                if (!cella_ok(r))
                    r = cella_fail(r.code, where, "%s", what);
            }
        }
    }
    cella_collateral_found_free(&found);
    /* The claims and verdict go to stdout whenever the evidence parsed, also
     * when it is refused; the refusal is also the one error line on stderr. */
    if (verified_run)
        print_json(cella_evidence_claims_json(c, true));
    free(ev.p);
    free(coll.p);
    free(cert.p);
    free(chain.p);
    free(pol);
    free(c);
    return cli_report(r);
}

const cli_command cli_evidence_commands[] = {
    {"evidence", "show", evidence_show, "cella evidence show FILE [--kind sgx|tdx|snp]",
     "Parse an SGX/TDX quote or an SEV-SNP report (no verification) and print its claims "
     "as JSON."},
    {"evidence", "verify", evidence_verify,
     "cella evidence verify FILE --collateral C.json | --cert VCEK.der --chain ASK_ARK.pem | "
     "--collateral-dir DIR | --pccs URL [--pccs-cache DIR] [--pccs-insecure-tls] "
     "[--now ISO8601] [--policy P.json] [--allow-debug] [--accept-tcb S,..] [--tolerate ID,..]",
     "Verify hardware evidence against Intel collateral or the AMD chain at --now (default: "
     "the current time) and apply the policy (default: production only, UpToDate only). "
     "--collateral-dir picks files by FMSPC / chip id (docs/evidence.md); --pccs fetches from "
     "an Intel PCS/PCCS v4 and caches (default ~/.cache/cella/pccs) until nextUpdate. "
     "Prints claims and verdict as JSON; exit 0 only if accepted."},
    {NULL, NULL, NULL, NULL, NULL},
};

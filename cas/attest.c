/* Attestation: sim and hardware evidence verified, then the session's policy
 * for it (docs/cas-api.md, "Hardware evidence"). The handler, POST
 * /v1/attest, is in cas/server.c: it verifies first and unseals after. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cas/attest.h"
#include "core/encoding.h"
#include "core/log.h"
#include "tee/sim.h"



cella_res cas_verify_sim(cas_thread *t, cella_slice ev, cas_claims *c)
{
    c->kind = CELLA_TEE_SIM;
    CELLA_ENSURE(t->app->opt.allow_sim && t->app->sim_pub, CELLA_E_POLICY, "evidence",
                 "sim evidence refused: cas was not started with --allow-sim");
    cella_sim_report rep;
    CELLA_TRY(cella_sim_verify_id(ev, t->app->sim_pub, t->app->sim_id, &rep));
    memcpy(c->measurement, rep.measurement, 32);
    c->measurement_len = 32;
    c->has_signer = true;
    memcpy(c->signer, rep.signer, 32);
    c->prodid = rep.product_id;
    c->svn = rep.svn;
    c->debug = rep.debug;
    memcpy(c->report_data, rep.report_data, 64);
    return CELLA_OK_RES;
}

/* The session's security section as an evidence policy (docs/cas-api.md,
 * "Hardware evidence"). Measurements and the key/nonce binding are not in it:
 * attest() checks them after the evidence and its platform are accepted. */
static cella_res session_evidence_policy(const json_t *doc, cella_evidence_policy *p)
{
    const json_t *sec = json_object_get(doc, "security");
    cella_evidence_policy_default(p);
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(sec, "tee"), i, v) {
        cella_evidence_kind k;
        if (cella_evidence_kind_parse(json_string_value(v), &k) && k != CELLA_EV_AUTO)
            p->kinds |= (unsigned)k;
    }
    p->allow_debug = json_is_true(json_object_get(sec, "allow_debug"));
    const json_t *tcb = json_object_get(sec, "accepted_tcb");
    if (json_array_size(tcb))
        p->accepted_tcb = 0;
    json_array_foreach(tcb, i, v)
        CELLA_TRY(cella_evidence_policy_accept_tcb(p, json_string_value(v)));
    json_array_foreach(json_object_get(sec, "tolerated_advisories"), i, v)
        CELLA_TRY(cella_evidence_policy_tolerate(p, json_string_value(v)));
    return CELLA_OK_RES;
}

/* SGX, TDX and SNP evidence, verified by lib/evidence at the evidence time
 * (--evidence-time, else now) with the collateral of --collateral / --pccs:
 * signatures, chains, CRLs, collateral windows and the TCB level. No session
 * is read for it (verify, then unseal): the session's kinds, debug, accepted
 * TCB statuses and tolerated advisories are applied after, by
 * cas_hardware_policy(). `cl` keeps the claims for that. */
cella_res cas_verify_hardware(cas_thread *t, cella_tee_kind kind, cella_slice ev,
                              cella_evidence_claims *cl, cas_claims *c)
{
    static const char *const W = "evidence";
    cas_app *a = t->app;
    const char *kn = cella_tee_kind_name(kind);
    c->kind = kind;
    cella_evidence_kind ek;
    CELLA_ENSURE(cella_evidence_kind_parse(kn, &ek), CELLA_E_UNSUPPORTED, W,
                 "%s evidence is not supported", kn);
    /* Accept every status and advisory here: only the evidence's authenticity
     * is in question before the session's own policy can be read. */
    cella_evidence_policy *any = calloc(1, sizeof *any);
    cella_collateral_found found;
    memset(&found, 0, sizeof found);
    time_t now = a->evidence_now ? a->evidence_now : time(NULL);
    cella_res r = any ? cella_evidence_policy_tolerate(any, "*")
                      : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    if (cella_ok(r)) {
        any->allow_debug = true;
        any->accepted_tcb = ~0u;
        r = cella_evidence_parse(ek, ev, cl);
    }
    if (cella_ok(r)) {
        r = cella_collateral_find(&a->collateral, cl, now, &found);
        if (!cella_ok(r)) {
            /* Not "no such session": say why the evidence cannot be verified. */
            char what[512];
            snprintf(what, sizeof what, "%s", cella_error_what());
            r = cella_fail(r.code == CELLA_E_NOTFOUND ? CELLA_E_POLICY : r.code, W,
                           "cannot verify %s evidence: %s", kn, what);
        }
    }
    if (cella_ok(r)) {
        cella_evidence_collateral view = cella_collateral_view(&found);
        r = cella_evidence_verify(ek, ev, &view, any, now, cl);
        if (cl->verified && !cella_ok(cella_collateral_commit(&a->collateral, &found)))
            cella_warn("PCCS collateral not cached: %s", cella_error_what());
        if (!cella_ok(r))
            r = cella_fail(r.code, W, "%s", cl->reason);
        else
            cella_info("%s evidence verified with collateral from %s: TCB %s", kn, found.origin,
                       ek == CELLA_EV_SNP ? "(SNP: VCEK matches REPORTED_TCB)"
                                          : cella_tcb_status_str(cl->tcb_status));
    }
    if (cella_ok(r)) {
        c->debug = cl->debug;
        if (ek == CELLA_EV_SGX) {
            memcpy(c->measurement, cl->quote.sgx.mrenclave, 32);
            c->measurement_len = 32;
            c->has_signer = true;
            memcpy(c->signer, cl->quote.sgx.mrsigner, 32);
            c->prodid = cl->quote.sgx.isvprodid;
            c->svn = cl->quote.sgx.isvsvn;
            memcpy(c->report_data, cl->quote.sgx.reportdata, 64);
        } else if (ek == CELLA_EV_TDX) {
            memcpy(c->measurement, cl->quote.td.mrtd, 48);
            c->measurement_len = 48;
            memcpy(c->report_data, cl->quote.td.reportdata, 64);
        } else {
            memcpy(c->measurement, cl->snp.measurement, 48);
            c->measurement_len = 48;
            memcpy(c->report_data, cl->snp.report_data, 64);
        }
        snprintf(c->tcb, sizeof c->tcb, "%s",
                 ek == CELLA_EV_SNP ? "VCEK TCB" : cella_tcb_status_str(cl->tcb_status));
    }
    cella_collateral_found_free(&found);
    free(any);
    return r;
}

/* The session's evidence policy applied to verified hardware claims. */
cella_res cas_hardware_policy(const json_t *doc, cella_evidence_claims *cl)
{
    static const char *const W = "evidence";
    const char *kn = cella_evidence_kind_str(cl->kind);
    cella_evidence_policy *pol = calloc(1, sizeof *pol);
    cella_res r = pol ? session_evidence_policy(doc, pol)
                      : cella_fail(CELLA_E_NOMEM, W, "out of memory");
    if (cella_ok(r) && !(pol->kinds & (unsigned)cl->kind))
        r = cella_fail(CELLA_E_POLICY, "security.tee",
                       "%s enclaves are not accepted by this session", kn);
    if (cella_ok(r)) {
        r = cella_evidence_policy_check(pol, cl);
        if (!cella_ok(r)) {
            char what[512];
            snprintf(what, sizeof what, "%s", cella_error_what());
            r = cella_fail(r.code, W, "%s", what);
        }
    }
    free(pol);
    return r;
}

static bool in_str_array(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) if (json_string_value(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* Checks claims against the session's policy for `service`. */
cella_res cas_check_policy(const json_t *doc, const json_t *svc, const cas_claims *c)
{
    const json_t *sec = json_object_get(doc, "security");
    const char *kind = cella_tee_kind_name(c->kind);
    CELLA_ENSURE(in_str_array(json_object_get(sec, "tee"), kind), CELLA_E_POLICY, "security.tee",
                 "%s enclaves are not accepted by this session", kind);
    if (c->kind == CELLA_TEE_SIM)
        CELLA_ENSURE(json_is_true(json_object_get(sec, "allow_sim")), CELLA_E_POLICY,
                     "security.allow_sim", "sim enclaves are not allowed by this session");
    CELLA_ENSURE(!c->debug || json_is_true(json_object_get(sec, "allow_debug")), CELLA_E_POLICY,
                 "security.allow_debug", "debug enclave refused by policy");
    char m[97];
    cella_hex_encode(m, c->measurement, c->measurement_len, false);
    const json_t *variants = json_object_get(svc, "attestation");
    if (!json_is_array(variants)) {
        CELLA_ENSURE(in_str_array(json_object_get(svc, "mrenclaves"), m), CELLA_E_POLICY,
                     "mrenclaves", "measurement %s is not allowed for this service", m);
        return CELLA_OK_RES;
    }
    /* SCONE's variants: one must match, with every factor it names. */
    char sg[65] = "none";
    if (c->has_signer)
        cella_hex_encode(sg, c->signer, 32, false);
    size_t i;
    const json_t *v;
    json_array_foreach(variants, i, v) {
        const json_t *mr = json_object_get(v, "mrenclave"), *s = json_object_get(v, "signer");
        bool ok = !json_is_array(mr) || in_str_array(mr, m);
        if (ok && json_is_object(s)) {
            const char *want = json_string_value(json_object_get(s, "mrsigner"));
            ok = c->has_signer && want && !strcmp(want, sg) &&
                 json_integer_value(json_object_get(s, "isvprodid")) == c->prodid &&
                 json_integer_value(json_object_get(s, "isvsvn_min")) <= c->svn;
        }
        if (ok)
            return CELLA_OK_RES;
    }
    return cella_fail(CELLA_E_POLICY, "attestation",
                      "measurement %s, signer %s (product %u, svn %u) match no attestation "
                      "variant of this service",
                      m, sg, (unsigned)c->prodid, (unsigned)c->svn); /* zero without a signer */
}
/* Evidence verifier entry point, policy and claims. See evidence.h. */
#include "evidence/evidence.h"

#include <stdio.h>
#include <string.h>

#include "core/encoding.h"
#include "evidence/ossl.h"

const char *cella_evidence_kind_str(cella_evidence_kind k)
{
    switch (k) {
    case CELLA_EV_SGX:
        return "sgx";
    case CELLA_EV_TDX:
        return "tdx";
    case CELLA_EV_SNP:
        return "snp";
    default:
        return "auto";
    }
}

bool cella_evidence_kind_parse(const char *s, cella_evidence_kind *out)
{
    static const cella_evidence_kind all[] = {CELLA_EV_SGX, CELLA_EV_TDX, CELLA_EV_SNP,
                                              CELLA_EV_AUTO};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (s && !strcmp(s, cella_evidence_kind_str(all[i]))) {
            *out = all[i];
            return true;
        }
    return false;
}

/* ---- policy -------------------------------------------------------------- */

void cella_evidence_policy_default(cella_evidence_policy *p)
{
    memset(p, 0, sizeof *p);
    p->accepted_tcb = 1u << CELLA_TCB_UP_TO_DATE;
}

CELLA_RESULT cella_evidence_policy_accept_tcb(cella_evidence_policy *p, const char *status)
{
    cella_tcb_status s;
    CELLA_ENSURE(cella_tcb_status_parse(status, &s), CELLA_E_USAGE, "policy",
                 "unknown TCB status \"%s\"", status ? status : "");
    p->accepted_tcb |= 1u << s;
    return CELLA_OK_RES;
}

CELLA_RESULT cella_evidence_policy_tolerate(cella_evidence_policy *p, const char *advisory)
{
    CELLA_ENSURE(advisory && *advisory && strlen(advisory) < sizeof p->tolerated[0],
                 CELLA_E_USAGE, "policy", "invalid advisory id");
    CELLA_ENSURE(p->n_tolerated < CELLA_POLICY_MAX_ADVISORIES, CELLA_E_TOOBIG, "policy",
                 "too many tolerated advisories");
    snprintf(p->tolerated[p->n_tolerated++], sizeof p->tolerated[0], "%s", advisory);
    return CELLA_OK_RES;
}

static cella_res pol_hex(json_t *v, uint8_t *out, size_t n, const char *key)
{
    CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, key, "must be a hex string");
    return cella_hex_decode(out, n, json_string_value(v), json_string_length(v), key);
}

static cella_res pol_hex_list(json_t *v, uint8_t *out, size_t width, size_t *count,
                              const char *key)
{
    CELLA_ENSURE(json_is_array(v) && json_array_size(v) <= CELLA_POLICY_MAX_LIST,
                 CELLA_E_PARSE, key, "must be an array of at most %d hex strings",
                 CELLA_POLICY_MAX_LIST);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) CELLA_TRY(pol_hex(it, out + i * width, width, key));
    *count = json_array_size(v);
    return CELLA_OK_RES;
}

static cella_res pol_u16(json_t *v, uint16_t *out, const char *key)
{
    CELLA_ENSURE(json_is_integer(v) && json_integer_value(v) >= 0 &&
                     json_integer_value(v) <= 65535,
                 CELLA_E_PARSE, key, "must be an integer 0..65535");
    *out = (uint16_t)json_integer_value(v);
    return CELLA_OK_RES;
}

static cella_res policy_apply(json_t *o, cella_evidence_policy *p)
{
    CELLA_ENSURE(json_is_object(o), CELLA_E_PARSE, "policy", "must be a JSON object");
    const char *key;
    json_t *v;
    bool tcb_given = false;
    json_object_foreach(o, key, v)
    {
        if (!strcmp(key, "kinds")) {
            CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, key, "must be an array");
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
            {
                cella_evidence_kind k;
                CELLA_ENSURE(json_is_string(it) &&
                                 cella_evidence_kind_parse(json_string_value(it), &k) &&
                                 k != CELLA_EV_AUTO,
                             CELLA_E_PARSE, key, "kinds are \"sgx\", \"tdx\" and \"snp\"");
                p->kinds |= (unsigned)k;
            }
        } else if (!strcmp(key, "mrenclave")) {
            CELLA_TRY(pol_hex_list(v, &p->mrenclave[0][0], 32, &p->n_mrenclave, key));
        } else if (!strcmp(key, "mrsigner")) {
            CELLA_TRY(pol_hex(v, p->mrsigner, 32, key));
            p->has_mrsigner = true;
        } else if (!strcmp(key, "isvprodid")) {
            CELLA_TRY(pol_u16(v, &p->isvprodid, key));
        } else if (!strcmp(key, "min_isvsvn")) {
            CELLA_TRY(pol_u16(v, &p->min_isvsvn, key));
        } else if (!strcmp(key, "mrtd")) {
            CELLA_TRY(pol_hex_list(v, &p->mrtd[0][0], 48, &p->n_mrtd, key));
        } else if (!strncmp(key, "rtmr", 4) && key[4] >= '0' && key[4] <= '3' && !key[5]) {
            CELLA_TRY(pol_hex(v, p->rtmr[key[4] - '0'], 48, key));
            p->has_rtmr[key[4] - '0'] = true;
        } else if (!strcmp(key, "snp_measurement")) {
            CELLA_TRY(pol_hex_list(v, &p->snp_measurement[0][0], 48, &p->n_snp_measurement,
                                   key));
        } else if (!strcmp(key, "report_data")) {
            CELLA_ENSURE(json_is_string(v) && json_string_length(v) % 2 == 0 &&
                             json_string_length(v) <= 128,
                         CELLA_E_PARSE, key, "must be at most 64 bytes of hex");
            p->report_data_len = json_string_length(v) / 2;
            CELLA_TRY(pol_hex(v, p->report_data, p->report_data_len, key));
        } else if (!strcmp(key, "allow_debug")) {
            CELLA_ENSURE(json_is_boolean(v), CELLA_E_PARSE, key, "must be true or false");
            p->allow_debug = json_is_true(v);
        } else if (!strcmp(key, "accepted_tcb_statuses")) {
            CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, key, "must be an array");
            if (!tcb_given)
                p->accepted_tcb = 0;
            tcb_given = true;
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
                CELLA_TRY(cella_evidence_policy_accept_tcb(p, json_string_value(it)));
        } else if (!strcmp(key, "tolerated_advisories")) {
            CELLA_ENSURE(json_is_array(v), CELLA_E_PARSE, key, "must be an array");
            size_t i;
            json_t *it;
            json_array_foreach(v, i, it)
                CELLA_TRY(cella_evidence_policy_tolerate(p, json_string_value(it)));
        } else {
            return cella_fail(CELLA_E_PARSE, "policy", "unknown key \"%s\"", key);
        }
    }
    return CELLA_OK_RES;
}

CELLA_RESULT cella_evidence_policy_from_json(cella_slice json, cella_evidence_policy *p)
{
    cella_evidence_policy_default(p);
    json_error_t err;
    json_t *o = json_loadb((const char *)json.p, json.len, JSON_REJECT_DUPLICATES, &err);
    CELLA_ENSURE(o, CELLA_E_PARSE, "policy", "not JSON (line %d: %s)", err.line, err.text);
    cella_res r = policy_apply(o, p);
    json_decref(o);
    return r;
}

/* ---- parse and verify ---------------------------------------------------- */

static cella_evidence_kind detect(cella_slice ev)
{
    if (ev.len >= 8) {
        uint16_t v = cella_get_u16le(ev.p), akt = cella_get_u16le(ev.p + 2);
        uint32_t tee = cella_get_u32le(ev.p + 4);
        if (v >= 3 && v <= 5 && akt == 2)
            return tee == CELLA_QUOTE_TEE_TDX ? CELLA_EV_TDX : CELLA_EV_SGX;
        uint32_t sv = cella_get_u32le(ev.p);
        if (sv >= 2 && sv <= 5 && ev.len >= CELLA_SNP_REPORT_BYTES)
            return CELLA_EV_SNP;
    }
    return CELLA_EV_AUTO;
}

CELLA_RESULT cella_evidence_parse(cella_evidence_kind kind, cella_slice ev,
                                  cella_evidence_claims *out)
{
    memset(out, 0, sizeof *out);
    out->tcb_status = CELLA_TCB_UNKNOWN;
    out->code = CELLA_E_PARSE;
    if (kind == CELLA_EV_AUTO)
        kind = detect(ev);
    CELLA_ENSURE(kind != CELLA_EV_AUTO, CELLA_E_PARSE, "evidence",
                 "not an SGX/TDX quote or an SNP report");
    out->kind = kind;
    if (kind == CELLA_EV_SNP) {
        CELLA_TRY(cella_snp_parse(ev, &out->snp));
        out->debug = cella_snp_is_debug(&out->snp);
    } else {
        CELLA_TRY(cella_quote_parse(ev, &out->quote));
        CELLA_ENSURE(out->quote.is_tdx == (kind == CELLA_EV_TDX), CELLA_E_PARSE, "evidence",
                     "quote is %s, not %s", out->quote.is_tdx ? "TDX" : "SGX",
                     kind == CELLA_EV_TDX ? "TDX" : "SGX");
        out->debug = cella_quote_is_debug(&out->quote);
    }
    out->parsed = true;
    out->code = CELLA_OK;
    return CELLA_OK_RES;
}

static bool tolerated(const cella_evidence_policy *p, const char *id)
{
    for (size_t i = 0; i < p->n_tolerated; i++)
        if (!strcmp(p->tolerated[i], "*") || !strcmp(p->tolerated[i], id))
            return true;
    return false;
}

cella_res cella_evidence_policy_check(const cella_evidence_policy *p, cella_evidence_claims *c)
{
    static const char *const W = "policy";
    const char *kn = cella_evidence_kind_str(c->kind);
    CELLA_ENSURE(!p->kinds || (p->kinds & (unsigned)c->kind), CELLA_E_POLICY, W,
                 "%s evidence refused by policy (kind not accepted)", kn);
    if (c->debug && !p->allow_debug) {
        if (c->kind == CELLA_EV_SGX)
            return cella_fail(CELLA_E_POLICY, W, "debug enclave refused by policy");
        if (c->kind == CELLA_EV_TDX)
            return cella_fail(CELLA_E_POLICY, W,
                              "debug TD refused by policy (TDATTRIBUTES.DEBUG set)");
        return cella_fail(CELLA_E_POLICY, W,
                          "debug guest refused by policy (SNP policy DEBUG bit set)");
    }
    if (c->kind != CELLA_EV_SNP) {
        CELLA_ENSURE(p->accepted_tcb & (1u << c->tcb_status), CELLA_E_POLICY, W,
                     "TCB status %s refused by policy", cella_tcb_status_str(c->tcb_status));
        const cella_advisories *a = &c->dcap.advisories;
        for (size_t i = 0; i < a->n; i++)
            CELLA_ENSURE(tolerated(p, a->id[i]), CELLA_E_POLICY, W,
                         "advisory %s not tolerated by policy", a->id[i]);
    }
    const uint8_t *rd = c->kind == CELLA_EV_SNP ? c->snp.report_data
                        : c->kind == CELLA_EV_TDX ? c->quote.td.reportdata
                                                  : c->quote.sgx.reportdata;
    CELLA_ENSURE(!p->report_data_len || !memcmp(rd, p->report_data, p->report_data_len),
                 CELLA_E_POLICY, W, "report data does not match the expected value");

    bool named = false;
    if (c->kind == CELLA_EV_SGX) {
        const cella_sgx_report *r = &c->quote.sgx;
        if (p->n_mrenclave) {
            named = true;
            bool any = false;
            for (size_t i = 0; i < p->n_mrenclave; i++)
                any = any || !memcmp(p->mrenclave[i], r->mrenclave, 32);
            CELLA_ENSURE(any, CELLA_E_POLICY, W, "MRENCLAVE not allowed by policy");
        }
        if (p->has_mrsigner) {
            named = true;
            CELLA_ENSURE(!memcmp(p->mrsigner, r->mrsigner, 32), CELLA_E_POLICY, W,
                         "MRSIGNER not allowed by policy");
            CELLA_ENSURE(r->isvprodid == p->isvprodid, CELLA_E_POLICY, W,
                         "ISVPRODID %u not allowed by policy", (unsigned)r->isvprodid);
            CELLA_ENSURE(r->isvsvn >= p->min_isvsvn, CELLA_E_POLICY, W,
                         "ISVSVN %u below the policy minimum %u", (unsigned)r->isvsvn,
                         (unsigned)p->min_isvsvn);
        }
    } else if (c->kind == CELLA_EV_TDX) {
        const cella_td_report *r = &c->quote.td;
        if (p->n_mrtd) {
            named = true;
            bool any = false;
            for (size_t i = 0; i < p->n_mrtd; i++)
                any = any || !memcmp(p->mrtd[i], r->mrtd, 48);
            CELLA_ENSURE(any, CELLA_E_POLICY, W, "MRTD not allowed by policy");
        }
        for (int i = 0; i < 4; i++)
            if (p->has_rtmr[i]) {
                named = true;
                CELLA_ENSURE(!memcmp(p->rtmr[i], r->rtmr[i], 48), CELLA_E_POLICY, W,
                             "RTMR%d does not match the policy", i);
            }
    } else {
        if (p->n_snp_measurement) {
            named = true;
            bool any = false;
            for (size_t i = 0; i < p->n_snp_measurement; i++)
                any = any || !memcmp(p->snp_measurement[i], c->snp.measurement, 48);
            CELLA_ENSURE(any, CELLA_E_POLICY, W, "SNP measurement not allowed by policy");
        }
    }
    c->measurement_checked = named;
    return CELLA_OK_RES;
}

static cella_res verify_inner(cella_evidence_kind kind, cella_slice ev,
                              const cella_evidence_collateral *coll,
                              const cella_evidence_policy *policy, time_t now,
                              cella_evidence_claims *c)
{
    CELLA_TRY(cella_evidence_parse(kind, ev, c));
    if (c->kind == CELLA_EV_SNP) {
        CELLA_ENSURE(coll && coll->snp_cert.len && coll->snp_chain.len, CELLA_E_USAGE,
                     "evidence", "SNP verification needs the VCEK/VLEK and the AMD chain");
        CELLA_TRY(cella_snp_verify(&c->snp, coll->snp_cert, coll->snp_chain, now,
                                   &c->snp_result));
    } else {
        CELLA_ENSURE(coll && coll->dcap_collateral.len, CELLA_E_USAGE, "evidence",
                     "DCAP verification needs collateral");
        cella_dcap_collateral dc;
        CELLA_TRY(cella_dcap_collateral_parse(coll->dcap_collateral, &dc));
        cella_res r = cella_dcap_verify(&c->quote, &dc, now, &c->dcap);
        cella_dcap_collateral_free(&dc);
        CELLA_TRY(r);
        c->tcb_status = c->dcap.status;
    }
    c->verified = true;
    return cella_evidence_policy_check(policy, c);
}

CELLA_RESULT cella_evidence_verify(cella_evidence_kind kind, cella_slice ev,
                                   const cella_evidence_collateral *coll,
                                   const cella_evidence_policy *policy, time_t now,
                                   cella_evidence_claims *out)
{
    cella_evidence_policy def;
    if (!policy) {
        cella_evidence_policy_default(&def);
        policy = &def;
    }
    cella_res r = verify_inner(kind, ev, coll, policy, now, out);
    out->accepted = cella_ok(r);
    out->code = r.code;
    if (!cella_ok(r)) {
        const char *where = cella_error_where();
        if (where && *where && strcmp(where, "policy") != 0)
            snprintf(out->reason, sizeof out->reason, "%s: %s", where, cella_error_what());
        else
            snprintf(out->reason, sizeof out->reason, "%s", cella_error_what());
    }
    return r;
}

/* ---- claims as JSON ------------------------------------------------------ */

static void put_hex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
    char h[2 * 128 + 1];
    if (n > 128)
        return;
    cella_hex_encode(h, b, n, false);
    json_object_set_new(o, k, json_string(h));
}

static void put_int(json_t *o, const char *k, long long v)
{
    json_object_set_new(o, k, json_integer(v));
}

static void put_x(json_t *o, const char *k, unsigned long long v, bool pad)
{
    char b[32];
    snprintf(b, sizeof b, pad ? "0x%016llx" : "0x%llx", v);
    json_object_set_new(o, k, json_string(b));
}

static json_t *adv_json(const cella_advisories *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; a && arr && i < a->n; i++)
        json_array_append_new(arr, json_string(a->id[i]));
    return arr;
}

static json_t *status_pair(cella_tcb_status s, const cella_advisories *a)
{
    json_t *arr = json_array();
    json_array_append_new(arr, json_string(cella_tcb_status_str(s)));
    json_array_append_new(arr, adv_json(a));
    return arr;
}

static json_t *sgx_report_json(const cella_sgx_report *r)
{
    json_t *o = json_object();
    put_int(o, "attr_flags", (long long)r->attr_flags);
    put_hex(o, "attributes", r->attributes, 16);
    put_hex(o, "configid", r->configid, 64);
    put_int(o, "configsvn", r->configsvn);
    put_hex(o, "cpusvn", r->cpusvn, 16);
    put_hex(o, "isvextprodid", r->isvextprodid, 16);
    put_hex(o, "isvfamilyid", r->isvfamilyid, 16);
    put_int(o, "isvprodid", r->isvprodid);
    put_int(o, "isvsvn", r->isvsvn);
    put_int(o, "miscselect", r->miscselect);
    put_hex(o, "mrenclave", r->mrenclave, 32);
    put_hex(o, "mrsigner", r->mrsigner, 32);
    put_hex(o, "reportdata", r->reportdata, 64);
    put_int(o, "xfrm", (long long)r->xfrm);
    return o;
}

static json_t *td_report_json(const cella_td_report *r)
{
    json_t *o = json_object();
    put_hex(o, "mrconfigid", r->mrconfigid, 48);
    put_hex(o, "mrowner", r->mrowner, 48);
    put_hex(o, "mrownerconfig", r->mrownerconfig, 48);
    put_hex(o, "mrseam", r->mrseam, 48);
    put_hex(o, "mrsignerseam", r->mrsignerseam, 48);
    put_hex(o, "mrtd", r->mrtd, 48);
    put_hex(o, "reportdata", r->reportdata, 64);
    char k[8];
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "rtmr%d", i);
        put_hex(o, k, r->rtmr[i], 48);
    }
    put_hex(o, "seamattributes", r->seamattributes, 8);
    put_hex(o, "tdattributes", r->tdattributes, 8);
    put_hex(o, "tee_tcb_svn", r->tee_tcb_svn, 16);
    put_hex(o, "xfam", r->xfam, 8);
    if (r->v15) {
        put_hex(o, "tee_tcb_svn2", r->tee_tcb_svn2, 16);
        put_hex(o, "mrservicetd", r->mrservicetd, 48);
    }
    return o;
}

static json_t *pck_json(const cella_pck_ext *e)
{
    json_t *o = json_object();
    put_hex(o, "cpusvn", e->cpusvn, 16);
    put_hex(o, "fmspc", e->fmspc, 6);
    put_hex(o, "pceid", e->pceid, 2);
    put_int(o, "pcesvn", e->pcesvn);
    if (e->has_platform_instance_id)
        put_hex(o, "platform_instance_id", e->platform_instance_id, 16);
    put_hex(o, "ppid", e->ppid, 16);
    put_int(o, "sgx_type", e->sgx_type);
    json_t *a = json_array();
    for (int i = 0; i < 16; i++)
        json_array_append_new(a, json_integer(e->tcb_comps[i]));
    json_object_set_new(o, "tcb_comps", a);
    return o;
}

static json_t *triple(uint8_t a, uint8_t b, uint8_t c)
{
    json_t *arr = json_array();
    json_array_append_new(arr, json_integer(a));
    json_array_append_new(arr, json_integer(b));
    json_array_append_new(arr, json_integer(c));
    return arr;
}

static void snp_json(json_t *o, const cella_evidence_claims *c)
{
    const cella_snp_report *r = &c->snp;
    put_int(o, "version", r->version);
    put_int(o, "guest_svn", r->guest_svn);
    put_x(o, "policy", r->policy, false);
    json_t *pd = json_object();
    put_int(pd, "abi_minor", (long long)(r->policy & 0xff));
    put_int(pd, "abi_major", (long long)((r->policy >> 8) & 0xff));
    json_object_set_new(pd, "smt", json_boolean(r->policy & CELLA_SNP_POLICY_SMT));
    json_object_set_new(pd, "migrate_ma", json_boolean(r->policy & CELLA_SNP_POLICY_MIGRATE_MA));
    json_object_set_new(pd, "debug", json_boolean(r->policy & CELLA_SNP_POLICY_DEBUG));
    json_object_set_new(pd, "single_socket",
                        json_boolean(r->policy & CELLA_SNP_POLICY_SINGLE_SOCKET));
    json_object_set_new(o, "policy_decoded", pd);
    put_hex(o, "family_id", r->family_id, 16);
    put_hex(o, "image_id", r->image_id, 16);
    put_int(o, "vmpl", r->vmpl);
    put_int(o, "signature_algo", r->signature_algo);
    put_x(o, "current_tcb", r->current_tcb, true);
    put_x(o, "platform_info", r->platform_info, false);
    put_x(o, "signer_info", r->signer_info, false);
    json_object_set_new(o, "signing_key",
                        json_string(((r->signer_info >> 2) & 7) == 1 ? "VLEK" : "VCEK"));
    put_hex(o, "report_data", r->report_data, 64);
    put_hex(o, "measurement", r->measurement, 48);
    put_hex(o, "host_data", r->host_data, 32);
    put_hex(o, "id_key_digest", r->id_key_digest, 48);
    put_hex(o, "author_key_digest", r->author_key_digest, 48);
    put_hex(o, "report_id", r->report_id, 32);
    put_hex(o, "report_id_ma", r->report_id_ma, 32);
    put_x(o, "reported_tcb", r->reported_tcb, true);
    /* Milan/Genoa layout unless verification found a Turin root. */
    cella_snp_product prod = c->verified ? c->snp_result.product : CELLA_SNP_MILAN;
    if (!c->verified && r->version >= 3 && r->cpuid_fam_id == 0x1A)
        prod = CELLA_SNP_TURIN;
    cella_snp_tcb t = cella_snp_tcb_split(r->reported_tcb, prod);
    json_t *tp = json_object();
    put_int(tp, "bootloader", t.bootloader);
    put_int(tp, "tee", t.tee);
    put_int(tp, "snp", t.snp);
    put_int(tp, "microcode", t.microcode);
    if (prod == CELLA_SNP_TURIN)
        put_int(tp, "fmc", t.fmc);
    json_object_set_new(o, "reported_tcb_parts", tp);
    if (r->version >= 3) {
        put_int(o, "cpuid_fam_id", r->cpuid_fam_id);
        put_int(o, "cpuid_mod_id", r->cpuid_mod_id);
        put_int(o, "cpuid_step", r->cpuid_step);
    }
    put_hex(o, "chip_id", r->chip_id, 64);
    put_x(o, "committed_tcb", r->committed_tcb, true);
    json_object_set_new(o, "current_build_minor_major",
                        triple(r->current_build, r->current_minor, r->current_major));
    json_object_set_new(o, "committed_build_minor_major",
                        triple(r->committed_build, r->committed_minor, r->committed_major));
    put_x(o, "launch_tcb", r->launch_tcb, true);
    if (c->verified) {
        const cella_snp_cert_ext *e = &c->snp_result.ext;
        json_t *x = json_object();
        if (e->struct_version >= 0)
            put_int(x, "1", e->struct_version);
        json_object_set_new(x, "2", json_string(e->product_name));
        const int *spl[] = {&e->bl_spl, &e->tee_spl, &e->snp_spl, &e->spl4, &e->spl5,
                            &e->spl6,   &e->spl7,    &e->ucode_spl, &e->fmc_spl};
        for (int i = 0; i < 9; i++)
            if (*spl[i] >= 0) {
                char k[8];
                snprintf(k, sizeof k, "3.%d", i + 1);
                put_int(x, k, *spl[i]);
            }
        if (e->has_hwid)
            put_hex(x, "4", e->hwid, 64);
        json_object_set_new(o, "vcek_ext", x);
    }
}

json_t *cella_evidence_claims_json(const cella_evidence_claims *c, bool with_verdict)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "kind", json_string(cella_evidence_kind_str(c->kind)));
    if (c->parsed) {
        json_object_set_new(o, "debug", json_boolean(c->debug));
        if (c->kind == CELLA_EV_SNP) {
            snp_json(o, c);
        } else {
            const cella_quote *q = &c->quote;
            json_t *h = json_object();
            put_int(h, "version", q->version);
            put_int(h, "att_key_type", q->att_key_type);
            put_int(h, "tee_type", q->tee_type);
            put_int(h, "qe_svn", q->qe_svn);
            put_int(h, "pce_svn", q->pce_svn);
            put_hex(h, "qe_vendor_id", q->qe_vendor_id, 16);
            put_hex(h, "user_data", q->user_data, 20);
            if (q->version == 5)
                put_int(h, "body_type", q->body_type);
            json_object_set_new(o, "header", h);
            json_object_set_new(o, "report", q->is_tdx ? td_report_json(&q->td)
                                                       : sgx_report_json(&q->sgx));
            json_object_set_new(o, "qe_report", sgx_report_json(&q->qe_report));
        }
    }
    if (with_verdict && c->kind != CELLA_EV_SNP && c->dcap.have_pck) {
        const cella_dcap_result *d = &c->dcap;
        json_object_set_new(o, "pck_ext", pck_json(&d->pck));
        json_t *s = json_array();
        for (size_t i = 0; i < d->n_subjects; i++)
            json_array_append_new(s, json_string(d->pck_subjects[i]));
        json_object_set_new(o, "pck_chain_subjects", s);
        char t[32];
        struct tm tm;
        if (gmtime_r(&d->pck_not_after, &tm) &&
            strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S+00:00", &tm))
            json_object_set_new(o, "pck_not_after", json_string(t));
    }
    if (with_verdict) {
        if (c->kind != CELLA_EV_SNP && c->dcap.qe_status != CELLA_TCB_UNKNOWN)
            json_object_set_new(o, "qe_tcb_status",
                                status_pair(c->dcap.qe_status, &c->dcap.qe_advisories));
        if (c->kind != CELLA_EV_SNP && c->dcap.platform_status != CELLA_TCB_UNKNOWN)
            json_object_set_new(o, "platform_tcb_status",
                                status_pair(c->dcap.platform_status,
                                            &c->dcap.platform_advisories));
        if (c->kind == CELLA_EV_TDX && c->dcap.module_status != CELLA_TCB_UNKNOWN)
            json_object_set_new(o, "tdx_module_tcb_status",
                                json_string(cella_tcb_status_str(c->dcap.module_status)));
        if (c->verified && c->kind != CELLA_EV_SNP) {
            json_object_set_new(o, "tcb_status",
                                json_string(cella_tcb_status_str(c->tcb_status)));
            json_object_set_new(o, "advisory_ids", adv_json(&c->dcap.advisories));
        }
        json_t *v = json_object();
        json_object_set_new(v, "verified", json_boolean(c->verified));
        json_object_set_new(v, "accepted", json_boolean(c->accepted));
        json_object_set_new(v, "measurement_checked", json_boolean(c->measurement_checked));
        json_object_set_new(v, "result", json_string(c->accepted ? "OK" : "FAIL"));
        if (!c->accepted)
            json_object_set_new(v, "reason", json_string(c->reason));
        json_object_set_new(o, "verdict", v);
    }
    return o;
}

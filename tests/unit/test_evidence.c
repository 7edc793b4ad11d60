/* Hardware evidence: every real vector in vectors/attestation/ must give
 * exactly the outcome in expected.json at its stated time (claims, TCB status,
 * advisory set, refusals), and a one-byte change in any signed region must be
 * refused. Vectors come from $CELLA_VECTORS (see tests/CMakeLists.txt). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "core/fs.h"
#include "evidence/evidence.h"
#include "evidence/ossl.h"

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static const char *vdir(void)
{
    static char dir[1024];
    test_vector_path(dir, sizeof dir, "attestation");
    return dir;
}

static blob load(const char *rel)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", vdir(), rel);
    blob b = {0};
    assert_succeeds(cella_read_file(AT_FDCWD, path, 4u << 20, false, &b.p, &b.n));
    return b;
}

static json_t *expected(void)
{
    blob b = load("expected.json");
    json_error_t err;
    json_t *j = json_loadb((const char *)b.p, b.n, 0, &err);
    free(b.p);
    assert_non_null(j);
    return j;
}

static time_t at(const char *iso)
{
    time_t t;
    assert_succeeds(cella_ev_parse_time(iso, &t, "time"));
    return t;
}

/* Everything allowed: shows what verification alone establishes. */
static void permissive(cella_evidence_policy *p)
{
    cella_evidence_policy_default(p);
    p->allow_debug = true;
    p->accepted_tcb = ~0u;
    assert_succeeds(cella_evidence_policy_tolerate(p, "*"));
}

typedef struct {
    blob ev, coll, cert, chain;
    time_t now;
} vec;

static vec vec_load(json_t *exp, const char *name)
{
    vec v = {0};
    json_t *e = json_object_get(exp, name);
    assert_non_null(e);
    v.ev = load(name);
    json_t *c = json_object_get(e, "collateral");
    if (c)
        v.coll = load(json_string_value(c));
    if ((c = json_object_get(e, "cert")))
        v.cert = load(json_string_value(c));
    if ((c = json_object_get(e, "chain")))
        v.chain = load(json_string_value(c));
    v.now = at(json_string_value(json_object_get(e, "verify_time")));
    return v;
}

static void vec_free(vec *v)
{
    free(v->ev.p);
    free(v->coll.p);
    free(v->cert.p);
    free(v->chain.p);
}

static cella_res run(const vec *v, const uint8_t *ev, size_t n, const cella_evidence_policy *p,
                     time_t now, cella_evidence_claims *c)
{
    cella_evidence_collateral cl = {cella_slice_of(v->coll.p, v->coll.n),
                                    cella_slice_of(v->cert.p, v->cert.n),
                                    cella_slice_of(v->chain.p, v->chain.n)};
    return cella_evidence_verify(CELLA_EV_AUTO, cella_slice_of(ev, n), &cl, p, now, c);
}

static bool is_meta(const char *k)
{
    static const char *const meta[] = {"collateral", "cert",    "chain",
                                       "errors",     "result",  "verify_time",
                                       "advisory_ids", "platform_tcb_status"};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        if (!strcmp(k, meta[i]))
            return true;
    return false;
}

static bool str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (!strcmp(json_string_value(v), s)) return true;
    return false;
}

/* Advisory sets compare as sets. */
static void assert_same_set(json_t *want, json_t *got, const char *vname)
{
    if (!json_is_array(got) || json_array_size(want) != json_array_size(got))
        fail_msg("%s: advisory set differs in size", vname);
    size_t i;
    json_t *v;
    json_array_foreach(want, i, v) if (!str_in(got, json_string_value(v)))
        fail_msg("%s: advisory %s missing", vname, json_string_value(v));
}

/* Claims equal: every expected field (recursively for objects) equals ours. */
static void assert_claims(json_t *want, json_t *got, const char *vname, const char *path)
{
    const char *k;
    json_t *w;
    json_object_foreach(want, k, w)
    {
        if (!*path && is_meta(k))
            continue;
        json_t *g = json_object_get(got, k);
        if (!g) {
            char *s = json_dumps(got, JSON_COMPACT);
            fail_msg("%s: claim %s%s missing; got %s", vname, path, k, s);
        }
        if (json_is_object(w)) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s%s.", path, k);
            assert_claims(w, g, vname, sub);
        } else if (!json_equal(w, g)) {
            char *a = json_dumps(w, JSON_ENCODE_ANY), *b = json_dumps(g, JSON_ENCODE_ANY);
            fail_msg("%s: claim %s%s: expected %s, got %s", vname, path, k, a, b);
        }
    }
}

/* The core assertion: every vector, at its stated time, with everything
 * allowed by policy, gives exactly expected.json's outcome and claims. */
static void test_every_vector_matches_expected(void **state)
{
    (void)state;
    json_t *exp = expected();
    const char *name;
    json_t *e;
    int n = 0;
    json_object_foreach(exp, name, e)
    {
        vec v = vec_load(exp, name);
        cella_evidence_policy p;
        permissive(&p);
        cella_evidence_claims *c = calloc(1, sizeof *c);
        assert_non_null(c);
        cella_res r = run(&v, v.ev.p, v.ev.n, &p, v.now, c);
        const char *want = json_string_value(json_object_get(e, "result"));
        json_t *got = cella_evidence_claims_json(c, true);
        assert_non_null(got);
        if (!strcmp(want, "OK")) {
            if (!cella_ok(r))
                fail_msg("%s: expected OK, got %s", name, c->reason);
            assert_true(c->verified);
            if (json_object_get(e, "tcb_status"))
                assert_string_equal(cella_tcb_status_str(c->tcb_status),
                                    json_string_value(json_object_get(e, "tcb_status")));
            if (json_object_get(e, "advisory_ids"))
                assert_same_set(json_object_get(e, "advisory_ids"),
                                json_object_get(got, "advisory_ids"), name);
            json_t *pts = json_object_get(e, "platform_tcb_status");
            if (pts) {
                json_t *g = json_object_get(got, "platform_tcb_status");
                assert_non_null(g);
                assert_true(json_equal(json_array_get(pts, 0), json_array_get(g, 0)));
                assert_same_set(json_array_get(pts, 1), json_array_get(g, 1), name);
            }
        } else {
            /* The only FAIL vector: gotdx SPR E4, crypto and collateral OK
             * but no TCB level matches (expected.json errors[0]). */
            assert_false(cella_ok(r));
            assert_false(c->verified);
            assert_int_equal(r.code, CELLA_E_POLICY);
            assert_non_null(strstr(c->reason, "no matching TCB level"));
            json_t *errs = json_object_get(e, "errors");
            assert_non_null(strstr(json_string_value(json_array_get(errs, 0)),
                                   "no matching TCB level"));
            assert_string_equal(
                json_string_value(json_array_get(json_object_get(got, "qe_tcb_status"), 0)),
                "UpToDate");
            json_object_del(e, "tcb_status");
        }
        assert_claims(e, got, name, "");
        json_decref(got);
        free(c);
        vec_free(&v);
        n++;
    }
    assert_true(n >= 7); /* every entry of expected.json ran */
    json_decref(exp);
}

/* With the default policy (production, UpToDate only): the debug vectors are
 * refused for debug, the prod SGX one for its TCB status, the others pass. */
static void test_default_policy_verdicts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        cella_code code;
        const char *reason;
    } want[] = {
        {"sgx-dcap-v3/phala_sgx_quote.bin", CELLA_E_POLICY,
         "TCB status ConfigurationAndSWHardeningNeeded refused by policy"},
        {"sgx-dcap-v3/occlum_debug_quote.bin", CELLA_E_POLICY, "debug enclave refused by policy"},
        {"tdx-dcap-v4/phala_tdx_quote.bin", CELLA_OK, NULL},
        {"tdx-dcap-v4/trustee_tdx_quote_4_debug.bin", CELLA_E_POLICY, "debug TD refused by policy"},
        {"tdx-dcap-v4/gotdx_spr_e4_quote.bin", CELLA_E_POLICY, "no matching TCB level"},
        {"sev-snp/gosev_milan_debug_report.bin", CELLA_E_POLICY,
         "debug guest refused by policy"},
        {"sev-snp/trustee_milan_vcek_report.bin", CELLA_OK, NULL},
    };
    json_t *exp = expected();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        vec v = vec_load(exp, want[i].name);
        cella_evidence_claims *c = calloc(1, sizeof *c);
        cella_res r = run(&v, v.ev.p, v.ev.n, NULL, v.now, c);
        if (r.code != want[i].code)
            fail_msg("%s: expected %s, got %s (%s)", want[i].name,
                     cella_code_str(want[i].code), cella_code_str(r.code), c->reason);
        if (want[i].reason && !strstr(c->reason, want[i].reason))
            fail_msg("%s: reason \"%s\" lacks \"%s\"", want[i].name, c->reason, want[i].reason);
        assert_int_equal(c->accepted, want[i].code == CELLA_OK);
        free(c);
        vec_free(&v);
    }
    json_decref(exp);
}

/* Advisories must each be tolerated once the status is accepted. */
static void test_policy_advisories_and_measurements(void **state)
{
    (void)state;
    json_t *exp = expected();
    vec v = vec_load(exp, "sgx-dcap-v3/phala_sgx_quote.bin");
    cella_evidence_claims *c = calloc(1, sizeof *c);
    cella_evidence_policy p;
    cella_evidence_policy_default(&p);
    assert_succeeds(cella_evidence_policy_accept_tcb(&p, "ConfigurationAndSWHardeningNeeded"));
    assert_succeeds(cella_evidence_policy_tolerate(&p, "INTEL-SA-00289"));
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    assert_string_equal(c->reason, "advisory INTEL-SA-00615 not tolerated by policy");
    assert_succeeds(cella_evidence_policy_tolerate(&p, "INTEL-SA-00615"));
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    assert_false(c->measurement_checked);

    /* MRENCLAVE allow-list, then MRSIGNER + product + min SVN, via JSON. */
    static const char pol_ok[] =
        "{\"kinds\":[\"sgx\"],\"mrenclave\":[\"33d8736db756ed4997e04ba358d27833188f1932ff7b1d"
        "156904d3f560452fbb\"],\"accepted_tcb_statuses\":[\"UpToDate\","
        "\"ConfigurationAndSWHardeningNeeded\"],\"tolerated_advisories\":[\"*\"],"
        "\"report_data\":\"48656c6c6f\"}";
    assert_succeeds(cella_evidence_policy_from_json(cella_slice_of(pol_ok, strlen(pol_ok)), &p));
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    assert_true(c->measurement_checked);
    p.mrenclave[0][0] ^= 1;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    assert_string_equal(c->reason, "MRENCLAVE not allowed by policy");
    p.mrenclave[0][0] ^= 1;
    p.report_data[0] ^= 1;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    p.report_data[0] ^= 1;
    static const char pol_signer[] =
        "{\"mrsigner\":\"815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6\","
        "\"isvprodid\":0,\"min_isvsvn\":1,\"accepted_tcb_statuses\":["
        "\"ConfigurationAndSWHardeningNeeded\"],\"tolerated_advisories\":[\"*\"]}";
    assert_succeeds(
        cella_evidence_policy_from_json(cella_slice_of(pol_signer, strlen(pol_signer)), &p));
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    assert_non_null(strstr(c->reason, "ISVSVN 0 below the policy minimum 1"));
    p.min_isvsvn = 0;
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    p.kinds = CELLA_EV_TDX;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);

    /* Bad policies are refused, not ignored. */
    static const char bad1[] = "{\"allow_debugg\":true}";
    static const char bad2[] = "{\"accepted_tcb_statuses\":[\"Fine\"]}";
    assert_fails_with(cella_evidence_policy_from_json(cella_slice_of(bad1, strlen(bad1)), &p),
                      CELLA_E_PARSE);
    assert_fails_with(cella_evidence_policy_from_json(cella_slice_of(bad2, strlen(bad2)), &p),
                      CELLA_E_USAGE);
    vec_free(&v);

    /* TDX MRTD / RTMR and SNP measurement. */
    v = vec_load(exp, "tdx-dcap-v4/phala_tdx_quote.bin");
    cella_evidence_policy_default(&p);
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    memcpy(p.mrtd[0], c->quote.td.mrtd, 48);
    p.n_mrtd = 1;
    memcpy(p.rtmr[0], c->quote.td.rtmr[0], 48);
    p.has_rtmr[0] = true;
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    p.rtmr[0][47] ^= 1;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    assert_string_equal(c->reason, "RTMR0 does not match the policy");
    vec_free(&v);

    v = vec_load(exp, "sev-snp/trustee_milan_vcek_report.bin");
    cella_evidence_policy_default(&p);
    p.n_snp_measurement = 1;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_POLICY);
    memcpy(p.snp_measurement[0], c->snp.measurement, 48);
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    vec_free(&v);
    free(c);
    json_decref(exp);
}

/* Outside the collateral's window everything is refused (MANIFEST.md). */
static void test_expired_refused(void **state)
{
    (void)state;
    json_t *exp = expected();
    cella_evidence_policy p;
    permissive(&p);
    cella_evidence_claims *c = calloc(1, sizeof *c);

    vec v = vec_load(exp, "sgx-dcap-v3/phala_sgx_quote.bin");
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2025-08-01T00:00:00Z"), c), CELLA_E_AUTH);
    assert_non_null(strstr(c->reason, "expired"));
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2025-06-01T00:00:00Z"), c), CELLA_E_AUTH);
    assert_non_null(strstr(c->reason, "not yet valid"));
    vec_free(&v);

    v = vec_load(exp, "tdx-dcap-v4/gotdx_spr_e4_quote.bin");
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2053-07-01T00:00:00Z"), c), CELLA_E_AUTH);
    assert_non_null(strstr(c->reason, "expired"));
    vec_free(&v);

    v = vec_load(exp, "tdx-dcap-v4/phala_tdx_quote.bin");
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2025-07-20T00:00:00Z"), c), CELLA_E_AUTH);
    assert_non_null(strstr(c->reason, "expired"));
    vec_free(&v);

    v = vec_load(exp, "sev-snp/trustee_milan_vcek_report.bin");
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2031-01-01T00:00:00Z"), c), CELLA_E_AUTH);
    assert_string_equal(c->reason, "VCEK: certificate has expired");
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, at("2022-01-01T00:00:00Z"), c), CELLA_E_AUTH);
    vec_free(&v);
    free(c);
    json_decref(exp);
}

/* Flip one byte at `off` and expect refusal with CELLA_E_AUTH (or a parse
 * failure when the byte is structural) naming `what`. */
static void flip_refused(const vec *v, size_t off, const char *what)
{
    uint8_t *m = malloc(v->ev.n);
    assert_non_null(m);
    memcpy(m, v->ev.p, v->ev.n);
    m[off] ^= 0x01;
    cella_evidence_policy p;
    permissive(&p);
    cella_evidence_claims *c = calloc(1, sizeof *c);
    cella_res r = run(v, m, v->ev.n, &p, v->now, c);
    if (cella_ok(r))
        fail_msg("flip at %zu (%s) was accepted", off, what);
    if (what && !strstr(c->reason, what))
        fail_msg("flip at %zu: reason \"%s\" lacks \"%s\"", off, c->reason, what);
    free(c);
    free(m);
}

static void test_tamper_quotes(void **state)
{
    (void)state;
    json_t *exp = expected();
    vec v = vec_load(exp, "sgx-dcap-v3/phala_sgx_quote.bin");
    flip_refused(&v, 368, "quote signature"); /* REPORTDATA[0] */
    flip_refused(&v, 112, "quote signature"); /* MRENCLAVE[0] */
    flip_refused(&v, 28, "quote signature");  /* header user_data */
    flip_refused(&v, 436, "quote signature"); /* signature r */
    flip_refused(&v, 500, NULL);              /* attestation key */
    flip_refused(&v, 564 + 100, "QE report signature");   /* QE report body */
    flip_refused(&v, 564 + 384, "QE report signature");   /* QE report sig */
    flip_refused(&v, 564 + 384 + 64 + 2, "QE report");    /* QE auth data: binding */
    flip_refused(&v, v.ev.n - 200, NULL); /* inside the PEM PCK chain */
    /* Every signed byte of header and body. */
    for (size_t off = 0; off < 432; off += 7)
        flip_refused(&v, off, NULL);
    vec_free(&v);

    v = vec_load(exp, "tdx-dcap-v4/phala_tdx_quote.bin");
    flip_refused(&v, 568, "quote signature"); /* REPORTDATA[0] */
    flip_refused(&v, 184, "quote signature"); /* MRTD[0] */
    flip_refused(&v, 376, "quote signature"); /* RTMR0[0] */
    for (size_t off = 0; off < 632; off += 11)
        flip_refused(&v, off, NULL);
    vec_free(&v);
    json_decref(exp);
}

static void test_tamper_snp(void **state)
{
    (void)state;
    json_t *exp = expected();
    vec v = vec_load(exp, "sev-snp/trustee_milan_vcek_report.bin");
    flip_refused(&v, 42, "SNP report signature");
    flip_refused(&v, 384, NULL); /* REPORTED_TCB: signature (and TCB) */
    flip_refused(&v, 0x90, "SNP report signature"); /* MEASUREMENT */
    flip_refused(&v, 0x2A0, "SNP report signature"); /* r */
    for (size_t off = 0; off < CELLA_SNP_SIGNED_BYTES; off += 13)
        flip_refused(&v, off, NULL);

    /* Wrong AMD chain (Genoa) and a chain without a pinned ARK. */
    cella_evidence_policy p;
    permissive(&p);
    cella_evidence_claims *c = calloc(1, sizeof *c);
    blob genoa = load("roots/amd_genoa_ask_ark.pem");
    blob saved = v.chain;
    v.chain = genoa;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_AUTH);
    blob vlek = load("roots/amd_milan_asvk_ark.pem");
    v.chain = vlek;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_AUTH);
    v.chain = saved;
    /* Another chip's VCEK. */
    blob other = load("sev-snp/gosev_milan_vcek.der");
    blob saved_cert = v.cert;
    v.cert = other;
    assert_fails_with(run(&v, v.ev.p, v.ev.n, &p, v.now, c), CELLA_E_AUTH);
    v.cert = saved_cert;
    assert_succeeds(run(&v, v.ev.p, v.ev.n, &p, v.now, c));
    free(genoa.p);
    free(vlek.p);
    free(other.p);
    free(c);
    vec_free(&v);
    json_decref(exp);
}

/* One character changed in each signed collateral item is refused. */
static void tamper_collateral(vec *v, const char *field, size_t pos_from_end, const char *what)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)v->coll.p, v->coll.n, 0, &err);
    assert_non_null(j);
    const char *s = json_string_value(json_object_get(j, field));
    assert_non_null(s);
    char *m = strdup(s);
    size_t n = strlen(m);
    size_t i = n - pos_from_end;
    m[i] = m[i] == '0' ? '1' : (m[i] == '1' ? '0' : (m[i] == 'a' ? 'b' : 'a'));
    json_object_set_new(j, field, json_string(m));
    char *out = json_dumps(j, 0);
    cella_evidence_collateral cl = {cella_slice_of(out, strlen(out)), {0}, {0}};
    cella_evidence_policy p;
    permissive(&p);
    cella_evidence_claims *c = calloc(1, sizeof *c);
    cella_res r = cella_evidence_verify(CELLA_EV_AUTO, cella_slice_of(v->ev.p, v->ev.n), &cl,
                                        &p, v->now, c);
    if (cella_ok(r))
        fail_msg("tampered %s accepted", field);
    if (!strstr(c->reason, what))
        fail_msg("tampered %s: reason \"%s\" lacks \"%s\"", field, c->reason, what);
    free(c);
    free(out);
    free(m);
    json_decref(j);
}

static void test_tamper_collateral(void **state)
{
    (void)state;
    json_t *exp = expected();
    vec v = vec_load(exp, "sgx-dcap-v3/phala_sgx_quote.bin");
    tamper_collateral(&v, "tcb_info", 40, "TCB info: signature does not verify");
    tamper_collateral(&v, "qe_identity", 40, "QE identity: signature does not verify");
    tamper_collateral(&v, "tcb_info_signature", 3, "TCB info: signature does not verify");
    tamper_collateral(&v, "pck_crl", 10, "PCK CRL: CRL signature does not verify");
    tamper_collateral(&v, "root_ca_crl", 10, "Root CA CRL: CRL signature does not verify");
    vec_free(&v);
    json_decref(exp);
}

/* Length fields rule: trailing bytes are ignored, every truncation fails
 * cleanly, and v5 (TDX 1.0 and 1.5 bodies) parses. */
static void test_parse_lengths_and_v5(void **state)
{
    (void)state;
    json_t *exp = expected();
    vec v = vec_load(exp, "tdx-dcap-v4/gotdx_spr_e4_quote.bin");
    cella_quote *q = calloc(1, sizeof *q);
    assert_succeeds(cella_quote_parse(cella_slice_of(v.ev.p, v.ev.n), q));
    assert_int_equal(q->quote_len, 4935);
    assert_int_equal(v.ev.n, 4974);
    for (size_t n = 0; n < 4935; n++)
        assert_false(cella_ok(cella_quote_parse(cella_slice_of(v.ev.p, n), q)));
    vec_free(&v);

    v = vec_load(exp, "tdx-dcap-v4/phala_tdx_quote.bin");
    cella_quote *q4 = calloc(1, sizeof *q4);
    assert_succeeds(cella_quote_parse(cella_slice_of(v.ev.p, v.ev.n), q4));
    assert_int_equal(q4->quote_len, 4936);
    for (int type = 2; type <= 3; type++) {
        size_t extra = type == 3 ? 64 : 0;
        size_t n5 = q4->quote_len + 6 + extra;
        uint8_t *b = calloc(1, n5);
        memcpy(b, v.ev.p, 48);
        cella_put_u16le(b, 5);
        cella_put_u16le(b + 48, (uint16_t)type);
        cella_put_u32le(b + 50, (uint32_t)(584 + extra));
        memcpy(b + 54, v.ev.p + 48, 584);
        memset(b + 54 + 584, 0xAB, extra);
        memcpy(b + 54 + 584 + extra, v.ev.p + 632, q4->quote_len - 632);
        assert_succeeds(cella_quote_parse(cella_slice_of(b, n5), q));
        assert_int_equal(q->version, 5);
        assert_int_equal(q->body_type, type);
        assert_memory_equal(q->td.mrtd, q4->td.mrtd, 48);
        assert_memory_equal(q->td.reportdata, q4->td.reportdata, 64);
        assert_memory_equal(q->qe_report_sig, q4->qe_report_sig, 64);
        assert_int_equal(q->td.v15, type == 3);
        if (type == 3)
            assert_int_equal(q->td.mrservicetd[0], 0xAB);
        cella_evidence_claims *c = calloc(1, sizeof *c);
        assert_succeeds(cella_evidence_parse(CELLA_EV_AUTO, cella_slice_of(b, n5), c));
        assert_int_equal(c->kind, CELLA_EV_TDX);
        /* A changed body type is a parse error, not a misread. */
        cella_put_u16le(b + 48, 7);
        assert_fails_with(cella_quote_parse(cella_slice_of(b, n5), q), CELLA_E_UNSUPPORTED);
        free(c);
        free(b);
    }
    free(q4);
    vec_free(&v);

    v = vec_load(exp, "sev-snp/gosev_milan_debug_report.bin");
    cella_snp_report r;
    for (size_t n = 0; n < CELLA_SNP_REPORT_BYTES; n += 17)
        assert_false(cella_ok(cella_snp_parse(cella_slice_of(v.ev.p, n), &r)));
    assert_succeeds(cella_snp_parse(cella_slice_of(v.ev.p, v.ev.n), &r));
    assert_true(cella_snp_is_debug(&r));
    vec_free(&v);
    free(q);
    json_decref(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_vector_matches_expected),
        cmocka_unit_test(test_default_policy_verdicts),
        cmocka_unit_test(test_policy_advisories_and_measurements),
        cmocka_unit_test(test_expired_refused),
        cmocka_unit_test(test_tamper_quotes),
        cmocka_unit_test(test_tamper_snp),
        cmocka_unit_test(test_tamper_collateral),
        cmocka_unit_test(test_parse_lengths_and_v5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

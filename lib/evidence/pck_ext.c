/* The SGX extension of an Intel PCK certificate (OID 1.2.840.113741.1.13.1):
 * PPID, TCB components, PCE id, FMSPC, SGX type and platform instance id, as
 * dcap.c's TCB evaluation reads them. The extension's bytes come with the
 * quote and are untrusted until the chain is verified (fuzzed through
 * fuzz/fuzz_evidence_quote.c). */
#include "evidence/pck_ext.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

static const ASN1_STRING *seq_of(const ASN1_TYPE *t)
{
    return t && t->type == V_ASN1_SEQUENCE ? t->value.sequence : NULL;
}

/* Parses a SEQUENCE { OID, value } into its two members. */
static STACK_OF(ASN1_TYPE) *pair_of(const ASN1_TYPE *t, const char **oid_tail, char *buf,
                                    size_t cap)
{
    const ASN1_STRING *s = seq_of(t);
    if (!s)
        return NULL;
    const unsigned char *p = ASN1_STRING_get0_data(s);
    long n = ASN1_STRING_length(s);
    const unsigned char *q = p;
    STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &q, n);
    if (!sk || q != p + n || sk_ASN1_TYPE_num(sk) != 2 ||
        sk_ASN1_TYPE_value(sk, 0)->type != V_ASN1_OBJECT ||
        OBJ_obj2txt(buf, (int)cap, sk_ASN1_TYPE_value(sk, 0)->value.object, 1) <= 0) {
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        return NULL;
    }
    *oid_tail = buf;
    return sk;
}

static bool octets(const ASN1_TYPE *v, uint8_t *out, size_t n)
{
    if (!v || v->type != V_ASN1_OCTET_STRING ||
        (size_t)ASN1_STRING_length(v->value.octet_string) != n)
        return false;
    memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), n);
    return true;
}

static long small_int(const ASN1_TYPE *v)
{
    if (v && v->type == V_ASN1_INTEGER)
        return ASN1_INTEGER_get(v->value.integer);
    if (v && v->type == V_ASN1_ENUMERATED)
        return ASN1_ENUMERATED_get(v->value.enumerated);
    return -1;
}

#define SGX_OID "1.2.840.113741.1.13.1"

static cella_res pck_tcb_parse(const ASN1_TYPE *v, cella_pck_ext *e, unsigned *seen)
{
    const ASN1_STRING *s = seq_of(v);
    CELLA_ENSURE(s, CELLA_E_PARSE, "PCK certificate", "malformed SGX TCB extension");
    const unsigned char *p = ASN1_STRING_get0_data(s);
    long n = ASN1_STRING_length(s);
    const unsigned char *q = p;
    STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &q, n);
    cella_res res = CELLA_OK_RES;
    if (!sk || q != p + n) {
        res = cella_fail(CELLA_E_PARSE, "PCK certificate", "malformed SGX TCB extension");
        goto out;
    }
    for (int i = 0; i < sk_ASN1_TYPE_num(sk); i++) {
        char buf[80];
        const char *oid;
        STACK_OF(ASN1_TYPE) *pr = pair_of(sk_ASN1_TYPE_value(sk, i), &oid, buf, sizeof buf);
        if (!pr) {
            res = cella_fail(CELLA_E_PARSE, "PCK certificate", "malformed SGX TCB entry");
            goto out;
        }
        const ASN1_TYPE *val = sk_ASN1_TYPE_value(pr, 1);
        static const char pre[] = SGX_OID ".2.";
        if (!strncmp(oid, pre, sizeof pre - 1)) {
            int k = atoi(oid + sizeof pre - 1);
            long x = small_int(val);
            if (k >= 1 && k <= 16 && x >= 0 && x <= 255) {
                e->tcb_comps[k - 1] = (uint8_t)x;
                *seen |= 1u << (k - 1);
            } else if (k == 17 && x >= 0 && x <= 65535) {
                e->pcesvn = (uint16_t)x;
                *seen |= 1u << 16;
            } else if (k == 18 && octets(val, e->cpusvn, 16)) {
                *seen |= 1u << 17;
            } else {
                res = cella_fail(CELLA_E_PARSE, "PCK certificate", "bad SGX TCB entry %s", oid);
            }
        }
        sk_ASN1_TYPE_pop_free(pr, ASN1_TYPE_free);
        if (!cella_ok(res))
            goto out;
    }
out:
    sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
    ERR_clear_error();
    return res;
}

CELLA_RESULT cella_pck_ext_parse(const uint8_t *der, size_t len, cella_pck_ext *e)
{
    memset(e, 0, sizeof *e);
    e->sgx_type = -1;
    const unsigned char *q = der;
    STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &q, (long)len);
    cella_res res = CELLA_OK_RES;
    unsigned seen = 0, tcb_seen = 0;
    if (!sk || q != der + len) {
        res = cella_fail(CELLA_E_PARSE, "PCK certificate", "malformed SGX extension");
        goto out;
    }
    for (int i = 0; i < sk_ASN1_TYPE_num(sk) && cella_ok(res); i++) {
        char buf[80];
        const char *oid;
        STACK_OF(ASN1_TYPE) *pr = pair_of(sk_ASN1_TYPE_value(sk, i), &oid, buf, sizeof buf);
        if (!pr) {
            res = cella_fail(CELLA_E_PARSE, "PCK certificate", "malformed SGX extension entry");
            break;
        }
        const ASN1_TYPE *v = sk_ASN1_TYPE_value(pr, 1);
        bool ok = true;
        if (!strcmp(oid, SGX_OID ".1")) {
            ok = octets(v, e->ppid, 16), seen |= 1;
        } else if (!strcmp(oid, SGX_OID ".2")) {
            res = pck_tcb_parse(v, e, &tcb_seen), seen |= 2;
        } else if (!strcmp(oid, SGX_OID ".3")) {
            ok = octets(v, e->pceid, 2), seen |= 4;
        } else if (!strcmp(oid, SGX_OID ".4")) {
            ok = octets(v, e->fmspc, 6), seen |= 8;
        } else if (!strcmp(oid, SGX_OID ".5")) {
            long t = small_int(v);
            ok = t >= 0 && t <= 2;
            e->sgx_type = (int)t;
            seen |= 16;
        } else if (!strcmp(oid, SGX_OID ".6")) {
            ok = octets(v, e->platform_instance_id, 16);
            e->has_platform_instance_id = ok;
        }
        if (!ok && cella_ok(res))
            res = cella_fail(CELLA_E_PARSE, "PCK certificate", "bad SGX extension entry %s", oid);
        sk_ASN1_TYPE_pop_free(pr, ASN1_TYPE_free);
    }
    if (cella_ok(res) && (seen != 31 || tcb_seen != 0x3ffff))
        res = cella_fail(CELLA_E_PARSE, "PCK certificate",
                         "SGX extension lacks PPID, TCB, PCEID, FMSPC or SGX type");
out:
    sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
    ERR_clear_error();
    return res;
}

cella_res cella_pck_ext_of(X509 *leaf, cella_pck_ext *e)
{
    ASN1_OBJECT *o = OBJ_txt2obj(SGX_OID, 1);
    int idx = o ? X509_get_ext_by_OBJ(leaf, o, -1) : -1;
    ASN1_OBJECT_free(o);
    ERR_clear_error();
    CELLA_ENSURE(idx >= 0, CELLA_E_PARSE, "PCK certificate", "no SGX extension");
    ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(X509_get_ext(leaf, idx));
    return cella_pck_ext_parse(ASN1_STRING_get0_data(d), (size_t)ASN1_STRING_length(d), e);
}

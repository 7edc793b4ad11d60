/* SEV-SNP attestation report parsing and verification. See snp.h. */
#include "evidence/snp.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "evidence/ossl.h"

static const char *const W = "SNP report";

CELLA_RESULT cella_snp_parse(cella_slice in, cella_snp_report *o)
{
    memset(o, 0, sizeof *o);
    cella_reader r = cella_reader_of(in, "SNP report");
    CELLA_ENSURE(in.len >= CELLA_SNP_REPORT_BYTES, CELLA_E_PARSE, W,
                 "report is %zu bytes, want %u", in.len, (unsigned)CELLA_SNP_REPORT_BYTES);
    CELLA_TRY(cella_read_u32le(&r, &o->version));          /* 0x00 */
    CELLA_ENSURE(o->version >= 2 && o->version <= 5, CELLA_E_UNSUPPORTED, W,
                 "report version %u is not supported (2 to 5)", (unsigned)o->version);
    CELLA_TRY(cella_read_u32le(&r, &o->guest_svn));        /* 0x04 */
    CELLA_TRY(cella_read_u64le(&r, &o->policy));           /* 0x08 */
    CELLA_TRY(cella_read_copy(&r, o->family_id, 16));      /* 0x10 */
    CELLA_TRY(cella_read_copy(&r, o->image_id, 16));       /* 0x20 */
    CELLA_TRY(cella_read_u32le(&r, &o->vmpl));             /* 0x30 */
    CELLA_TRY(cella_read_u32le(&r, &o->signature_algo));   /* 0x34 */
    CELLA_TRY(cella_read_u64le(&r, &o->current_tcb));      /* 0x38 */
    CELLA_TRY(cella_read_u64le(&r, &o->platform_info));    /* 0x40 */
    CELLA_TRY(cella_read_u32le(&r, &o->signer_info));      /* 0x48 */
    CELLA_TRY(cella_read_skip(&r, 4));                     /* 0x4C reserved */
    CELLA_TRY(cella_read_copy(&r, o->report_data, 64));    /* 0x50 */
    CELLA_TRY(cella_read_copy(&r, o->measurement, 48));    /* 0x90 */
    CELLA_TRY(cella_read_copy(&r, o->host_data, 32));      /* 0xC0 */
    CELLA_TRY(cella_read_copy(&r, o->id_key_digest, 48));  /* 0xE0 */
    CELLA_TRY(cella_read_copy(&r, o->author_key_digest, 48)); /* 0x110 */
    CELLA_TRY(cella_read_copy(&r, o->report_id, 32));      /* 0x140 */
    CELLA_TRY(cella_read_copy(&r, o->report_id_ma, 32));   /* 0x160 */
    CELLA_TRY(cella_read_u64le(&r, &o->reported_tcb));     /* 0x180 */
    uint8_t cpuid[3];
    CELLA_TRY(cella_read_copy(&r, cpuid, 3));              /* 0x188 (v3+) */
    if (o->version >= 3) {
        o->cpuid_fam_id = cpuid[0];
        o->cpuid_mod_id = cpuid[1];
        o->cpuid_step = cpuid[2];
    }
    CELLA_TRY(cella_read_skip(&r, 0x1A0 - 0x18B));         /* reserved */
    CELLA_TRY(cella_read_copy(&r, o->chip_id, 64));        /* 0x1A0 */
    CELLA_TRY(cella_read_u64le(&r, &o->committed_tcb));    /* 0x1E0 */
    CELLA_TRY(cella_read_u8(&r, &o->current_build));       /* 0x1E8 */
    CELLA_TRY(cella_read_u8(&r, &o->current_minor));
    CELLA_TRY(cella_read_u8(&r, &o->current_major));
    CELLA_TRY(cella_read_skip(&r, 1));
    CELLA_TRY(cella_read_u8(&r, &o->committed_build));     /* 0x1EC */
    CELLA_TRY(cella_read_u8(&r, &o->committed_minor));
    CELLA_TRY(cella_read_u8(&r, &o->committed_major));
    CELLA_TRY(cella_read_skip(&r, 1));
    CELLA_TRY(cella_read_u64le(&r, &o->launch_tcb));       /* 0x1F0 */
    CELLA_TRY(cella_slice_sub(in, 0, CELLA_SNP_SIGNED_BYTES, &o->signed_part));
    CELLA_TRY(cella_read_skip(&r, CELLA_SNP_SIGNED_BYTES - r.off)); /* reserved to 0x2A0 */
    CELLA_TRY(cella_read_copy(&r, o->sig_r, 72));          /* 0x2A0 */
    CELLA_TRY(cella_read_copy(&r, o->sig_s, 72));          /* 0x2E8 */
    CELLA_TRY(cella_read_skip(&r, CELLA_SNP_REPORT_BYTES - r.off)); /* rest of signature */
    return CELLA_OK_RES; /* trailing bytes after 0x4A0 are ignored */
}

bool cella_snp_is_debug(const cella_snp_report *r)
{
    return (r->policy & CELLA_SNP_POLICY_DEBUG) != 0;
}

cella_snp_tcb cella_snp_tcb_split(uint64_t tcb, cella_snp_product p)
{
    uint8_t b[8];
    cella_put_u64le(b, tcb);
    cella_snp_tcb t = {0};
    if (p == CELLA_SNP_TURIN) {
        t.fmc = b[0];
        t.bootloader = b[1];
        t.tee = b[2];
        t.snp = b[3];
    } else {
        t.bootloader = b[0];
        t.tee = b[1];
        t.snp = b[6];
    }
    t.microcode = b[7];
    return t;
}

/* SHA-256(DER) of the AMD Root Keys (ARK), from AMD KDS cert_chain. */
static const struct {
    const char *name;
    cella_snp_product product;
    const char *sha256;
} g_arks[] = {
    {"ARK-Milan", CELLA_SNP_MILAN,
     "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd"},
    {"ARK-Genoa", CELLA_SNP_GENOA,
     "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1"},
    {"ARK-Turin", CELLA_SNP_TURIN,
     "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a"},
};

static int asn1_int_value(const unsigned char *p, long n)
{
    const unsigned char *q = p;
    ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &q, n);
    long v = -1;
    if (i && q == p + n)
        v = ASN1_INTEGER_get(i);
    ASN1_INTEGER_free(i);
    ERR_clear_error();
    return v < 0 || v > 255 ? -2 : (int)v;
}

static cella_res vcek_ext_parse(X509 *c, cella_snp_cert_ext *e)
{
    memset(e, 0, sizeof *e);
    int *spl[] = {&e->bl_spl, &e->tee_spl, &e->snp_spl, &e->spl4, &e->spl5,
                  &e->spl6,   &e->spl7,    &e->ucode_spl, &e->fmc_spl};
    for (size_t i = 0; i < sizeof spl / sizeof spl[0]; i++)
        *spl[i] = -1;
    e->struct_version = -1;
    static const char prefix[] = "1.3.6.1.4.1.3704.1.";
    for (int i = 0; i < X509_get_ext_count(c); i++) {
        X509_EXTENSION *x = X509_get_ext(c, i);
        char oid[80];
        if (OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(x), 1) <= 0)
            continue;
        if (strncmp(oid, prefix, sizeof prefix - 1) != 0)
            continue;
        const char *sub = oid + sizeof prefix - 1;
        ASN1_OCTET_STRING *d = X509_EXTENSION_get_data(x);
        const unsigned char *p = ASN1_STRING_get0_data(d);
        long n = ASN1_STRING_length(d);
        if (!strcmp(sub, "1")) {
            e->struct_version = asn1_int_value(p, n);
        } else if (!strcmp(sub, "2") || !strcmp(sub, "5")) {
            const unsigned char *q = p;
            ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &q, n);
            CELLA_ENSURE(s && q == p + n && ASN1_STRING_length(s) < 32, CELLA_E_PARSE,
                         "VCEK certificate", "malformed product name extension");
            if (!strcmp(sub, "2")) {
                memcpy(e->product_name, ASN1_STRING_get0_data(s),
                       (size_t)ASN1_STRING_length(s));
                e->product_name[ASN1_STRING_length(s)] = 0;
            } else {
                e->is_vlek = true;
            }
            ASN1_IA5STRING_free(s);
        } else if (!strcmp(sub, "4")) {
            if (n == 64) {
                memcpy(e->hwid, p, 64);
            } else {
                const unsigned char *q = p;
                ASN1_OCTET_STRING *s = d2i_ASN1_OCTET_STRING(NULL, &q, n);
                int ok = s && q == p + n && ASN1_STRING_length(s) == 64;
                if (ok)
                    memcpy(e->hwid, ASN1_STRING_get0_data(s), 64);
                ASN1_OCTET_STRING_free(s);
                ERR_clear_error();
                CELLA_ENSURE(ok, CELLA_E_PARSE, "VCEK certificate", "malformed hwID extension");
            }
            e->has_hwid = true;
        } else if (sub[0] == '3' && sub[1] == '.' && sub[2] >= '1' && sub[2] <= '9' && !sub[3]) {
            int v = asn1_int_value(p, n);
            CELLA_ENSURE(v >= 0, CELLA_E_PARSE, "VCEK certificate",
                         "malformed TCB extension %s", oid);
            *spl[sub[2] - '1'] = v;
        }
    }
    return CELLA_OK_RES;
}

static bool self_issued(X509 *c)
{
    return X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)) == 0;
}

static cella_res verify_chain(const cella_snp_report *rep, X509 *leaf, STACK_OF(X509) *chain,
                              time_t now, cella_snp_result *out)
{
    X509 *ark = NULL, *mid = NULL;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (self_issued(c))
            ark = ark ? ark : c;
        else
            mid = mid ? mid : c;
    }
    CELLA_ENSURE(ark && mid, CELLA_E_AUTH, "AMD chain", "the chain must hold an ASK (or ASVK) and the ARK");
    uint8_t fp[32];
    CELLA_TRY(cella_ev_cert_sha256(ark, fp));
    char hex[65];
    cella_hex_encode(hex, fp, 32, false);
    size_t k = 0;
    for (; k < sizeof g_arks / sizeof g_arks[0]; k++)
        if (!strcmp(hex, g_arks[k].sha256))
            break;
    CELLA_ENSURE(k < sizeof g_arks / sizeof g_arks[0], CELLA_E_AUTH, "AMD chain",
                 "the ARK is not a pinned AMD root key");
    out->product = g_arks[k].product;
    CELLA_TRY(cella_ev_check_issued(ark, ark, "ARK"));
    CELLA_TRY(cella_ev_check_issued(mid, ark, "ASK"));
    CELLA_TRY(cella_ev_check_issued(leaf, mid, "VCEK"));
    CELLA_TRY(cella_ev_check_validity(ark, now, "ARK"));
    CELLA_TRY(cella_ev_check_validity(mid, now, "ASK"));
    CELLA_TRY(cella_ev_check_validity(leaf, now, "VCEK"));

    char subj[256];
    cella_ev_subject(mid, subj, sizeof subj);
    bool mid_vlek = strstr(subj, "SEV-VLEK-") != NULL;
    unsigned key_sel = (rep->signer_info >> 2) & 7;
    CELLA_ENSURE(key_sel <= 1, CELLA_E_UNSUPPORTED, W, "signing key %u is not supported", key_sel);
    out->vlek = key_sel == 1;
    CELLA_ENSURE(out->vlek == mid_vlek, CELLA_E_AUTH, "AMD chain",
                 out->vlek ? "report is VLEK-signed but the chain is not ASVK"
                           : "report is VCEK-signed but the chain is ASVK");
    return CELLA_OK_RES;
}

CELLA_RESULT cella_snp_cert_ext_read(cella_slice cert, cella_snp_cert_ext *out)
{
    STACK_OF(X509) *certs = NULL;
    CELLA_TRY(cella_ev_load_certs(cert, &certs, "VCEK certificate"));
    cella_res r = vcek_ext_parse(sk_X509_value(certs, 0), out);
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    return r;
}

CELLA_RESULT cella_snp_verify(const cella_snp_report *rep, cella_slice cert, cella_slice chain,
                              time_t now, cella_snp_result *out)
{
    memset(out, 0, sizeof *out);
    CELLA_ENSURE(rep->signature_algo == 1, CELLA_E_UNSUPPORTED, W,
                 "signature algorithm %u is not supported (1, ECDSA P-384)",
                 (unsigned)rep->signature_algo);
    STACK_OF(X509) *leafs = NULL, *cas = NULL;
    cella_res res;
    CELLA_GUARD(res, cella_ev_load_certs(cert, &leafs, "VCEK certificate"), done);
    CELLA_GUARD(res, cella_ev_load_certs(chain, &cas, "AMD chain"), done);
    X509 *leaf = sk_X509_value(leafs, 0);
    CELLA_GUARD(res, verify_chain(rep, leaf, cas, now, out), done);

    EVP_PKEY *pk = X509_get0_pubkey(leaf);
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC || EVP_PKEY_get_bits(pk) != 384) {
        res = cella_fail(CELLA_E_AUTH, "VCEK certificate", "key is not ECDSA P-384");
        goto done;
    }
    CELLA_GUARD(res,
                cella_ev_ecdsa_verify(pk, EVP_sha384(), rep->sig_r, rep->sig_s, 72, true,
                                      rep->signed_part.p, rep->signed_part.len,
                                      "SNP report signature"),
                done);

    CELLA_GUARD(res, vcek_ext_parse(leaf, &out->ext), done);
    out->reported = cella_snp_tcb_split(rep->reported_tcb, out->product);
    const cella_snp_cert_ext *e = &out->ext;
    const cella_snp_tcb *t = &out->reported;
    if (e->bl_spl != t->bootloader || e->tee_spl != t->tee || e->snp_spl != t->snp ||
        e->ucode_spl != t->microcode || (out->product == CELLA_SNP_TURIN && e->fmc_spl >= 0 &&
                                         e->fmc_spl != t->fmc)) {
        res = cella_fail(CELLA_E_AUTH, "VCEK certificate",
                         "certificate TCB (bl %d tee %d snp %d ucode %d) does not match the "
                         "report's REPORTED_TCB (bl %u tee %u snp %u ucode %u)",
                         e->bl_spl, e->tee_spl, e->snp_spl, e->ucode_spl, t->bootloader,
                         t->tee, t->snp, t->microcode);
        goto done;
    }
    if (!out->vlek) {
        if (!e->has_hwid || !cella_ct_eq(e->hwid, rep->chip_id, 64)) {
            res = cella_fail(CELLA_E_AUTH, "VCEK certificate",
                             "certificate hwID does not match the report's CHIP_ID");
            goto done;
        }
    }
    res = CELLA_OK_RES;
done:
    sk_X509_pop_free(leafs, X509_free);
    sk_X509_pop_free(cas, X509_free);
    ERR_clear_error();
    return res;
}

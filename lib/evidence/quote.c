/* DCAP quote parsing (SGX v3, TDX v4/v5). See quote.h and docs/evidence.md. */
#include "evidence/quote.h"

#include <string.h>

static const char *const W = "quote";

CELLA_RESULT cella_sgx_report_parse(cella_slice in, cella_sgx_report *o)
{
    cella_reader r = cella_reader_of(in, "SGX report");
    memset(o, 0, sizeof *o);
    CELLA_TRY(cella_read_copy(&r, o->cpusvn, 16));          /* 0 */
    CELLA_TRY(cella_read_u32le(&r, &o->miscselect));        /* 16 */
    CELLA_TRY(cella_read_skip(&r, 12));                     /* 20 reserved */
    CELLA_TRY(cella_read_copy(&r, o->isvextprodid, 16));    /* 32 */
    CELLA_TRY(cella_read_copy(&r, o->attributes, 16));      /* 48 */
    o->attr_flags = cella_get_u64le(o->attributes);
    o->xfrm = cella_get_u64le(o->attributes + 8);
    CELLA_TRY(cella_read_copy(&r, o->mrenclave, 32));       /* 64 */
    CELLA_TRY(cella_read_skip(&r, 32));                     /* 96 reserved */
    CELLA_TRY(cella_read_copy(&r, o->mrsigner, 32));        /* 128 */
    CELLA_TRY(cella_read_skip(&r, 32));                     /* 160 reserved */
    CELLA_TRY(cella_read_copy(&r, o->configid, 64));        /* 192 */
    CELLA_TRY(cella_read_u16le(&r, &o->isvprodid));         /* 256 */
    CELLA_TRY(cella_read_u16le(&r, &o->isvsvn));            /* 258 */
    CELLA_TRY(cella_read_u16le(&r, &o->configsvn));         /* 260 */
    CELLA_TRY(cella_read_skip(&r, 42));                     /* 262 reserved */
    CELLA_TRY(cella_read_copy(&r, o->isvfamilyid, 16));     /* 304 */
    CELLA_TRY(cella_read_copy(&r, o->reportdata, 64));      /* 320 */
    return cella_read_end(&r);                              /* 384 */
}

static cella_res td_report_parse(cella_slice in, bool v15, cella_td_report *o)
{
    cella_reader r = cella_reader_of(in, "TD report");
    memset(o, 0, sizeof *o);
    CELLA_TRY(cella_read_copy(&r, o->tee_tcb_svn, 16));    /* 0 */
    CELLA_TRY(cella_read_copy(&r, o->mrseam, 48));         /* 16 */
    CELLA_TRY(cella_read_copy(&r, o->mrsignerseam, 48));   /* 64 */
    CELLA_TRY(cella_read_copy(&r, o->seamattributes, 8));  /* 112 */
    CELLA_TRY(cella_read_copy(&r, o->tdattributes, 8));    /* 120 */
    CELLA_TRY(cella_read_copy(&r, o->xfam, 8));            /* 128 */
    CELLA_TRY(cella_read_copy(&r, o->mrtd, 48));           /* 136 */
    CELLA_TRY(cella_read_copy(&r, o->mrconfigid, 48));     /* 184 */
    CELLA_TRY(cella_read_copy(&r, o->mrowner, 48));        /* 232 */
    CELLA_TRY(cella_read_copy(&r, o->mrownerconfig, 48));  /* 280 */
    for (int i = 0; i < 4; i++)
        CELLA_TRY(cella_read_copy(&r, o->rtmr[i], 48));    /* 328 + 48 i */
    CELLA_TRY(cella_read_copy(&r, o->reportdata, 64));     /* 520 */
    if (v15) {
        o->v15 = true;
        CELLA_TRY(cella_read_copy(&r, o->tee_tcb_svn2, 16)); /* 584 */
        CELLA_TRY(cella_read_copy(&r, o->mrservicetd, 48));  /* 600 */
    }
    return cella_read_end(&r);
}

/* QE report certification data (type 6 body, or the tail of a v3 signature):
 * QE report 384, QE report signature 64, auth data (u16 len), certification
 * data (u16 type, u32 size, data). */
static cella_res qe_part_parse(cella_reader *r, cella_quote *q)
{
    CELLA_TRY(cella_read_bytes(r, CELLA_SGX_REPORT_BYTES, &q->qe_report_raw));
    CELLA_TRY(cella_sgx_report_parse(q->qe_report_raw, &q->qe_report));
    CELLA_TRY(cella_read_copy(r, q->qe_report_sig, 64));
    uint16_t auth_len;
    CELLA_TRY(cella_read_u16le(r, &auth_len));
    CELLA_TRY(cella_read_bytes(r, auth_len, &q->qe_auth_data));
    uint16_t type;
    uint32_t size;
    CELLA_TRY(cella_read_u16le(r, &type));
    CELLA_TRY(cella_read_u32le(r, &size));
    CELLA_ENSURE(type == 5, CELLA_E_UNSUPPORTED, W,
                 "certification data type %u is not supported (want 5, PEM PCK chain)",
                 (unsigned)type);
    q->cert_type = type;
    return cella_read_bytes(r, size, &q->pck_chain_pem);
}

CELLA_RESULT cella_quote_parse(cella_slice in, cella_quote *q)
{
    memset(q, 0, sizeof *q);
    CELLA_ENSURE(in.len <= CELLA_QUOTE_MAX_BYTES, CELLA_E_TOOBIG, W, "quote larger than 1 MiB");
    cella_reader r = cella_reader_of(in, "quote");
    CELLA_TRY(cella_read_u16le(&r, &q->version));
    CELLA_TRY(cella_read_u16le(&r, &q->att_key_type));
    CELLA_TRY(cella_read_u32le(&r, &q->tee_type));
    CELLA_TRY(cella_read_u16le(&r, &q->qe_svn));
    CELLA_TRY(cella_read_u16le(&r, &q->pce_svn));
    CELLA_TRY(cella_read_copy(&r, q->qe_vendor_id, 16));
    CELLA_TRY(cella_read_copy(&r, q->user_data, 20));
    CELLA_ENSURE(q->version >= 3 && q->version <= 5, CELLA_E_UNSUPPORTED, W,
                 "quote version %u is not supported (3, 4 or 5)", (unsigned)q->version);
    CELLA_ENSURE(q->att_key_type == 2, CELLA_E_UNSUPPORTED, W,
                 "attestation key type %u is not supported (2, ECDSA P-256)",
                 (unsigned)q->att_key_type);
    CELLA_ENSURE(q->tee_type == CELLA_QUOTE_TEE_SGX || q->tee_type == CELLA_QUOTE_TEE_TDX,
                 CELLA_E_UNSUPPORTED, W, "unknown TEE type 0x%x", (unsigned)q->tee_type);
    q->is_tdx = q->tee_type == CELLA_QUOTE_TEE_TDX;
    CELLA_ENSURE(q->version != 3 || !q->is_tdx, CELLA_E_PARSE, W, "a v3 quote must be SGX");

    cella_slice body;
    if (q->version == 5) {
        uint32_t size;
        CELLA_TRY(cella_read_u16le(&r, &q->body_type));
        CELLA_TRY(cella_read_u32le(&r, &size));
        size_t want = q->body_type == 1   ? CELLA_SGX_REPORT_BYTES
                      : q->body_type == 2 ? CELLA_TD10_REPORT_BYTES
                      : q->body_type == 3 ? CELLA_TD15_REPORT_BYTES
                                          : 0;
        CELLA_ENSURE(want != 0, CELLA_E_UNSUPPORTED, W, "unknown v5 body type %u",
                     (unsigned)q->body_type);
        CELLA_ENSURE(size == want, CELLA_E_PARSE, W, "v5 body size %u does not match its type",
                     (unsigned)size);
        CELLA_ENSURE((q->body_type == 1) == !q->is_tdx, CELLA_E_PARSE, W,
                     "v5 body type does not match the TEE type");
        CELLA_TRY(cella_read_bytes(&r, size, &body));
    } else {
        CELLA_TRY(cella_read_bytes(&r, q->is_tdx ? CELLA_TD10_REPORT_BYTES
                                                 : CELLA_SGX_REPORT_BYTES,
                                   &body));
    }
    if (q->is_tdx)
        CELLA_TRY(td_report_parse(body, q->body_type == 3, &q->td));
    else
        CELLA_TRY(cella_sgx_report_parse(body, &q->sgx));
    CELLA_TRY(cella_slice_sub(in, 0, r.off, &q->signed_part));

    uint32_t sig_len;
    CELLA_TRY(cella_read_u32le(&r, &sig_len));
    cella_slice sig;
    CELLA_TRY(cella_read_bytes(&r, sig_len, &sig));
    q->quote_len = r.off; /* anything after this is padding */

    cella_reader s = cella_reader_of(sig, "quote signature data");
    CELLA_TRY(cella_read_copy(&s, q->signature, 64));
    CELLA_TRY(cella_read_copy(&s, q->att_key, 64));
    if (q->version == 3) {
        CELLA_TRY(qe_part_parse(&s, q));
    } else {
        uint16_t type;
        uint32_t size;
        cella_slice inner;
        CELLA_TRY(cella_read_u16le(&s, &type));
        CELLA_TRY(cella_read_u32le(&s, &size));
        CELLA_ENSURE(type == 6, CELLA_E_UNSUPPORTED, W,
                     "certification data type %u is not supported (want 6, QE report)",
                     (unsigned)type);
        CELLA_TRY(cella_read_bytes(&s, size, &inner));
        cella_reader ir = cella_reader_of(inner, "QE report certification data");
        CELLA_TRY(qe_part_parse(&ir, q));
        CELLA_TRY(cella_read_end(&ir));
    }
    return cella_read_end(&s);
}

bool cella_quote_is_debug(const cella_quote *q)
{
    if (q->is_tdx)
        return (q->td.tdattributes[0] & 1) != 0;
    return (q->sgx.attr_flags & 2) != 0;
}

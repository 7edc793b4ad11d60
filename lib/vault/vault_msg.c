#include "vault/vault_msg.h"

#include <string.h>

static const char *const W = "vault message";

static bool zero_from(const uint8_t arg[CELLA_VAULT_ARG], size_t from)
{
    for (size_t i = from; i < CELLA_VAULT_ARG; i++)
        if (arg[i])
            return false;
    return true;
}

static bool printable(cella_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] < 0x20 || s.p[i] > 0x7e)
            return false;
    return true;
}

CELLA_RESULT cella_vault_header(cella_slice hdr, bool reply, size_t *rest)
{
    cella_reader r = cella_reader_of(hdr, W);
    cella_slice magic;
    uint8_t version, op;
    uint16_t status, ctx_len, reserved;
    uint32_t data_len;
    CELLA_ENSURE(hdr.len == CELLA_VAULT_HDR, CELLA_E_PARSE, W, "header is not %d bytes",
                 CELLA_VAULT_HDR);
    CELLA_TRY(cella_read_bytes(&r, 4, &magic));
    CELLA_ENSURE(!memcmp(magic.p, CELLA_VAULT_MAGIC, 4), CELLA_E_PARSE, W, "bad magic");
    CELLA_TRY(cella_read_u8(&r, &version));
    CELLA_ENSURE(version == CELLA_VAULT_VERSION, CELLA_E_PARSE, W, "version %u", version);
    CELLA_TRY(cella_read_u8(&r, &op));
    CELLA_ENSURE(((op & CELLA_VAULT_REPLY) != 0) == reply, CELLA_E_PARSE, W,
                 reply ? "not a reply" : "not a request");
    uint8_t base = op & (uint8_t)~CELLA_VAULT_REPLY;
    CELLA_ENSURE(base >= CELLA_VAULT_SEAL && base <= CELLA_VAULT_TAG, CELLA_E_PARSE, W,
                 "unknown op %u", base);
    CELLA_TRY(cella_read_u16le(&r, &status));
    CELLA_ENSURE(reply || status == 0, CELLA_E_PARSE, W, "a request carries a status");
    CELLA_TRY(cella_read_u16le(&r, &ctx_len));
    CELLA_TRY(cella_read_u16le(&r, &reserved));
    CELLA_TRY(cella_read_u32le(&r, &data_len));
    CELLA_ENSURE(reserved == 0, CELLA_E_PARSE, W, "reserved bytes are not zero");
    CELLA_ENSURE(ctx_len <= CELLA_VAULT_MAX_CTX, CELLA_E_TOOBIG, W, "context too long");
    CELLA_ENSURE(data_len <= CELLA_VAULT_MAX_DATA, CELLA_E_TOOBIG, W, "data too long");
    *rest = (size_t)ctx_len + data_len;
    return CELLA_OK_RES;
}

static cella_res check_request(const cella_vault_msg *m)
{
    const uint8_t *a = m->arg;
    CELLA_ENSURE(m->ctx.len > 0, CELLA_E_PARSE, W, "empty context");
    switch ((cella_vault_op)m->op) {
    case CELLA_VAULT_SEAL:
        CELLA_ENSURE(zero_from(a, 0), CELLA_E_PARSE, W, "SEAL takes no argument");
        return CELLA_OK_RES;
    case CELLA_VAULT_CREATE: {
        uint16_t size = cella_get_u16le(a + 1);
        CELLA_ENSURE(m->data.len == 0 && a[0] >= CELLA_VAULT_FORM_RAW &&
                         a[0] <= CELLA_VAULT_FORM_HEX && size >= 1 &&
                         size <= CELLA_VAULT_MAX_SECRET && zero_from(a, 3),
                     CELLA_E_PARSE, W, "bad CREATE");
        return CELLA_OK_RES;
    }
    case CELLA_VAULT_VERIFIED:
        CELLA_ENSURE(m->data.len == 0 && m->ctx.len < 256, CELLA_E_PARSE, W, "bad VERIFIED");
        return CELLA_OK_RES;
    case CELLA_VAULT_TAG:
        CELLA_ENSURE(m->data.len == 0 && m->ctx.len < 256, CELLA_E_PARSE, W, "bad TAG");
        return CELLA_OK_RES;
    case CELLA_VAULT_UNSEAL: {
        size_t used = a[0] == CELLA_VAULT_GRANT_TICKET  ? 1 + CELLA_VAULT_TICKET
                      : a[0] == CELLA_VAULT_GRANT_OWNER ? 1 + 20
                      : a[0] == CELLA_VAULT_GRANT_INSTANCE || a[0] == CELLA_VAULT_GRANT_TASK
                          ? 1
                          : 0;
        CELLA_ENSURE(used && zero_from(a, used), CELLA_E_PARSE, W, "bad grant");
        CELLA_ENSURE(m->data.len >= CELLA_VAULT_SEAL_OVERHEAD, CELLA_E_PARSE, W,
                     "sealed value is truncated");
        return CELLA_OK_RES;
    }
    }
    return cella_fail(CELLA_E_PARSE, W, "unknown op");
}

static cella_res check_reply(const cella_vault_msg *m)
{
    uint8_t base = m->op & (uint8_t)~CELLA_VAULT_REPLY;
    CELLA_ENSURE(m->ctx.len == 0, CELLA_E_PARSE, W, "a reply has no context");
    if (m->status) {
        CELLA_ENSURE(m->data.len <= CELLA_VAULT_MAX_ERR && printable(m->data) &&
                         zero_from(m->arg, 0),
                     CELLA_E_PARSE, W, "bad failure reply");
        return CELLA_OK_RES;
    }
    if (base == CELLA_VAULT_VERIFIED)
        CELLA_ENSURE(m->data.len == 0 && zero_from(m->arg, CELLA_VAULT_TICKET), CELLA_E_PARSE,
                     W, "bad VERIFIED reply");
    else if (base == CELLA_VAULT_TAG)
        CELLA_ENSURE(m->data.len == 0, CELLA_E_PARSE, W, "bad TAG reply");
    else
        CELLA_ENSURE(zero_from(m->arg, 0), CELLA_E_PARSE, W, "a reply carries an argument");
    if (base == CELLA_VAULT_SEAL || base == CELLA_VAULT_CREATE)
        CELLA_ENSURE(m->data.len >= CELLA_VAULT_SEAL_OVERHEAD, CELLA_E_PARSE, W,
                     "sealed value is truncated");
    return CELLA_OK_RES;
}

CELLA_RESULT cella_vault_parse(cella_slice in, bool reply, cella_vault_msg *m)
{
    memset(m, 0, sizeof *m);
    cella_slice hdr;
    size_t rest;
    CELLA_TRY(cella_slice_sub(in, 0, CELLA_VAULT_HDR < in.len ? CELLA_VAULT_HDR : in.len, &hdr));
    CELLA_TRY(cella_vault_header(hdr, reply, &rest));
    CELLA_ENSURE(in.len - CELLA_VAULT_HDR == rest, CELLA_E_PARSE, W,
                 "length does not match the header");
    cella_reader r = cella_reader_of(in, W);
    CELLA_TRY(cella_read_skip(&r, 5));
    CELLA_TRY(cella_read_u8(&r, &m->op));
    CELLA_TRY(cella_read_u16le(&r, &m->status));
    uint16_t ctx_len, reserved;
    uint32_t data_len;
    CELLA_TRY(cella_read_u16le(&r, &ctx_len));
    CELLA_TRY(cella_read_u16le(&r, &reserved));
    CELLA_TRY(cella_read_u32le(&r, &data_len));
    CELLA_TRY(cella_read_copy(&r, m->arg, CELLA_VAULT_ARG));
    CELLA_TRY(cella_read_bytes(&r, ctx_len, &m->ctx));
    CELLA_TRY(cella_read_bytes(&r, data_len, &m->data));
    CELLA_TRY(cella_read_end(&r));
    CELLA_ENSURE(printable(m->ctx), CELLA_E_PARSE, W, "context is not printable");
    if (reply)
        return check_reply(m);
    return check_request(m);
}

void cella_vault_encode(cella_buf *out, const cella_vault_msg *m)
{
    cella_buf_append(out, CELLA_VAULT_MAGIC, 4);
    cella_buf_u8(out, CELLA_VAULT_VERSION);
    cella_buf_u8(out, m->op);
    cella_buf_u16le(out, m->status);
    cella_buf_u16le(out, (uint16_t)m->ctx.len);
    cella_buf_u16le(out, 0);
    cella_buf_u32le(out, (uint32_t)m->data.len);
    cella_buf_append(out, m->arg, CELLA_VAULT_ARG);
    cella_buf_append(out, m->ctx.p, m->ctx.len);
    cella_buf_append(out, m->data.p, m->data.len);
}

#include "tee/producers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"

static cella_res write_exact(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CELLA_ENSURE(fd >= 0, CELLA_E_UNSUPPORTED, path, "cannot open: %s", strerror(errno));
    ssize_t w = write(fd, data, n);
    int err = errno;
    close(fd);
    CELLA_ENSURE(w == (ssize_t)n, CELLA_E_IO, path, "write failed: %s", strerror(err));
    return CELLA_OK_RES;
}

static cella_res read_small(const char *path, size_t max, cella_buf *out)
{
    uint8_t *d;
    size_t n;
    cella_res r = cella_read_file(AT_FDCWD, path, max, false, &d, &n);
    if (r.code == CELLA_E_NOTFOUND)
        return cella_fail(CELLA_E_UNSUPPORTED, path, "not present: this machine cannot produce "
                                                     "this evidence");
    CELLA_TRY(r);
    cella_buf_append(out, d, n);
    free(d);
    return cella_buf_result(out);
}

static cella_res read_text(const char *path, char *out, size_t cap)
{
    cella_buf b;
    cella_buf_init(&b, false);
    cella_res r = read_small(path, cap - 1, &b);
    if (cella_ok(r)) {
        size_t n = b.len;
        while (n && (b.p[n - 1] == '\n' || b.p[n - 1] == ' '))
            n--;
        memcpy(out, b.p, n);
        out[n] = '\0';
    }
    cella_buf_free(&b);
    return r;
}

cella_res cella_quote_gramine(const char *root, const uint8_t rd[64], cella_buf *out)
{
    char p[4200], type[32];
    snprintf(p, sizeof p, "%s/dev/attestation/attestation_type", root);
    CELLA_TRY(read_text(p, type, sizeof type));
    CELLA_ENSURE(!strcmp(type, "dcap"), CELLA_E_UNSUPPORTED, p,
                 "Gramine attestation type is '%s', not dcap", type);
    snprintf(p, sizeof p, "%s/dev/attestation/user_report_data", root);
    CELLA_TRY(write_exact(p, rd, 64));
    snprintf(p, sizeof p, "%s/dev/attestation/quote", root);
    CELLA_TRY(read_small(p, 64 * 1024, out));
    CELLA_ENSURE(out->len >= 436, CELLA_E_PARSE, p, "the quote is too short");
    return CELLA_OK_RES;
}

cella_res cella_quote_tsm_entry(const char *entry, const char *provider, const uint8_t rd[64],
                                cella_buf *out)
{
    char p[4200], got[64], g_after_write[32], g_after_read[32];
    snprintf(p, sizeof p, "%s/provider", entry);
    CELLA_TRY(read_text(p, got, sizeof got));
    CELLA_ENSURE(!strcmp(got, provider), CELLA_E_UNSUPPORTED, p,
                 "the TSM provider is '%s', not %s", got, provider);
    snprintf(p, sizeof p, "%s/inblob", entry);
    CELLA_TRY(write_exact(p, rd, 64));
    snprintf(p, sizeof p, "%s/generation", entry);
    CELLA_TRY(read_text(p, g_after_write, sizeof g_after_write));
    snprintf(p, sizeof p, "%s/outblob", entry);
    CELLA_TRY(read_small(p, CELLA_TSM_OUTBLOB_MAX, out));
    /* generation counts writes to inblob: if it moved, someone else wrote
     * between our write and our read, and outblob may not be ours. */
    snprintf(p, sizeof p, "%s/generation", entry);
    CELLA_TRY(read_text(p, g_after_read, sizeof g_after_read));
    CELLA_ENSURE(!strcmp(g_after_write, g_after_read), CELLA_E_IO, entry,
                 "another process wrote to this report entry (generation %s then %s)",
                 g_after_write, g_after_read);
    return CELLA_OK_RES;
}

cella_res cella_quote_tsm(const char *root, const char *provider, const uint8_t rd[64],
                          cella_buf *out)
{
    char entry[4200];
    uint8_t rnd[8];
    char rh[17];
    CELLA_TRY(cella_random(rnd, sizeof rnd));
    cella_hex_encode(rh, rnd, sizeof rnd, false);
    snprintf(entry, sizeof entry, "%s/sys/kernel/config/tsm/report/cella-%s", root, rh);
    if (mkdir(entry, 0700) != 0)
        return cella_fail(CELLA_E_UNSUPPORTED, entry, "cannot create a configfs-tsm report (%s): "
                                                      "not a TDX or SNP guest, or no kernel support",
                          strerror(errno));
    cella_res r = cella_quote_tsm_entry(entry, provider, rd, out);
    rmdir(entry);
    return r;
}

static cella_res quote_sgx(const uint8_t rd[64], cella_buf *ev, void *ctx)
{
    return cella_quote_gramine(ctx ? ctx : "", rd, ev);
}

static cella_res quote_tdx(const uint8_t rd[64], cella_buf *ev, void *ctx)
{
    return cella_quote_tsm(ctx ? ctx : "", "tdx_guest", rd, ev);
}

static cella_res quote_snp(const uint8_t rd[64], cella_buf *ev, void *ctx)
{
    return cella_quote_tsm(ctx ? ctx : "", "sev_guest", rd, ev);
}

cella_quote_fn cella_quote_fn_for(cella_tee_kind kind)
{
    switch (kind) {
    case CELLA_TEE_SGX:
        return quote_sgx;
    case CELLA_TEE_TDX:
        return quote_tdx;
    case CELLA_TEE_SNP:
        return quote_snp;
    default:
        return NULL;
    }
}

#include "tee/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/secure.h"
#include "crypto/aead.h"
#include "crypto/spki.h"

cella_res cella_sim_default_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(out, cap, "%s/cella", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.config/cella", home);
    else
        return cella_fail(CELLA_E_USAGE, "HOME", "cannot find a configuration directory");
    CELLA_ENSURE(n > 0 && (size_t)n < cap, CELLA_E_PATH, "HOME", "path too long");
    return CELLA_OK_RES;
}

static cella_res mkdir_p(const char *dir)
{
    char buf[4096];
    CELLA_ENSURE(strlen(dir) < sizeof buf, CELLA_E_PATH, dir, "path too long");
    strcpy(buf, dir);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return cella_fail(CELLA_E_IO, buf, "cannot create directory: %s", strerror(errno));
        *s = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return cella_fail(CELLA_E_IO, buf, "cannot create directory: %s", strerror(errno));
    return CELLA_OK_RES;
}

cella_res cella_sim_platform_init(const char *dir, bool force)
{
    char kpath[4200], ppath[4200];
    snprintf(kpath, sizeof kpath, "%s/sim-platform.key", dir);
    snprintf(ppath, sizeof ppath, "%s/sim-platform.pub", dir);
    CELLA_TRY(mkdir_p(dir));
    EVP_PKEY *k = EVP_EC_gen("P-256");
    CELLA_ENSURE(k, CELLA_E_CRYPTO, NULL, "cannot generate the platform key");
    BIO *kb = BIO_new(BIO_s_secmem());
    BIO *pb = BIO_new(BIO_s_mem());
    cella_res r = CELLA_OK_RES;
    if (!kb || !pb || PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(pb, k) != 1)
        r = cella_fail(CELLA_E_CRYPTO, NULL, "cannot encode the platform key");
    char *kd = NULL, *pd = NULL;
    long kn = kb ? BIO_get_mem_data(kb, &kd) : 0, pn = pb ? BIO_get_mem_data(pb, &pd) : 0;
    if (cella_ok(r))
        r = cella_write_file_atomic(AT_FDCWD, kpath, kd, (size_t)kn, 0600, !force);
    if (cella_ok(r))
        r = cella_write_file_atomic(AT_FDCWD, ppath, pd, (size_t)pn, 0644, false);
    BIO_free(kb); /* secmem BIO: cleansed on free */
    BIO_free(pb);
    EVP_PKEY_free(k);
    return r;
}

static cella_res load_pem(const char *path, bool priv, EVP_PKEY **out)
{
    uint8_t *data;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, 64 * 1024, priv, &data, &len));
    BIO *b = BIO_new_mem_buf(data, (int)len);
    *out = b ? (priv ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)
                     : PEM_read_bio_PUBKEY(b, NULL, NULL, NULL))
             : NULL;
    BIO_free(b);
    if (priv)
        cella_secure_free(data, len + 1);
    else
        free(data);
    CELLA_ENSURE(*out, CELLA_E_PARSE, path, "not a PEM %s key", priv ? "private" : "public");
    CELLA_ENSURE(EVP_PKEY_is_a(*out, "EC"), CELLA_E_PARSE, path, "not an EC key");
    return CELLA_OK_RES;
}

cella_res cella_sim_load_private(const char *dir, EVP_PKEY **out)
{
    char kpath[4200];
    snprintf(kpath, sizeof kpath, "%s/sim-platform.key", dir);
    struct stat st;
    if (stat(kpath, &st) != 0)
        return cella_fail(CELLA_E_NOTFOUND, kpath,
                          "no sim platform key (run: cella tee sim init)");
    CELLA_ENSURE((st.st_mode & 077) == 0, CELLA_E_PERM, kpath,
                 "platform key is accessible by other users");
    return load_pem(kpath, true, out);
}

cella_res cella_sim_load_public(const char *path, EVP_PKEY **out)
{
    return load_pem(path, false, out);
}

static void encode_signed(const cella_sim_report *r, uint8_t b[static CELLA_SIM_SIGNED_BYTES])
{
    memset(b, 0, CELLA_SIM_SIGNED_BYTES);
    memcpy(b, CELLA_SIM_MAGIC, 8);
    cella_put_u16le(b + 8, 1);
    cella_put_u32le(b + 12, CELLA_SIM_SIGNED_BYTES);
    memcpy(b + 16, r->measurement, 32);
    memcpy(b + 48, r->signer, 32);
    cella_put_u16le(b + 80, r->product_id);
    cella_put_u16le(b + 82, r->svn);
    b[84] = r->debug ? 1 : 0;
    memcpy(b + 88, r->report_data, 64);
    memcpy(b + 152, r->platform_id, 32);
}

cella_res cella_sim_quote(EVP_PKEY *platform, const cella_sim_report *in, cella_buf *out)
{
    uint8_t id[32];
    CELLA_TRY(cella_sim_platform_id(platform, id));
    return cella_sim_quote_id(platform, id, in, out);
}

cella_res cella_sim_quote_id(EVP_PKEY *platform, const uint8_t platform_id[32],
                             const cella_sim_report *in, cella_buf *out)
{
    cella_sim_report r = *in;
    memcpy(r.platform_id, platform_id, 32);
    uint8_t body[CELLA_SIM_SIGNED_BYTES];
    encode_signed(&r, body);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[80];
    size_t siglen = sizeof sig;
    int ok = md && EVP_DigestSignInit(md, NULL, cella_md_sha256(), NULL, platform) == 1 &&
             EVP_DigestSign(md, sig, &siglen, body, sizeof body) == 1;
    EVP_MD_CTX_free(md);
    CELLA_ENSURE(ok, CELLA_E_CRYPTO, NULL, "sim quote signing failed");
    cella_buf_append(out, body, sizeof body);
    cella_buf_u16le(out, (uint16_t)siglen);
    cella_buf_append(out, sig, siglen);
    return cella_buf_result(out);
}

cella_res cella_sim_quote_fn(const uint8_t report_data[64], cella_buf *evidence, void *ctx)
{
    cella_sim_quoter *q = ctx;
    memcpy(q->rep.report_data, report_data, 64);
    return cella_sim_quote(q->platform, &q->rep, evidence);
}

cella_res cella_sim_parse(cella_slice ev, cella_sim_report *r)
{
    cella_reader rd = cella_reader_of(ev, "sim evidence");
    uint8_t magic[8], flags, pad[3];
    uint16_t ver, res16, siglen;
    uint32_t len;
    CELLA_ENSURE(ev.len <= CELLA_SIM_MAX_BYTES, CELLA_E_PARSE, NULL, "sim evidence too long");
    CELLA_TRY(cella_read_copy(&rd, magic, 8));
    CELLA_ENSURE(!memcmp(magic, CELLA_SIM_MAGIC, 8), CELLA_E_PARSE, NULL,
                 "not sim evidence (bad magic)");
    CELLA_TRY(cella_read_u16le(&rd, &ver));
    CELLA_ENSURE(ver == 1, CELLA_E_UNSUPPORTED, NULL, "sim evidence version %u", ver);
    CELLA_TRY(cella_read_u16le(&rd, &res16));
    CELLA_TRY(cella_read_u32le(&rd, &len));
    CELLA_ENSURE(res16 == 0 && len == CELLA_SIM_SIGNED_BYTES, CELLA_E_PARSE, NULL,
                 "sim evidence header is malformed");
    CELLA_TRY(cella_read_copy(&rd, r->measurement, 32));
    CELLA_TRY(cella_read_copy(&rd, r->signer, 32));
    CELLA_TRY(cella_read_u16le(&rd, &r->product_id));
    CELLA_TRY(cella_read_u16le(&rd, &r->svn));
    CELLA_TRY(cella_read_u8(&rd, &flags));
    CELLA_TRY(cella_read_copy(&rd, pad, 3));
    CELLA_ENSURE((flags & ~1u) == 0 && !pad[0] && !pad[1] && !pad[2], CELLA_E_PARSE, NULL,
                 "sim evidence has unknown flags");
    r->debug = flags & 1;
    CELLA_TRY(cella_read_copy(&rd, r->report_data, 64));
    CELLA_TRY(cella_read_copy(&rd, r->platform_id, 32));
    CELLA_TRY(cella_read_u16le(&rd, &siglen));
    cella_slice sig;
    CELLA_TRY(cella_read_bytes(&rd, siglen, &sig));
    return cella_read_end(&rd);
}

cella_res cella_sim_platform_id(EVP_PKEY *platform_pub, uint8_t id[32])
{
    return cella_spki_sha256(platform_pub, id);
}

cella_res cella_sim_verify_id(cella_slice ev, EVP_PKEY *platform_pub, const uint8_t want[32],
                              cella_sim_report *r)
{
    CELLA_TRY(cella_sim_parse(ev, r));
    CELLA_ENSURE(cella_ct_eq(want, r->platform_id, 32), CELLA_E_AUTH, NULL,
                 "sim evidence comes from another platform key");
    const uint8_t *sig = ev.p + CELLA_SIM_SIGNED_BYTES + 2;
    size_t siglen = ev.len - CELLA_SIM_SIGNED_BYTES - 2;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, cella_md_sha256(), NULL, platform_pub) == 1 &&
             EVP_DigestVerify(md, sig, siglen, ev.p, CELLA_SIM_SIGNED_BYTES) == 1;
    EVP_MD_CTX_free(md);
    CELLA_ENSURE(ok, CELLA_E_AUTH, NULL, "sim evidence signature is invalid");
    return CELLA_OK_RES;
}

cella_res cella_sim_verify(cella_slice ev, EVP_PKEY *platform_pub, cella_sim_report *r)
{
    uint8_t want[32];
    CELLA_TRY(cella_spki_sha256(platform_pub, want));
    return cella_sim_verify_id(ev, platform_pub, want, r);
}

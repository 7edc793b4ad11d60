/* Collateral lookup: a keyed directory, then a PCCS. See collateral.h. */
#include "evidence/collateral.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/fs.h"

#define COLLATERAL_MAX_FILE (1u << 20)

/* Reads DIR/NAME into `out`; false (no error) if the file does not exist. */
static cella_res read_opt(const char *dir, const char *name, cella_buf *out, bool *found,
                          char *origin, size_t cap)
{
    char path[4200];
    *found = false;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *p = NULL;
    size_t n = 0;
    cella_res r = cella_read_file(AT_FDCWD, path, COLLATERAL_MAX_FILE, false, &p, &n);
    if (!cella_ok(r)) {
        if (r.code == CELLA_E_NOTFOUND) {
            cella_error_clear();
            return CELLA_OK_RES;
        }
        return r;
    }
    cella_buf_append(out, p, n);
    free(p);
    *found = true;
    snprintf(origin, cap, "%.500s", path);
    return cella_buf_result(out);
}

static cella_res find_dcap(const cella_collateral_source *src, const cella_evidence_claims *c,
                           time_t now, cella_collateral_found *out)
{
    uint8_t fmspc[6];
    cella_pck_ca ca;
    CELLA_TRY(cella_dcap_platform(&c->quote, fmspc, &ca));
    char fm[13], name[64];
    cella_hex_encode(fm, fmspc, 6, false);
    const char *kn = cella_evidence_kind_str(c->kind);
    bool found = false;
    if (src->dir) {
        snprintf(name, sizeof name, "%s-%s-%s.json", kn, fm, cella_pck_ca_str(ca));
        CELLA_TRY(read_opt(src->dir, name, &out->dcap, &found, out->origin, sizeof out->origin));
        if (!found) {
            snprintf(name, sizeof name, "%s-%s.json", kn, fm);
            CELLA_TRY(
                read_opt(src->dir, name, &out->dcap, &found, out->origin, sizeof out->origin));
        }
    }
    if (!found && src->pccs) {
        bool cached = false;
        CELLA_TRY(cella_pccs_collateral(src->pccs, c->kind == CELLA_EV_TDX, fmspc, ca, now,
                                        &out->dcap, &cached));
        snprintf(out->origin, sizeof out->origin, "PCCS %.400s (%s)", src->pccs->url,
                 cached ? "cached" : "fetched");
        found = true;
        out->pccs_fetched = !cached;
        out->tdx = c->kind == CELLA_EV_TDX;
        memcpy(out->fmspc, fmspc, 6);
        out->ca = ca;
    }
    CELLA_ENSURE(found, CELLA_E_NOTFOUND, "collateral",
                 "no %s collateral for FMSPC %s (PCK %s CA)%s", kn, fm, cella_pck_ca_str(ca),
                 src->dir || src->pccs ? "" : ": no --collateral DIR or --pccs URL");
    return CELLA_OK_RES;
}

static cella_res find_snp(const cella_collateral_source *src, const cella_evidence_claims *c,
                          cella_collateral_found *out)
{
    const cella_snp_report *r = &c->snp;
    CELLA_ENSURE(src->dir, CELLA_E_NOTFOUND, "collateral",
                 "SNP evidence needs the VCEK and the AMD chain from --collateral DIR");
    CELLA_ENSURE(((r->signer_info >> 2) & 7) == 0, CELLA_E_UNSUPPORTED, "collateral",
                 "VLEK-signed SNP reports are not supported from a collateral directory");
    char chip[129], name[200];
    cella_hex_encode(chip, r->chip_id, 64, false);
    bool found = false;
    static const char *const ext[] = {"der", "pem"};
    for (int i = 0; i < 2 && !found; i++) {
        snprintf(name, sizeof name, "snp-vcek-%s-%016llx.%s", chip,
                 (unsigned long long)r->reported_tcb, ext[i]);
        CELLA_TRY(read_opt(src->dir, name, &out->snp_cert, &found, out->origin,
                           sizeof out->origin));
    }
    CELLA_ENSURE(found, CELLA_E_NOTFOUND, "collateral",
                 "no VCEK for chip %.16s... at REPORTED_TCB %016llx", chip,
                 (unsigned long long)r->reported_tcb);
    cella_snp_cert_ext e;
    CELLA_TRY(cella_snp_cert_ext_read(cella_slice_of(out->snp_cert.p, out->snp_cert.len), &e));
    char prod[32];
    size_t k = 0;
    for (; e.product_name[k] && e.product_name[k] != '-' && k < sizeof prod - 1; k++)
        prod[k] = (char)tolower((unsigned char)e.product_name[k]);
    prod[k] = '\0';
    CELLA_ENSURE(!strcmp(prod, "milan") || !strcmp(prod, "genoa") || !strcmp(prod, "turin"),
                 CELLA_E_UNSUPPORTED, "collateral", "VCEK names an unknown AMD product");
    snprintf(name, sizeof name, "snp-ask-ark-%s.pem", prod);
    char origin[512];
    CELLA_TRY(read_opt(src->dir, name, &out->snp_chain, &found, origin, sizeof origin));
    CELLA_ENSURE(found, CELLA_E_NOTFOUND, "collateral", "no %s in the collateral directory",
                 name);
    return CELLA_OK_RES;
}

cella_res cella_collateral_find(const cella_collateral_source *src, const cella_evidence_claims *c,
                                time_t now, cella_collateral_found *out)
{
    memset(out, 0, sizeof *out);
    cella_buf_init(&out->dcap, false);
    cella_buf_init(&out->snp_cert, false);
    cella_buf_init(&out->snp_chain, false);
    CELLA_ENSURE(c->parsed, CELLA_E_USAGE, "collateral", "evidence not parsed");
    if (c->kind == CELLA_EV_SNP)
        return find_snp(src, c, out);
    return find_dcap(src, c, now, out);
}

cella_res cella_collateral_commit(const cella_collateral_source *src,
                                  const cella_collateral_found *f)
{
    if (!f->pccs_fetched || !src->pccs)
        return CELLA_OK_RES;
    return cella_pccs_cache_put(src->pccs, f->tdx, f->fmspc, f->ca,
                                cella_slice_of(f->dcap.p, f->dcap.len));
}

void cella_collateral_found_free(cella_collateral_found *f)
{
    cella_buf_free(&f->dcap);
    cella_buf_free(&f->snp_cert);
    cella_buf_free(&f->snp_chain);
}

cella_evidence_collateral cella_collateral_view(const cella_collateral_found *f)
{
    return (cella_evidence_collateral){cella_slice_of(f->dcap.p, f->dcap.len),
                                       cella_slice_of(f->snp_cert.p, f->snp_cert.len),
                                       cella_slice_of(f->snp_chain.p, f->snp_chain.len)};
}

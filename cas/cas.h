/* cella cas: the configuration and attestation service (SCONE's CAS, with
 * iExec's secret management later). HTTP API: docs/cas-api.md. */
#ifndef CELLA_CAS_CAS_H
#define CELLA_CAS_CAS_H

#include <stdbool.h>

#include "core/error.h"

typedef struct {
    const char *listen;      /* default 127.0.0.1:8081 */
    const char *data_dir;    /* TLS identity, master key, database */
    const char *db;          /* NULL: DATA/cas.db; sqlite:PATH or postgres://... (store/db.h) */
    bool allow_sim;          /* accept sim evidence (for sessions that allow it) */
    const char *sim_platform; /* sim platform public key (PEM); default: the local one */
    unsigned threads;
    const char *hub_url;     /* hub that says who owns datasets and apps (SMS pushes): its
                                URLs as given, for messages */
    struct cella_endpoints *hub; /* ... its replicas and their pins (net/endpoints.h) */
    const char *collateral_dir; /* SGX/TDX/SNP collateral files (docs/evidence.md) */
    const char *pccs_url;    /* Intel PCS/PCCS v4 base URL; cached in DATA/pccs-cache */
    bool pccs_insecure_tls;  /* self-signed PCCS: do not check its TLS certificate */
    const char *evidence_time; /* TESTS ONLY: verify hardware evidence at this ISO 8601 time */
} cas_options;

/* Runs the server until SIGINT/SIGTERM. Prints the URL and the certificate
 * fingerprint to stdout once listening. */
CELLA_RESULT cas_serve(const cas_options *o);

#endif

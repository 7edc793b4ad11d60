/* Internal to lib/evidence: the SGX extension of a PCK certificate, read from
 * the certificate (pck_ext.c; cella_pck_ext_parse in dcap.h reads its DER). */
#ifndef CELLA_EVIDENCE_PCK_EXT_H
#define CELLA_EVIDENCE_PCK_EXT_H

#include <openssl/x509.h>

#include "evidence/dcap.h"

/* The SGX extension of `leaf`, parsed; refused when it has none. */
CELLA_RESULT cella_pck_ext_of(X509 *leaf, cella_pck_ext *e);

#endif

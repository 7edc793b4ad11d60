/* Evidence producers for real hardware (the enclave side). No such hardware
 * is on the development machines: these are tested against fake directory
 * trees that mimic the kernel and Gramine interfaces.
 *
 * SGX under Gramine (Documentation/attestation.rst): write the 64-byte report
 * data to /dev/attestation/user_report_data, read the DCAP quote from
 * /dev/attestation/quote. TDX and SEV-SNP through Linux configfs-tsm (kernel
 * >= 6.7, Documentation/ABI/testing/configfs-tsm-report): make a report
 * entry, write inblob, read outblob, and check `generation` to detect another
 * writer racing us. */
#ifndef CELLA_TEE_PRODUCERS_H
#define CELLA_TEE_PRODUCERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/slice.h"
#include "tee/ratls.h"

#define CELLA_TSM_OUTBLOB_MAX (32u * 1024u)

/* `root` is "/" on a real machine; tests pass a fake tree. */
CELLA_RESULT cella_quote_gramine(const char *root, const uint8_t report_data[64], cella_buf *out);

/* `entry` is an existing report entry directory (configfs creates its files on
 * mkdir); `provider` is "tdx_guest" or "sev_guest". */
CELLA_RESULT cella_quote_tsm_entry(const char *entry, const char *provider,
                                   const uint8_t report_data[64], cella_buf *out);

/* Makes a fresh entry under ROOT/sys/kernel/config/tsm/report, quotes, and
 * removes the entry. */
CELLA_RESULT cella_quote_tsm(const char *root, const char *provider, const uint8_t report_data[64],
                             cella_buf *out);

/* A cella_quote_fn for `kind` on this machine (ctx: the root, a const char *). */
cella_quote_fn cella_quote_fn_for(cella_tee_kind kind);

#endif

/* cas's metrics (docs/metrics.md): its route patterns, for the request
 * metrics every cella server has, and its audited outcomes. */
#ifndef CELLA_CAS_METRICS_H
#define CELLA_CAS_METRICS_H

#include "core/slice.h"

/* Every route of cas/server.c, cas/tee_task.c and cas/sms.c, as patterns
 * (lib/net/http_metrics.h), NULL-terminated. */
extern const char *const cas_routes[];

/* Counts one audited action ("attest", "volume.read", ...; the audit log's
 * action names) and its outcome ("ok" or a refusal). */
void cas_metrics_audited(const char *action, const char *outcome);
/* cella_cas_attestations_total, cella_cas_key_releases_total,
 * cella_cas_audited_total and the database layer's counters. */
void cas_metrics_write(cella_buf *out);

#endif

#include "cas/metrics.h"

#include <stdbool.h>
#include <string.h>

#include "core/metrics.h"

const char *const cas_routes[] = {
    "/v1/health",
    "/v1/challenge",
    "/v1/attest/nonce",
    "/v1/attest",
    "/v1/volumes/tag",
    "/v1/sessions",
    "/v1/sessions/:name",
    "/v1/sessions/:name/volumes/:volume",
    "/tee/challenges/:task",
    "/tee/sessions",
    "/secrets/web3",
    "/secrets/web2",
    "/apps/:app/secrets",
    "/requesters/:requester/secrets/:name",
    NULL,
};

/* The audit log's actions: the label set is this list (an action missing
 * here is not counted, never added). */
static const char *const actions[] = {
    "attest",         "volume.read",   "tag.push",      "session.create", "session.update",
    "session.show",   "secret.push",   "secret.update", "tee.challenge",  "tee.session",
};
#define NACTIONS (sizeof actions / sizeof actions[0])
static const char *const outcomes[2] = {"ok", "refused"};

static cella_counter g_audited[NACTIONS][2];

void cas_metrics_audited(const char *action, const char *outcome)
{
    for (size_t i = 0; i < NACTIONS; i++)
        if (!strcmp(action, actions[i])) {
            cella_counter_add(&g_audited[i][strcmp(outcome, "ok") ? 1 : 0], 1);
            return;
        }
}

/* One family of one action's outcomes. */
static void write_outcomes(cella_buf *out, const char *name, const char *help, size_t action)
{
    cella_metrics_family(out, name, "counter", help);
    for (size_t o = 0; o < 2; o++)
        cella_metrics_u64(out, name, (const char *const[]){"outcome", outcomes[o], NULL},
                          cella_counter_get(&g_audited[action][o]));
}

void cas_metrics_write(cella_buf *out)
{
    write_outcomes(out, "cella_cas_attestations_total",
                   "Attestations (POST /v1/attest): ok released the session's keys to the "
                   "enclave, refused did not.",
                   0);
    write_outcomes(out, "cella_cas_key_releases_total",
                   "Volume keys asked for by their readers (GET "
                   "/v1/sessions/:name/volumes/:volume), by outcome.",
                   1);
    cella_metrics_family(out, "cella_cas_audited_total", "counter",
                         "Audited actions (the audit log's action names), by outcome.");
    for (size_t a = 0; a < NACTIONS; a++)
        for (size_t o = 0; o < 2; o++)
            cella_metrics_u64(out, "cella_cas_audited_total",
                              (const char *const[]){"action", actions[a], "outcome", outcomes[o],
                                                    NULL},
                              cella_counter_get(&g_audited[a][o]));
    cella_metrics_db_write(out);
}

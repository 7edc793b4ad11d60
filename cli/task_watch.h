/* Follows one task of the hub through its event stream (GET /v1/events
 * ?taskid=..&wait=.., a long poll), printing each status change. Shared by
 * `cella task watch` and `cella app run --watch`. */
#ifndef CELLA_CLI_TASK_WATCH_H
#define CELLA_CLI_TASK_WATCH_H

#include <jansson.h>
#include <stdio.h>

#include "core/error.h"
#include "net/http_client.h"

/* Prints "task ID: STATUS" (with " (running)" while a worker holds its lease)
 * to `out` at the start and at each change, and returns once the task is
 * COMPLETED (success; *task, if non-NULL, gets it as the hub shows it),
 * FAILED, has a reported error or is past its final deadline unfinished
 * (CELLA_E_POLICY with the reason), or after timeout_s seconds (> 0;
 * CELLA_E_IO). taskid: 0x + 64 hex digits. */
CELLA_RESULT cli_task_watch(const cella_http_client *hub, const char *taskid, FILE *out,
                            long timeout_s, json_t **task);

#endif

/* The command table: every verb of the `cella` binary, its usage and help.
 * Each group of verbs lives in its own cmd_<group>.c and exports a table. */
#ifndef CELLA_CLI_COMMANDS_H
#define CELLA_CLI_COMMANDS_H

#include "core/error.h"

typedef int (*cli_fn)(int argc, char **argv);

typedef struct {
    const char *group; /* "volume", or NULL for a top-level verb */
    const char *name;
    cli_fn fn;
    const char *usage;
    const char *help;
} cli_command;

/* Prints "cella: error: <what> (<where>)" for the current error and returns
 * the exit code for it (2 for usage errors, 1 otherwise). */
int cli_report(cella_res r);

extern const cli_command cli_volume_commands[];
extern const cli_command cli_evidence_commands[];
extern const cli_command cli_dataset_commands[];
extern const cli_command cli_result_commands[];
extern const cli_command cli_wallet_commands[];
extern const cli_command cli_order_commands[];
extern const cli_command cli_cas_commands[];
extern const cli_command cli_app_commands[];
extern const cli_command cli_blobs_commands[];
extern const cli_command cli_run_commands[];
extern const cli_command cli_hub_commands[];
extern const cli_command cli_registry_commands[];
extern const cli_command cli_publish_commands[];
extern const cli_command cli_orderbook_commands[];
extern const cli_command cli_book_commands[];
extern const cli_command cli_task_commands[];
extern const cli_command cli_account_commands[];
extern const cli_command cli_worker_commands[];
extern const cli_command cli_apprun_commands[];
extern const cli_command cli_up_commands[];
extern const cli_command cli_secret_commands[];
extern const cli_command cli_doctor_commands[];

#endif

/* `cella run` and `cella run-task` (cmd_enclave.c), also the verbs of the
 * lean `cella-runtime` binary (rt/main.c). */
#ifndef CELLA_CLI_ENCLAVE_H
#define CELLA_CLI_ENCLAVE_H

int cli_run_cmd(int argc, char **argv);
int cli_run_task_cmd(int argc, char **argv);

#endif

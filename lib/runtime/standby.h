/* A runtime started before its task (issue 18): the worker keeps one
 * `cella-runtime run-task --standby` per slot ready, so that a task's
 * enclave does not wait for a process start (exec, loading and relocating
 * libcrypto and the other libraries, OpenSSL's first algorithm fetches,
 * the private mount namespace: ~10 ms of CPU on the task's path).
 *
 * Until it is handed its task, a standby holds nothing task-specific: it is
 * started with no argument but --standby, before the worker knows which task
 * it will run, and only loads code and builds its namespace. It runs exactly
 * one task and exits: the one message it reads on stdin must be followed by
 * the end of the stream, else it runs nothing (cella_standby_receive). A
 * later task gets a new process, never this one.
 *
 * The message, from the worker only (the stream is a socket pair the worker
 * made; nobody else holds its other end): a 4-byte big-endian length, then
 * that many bytes: NUL-terminated strings, the enclave's log file first,
 * then the arguments of `run-task` as the worker would have put them in argv.
 */
#ifndef CELLA_RUNTIME_STANDBY_H
#define CELLA_RUNTIME_STANDBY_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_STANDBY_MSG_MAX (64u * 1024)
#define CELLA_STANDBY_ARGS_MAX 64

/* Encodes the message into buf (cap bytes; *len its length). */
CELLA_RESULT cella_standby_encode(const char *log_path, const char *const *args, uint8_t *buf,
                                  size_t cap, size_t *len);

/* Parses one message (without its length prefix): *log_path and args[0..*n)
 * point into msg, which must stay alive. */
CELLA_RESULT cella_standby_parse(const uint8_t *msg, size_t len, const char **log_path,
                                 const char **args, size_t max, size_t *n);

/* Reads the one message from fd into buf (CELLA_STANDBY_MSG_MAX bytes), then
 * requires the end of the stream: a second message, or anything after the
 * first, is refused and nothing runs. An empty stream (the worker stopped
 * before handing a task) is CELLA_E_NOTFOUND. */
CELLA_RESULT cella_standby_receive(int fd, uint8_t *buf, const char **log_path,
                                   const char **args, size_t max, size_t *n);

#endif

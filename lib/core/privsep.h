/* A secret kept in a child process that answers narrow requests.
 *
 * As OpenBSD's relayd keeps its private keys in a `ca` process: the program
 * forks a child before it starts any thread; only the child loads the secret
 * (the parent never holds it), and the parent asks it for operations over a
 * socketpair, one fixed, length-checked frame each way:
 *
 *     magic u32le | version u16le | op u16le | id u32le | len u32le | payload[len]
 *
 * (16-byte header, len <= CELLA_PRIVSEP_MAX_PAYLOAD, exactly len payload bytes:
 * SOCK_SEQPACKET keeps frame boundaries, so a short or long frame is refused,
 * never resynchronised). The reply echoes the request's id; op
 * CELLA_PRIVSEP_OP_ERROR carries a failure (u16le code, u16le n, what[n],
 * u16le m, where[m]) that the parent re-raises as its own error.
 *
 * The child: non-dumpable (no ptrace, no /proc/PID/mem by the parent's user),
 * killed when the parent dies, SIGINT/SIGTERM ignored (the parent finishes its
 * work and closes the socket), every other file descriptor closed. After its
 * init (loading the secret) it confines itself with a seccomp filter
 * (libseccomp): it may only read and write, manage memory (never executable)
 * and exit; any other system call kills it. A malformed frame from the parent
 * ends it.
 *
 * The parent fails closed: a child that died, timed out or sent a malformed
 * reply is never asked again; every later call fails with
 * CELLA_E_UNAVAILABLE naming the child's end (e.g. "killed by signal 9"). */
#ifndef CELLA_CORE_PRIVSEP_H
#define CELLA_CORE_PRIVSEP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/slice.h"

#define CELLA_PRIVSEP_HEADER 16
#define CELLA_PRIVSEP_MAX_PAYLOAD 4096
#define CELLA_PRIVSEP_MAX_FRAME (CELLA_PRIVSEP_HEADER + CELLA_PRIVSEP_MAX_PAYLOAD)
#define CELLA_PRIVSEP_OP_READY 0xfffe /* the child's init succeeded (empty payload) */
#define CELLA_PRIVSEP_OP_ERROR 0xffff

/* One frame, parsed: its payload points into the parsed bytes. */
typedef struct {
    uint16_t op;
    uint32_t id;
    cella_slice payload;
} cella_frame;

/* Parses one whole frame: magic and version must be these, the length field
 * must be at most CELLA_PRIVSEP_MAX_PAYLOAD and equal the bytes that follow
 * the header. Pure (fuzzed: fuzz/fuzz_signer_msg.c). */
CELLA_RESULT cella_frame_parse(cella_slice in, uint32_t magic, uint16_t version, cella_frame *out);

/* Writes one frame into out (cap >= CELLA_PRIVSEP_HEADER + n); *len its size. */
CELLA_RESULT cella_frame_build(uint8_t *out, size_t cap, uint32_t magic, uint16_t version,
                               uint16_t op, uint32_t id, cella_slice payload, size_t *len);

/* The error payload of a failure (code, what, where), and back. */
size_t cella_frame_error_payload(uint8_t *out, size_t cap, cella_code code, const char *what,
                                 const char *where);
/* Re-raises the child's error as the current one (text made printable);
 * CELLA_E_PARSE if the payload is malformed. Always returns a failure. */
cella_res cella_frame_error_raise(cella_slice payload, const char *who);

/* What the child runs. Both run in the child only. */
typedef struct {
    /* Loads the secret into ctx. Its failure is the parent's start failure. */
    cella_res (*init)(void *ctx);
    /* Answers one request: a reply payload of *len bytes (<= cap) in out, with
     * op *reply_op; a failure becomes an error reply. */
    cella_res (*serve)(void *ctx, uint16_t op, cella_slice payload, uint16_t *reply_op,
                       uint8_t *out, size_t cap, size_t *len);
    /* Wipes the secret before the child exits. */
    void (*wipe)(void *ctx);
} cella_privsep_ops;

typedef struct {
    pid_t pid;
    int fd;
    uint32_t magic;
    uint16_t version;
    uint32_t seq;
    unsigned timeout_ms; /* per call; 0: 10 s */
    bool gone;
    char name[32];   /* "signer": names the child in errors */
    char why[96];    /* how it ended, once gone */
    pthread_mutex_t lock; /* one call at a time */
} cella_privsep;

/* The child's hardening alone, for a child that speaks another protocol (the
 * cas vault, lib/vault): killed when `parent` dies (exits at once if it
 * already has), not dumpable, SIGINT/SIGTERM/SIGPIPE ignored, every
 * descriptor closed but 0-2 and `fd`. Call first thing in the child. */
void cella_privsep_child_harden(int fd, pid_t parent);

/* Forks the child (call it from the main thread before starting any other:
 * the child is killed when the forking thread ends) and waits, without a time
 * limit (init may prompt for a password), until its init reports. */
CELLA_RESULT cella_privsep_start(cella_privsep *p, const char *name, uint32_t magic,
                                 uint16_t version, const cella_privsep_ops *ops, void *ctx);

/* One request and its reply, whose op must be want_op (or an error), whose
 * payload is copied into reply (at most cap bytes). Thread-safe. */
CELLA_RESULT cella_privsep_call(cella_privsep *p, uint16_t op, cella_slice req, uint16_t want_op,
                                uint8_t *reply, size_t cap, size_t *len);

bool cella_privsep_alive(cella_privsep *p);
/* CELLA_OK while the child serves; once it is gone, its CELLA_E_UNAVAILABLE error. */
CELLA_RESULT cella_privsep_check(cella_privsep *p);

/* Closes the channel (the child wipes its secret and exits) and reaps it. */
void cella_privsep_stop(cella_privsep *p);

#endif

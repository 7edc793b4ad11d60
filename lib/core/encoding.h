/* Hex and base64. Hex decoding runs in time independent of the digit values,
 * since it is used on keys (as in wireguard-tools' encoding.c). */
#ifndef CELLA_CORE_ENCODING_H
#define CELLA_CORE_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Writes 2*n hex digits and a NUL: `out` must hold 2*n+1 bytes. */
void cella_hex_encode(char *out, const uint8_t *in, size_t n, bool upper);

/* Decodes exactly `n` bytes from `hex` (2*n digits, an optional "0x" prefix is
 * accepted). Fails with CELLA_E_PARSE naming `what` otherwise; `out` is wiped
 * on failure. */
CELLA_RESULT cella_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hex_len,
                              const char *what);

/* A Unix time as ISO 8601 UTC, "2026-12-07T01:02:03Z" (the decimal seconds
 * when the time cannot be shown so). */
#define CELLA_ISO_TIME_LEN 32
void cella_iso_time(int64_t t, char out[CELLA_ISO_TIME_LEN]);

/* Standard base64 with padding; returns the length written (without NUL), or 0
 * if `cap` is too small. */
size_t cella_base64_encode(char *out, size_t cap, const uint8_t *in, size_t n);
/* Decodes standard base64 (whitespace not allowed). *out_len gets the byte
 * count. Fails if the input is malformed or longer than `cap` allows. */
CELLA_RESULT cella_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in,
                                 size_t in_len, const char *what);

#endif

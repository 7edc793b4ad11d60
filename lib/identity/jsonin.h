/* Reading untrusted JSON (jansson) for the identity layer: size-capped parse
 * with duplicate keys refused, and typed field getters whose errors name the
 * field. Internal to lib/identity and lib/iexec. */
#ifndef CELLA_IDENTITY_JSONIN_H
#define CELLA_IDENTITY_JSONIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

/* Parses `len` bytes (no NUL needed) into a JSON object; refuses more than
 * `max` bytes, duplicate keys, trailing garbage and non-object roots. `what`
 * names the document in errors. The caller json_decref()s *out. */
CELLA_RESULT cella_json_parse_object(const void *data, size_t len, size_t max, const char *what,
                                     json_t **out);

/* Required string field. */
CELLA_RESULT cella_json_str(const json_t *obj, const char *key, const char **out);

/* Required field holding exactly n bytes as hex (with or without 0x). */
CELLA_RESULT cella_json_hex(const json_t *obj, const char *key, uint8_t *out, size_t n);

/* Required unsigned integer: a JSON integer >= 0 or a decimal string
 * (or 0x-hex string) that fits in 64 bits. */
CELLA_RESULT cella_json_u64(const json_t *obj, const char *key, uint64_t *out);

#endif

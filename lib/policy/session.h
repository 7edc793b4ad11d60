/* cas sessions (security policies), in the shape of SCONE's session language:
 * parsed from YAML, validated, normalised to a canonical JSON document that the
 * rest of cella reads, stores and hashes.
 *
 * The normalised form (all keys present, defaults filled in, hex lowercase):
 * {
 *   "version": "0.3.10",
 *   "name": "[A-Za-z0-9_.~-]{1,128}" (optionally "ns/proj/name" with '/' separators),
 *   "predecessor": null | "<64 hex>",
 *   "services": [ { "name": str, "image_name": str|null, "mrenclaves": ["<64 or 96 hex>", ...],
 *                   "command": [argv...], "pwd": str, "environment": {str: str} } ],
 *   "volumes":  [ { "name": str, "fspf_key": null|"<64 hex>", "fspf_tag": null|"<32 hex>" } ],
 *   "images":   [ { "name": str, "volumes": [ {"name": str, "path": "/abs/path"} ],
 *                   "injection_files": [ {"path": "/abs/path", "content": str} ] } ],
 *   "secrets":  [ { "name": str, "kind": "ascii"|"binary", "size": int, "value": null|str } ],
 *   "security": { "allow_debug": bool, "allow_sim": bool, "tee": ["sim"|"sgx"|"tdx"|"snp", ...],
 *                 "accepted_tcb": ["UpToDate", ...], "tolerated_advisories": [str...] },
 *   "access_policy": { "read": ["CREATOR"|"ANY"|"NONE"|"0x<40 hex>"...], "update": [...] }
 * }
 * Secret values and volume keys are the only secret fields. */
#ifndef CELLA_POLICY_SESSION_H
#define CELLA_POLICY_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CELLA_SESSION_MAX_BYTES (256u * 1024u) /* cap on YAML/JSON input */

/* Parses a YAML session into its normalised JSON form (caller owns *out, a new
 * reference). Errors are CELLA_E_PARSE (not YAML, or wrong shape) or
 * CELLA_E_POLICY (a rule broken), with "where" = "line N, field a.b[2].c".
 * Also CELLA_E_TOOBIG (input over CELLA_SESSION_MAX_BYTES, refused before
 * parsing, where = "session"; or a list of more than 4096 entries) and
 * CELLA_E_NOMEM. The rules are in docs/session-policy.md. */
CELLA_RESULT cella_session_from_yaml(const char *yaml, size_t len, json_t **out);

/* Validates and normalises a session given as JSON (for JSON request bodies);
 * same rules and errors as the YAML path, "where" names the field. */
CELLA_RESULT cella_session_normalize(const json_t *in, json_t **out);

/* Session hash: SHA-256 of the canonical serialisation of the normalised form
 * (jansson JSON_COMPACT | JSON_SORT_KEYS, UTF-8). Updates must name the current
 * hash as "predecessor"; a create must not have one. */
CELLA_RESULT cella_session_hash(const json_t *normalised, uint8_t out[32]);

/* A deep copy with every secret value and volume key replaced by "<redacted>". */
json_t *cella_session_redact(const json_t *normalised);

/* Convenience lookups on the normalised form (borrowed references, or NULL). */
const json_t *cella_session_service(const json_t *normalised, const char *service);
const json_t *cella_session_volume(const json_t *normalised, const char *volume);

#endif

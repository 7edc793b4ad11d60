/* Where the services are, for client verbs: a flag, else ./cella.json (the
 * project file `cella init` writes), else the loopback default. */
#ifndef CELLA_CLI_PROJECT_H
#define CELLA_CLI_PROJECT_H

#include <stddef.h>

#include "args.h"
#include "core/error.h"
#include "net/http_client.h"

#define CLI_PROJECT_FILE "cella.json"
#define CLI_DEFAULT_HUB_URL "http://127.0.0.1:8080"

#include <jansson.h>

/* ./cella.json as an object: an empty one when the file does not exist;
 * anything but a JSON object is an error naming the file. */
CELLA_RESULT cli_project_load(json_t **out);
/* Writes it back atomically (temp file, fsync, rename), indented. */
CELLA_RESULT cli_project_save(const json_t *conf);

/* --`opt`, else cella.json's string `key`, else `dflt`; trailing '/' removed. */
CELLA_RESULT cli_project_url(const cli_opt *o, int n, const char *opt, const char *key,
                             const char *dflt, char *out, size_t cap);

/* The checksummed address of the `kind` ("app", "dataset", "workerpool")
 * that ./cella.json records under "deployed" (`cella KIND deploy` writes it);
 * without one, a usage error saying so and what to do instead (`instead`). */
CELLA_RESULT cli_project_deployed(const char *kind, const char *instead, char out[43]);

/* The hub: --hub-url, else "hubUrl", else http://127.0.0.1:8080; http:// or
 * https://. An https:// hub needs the SHA-256 of its SubjectPublicKeyInfo
 * (printed by `hub serve --tls`) to pin: --hub-fingerprint, else cella.json's
 * "hubFingerprint". `http` is a client pinned to it (its strings point into
 * *h: use h in place). */
typedef struct {
    char url[1024];
    char fingerprint[65]; /* lower-case hex; "" for http:// */
    cella_http_client http;
} cli_hub;
CELLA_RESULT cli_hub_open(const cli_opt *o, int n, cli_hub *h);

/* Checks a hub URL (given as option `url_opt`) with its pin `fp` (NULL if
 * none): http:// takes none, https:// needs one (64 hex digits). The pin goes
 * to `out` in lower case ("" for http://). */
CELLA_RESULT cli_hub_pin(const char *url, const char *fp, const char *url_opt, char out[65]);

#endif

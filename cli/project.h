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

/* A setting that may list several values: --`opt` as given, else the
 * cella.json value `v` (a string, or an array joined by commas; `what`
 * names it in errors), else "". */
CELLA_RESULT cli_list_setting(const cli_opt *o, int n, const char *opt, const json_t *v,
                              const char *what, char *out, size_t cap);

/* Like cli_project_url, for a setting that may name several replicas: the
 * option as given, else cella.json's `key` as a string or an array of
 * strings (joined by commas), else `dflt`. */
CELLA_RESULT cli_project_urls(const cli_opt *o, int n, const char *opt, const char *key,
                              const char *dflt, char *out, size_t cap);

/* A list given on the command line ("URL,URL") as cella.json stores it: a
 * string for one entry, an array of strings for several. */
json_t *cli_project_list(const char *text);

/* The hub: --hub-url, else "hubUrl", else http://127.0.0.1:8080; one URL or
 * several replicas (commas; in cella.json an array), http:// or https://.
 * An https:// hub needs the SHA-256 of its SubjectPublicKeyInfo (printed by
 * `hub serve --tls`) to pin: --hub-fingerprint, else cella.json's
 * "hubFingerprint"; one pin for every replica, or one per URL (commas; an
 * array). `http` is a client of those replicas, failing over as
 * net/endpoints.h says (it points into *h: use h in place). */
typedef struct {
    char url[CELLA_ENDPOINTS_TEXT_MAX];         /* the URLs as given */
    char fingerprint[CELLA_ENDPOINTS_TEXT_MAX]; /* their pins as given; "" for none */
    cella_endpoints ep;
    cella_http_client http;
} cli_hub;
CELLA_RESULT cli_hub_open(const cli_opt *o, int n, cli_hub *h);

/* Parses hub URLs (given as option `url_opt`) with their pins (NULL if
 * none): http:// takes none, every https:// one needs one (64 hex digits). */
CELLA_RESULT cli_hub_endpoints(const char *urls, const char *pins, const char *url_opt,
                               cella_endpoints *e);

#endif

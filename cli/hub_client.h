/* The client side of docs/hub-api.md shared by the hub verbs, one file per
 * noun (cmd_hub.c: serve and call; cmd_registry.c: app|dataset|workerpool
 * deploy|show|count|transfer; cmd_publish.c: publish|unpublish;
 * cmd_orderbook.c: order publish|book|show|cancel|fill and deal show;
 * cmd_book.c: the orderbook views; cmd_task.c; cmd_account.c;
 * cmd_apprun.c): a connection to the hub with an optional signing wallet,
 * JSON calls, and the arguments they share. */
#ifndef CELLA_CLI_HUB_CLIENT_H
#define CELLA_CLI_HUB_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "args.h"
#include "commands.h"
#include "project.h"
#include "wallet_opts.h"
#include "core/error.h"
#include "identity/eip712.h"

#ifndef NOPTS
#define NOPTS(o) ((int)(sizeof(o) / sizeof((o)[0])))
#endif
#define PROJECT_CONF "cella.json"
#define ORDERS_FILE "orders.json"
#define DEFAULT_CHAIN 421614
#define DEFAULT_HUB_ADDRESS "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E"
/* The most entries one list request returns (the hub's HUB_LIST_MAX). */
#define HUB_API_LIST_MAX 1000

/* Where the hub is: every client verb takes these. */
#define HUB_URL_OPTS {"hub-url", true, NULL}, { "hub-fingerprint", true, NULL }
/* ... and the signing wallet. */
#define HUB_CONN_OPTS HUB_URL_OPTS, CLI_WALLET_OPTS
#define CONN_USAGE "[--hub-url URL [--hub-fingerprint FP]] " CLI_WALLET_USAGE

typedef struct {
    cli_hub hub;
    uint8_t *priv; /* secure memory, NULL until loaded */
    uint8_t addr[20];
} hub_conn;

/* A JSON object from a file of at most `max` bytes. */
CELLA_RESULT cli_read_json_object(const char *path, size_t max, json_t **out);

/* --hub-url, else cella.json "hubUrl", else http://127.0.0.1:8080; an
 * https:// hub pinned by --hub-fingerprint, else "hubFingerprint". */
CELLA_RESULT hub_conn_open(hub_conn *c, const cli_opt *o, int n);
/* Opens the signing wallet (wallet_opts.h). */
CELLA_RESULT hub_conn_wallet(hub_conn *c, const cli_opt *o, int n);
/* Wipes the wallet's key. */
void hub_conn_close(hub_conn *c);
/* One JSON request; signed by the wallet when `sign`. */
CELLA_RESULT hub_conn_call(hub_conn *c, const char *method, const char *path, const json_t *body,
                           bool sign, json_t **out);

/* The hub's EIP-712 domain (chain id and hub address) as it states it in
 * GET /v1/health: what orders for it are signed with. */
CELLA_RESULT hub_domain_get(const cli_hub *hub, cella_domain *d);

/* Prints a JSON value, indented, on stdout. */
void cli_print_json(const json_t *j);
/* GET path from the hub (--hub-url) and print the reply. */
CELLA_RESULT hub_get_print(const cli_opt *o, int n, const char *path);

/* A decimal or 0x uint256 that fits 64 bits. */
CELLA_RESULT cli_parse_u64(const char *s, const char *what, uint64_t *out);
/* A 32-byte id as 0x and 64 lower-case hex digits. */
CELLA_RESULT cli_hash_arg(const char *s, const char *what, char out[67]);

/* `cella VERB ID`: GET /v1/<what>/<ID> and print it. */
int hub_show_by_id(int argc, char **argv, const char *verb, const char *what);

/* A verb of one argument (*arg), signed by the wallet: the hub connection
 * and the wallet opened in c (hub_conn_close it in any case). */
CELLA_RESULT hub_signed_one_arg(int argc, char **argv, const char *verb, const char *usage,
                                hub_conn *c, const char **arg);

#endif

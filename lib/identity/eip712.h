/* iExec PoCo orders as EIP-712 typed data, exactly as IexecLibOrders_v5.sol and
 * the iExec SDK hash and sign them.
 *
 *   domain    = EIP712Domain(string name,string version,uint256 chainId,
 *                            address verifyingContract)
 *               {"iExecODB", "5.0.0", chainId, hub}
 *   structHash = keccak256(typeHash || field words...), each field ABI-encoded
 *               in 32 bytes (addresses left-padded, uint256 big-endian, bytes32
 *               as is, RequestOrder's string `params` as keccak256(params))
 *   orderHash = keccak256(0x19 0x01 || domainSeparator || structHash)
 *   sign      = 65-byte r||s||v (v = 27/28) ECDSA signature of orderHash
 *
 * The order JSON is the SDK's: field names as in the type strings plus "sign";
 * addresses, bytes32 and signatures as 0x-hex strings; uint256 as decimal
 * strings (JSON integers and 0x-hex strings are accepted on input). Tags may
 * also be given by name ("tee,scone") or as a list of names.
 */
#ifndef CELLA_IDENTITY_EIP712_H
#define CELLA_IDENTITY_EIP712_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

#define CELLA_ORDER_MAX_FIELDS 15
#define CELLA_ORDER_MAX_PARAMS (64 * 1024) /* bytes of RequestOrder params */
#define CELLA_ORDER_MAX_JSON (1024 * 1024) /* bytes of an order file */

typedef enum {
    CELLA_ORDER_APP,
    CELLA_ORDER_DATASET,
    CELLA_ORDER_WORKERPOOL,
    CELLA_ORDER_REQUEST,
    CELLA_ORDER__COUNT
} cella_order_kind;

typedef enum { CELLA_F_ADDRESS, CELLA_F_UINT256, CELLA_F_BYTES32, CELLA_F_STRING } cella_field_type;

typedef struct {
    const char *name;
    cella_field_type type;
} cella_order_field;

typedef struct {
    cella_order_kind kind;
    /* ABI word of each field in type-string order; for `params` its keccak256 */
    uint8_t word[CELLA_ORDER_MAX_FIELDS][32];
    char *params; /* RequestOrder only: the params string (malloc'd), else NULL */
    bool has_sign;
    uint8_t sign[65];
} cella_order;

typedef struct {
    uint64_t chain_id;
    uint8_t hub[20];
} cella_domain;

/* Type metadata: "AppOrder", "apporder", the type string and its fields. */
const char *cella_order_type_name(cella_order_kind k);
const char *cella_order_key(cella_order_kind k);
const char *cella_order_type_string(cella_order_kind k);
size_t cella_order_fields(cella_order_kind k, const cella_order_field **fields);
/* Kind from "AppOrder" or "apporder"; false if unknown. */
bool cella_order_kind_from_name(const char *name, cella_order_kind *k);

/* Field access by name (fails with CELLA_E_NOTFOUND for a field the type lacks). */
CELLA_RESULT cella_order_word(const cella_order *o, const char *field, uint8_t word[32]);
CELLA_RESULT cella_order_set_word(cella_order *o, const char *field, const uint8_t word[32]);

void cella_order_init(cella_order *o, cella_order_kind k); /* all zero, no sign */
void cella_order_free(cella_order *o);                     /* frees params */

/* Parses one order object of kind k. Every field is required except `sign`
 * (and `salt` when allow_missing_salt, for templates). Unknown fields are
 * refused. */
CELLA_RESULT cella_order_from_json(const json_t *obj, cella_order_kind k, bool allow_missing_salt,
                                   cella_order *o);
/* Guesses the kind of a lone order object from its fields. */
CELLA_RESULT cella_order_detect_kind(const json_t *obj, cella_order_kind *k);
/* New JSON object in the SDK's shape (with "sign" when signed). */
json_t *cella_order_to_json(const cella_order *o);

/* Hashing, signing, verification. */
void cella_eip712_domain_separator(const cella_domain *d, uint8_t out[32]);
void cella_order_type_hash(cella_order_kind k, uint8_t out[32]);
void cella_order_struct_hash(const cella_order *o, uint8_t out[32]);
void cella_order_hash(const cella_domain *d, const cella_order *o, uint8_t out[32]);

/* An order of kind k with the iExec SDK's template values (`iexec order
 * init`): zero addresses and tag, price 0, the SDK's volumes; no salt, no
 * sign. NULL when out of memory. */
json_t *cella_order_template(cella_order_kind k);

/* Signs: with new_salt, first draws a random 32-byte salt (as the SDK does). */
CELLA_RESULT cella_order_sign(const cella_domain *d, cella_order *o, const uint8_t priv[32],
                              bool new_salt);
/* Recovers the signer of a signed order. For a RequestOrder the signer must be
 * its `requester`; if `expected` is non-NULL the signer must be it. Failures
 * are CELLA_E_AUTH. signer may be NULL. */
CELLA_RESULT cella_order_verify(const cella_domain *d, const cella_order *o,
                                const uint8_t *expected, uint8_t signer[20]);

/* Tags: bytes32 bit sets, bit 0 the lowest of the last byte. iExec's bits, and
 * cella's own SEV-SNP bit (an extension: docs/cas-api.md, "Tags mean evidence"). */
enum {
    CELLA_TAG_TEE = 0,
    CELLA_TAG_SCONE = 1,
    CELLA_TAG_GRAMINE = 2,
    CELLA_TAG_TDX = 3,
    CELLA_TAG_GPU = 8,
    CELLA_TAG_SNP = 16,
};
/* Bit `bit` (a CELLA_TAG_*) of `tag` is set. */
bool cella_tag_has(const uint8_t tag[32], unsigned bit);
/* Accepts "0x" + up to 64 hex digits, or comma-separated names (tee, scone,
 * gramine, tdx, gpu, snp: the bits above). */
CELLA_RESULT cella_tag_parse(const char *text, uint8_t tag[32], const char *what);
/* "tee,scone" for known bits (the hex form if unknown bits are set). */
void cella_tag_names(const uint8_t tag[32], char *out, size_t cap);

/* uint256 helpers (big-endian 32 bytes). Text: decimal, or 0x-hex. */
CELLA_RESULT cella_u256_parse(const char *text, uint8_t out[32], const char *what);
void cella_u256_format(const uint8_t in[32], char out[80]);

/* A file of orders: one order, or an object keyed apporder/datasetorder/
 * workerpoolorder/requestorder, or the SDK's orders.json keyed by chain id
 * ({"421614": {"apporder": ...}}). For the last form, *chain_id (if non-NULL
 * and 0) receives the chain id when there is exactly one. */
typedef struct {
    bool present[CELLA_ORDER__COUNT];
    cella_order o[CELLA_ORDER__COUNT];
} cella_order_set;

CELLA_RESULT cella_orders_parse(const void *data, size_t len, bool allow_missing_salt,
                                uint64_t *chain_id, cella_order_set *set);
void cella_order_set_free(cella_order_set *set);

#endif

/* iExec PoCo orders: EIP-712 hashing, signing, verification and the SDK's JSON. */
#include "identity/eip712.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/secure.h"
#include "core/slice.h"
#include "identity/eth.h"
#include "identity/jsonin.h"
#include "identity/keccak.h"

#define A CELLA_F_ADDRESS
#define U CELLA_F_UINT256
#define B CELLA_F_BYTES32
#define S CELLA_F_STRING

static const cella_order_field g_app[] = {{"app", A},
                                          {"appprice", U},
                                          {"volume", U},
                                          {"tag", B},
                                          {"datasetrestrict", A},
                                          {"workerpoolrestrict", A},
                                          {"requesterrestrict", A},
                                          {"salt", B}};
static const cella_order_field g_dataset[] = {{"dataset", A},
                                              {"datasetprice", U},
                                              {"volume", U},
                                              {"tag", B},
                                              {"apprestrict", A},
                                              {"workerpoolrestrict", A},
                                              {"requesterrestrict", A},
                                              {"salt", B}};
static const cella_order_field g_workerpool[] = {
    {"workerpool", A},  {"workerpoolprice", U}, {"volume", U},
    {"tag", B},         {"category", U},        {"trust", U},
    {"apprestrict", A}, {"datasetrestrict", A}, {"requesterrestrict", A},
    {"salt", B}};
static const cella_order_field g_request[] = {{"app", A},        {"appmaxprice", U},
                                              {"dataset", A},    {"datasetmaxprice", U},
                                              {"workerpool", A}, {"workerpoolmaxprice", U},
                                              {"requester", A},  {"volume", U},
                                              {"tag", B},        {"category", U},
                                              {"trust", U},      {"beneficiary", A},
                                              {"callback", A},   {"params", S},
                                              {"salt", B}};

#undef A
#undef U
#undef B
#undef S

typedef struct {
    const char *type_name;
    const char *key;
    const char *type_string;
    const cella_order_field *fields;
    size_t nfields;
} order_type;

#define NF(a) (sizeof(a) / sizeof((a)[0]))

static const order_type g_types[CELLA_ORDER__COUNT] = {
    {"AppOrder", "apporder",
     "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,"
     "address workerpoolrestrict,address requesterrestrict,bytes32 salt)",
     g_app, NF(g_app)},
    {"DatasetOrder", "datasetorder",
     "DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address "
     "apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)",
     g_dataset, NF(g_dataset)},
    {"WorkerpoolOrder", "workerpoolorder",
     "WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,"
     "uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address "
     "requesterrestrict,bytes32 salt)",
     g_workerpool, NF(g_workerpool)},
    {"RequestOrder", "requestorder",
     "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,"
     "address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 "
     "tag,uint256 category,uint256 trust,address beneficiary,address callback,string "
     "params,bytes32 salt)",
     g_request, NF(g_request)},
};

_Static_assert(NF(g_request) <= CELLA_ORDER_MAX_FIELDS, "field table too long");

static const order_type *type_of(cella_order_kind k)
{
    if ((unsigned)k >= CELLA_ORDER__COUNT)
        CELLA_MISUSE("bad order kind");
    return &g_types[k];
}

const char *cella_order_type_name(cella_order_kind k) { return type_of(k)->type_name; }
const char *cella_order_key(cella_order_kind k) { return type_of(k)->key; }
const char *cella_order_type_string(cella_order_kind k) { return type_of(k)->type_string; }

size_t cella_order_fields(cella_order_kind k, const cella_order_field **fields)
{
    *fields = type_of(k)->fields;
    return type_of(k)->nfields;
}

bool cella_order_kind_from_name(const char *name, cella_order_kind *k)
{
    for (int i = 0; i < CELLA_ORDER__COUNT; i++)
        if (!strcmp(name, g_types[i].type_name) || !strcmp(name, g_types[i].key)) {
            *k = (cella_order_kind)i;
            return true;
        }
    return false;
}

static int field_index(cella_order_kind k, const char *name)
{
    const order_type *t = type_of(k);
    for (size_t i = 0; i < t->nfields; i++)
        if (!strcmp(t->fields[i].name, name))
            return (int)i;
    return -1;
}

cella_res cella_order_word(const cella_order *o, const char *field, uint8_t word[32])
{
    int i = field_index(o->kind, field);
    CELLA_ENSURE(i >= 0, CELLA_E_NOTFOUND, field, "%s has no such field",
                 cella_order_type_name(o->kind));
    memcpy(word, o->word[i], 32);
    return CELLA_OK_RES;
}

cella_res cella_order_set_word(cella_order *o, const char *field, const uint8_t word[32])
{
    int i = field_index(o->kind, field);
    CELLA_ENSURE(i >= 0, CELLA_E_NOTFOUND, field, "%s has no such field",
                 cella_order_type_name(o->kind));
    CELLA_ENSURE(type_of(o->kind)->fields[i].type != CELLA_F_STRING, CELLA_E_USAGE, field,
                 "a string field is set through params");
    memcpy(o->word[i], word, 32);
    return CELLA_OK_RES;
}

void cella_order_init(cella_order *o, cella_order_kind k)
{
    memset(o, 0, sizeof *o);
    o->kind = k;
    int pi = field_index(k, "params");
    if (pi >= 0)
        cella_keccak256(o->word[pi], "", 0);
}

void cella_order_free(cella_order *o)
{
    free(o->params);
    o->params = NULL;
}

/* ---- uint256 ---- */

cella_res cella_u256_parse(const char *text, uint8_t out[32], const char *what)
{
    memset(out, 0, 32);
    size_t n = strlen(text);
    CELLA_ENSURE(n > 0, CELLA_E_PARSE, what, "empty number");
    if (n > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        const char *h = text + 2;
        size_t hn = n - 2;
        CELLA_ENSURE(hn <= 64, CELLA_E_PARSE, what, "number larger than 256 bits");
        char padded[65];
        memset(padded, '0', 64);
        memcpy(padded + 64 - hn, h, hn);
        padded[64] = 0;
        return cella_hex_decode(out, 32, padded, 64, what);
    }
    CELLA_ENSURE(n <= 78, CELLA_E_PARSE, what, "number larger than 256 bits");
    for (size_t i = 0; i < n; i++) {
        CELLA_ENSURE(text[i] >= '0' && text[i] <= '9', CELLA_E_PARSE, what,
                     "not an unsigned decimal integer");
        unsigned carry = (unsigned)(text[i] - '0');
        for (int j = 31; j >= 0; j--) {
            unsigned v = out[j] * 10u + carry;
            out[j] = (uint8_t)v;
            carry = v >> 8;
        }
        CELLA_ENSURE(carry == 0, CELLA_E_PARSE, what, "number larger than 256 bits");
    }
    return CELLA_OK_RES;
}

void cella_u256_format(const uint8_t in[32], char out[80])
{
    uint8_t v[32];
    char rev[80];
    size_t n = 0;
    memcpy(v, in, 32);
    for (;;) {
        bool zero = true;
        unsigned rem = 0;
        for (int j = 0; j < 32; j++) {
            unsigned cur = (rem << 8) | v[j];
            v[j] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (v[j])
                zero = false;
        }
        rev[n++] = (char)('0' + rem);
        if (zero)
            break;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = '\0';
}

/* ---- tags ---- */

static const struct {
    const char *name;
    unsigned bit;
} g_tags[] = {{"tee", CELLA_TAG_TEE}, {"scone", CELLA_TAG_SCONE}, {"gramine", CELLA_TAG_GRAMINE},
               {"tdx", CELLA_TAG_TDX},  {"gpu", CELLA_TAG_GPU},     {"snp", CELLA_TAG_SNP}};

bool cella_tag_has(const uint8_t tag[32], unsigned bit)
{
    return bit < 256 && (tag[31 - bit / 8] >> (bit % 8)) & 1u;
}

static cella_res tag_add_name(uint8_t tag[32], const char *name, size_t len, const char *what)
{
    for (size_t i = 0; i < sizeof g_tags / sizeof g_tags[0]; i++)
        if (strlen(g_tags[i].name) == len && !strncmp(g_tags[i].name, name, len)) {
            tag[31 - g_tags[i].bit / 8] |= (uint8_t)(1u << (g_tags[i].bit % 8));
            return CELLA_OK_RES;
        }
    return cella_fail(CELLA_E_PARSE, what,
                      "unknown tag name '%.*s' (known: tee, scone, gramine, tdx, gpu, snp)",
                      (int)(len > 32 ? 32 : len), name);
}

cella_res cella_tag_parse(const char *text, uint8_t tag[32], const char *what)
{
    memset(tag, 0, 32);
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        size_t hn = strlen(text + 2);
        CELLA_ENSURE(hn >= 1 && hn <= 64, CELLA_E_PARSE, what,
                     "a tag is bytes32 (0x + 64 hex digits)");
        return cella_u256_parse(text, tag, what);
    }
    const char *p = text;
    bool any = false;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t len = (size_t)(p - start);
        while (*p == ' ')
            p++;
        if (len > 0) {
            CELLA_TRY(tag_add_name(tag, start, len, what));
            any = true;
        }
        if (*p == ',')
            p++;
        else if (*p)
            return cella_fail(CELLA_E_PARSE, what, "tags are names separated by commas");
    }
    CELLA_ENSURE(any, CELLA_E_PARSE, what, "empty tag (use 0x0 for none)");
    return CELLA_OK_RES;
}

void cella_tag_names(const uint8_t tag[32], char *out, size_t cap)
{
    uint8_t known[32] = {0};
    size_t off = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof g_tags / sizeof g_tags[0]; i++) {
        unsigned bit = g_tags[i].bit;
        uint8_t mask = (uint8_t)(1u << (bit % 8));
        known[31 - bit / 8] |= mask;
        if (tag[31 - bit / 8] & mask) {
            int w = snprintf(out + off, cap - off, "%s%s", off ? "," : "", g_tags[i].name);
            if (w < 0 || (size_t)w >= cap - off)
                return;
            off += (size_t)w;
        }
    }
    for (int i = 0; i < 32; i++)
        if (tag[i] & ~known[i]) {
            if (cap >= 67) {
                out[0] = '0';
                out[1] = 'x';
                cella_hex_encode(out + 2, tag, 32, false);
            }
            return;
        }
}

/* ---- JSON ---- */

static cella_res field_from_json(cella_order *o, size_t i, const cella_order_field *f,
                                 const json_t *v)
{
    const char *name = f->name;
    switch (f->type) {
    case CELLA_F_ADDRESS:
        CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, name, "an address is a 0x-hex string");
        memset(o->word[i], 0, 12);
        return cella_eth_address_parse(o->word[i] + 12, json_string_value(v), name);
    case CELLA_F_UINT256:
        if (json_is_integer(v)) {
            json_int_t x = json_integer_value(v);
            CELLA_ENSURE(x >= 0, CELLA_E_PARSE, name, "negative number");
            memset(o->word[i], 0, 32);
            cella_put_u64be(o->word[i] + 24, (uint64_t)x);
            return CELLA_OK_RES;
        }
        CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, name,
                     "a uint256 is a decimal string or an integer");
        return cella_u256_parse(json_string_value(v), o->word[i], name);
    case CELLA_F_BYTES32:
        if (!strcmp(name, "tag") && json_is_array(v)) {
            memset(o->word[i], 0, 32);
            size_t idx;
            json_t *e;
            json_array_foreach(v, idx, e)
            {
                CELLA_ENSURE(json_is_string(e), CELLA_E_PARSE, name, "tag names are strings");
                const char *s = json_string_value(e);
                CELLA_TRY(tag_add_name(o->word[i], s, strlen(s), name));
            }
            return CELLA_OK_RES;
        }
        CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, name, "a bytes32 is a 0x-hex string");
        if (!strcmp(name, "tag"))
            return cella_tag_parse(json_string_value(v), o->word[i], name);
        return cella_hex_decode(o->word[i], 32, json_string_value(v), json_string_length(v), name);
    case CELLA_F_STRING: {
        char *s;
        if (json_is_string(v)) {
            CELLA_ENSURE(json_string_length(v) <= CELLA_ORDER_MAX_PARAMS, CELLA_E_TOOBIG, name,
                         "longer than %d bytes", CELLA_ORDER_MAX_PARAMS);
            CELLA_ENSURE(strlen(json_string_value(v)) == json_string_length(v), CELLA_E_PARSE, name,
                         "contains a NUL character");
            s = strdup(json_string_value(v));
        } else if (json_is_object(v)) {
            /* the SDK stringifies a params object: compact, keys in order */
            s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (s && strlen(s) > CELLA_ORDER_MAX_PARAMS) {
                free(s);
                return cella_fail(CELLA_E_TOOBIG, name, "longer than %d bytes",
                                  CELLA_ORDER_MAX_PARAMS);
            }
        } else {
            return cella_fail(CELLA_E_PARSE, name, "params is a string (or an object)");
        }
        CELLA_ENSURE(s != NULL, CELLA_E_NOMEM, name, "out of memory");
        free(o->params);
        o->params = s;
        cella_keccak256(o->word[i], s, strlen(s));
        return CELLA_OK_RES;
    }
    }
    return cella_fail(CELLA_E_INTERNAL, name, "bad field type");
}

static cella_res order_from_json(const json_t *obj, cella_order_kind k, bool allow_missing_salt,
                                 cella_order *o)
{
    const order_type *t = type_of(k);
    CELLA_ENSURE(json_is_object(obj), CELLA_E_PARSE, t->key, "an order is a JSON object");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!strcmp(key, "sign"))
            continue;
        CELLA_ENSURE(field_index(k, key) >= 0, CELLA_E_PARSE, key, "unknown field in %s",
                     t->type_name);
    }
    for (size_t i = 0; i < t->nfields; i++) {
        const cella_order_field *f = &t->fields[i];
        v = json_object_get(obj, f->name);
        if (!v && allow_missing_salt && !strcmp(f->name, "salt"))
            continue;
        CELLA_ENSURE(v != NULL, CELLA_E_PARSE, f->name, "missing field in %s", t->type_name);
        CELLA_TRY(field_from_json(o, i, f, v));
    }
    v = json_object_get(obj, "sign");
    if (v) {
        CELLA_ENSURE(json_is_string(v), CELLA_E_PARSE, "sign", "a signature is a 0x-hex string");
        const char *s = json_string_value(v);
        /* "0x" or "" stands for "not signed" in templates */
        if (strcmp(s, "0x") != 0 && s[0] != '\0') {
            size_t n = json_string_length(v);
            size_t digits = n - ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 2 : 0);
            if (digits == 128) {
                /* EIP-2098 compact r||yParityAndS, which PoCo also accepts */
                uint8_t c[64];
                CELLA_TRY(cella_hex_decode(c, 64, s, n, "sign"));
                cella_eth_sig_from_compact(o->sign, c);
            } else {
                CELLA_TRY(cella_hex_decode(o->sign, 65, s, n, "sign"));
            }
            o->has_sign = true;
        }
    }
    return CELLA_OK_RES;
}

cella_res cella_order_from_json(const json_t *obj, cella_order_kind k, bool allow_missing_salt,
                                cella_order *o)
{
    cella_order_init(o, k);
    cella_res r = order_from_json(obj, k, allow_missing_salt, o);
    if (!cella_ok(r))
        cella_order_free(o);
    return r;
}

cella_res cella_order_detect_kind(const json_t *obj, cella_order_kind *k)
{
    CELLA_ENSURE(json_is_object(obj), CELLA_E_PARSE, "order", "an order is a JSON object");
    if (json_object_get(obj, "requester"))
        *k = CELLA_ORDER_REQUEST;
    else if (json_object_get(obj, "workerpoolprice"))
        *k = CELLA_ORDER_WORKERPOOL;
    else if (json_object_get(obj, "datasetprice"))
        *k = CELLA_ORDER_DATASET;
    else if (json_object_get(obj, "appprice"))
        *k = CELLA_ORDER_APP;
    else
        return cella_fail(CELLA_E_PARSE, "order",
                          "not an app, dataset, workerpool or request order");
    return CELLA_OK_RES;
}

json_t *cella_order_to_json(const cella_order *o)
{
    const order_type *t = type_of(o->kind);
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    int bad = 0;
    for (size_t i = 0; i < t->nfields; i++) {
        const cella_order_field *f = &t->fields[i];
        char buf[131];
        switch (f->type) {
        case CELLA_F_ADDRESS:
            cella_eth_address_checksum(buf, o->word[i] + 12);
            break;
        case CELLA_F_UINT256:
            cella_u256_format(o->word[i], buf);
            break;
        case CELLA_F_BYTES32:
            buf[0] = '0';
            buf[1] = 'x';
            cella_hex_encode(buf + 2, o->word[i], 32, false);
            break;
        case CELLA_F_STRING:
            bad |= json_object_set_new(obj, f->name, json_string(o->params ? o->params : ""));
            continue;
        }
        bad |= json_object_set_new(obj, f->name, json_string(buf));
    }
    if (o->has_sign) {
        char buf[133];
        buf[0] = '0';
        buf[1] = 'x';
        cella_hex_encode(buf + 2, o->sign, 65, false);
        bad |= json_object_set_new(obj, "sign", json_string(buf));
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ---- hashing ---- */

void cella_eip712_domain_separator(const cella_domain *d, uint8_t out[32])
{
    static const char dom[] =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
    uint8_t words[5][32];
    memset(words, 0, sizeof words);
    cella_keccak256(words[0], dom, sizeof dom - 1);
    cella_keccak256(words[1], "iExecODB", 8);
    cella_keccak256(words[2], "5.0.0", 5);
    cella_put_u64be(words[3] + 24, d->chain_id);
    memcpy(words[4] + 12, d->hub, 20);
    cella_keccak256(out, words, sizeof words);
}

void cella_order_type_hash(cella_order_kind k, uint8_t out[32])
{
    const char *s = cella_order_type_string(k);
    cella_keccak256(out, s, strlen(s));
}

void cella_order_struct_hash(const cella_order *o, uint8_t out[32])
{
    const order_type *t = type_of(o->kind);
    uint8_t th[32];
    cella_keccak_ctx c;
    cella_order_type_hash(o->kind, th);
    cella_keccak256_init(&c);
    cella_keccak256_update(&c, th, 32);
    for (size_t i = 0; i < t->nfields; i++)
        cella_keccak256_update(&c, o->word[i], 32);
    cella_keccak256_final(&c, out);
}

void cella_order_hash(const cella_domain *d, const cella_order *o, uint8_t out[32])
{
    uint8_t buf[66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    cella_eip712_domain_separator(d, buf + 2);
    cella_order_struct_hash(o, buf + 34);
    cella_keccak256(out, buf, sizeof buf);
}

cella_res cella_order_sign(const cella_domain *d, cella_order *o, const uint8_t priv[32],
                           bool new_salt)
{
    if (new_salt) {
        uint8_t salt[32];
        CELLA_TRY(cella_random(salt, sizeof salt));
        CELLA_TRY(cella_order_set_word(o, "salt", salt));
    }
    uint8_t h[32], signer[20];
    cella_order_hash(d, o, h);
    CELLA_TRY(cella_eth_address_from_privkey(priv, signer));
    if (o->kind == CELLA_ORDER_REQUEST) {
        uint8_t req[32];
        CELLA_TRY(cella_order_word(o, "requester", req));
        CELLA_ENSURE(memcmp(req + 12, signer, 20) == 0, CELLA_E_USAGE, "requester",
                     "a request order must be signed by its requester");
    }
    CELLA_TRY(cella_eth_sign_digest(priv, h, o->sign));
    o->has_sign = true;
    return CELLA_OK_RES;
}

cella_res cella_order_verify(const cella_domain *d, const cella_order *o, const uint8_t *expected,
                             uint8_t signer[20])
{
    const char *what = cella_order_key(o->kind);
    CELLA_ENSURE(o->has_sign, CELLA_E_AUTH, what, "the order is not signed");
    uint8_t h[32], got[20];
    cella_order_hash(d, o, h);
    CELLA_TRY(cella_eth_recover_digest(h, o->sign, got));
    if (signer)
        memcpy(signer, got, 20);
    char gt[43], et[43];
    cella_eth_address_checksum(gt, got);
    if (o->kind == CELLA_ORDER_REQUEST) {
        uint8_t req[32];
        CELLA_TRY(cella_order_word(o, "requester", req));
        cella_eth_address_checksum(et, req + 12);
        CELLA_ENSURE(memcmp(req + 12, got, 20) == 0, CELLA_E_AUTH, what,
                     "signature is by %s, not by the requester %s", gt, et);
    }
    if (expected) {
        cella_eth_address_checksum(et, expected);
        CELLA_ENSURE(memcmp(expected, got, 20) == 0, CELLA_E_AUTH, what,
                     "signature is by %s, not by the expected signer %s", gt, et);
    }
    return CELLA_OK_RES;
}

/* ---- files of orders ---- */

void cella_order_set_free(cella_order_set *set)
{
    for (int i = 0; i < CELLA_ORDER__COUNT; i++)
        if (set->present[i])
            cella_order_free(&set->o[i]);
    memset(set, 0, sizeof *set);
}

static bool is_decimal(const char *s)
{
    if (!*s || strlen(s) > 19)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static cella_res parse_keyed(const json_t *root, bool allow_missing_salt, cella_order_set *set)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        cella_order_kind k;
        CELLA_ENSURE(cella_order_kind_from_name(key, &k) && !strcmp(key, cella_order_key(k)),
                     CELLA_E_PARSE, key,
                     "unknown key (expected apporder, datasetorder, workerpoolorder, "
                     "requestorder)");
        cella_res r = cella_order_from_json(v, k, allow_missing_salt, &set->o[k]);
        if (!cella_ok(r)) {
            char where[96];
            snprintf(where, sizeof where, "%s.%s", key, cella_error_where());
            cella_error_set_where(where);
            return r;
        }
        set->present[k] = true;
    }
    return CELLA_OK_RES;
}

static cella_res parse_root(const json_t *root, bool allow_missing_salt, uint64_t *chain_id,
                            cella_order_set *set)
{
    /* cella.json / iexec.json: templates under "order" */
    const json_t *ord = json_object_get(root, "order");
    if (ord && json_is_object(ord))
        return parse_keyed(ord, allow_missing_salt, set);
    bool keyed = false, chains = json_object_size(root) > 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        cella_order_kind k;
        if (cella_order_kind_from_name(key, &k))
            keyed = true;
        if (!is_decimal(key) || !json_is_object(v))
            chains = false;
    }
    if (keyed)
        return parse_keyed(root, allow_missing_salt, set);
    if (chains) {
        /* orders.json: {"<chainId>": {"apporder": ...}} */
        uint64_t want = chain_id ? *chain_id : 0;
        if (want) {
            char k[24];
            snprintf(k, sizeof k, "%llu", (unsigned long long)want);
            const json_t *sub = json_object_get(root, k);
            CELLA_ENSURE(sub != NULL, CELLA_E_NOTFOUND, k, "no orders for this chain id");
            return parse_keyed(sub, allow_missing_salt, set);
        }
        CELLA_ENSURE(json_object_size(root) == 1, CELLA_E_USAGE, "orders",
                     "orders for several chains: give --chain-id");
        json_object_foreach((json_t *)root, key, v)
        {
            uint64_t id = strtoull(key, NULL, 10);
            CELLA_ENSURE(id > 0, CELLA_E_PARSE, key, "bad chain id");
            if (chain_id)
                *chain_id = id;
            return parse_keyed(v, allow_missing_salt, set);
        }
    }
    cella_order_kind k;
    CELLA_TRY(cella_order_detect_kind(root, &k));
    CELLA_TRY(cella_order_from_json(root, k, allow_missing_salt, &set->o[k]));
    set->present[k] = true;
    return CELLA_OK_RES;
}

cella_res cella_orders_parse(const void *data, size_t len, bool allow_missing_salt,
                             uint64_t *chain_id, cella_order_set *set)
{
    memset(set, 0, sizeof *set);
    json_t *root;
    CELLA_TRY(cella_json_parse_object(data, len, CELLA_ORDER_MAX_JSON, "orders", &root));
    cella_res r = parse_root(root, allow_missing_salt, chain_id, set);
    json_decref(root);
    if (!cella_ok(r))
        cella_order_set_free(set);
    else {
        bool any = false;
        for (int i = 0; i < CELLA_ORDER__COUNT; i++)
            any |= set->present[i];
        if (!any)
            r = cella_fail(CELLA_E_PARSE, "orders", "no order in the file");
    }
    return r;
}

json_t *cella_order_template(cella_order_kind k)
{
    static const char zero[] = "0x0000000000000000000000000000000000000000";
    static const char tag[] = "0x0000000000000000000000000000000000000000000000000000000000000000";
    switch (k) {
    case CELLA_ORDER_APP:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "app", zero, "appprice", "0",
                         "volume", "1000000", "tag", tag, "datasetrestrict", zero,
                         "workerpoolrestrict", zero, "requesterrestrict", zero);
    case CELLA_ORDER_DATASET:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "dataset", zero, "datasetprice",
                         "0", "volume", "1000000", "tag", tag, "apprestrict", zero,
                         "workerpoolrestrict", zero, "requesterrestrict", zero);
    case CELLA_ORDER_WORKERPOOL:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "workerpool", zero,
                         "workerpoolprice", "0", "volume", "1", "tag", tag, "category", "0",
                         "trust", "0", "apprestrict", zero, "datasetrestrict", zero,
                         "requesterrestrict", zero);
    case CELLA_ORDER_REQUEST:
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                         "s:{s:s, s:s, s:b}}",
                         "app", zero, "appmaxprice", "0", "dataset", zero, "datasetmaxprice", "0",
                         "workerpool", zero, "workerpoolmaxprice", "0", "requester", zero, "volume",
                         "1", "tag", tag, "category", "0", "trust", "0", "beneficiary", zero,
                         "callback", zero, "params", "iexec_args", "",
                         "iexec_result_storage_provider", "ipfs", "iexec_result_encryption", 0);
    case CELLA_ORDER__COUNT:
        break;
    }
    return NULL;
}

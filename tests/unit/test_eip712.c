/* Unit tests for lib/identity/eip712 on the iExec vectors: every order of
 * orders-sdk-8.24.0.json and orders-fixed-salt-ethers.json hashes to its
 * recorded struct and order hash, verifies to its recorded signer, re-signs to
 * the recorded signature (RFC 6979), and a one-byte change anywhere is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/encoding.h"
#include "identity/eip712.h"
#include "identity/eth.h"
#include "identity/keccak.h"
#include "testutil.h"

static const char *jstr(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("vector field %s missing", key);
    return json_string_value(v);
}

static void vector_domain(const json_t *file, cella_domain *d)
{
    const json_t *dom = json_object_get(file, "domain");
    assert_string_equal(jstr(dom, "name"), "iExecODB");
    assert_string_equal(jstr(dom, "version"), "5.0.0");
    d->chain_id = (uint64_t)json_integer_value(json_object_get(dom, "chainId"));
    assert_int_equal(d->chain_id, 421614);
    assert_succeeds(cella_eth_address_parse(d->hub, jstr(dom, "verifyingContract"), "hub"));
}

static void load_priv(uint8_t priv[32])
{
    json_t *w = test_load_vector("iexec/wallet/wallet.json");
    test_unhex(priv, 32, jstr(w, "privateKey"));
    json_decref(w);
}

static void types_and_domain(void **state)
{
    (void)state;
    json_t *f = test_load_vector("iexec/orders/orders-sdk-8.24.0.json");
    cella_domain d;
    uint8_t sep[32], want[32];
    vector_domain(f, &d);
    cella_eip712_domain_separator(&d, sep);
    test_unhex(want, 32, jstr(f, "domainSeparator"));
    assert_memory_equal(sep, want, 32);
    const json_t *ts = json_object_get(f, "typeStrings");
    const json_t *th = json_object_get(f, "typeHashes");
    for (int k = 0; k < CELLA_ORDER__COUNT; k++) {
        const char *name = cella_order_type_name((cella_order_kind)k);
        assert_string_equal(cella_order_type_string((cella_order_kind)k), jstr(ts, name));
        uint8_t h[32];
        cella_order_type_hash((cella_order_kind)k, h);
        test_unhex(want, 32, jstr(th, name));
        assert_memory_equal(h, want, 32);
        /* the field table spells the same type string */
        const cella_order_field *fl;
        size_t n = cella_order_fields((cella_order_kind)k, &fl);
        char buf[512];
        size_t off = (size_t)snprintf(buf, sizeof buf, "%s(", name);
        static const char *tn[] = {"address", "uint256", "bytes32", "string"};
        for (size_t i = 0; i < n; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s %s", i ? "," : "",
                                    tn[fl[i].type], fl[i].name);
        snprintf(buf + off, sizeof buf - off, ")");
        assert_string_equal(buf, jstr(ts, name));
        cella_order_kind back;
        assert_true(cella_order_kind_from_name(name, &back));
        assert_int_equal(back, k);
    }
    json_decref(f);
}

/* One vector entry: hashes, signer, exact re-signature, JSON round trip. */
static void check_entry(const cella_domain *d, const json_t *e, const char *signer_text,
                        const uint8_t priv[32])
{
    cella_order_kind k;
    assert_true(cella_order_kind_from_name(jstr(e, "primaryType"), &k));
    const json_t *oj = json_object_get(e, "order");
    cella_order o;
    assert_succeeds(cella_order_from_json(oj, k, false, &o));
    /* detection from the fields agrees */
    cella_order_kind guess;
    assert_succeeds(cella_order_detect_kind(oj, &guess));
    assert_int_equal(guess, k);
    uint8_t h[32], want[32];
    cella_order_struct_hash(&o, h);
    test_unhex(want, 32, jstr(e, "structHash"));
    assert_memory_equal(h, want, 32);
    cella_order_hash(d, &o, h);
    test_unhex(want, 32, jstr(e, "orderHash"));
    assert_memory_equal(h, want, 32);
    if (json_object_get(e, "encodedStruct")) {
        const char *enc = jstr(e, "encodedStruct");
        const cella_order_field *fl;
        size_t n = cella_order_fields(k, &fl);
        size_t elen = 32 * (n + 1);
        uint8_t *buf = malloc(elen);
        assert_non_null(buf);
        test_unhex(buf, elen, enc);
        for (size_t i = 0; i < n; i++)
            assert_memory_equal(buf + 32 * (i + 1), o.word[i], 32);
        free(buf);
    }
    uint8_t signer[20], want_signer[20];
    assert_succeeds(cella_eth_address_parse(want_signer, signer_text, "signer"));
    assert_succeeds(cella_order_verify(d, &o, want_signer, signer));
    assert_memory_equal(signer, want_signer, 20);
    /* RFC 6979: re-signing with the same salt gives the same bytes */
    cella_order again;
    assert_succeeds(cella_order_from_json(oj, k, false, &again));
    uint8_t recorded[65];
    memcpy(recorded, again.sign, 65);
    assert_succeeds(cella_order_sign(d, &again, priv, false));
    assert_memory_equal(again.sign, recorded, 65);
    /* the EIP-2098 compact form of the same signature verifies too */
    json_t *compact = json_deep_copy(oj);
    char c[131] = "0x";
    const char *full = jstr(oj, "sign");
    memcpy(c + 2, full + 2, 128);
    c[130] = 0;
    if (recorded[64] == 28) {
        static const char hex[] = "0123456789abcdef";
        char *dig = &c[2 + 64];
        unsigned v = (unsigned)(strchr(hex, *dig) - hex) | 8u;
        *dig = hex[v];
    }
    json_object_set_new(compact, "sign", json_string(c));
    cella_order oc;
    assert_succeeds(cella_order_from_json(compact, k, false, &oc));
    assert_memory_equal(oc.sign, recorded, 65);
    assert_succeeds(cella_order_verify(d, &oc, want_signer, NULL));
    cella_order_free(&oc);
    json_decref(compact);
    /* JSON round trip keeps the hash */
    json_t *back = cella_order_to_json(&o);
    assert_non_null(back);
    cella_order o2;
    assert_succeeds(cella_order_from_json(back, k, false, &o2));
    uint8_t h2[32];
    cella_order_hash(d, &o2, h2);
    assert_memory_equal(h, h2, 32);
    assert_succeeds(cella_order_verify(d, &o2, want_signer, NULL));
    json_decref(back);
    cella_order_free(&o);
    cella_order_free(&o2);
    cella_order_free(&again);
}

/* Change one character of one field value: parsing or verification must fail. */
static char mutate_char(char c)
{
    if (c >= '0' && c <= '8')
        return (char)(c + 1);
    if (c == '9')
        return '0';
    if (c >= 'a' && c <= 'e')
        return (char)(c + 1);
    if (c == 'f')
        return 'a';
    if (c >= 'A' && c <= 'E')
        return (char)(c + 1);
    if (c == 'F')
        return 'A';
    return c == 'x' ? 'y' : 'x';
}

static size_t check_tamper(const cella_domain *d, const json_t *e, const char *signer_text)
{
    cella_order_kind k;
    assert_true(cella_order_kind_from_name(jstr(e, "primaryType"), &k));
    uint8_t want_signer[20];
    assert_succeeds(cella_eth_address_parse(want_signer, signer_text, "signer"));
    const json_t *oj = json_object_get(e, "order");
    size_t tried = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)oj, key, v)
    {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        /* a few positions per field: first digit after 0x, middle, last */
        size_t pos[3] = {n > 2 ? 2 : 0, n / 2, n - 1};
        for (int pi = 0; pi < 3; pi++) {
            json_t *copy = json_deep_copy(oj);
            char *m = strdup(s);
            assert_non_null(copy);
            assert_non_null(m);
            m[pos[pi]] = mutate_char(m[pos[pi]]);
            json_object_set_new(copy, key, json_string(m));
            cella_order o;
            cella_res r = cella_order_from_json(copy, k, false, &o);
            if (cella_ok(r)) {
                r = cella_order_verify(d, &o, want_signer, NULL);
                if (cella_ok(r))
                    fail_msg("%s: change at %zu of %s still verifies", jstr(e, "primaryType"),
                             pos[pi], key);
                assert_int_equal(r.code, CELLA_E_AUTH);
                cella_order_free(&o);
            } else {
                assert_true(r.code == CELLA_E_PARSE || r.code == CELLA_E_AUTH);
            }
            tried++;
            free(m);
            json_decref(copy);
        }
    }
    /* a wrong domain (chain id, hub) is refused too */
    cella_order o;
    assert_succeeds(cella_order_from_json(oj, k, false, &o));
    cella_domain d2 = *d;
    d2.chain_id++;
    assert_fails_with(cella_order_verify(&d2, &o, want_signer, NULL), CELLA_E_AUTH);
    d2 = *d;
    d2.hub[19] ^= 1;
    assert_fails_with(cella_order_verify(&d2, &o, want_signer, NULL), CELLA_E_AUTH);
    /* and an unsigned order never verifies */
    o.has_sign = false;
    assert_fails_with(cella_order_verify(d, &o, NULL, NULL), CELLA_E_AUTH);
    cella_order_free(&o);
    return tried;
}

static void run_file(const char *rel, int want_count)
{
    json_t *f = test_load_vector(rel);
    cella_domain d;
    uint8_t priv[32], sep[32];
    vector_domain(f, &d);
    load_priv(priv);
    const char *signer = jstr(f, "signerAddress");
    const json_t *vs = json_object_get(f, "vectors");
    assert_int_equal(json_array_size(vs), want_count);
    size_t i, tamper = 0;
    json_t *e;
    json_array_foreach(vs, i, e)
    {
        if (json_object_get(e, "domainSeparator")) {
            uint8_t want[32];
            cella_eip712_domain_separator(&d, sep);
            test_unhex(want, 32, jstr(e, "domainSeparator"));
            assert_memory_equal(sep, want, 32);
        }
        if (json_object_get(e, "typeHash")) {
            cella_order_kind k;
            uint8_t th[32], want[32];
            assert_true(cella_order_kind_from_name(jstr(e, "primaryType"), &k));
            assert_string_equal(cella_order_type_string(k), jstr(e, "typeString"));
            cella_order_type_hash(k, th);
            test_unhex(want, 32, jstr(e, "typeHash"));
            assert_memory_equal(th, want, 32);
        }
        const char *s = json_object_get(e, "signer") ? jstr(e, "signer") : signer;
        check_entry(&d, e, s, priv);
        tamper += check_tamper(&d, e, s);
    }
    assert_true(tamper > 50);
    json_decref(f);
}

static void sdk_vectors(void **state)
{
    (void)state;
    run_file("iexec/orders/orders-sdk-8.24.0.json", 6);
}

static void ethers_vectors(void **state)
{
    (void)state;
    json_t *f = test_load_vector("iexec/orders/orders-fixed-salt-ethers.json");
    size_t n = json_array_size(json_object_get(f, "vectors"));
    json_decref(f);
    assert_true(n >= 4);
    run_file("iexec/orders/orders-fixed-salt-ethers.json", (int)n);
}

static void tags(void **state)
{
    (void)state;
    uint8_t t[32], want[32] = {0};
    char names[80];
    want[31] = 0x03;
    assert_succeeds(cella_tag_parse("tee,scone", t, "tag"));
    assert_memory_equal(t, want, 32);
    assert_succeeds(cella_tag_parse(
        "0x0000000000000000000000000000000000000000000000000000000000000003", t, "tag"));
    assert_memory_equal(t, want, 32);
    assert_succeeds(cella_tag_parse("0x3", t, "tag"));
    assert_memory_equal(t, want, 32);
    assert_succeeds(cella_tag_parse(" scone , tee ", t, "tag"));
    assert_memory_equal(t, want, 32);
    cella_tag_names(t, names, sizeof names);
    assert_string_equal(names, "tee,scone");
    memset(want, 0, 32);
    want[31] = 0x0d;
    want[30] = 0x01;
    assert_succeeds(cella_tag_parse("tee,gramine,tdx,gpu", t, "tag"));
    assert_memory_equal(t, want, 32);
    cella_tag_names(t, names, sizeof names);
    assert_string_equal(names, "tee,gramine,tdx,gpu");
    t[0] = 0x80;
    cella_tag_names(t, names, sizeof names);
    assert_int_equal(strlen(names), 66);
    assert_fails_with(cella_tag_parse("tee,sgx", t, "tag"), CELLA_E_PARSE);
    assert_fails_with(cella_tag_parse("", t, "tag"), CELLA_E_PARSE);
    assert_fails_with(cella_tag_parse(",", t, "tag"), CELLA_E_PARSE);
    assert_fails_with(cella_tag_parse("0x", t, "tag"), CELLA_E_PARSE);
    assert_fails_with(cella_tag_parse("0x1g", t, "tag"), CELLA_E_PARSE);
    assert_fails_with(
        cella_tag_parse("0x00000000000000000000000000000000000000000000000000000000000000003", t,
                        "tag"),
        CELLA_E_PARSE);
    /* in an order: names, a list of names, or hex give the same hash */
    const char *forms[] = {"\"tee,scone\"", "[\"tee\",\"scone\"]", "\"0x03\""};
    uint8_t h0[32];
    for (int i = 0; i < 3; i++) {
        char js[600];
        snprintf(js, sizeof js,
                 "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appprice\":0,"
                 "\"volume\":\"1000000\",\"tag\":%s,"
                 "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","
                 "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","
                 "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\","
                 "\"salt\":\"0x7d1a95e1c2351aaa0a606c5d20bcf1c09dd76796333674a656d76e0d22d6d40d\"}",
                 forms[i]);
        cella_order_set set;
        assert_succeeds(cella_orders_parse(js, strlen(js), false, NULL, &set));
        assert_true(set.present[CELLA_ORDER_APP]);
        uint8_t h[32];
        cella_order_struct_hash(&set.o[CELLA_ORDER_APP], h);
        if (i == 0)
            memcpy(h0, h, 32);
        assert_memory_equal(h, h0, 32);
        /* the SDK vector "apporder tag=tee,scone" has this struct hash */
        uint8_t want_h[32];
        test_unhex(want_h, 32, "9b2eebe090aeb63fd554fc788c96833aa6dc57c09dcb5e3281cdcc904eb44c47");
        assert_memory_equal(h, want_h, 32);
        cella_order_set_free(&set);
    }
}

static void u256(void **state)
{
    (void)state;
    uint8_t v[32];
    char out[80];
    const char *max =
        "115792089237316195423570985008687907853269984665640564039457584007913129639935";
    assert_succeeds(cella_u256_parse(max, v, "n"));
    for (int i = 0; i < 32; i++)
        assert_int_equal(v[i], 0xff);
    cella_u256_format(v, out);
    assert_string_equal(out, max);
    assert_fails_with(
        cella_u256_parse(
            "115792089237316195423570985008687907853269984665640564039457584007913129639936", v,
            "n"),
        CELLA_E_PARSE);
    assert_succeeds(cella_u256_parse("0", v, "n"));
    cella_u256_format(v, out);
    assert_string_equal(out, "0");
    assert_succeeds(cella_u256_parse("1000000000", v, "n"));
    cella_u256_format(v, out);
    assert_string_equal(out, "1000000000");
    assert_succeeds(cella_u256_parse("0x3b9aca00", v, "n"));
    cella_u256_format(v, out);
    assert_string_equal(out, "1000000000");
    assert_fails_with(cella_u256_parse("", v, "n"), CELLA_E_PARSE);
    assert_fails_with(cella_u256_parse("-1", v, "n"), CELLA_E_PARSE);
    assert_fails_with(cella_u256_parse("1.5", v, "n"), CELLA_E_PARSE);
    assert_fails_with(cella_u256_parse("1e3", v, "n"), CELLA_E_PARSE);
}

#define REQ_TMPL                                                                                   \
    "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appmaxprice\":\"0\","               \
    "\"dataset\":\"0x0000000000000000000000000000000000000000\",\"datasetmaxprice\":0,"            \
    "\"workerpool\":\"0x0000000000000000000000000000000000000000\",\"workerpoolmaxprice\":0,"      \
    "\"requester\":\"%s\",\"volume\":1,\"tag\":\"tee,tdx\",\"category\":0,\"trust\":0,"            \
    "\"beneficiary\":\"%s\",\"callback\":\"0x0000000000000000000000000000000000000000\","          \
    "\"params\":{\"iexec_args\":\"a b\",\"iexec_result_encryption\":true}}"

static void sign_fresh(void **state)
{
    (void)state;
    uint8_t priv[32], addr[20], other[32];
    char text[43];
    assert_succeeds(cella_eth_privkey_generate(priv));
    assert_succeeds(cella_eth_privkey_generate(other));
    assert_succeeds(cella_eth_address_from_privkey(priv, addr));
    cella_eth_address_checksum(text, addr);
    char js[1200];
    snprintf(js, sizeof js, REQ_TMPL, text, text);
    cella_order_set set;
    assert_fails_with(cella_orders_parse(js, strlen(js), false, NULL, &set), CELLA_E_PARSE);
    assert_succeeds(cella_orders_parse(js, strlen(js), true, NULL, &set));
    cella_order *o = &set.o[CELLA_ORDER_REQUEST];
    assert_string_equal(o->params, "{\"iexec_args\":\"a b\",\"iexec_result_encryption\":true}");
    cella_domain d = {.chain_id = 421614};
    d.hub[0] = 0xb2;
    /* only the requester may sign a request */
    assert_fails_with(cella_order_sign(&d, o, other, true), CELLA_E_USAGE);
    assert_succeeds(cella_order_sign(&d, o, priv, true));
    uint8_t salt1[32], salt2[32], signer[20];
    assert_succeeds(cella_order_word(o, "salt", salt1));
    assert_succeeds(cella_order_verify(&d, o, NULL, signer));
    assert_memory_equal(signer, addr, 20);
    assert_succeeds(cella_order_sign(&d, o, priv, true));
    assert_succeeds(cella_order_word(o, "salt", salt2));
    assert_memory_not_equal(salt1, salt2, 32);
    /* a signature by someone else is refused for a request */
    uint8_t h[32];
    cella_order_hash(&d, o, h);
    assert_succeeds(cella_eth_sign_digest(other, h, o->sign));
    assert_fails_with(cella_order_verify(&d, o, NULL, NULL), CELLA_E_AUTH);
    /* forged: flip a bit of s */
    assert_succeeds(cella_order_sign(&d, o, priv, false));
    o->sign[40] ^= 0x10;
    assert_fails_with(cella_order_verify(&d, o, addr, NULL), CELLA_E_AUTH);
    assert_fails_with(cella_order_word(o, "appprice", salt1), CELLA_E_NOTFOUND);
    cella_order_set_free(&set);
}

static void file_shapes(void **state)
{
    (void)state;
    json_t *f = test_load_vector("iexec/orders/orders-sdk-8.24.0.json");
    const json_t *vs = json_object_get(f, "vectors");
    /* keyed object of the four kinds (first of each), then orders.json by chain id */
    json_t *keyed = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(vs, i, e)
    {
        cella_order_kind k;
        assert_true(cella_order_kind_from_name(jstr(e, "primaryType"), &k));
        if (!json_object_get(keyed, cella_order_key(k)))
            json_object_set(keyed, cella_order_key(k), json_object_get(e, "order"));
    }
    char *text = json_dumps(keyed, 0);
    cella_order_set set;
    assert_succeeds(cella_orders_parse(text, strlen(text), false, NULL, &set));
    for (int k = 0; k < CELLA_ORDER__COUNT; k++)
        assert_true(set.present[k]);
    cella_order_set_free(&set);
    free(text);
    json_t *bychain = json_pack("{s:O}", "421614", keyed);
    text = json_dumps(bychain, 0);
    uint64_t chain = 0;
    assert_succeeds(cella_orders_parse(text, strlen(text), false, &chain, &set));
    assert_int_equal(chain, 421614);
    assert_true(set.present[CELLA_ORDER_REQUEST]);
    cella_order_set_free(&set);
    chain = 1;
    assert_fails_with(cella_orders_parse(text, strlen(text), false, &chain, &set),
                      CELLA_E_NOTFOUND);
    free(text);
    json_decref(bychain);
    json_decref(keyed);
    json_decref(f);
}

static void expect_bad(const char *js, cella_code code)
{
    cella_order_set set;
    assert_fails_with(cella_orders_parse(js, strlen(js), false, NULL, &set), code);
}

#define APP_FIELDS(tail)                                                                           \
    "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appprice\":\"0\","                  \
    "\"volume\":\"1\",\"tag\":\"0x0\","                                                            \
    "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","                          \
    "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","                       \
    "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\"," tail "}"

static void malformed(void **state)
{
    (void)state;
    const char *salt =
        "\"salt\":\"0x0000000000000000000000000000000000000000000000000000000000000001\"";
    char buf[1024];
    snprintf(buf, sizeof buf, APP_FIELDS("%s"), salt);
    cella_order_set set;
    assert_succeeds(cella_orders_parse(buf, strlen(buf), false, NULL, &set));
    cella_order_set_free(&set);
    expect_bad("", CELLA_E_PARSE);
    expect_bad("{", CELLA_E_PARSE);
    expect_bad("[1]", CELLA_E_PARSE);
    expect_bad("{}", CELLA_E_PARSE);
    expect_bad("{\"foo\":1}", CELLA_E_PARSE);
    expect_bad("{\"apporder\":1}", CELLA_E_PARSE);
    expect_bad("{\"apporder\":{},\"bogus\":{}}", CELLA_E_PARSE);
    expect_bad(APP_FIELDS("\"salt\":\"0x01\""), CELLA_E_PARSE);
    snprintf(buf, sizeof buf, APP_FIELDS("%s,\"extra\":1"), salt);
    expect_bad(buf, CELLA_E_PARSE);
    snprintf(buf, sizeof buf, APP_FIELDS("%s,\"sign\":\"0x1234\""), salt);
    expect_bad(buf, CELLA_E_PARSE);
    snprintf(buf, sizeof buf, APP_FIELDS("%s,\"sign\":42"), salt);
    expect_bad(buf, CELLA_E_PARSE);
    snprintf(buf, sizeof buf, APP_FIELDS("%s,\"salt\":\"0x00\""), salt);
    expect_bad(buf, CELLA_E_PARSE); /* duplicate key */
    /* bad values */
    const char *bad_app =
        "{\"app\":\"0x111111111111111111111111111111111111111\",\"appprice\":\"0\"}";
    expect_bad(bad_app, CELLA_E_PARSE);
    snprintf(buf, sizeof buf,
             "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appprice\":-1,"
             "\"volume\":\"1\",\"tag\":\"0x0\","
             "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\",%s}",
             salt);
    expect_bad(buf, CELLA_E_PARSE);
    snprintf(buf, sizeof buf,
             "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appprice\":1.5,"
             "\"volume\":\"1\",\"tag\":\"0x0\","
             "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\",%s}",
             salt);
    expect_bad(buf, CELLA_E_PARSE);
    snprintf(buf, sizeof buf,
             "{\"app\":\"0x1111111111111111111111111111111111111111\",\"appprice\":\"0\","
             "\"volume\":\"1\",\"tag\":\"sgx\","
             "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\",%s}",
             salt);
    expect_bad(buf, CELLA_E_PARSE);
    /* bad EIP-55 checksum on a mixed-case address */
    snprintf(buf, sizeof buf,
             "{\"app\":\"0xDb9f1F02a1d9F4B699840c67dEECd7D89D22bbc1\",\"appprice\":\"0\","
             "\"volume\":\"1\",\"tag\":\"0x0\","
             "\"datasetrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"workerpoolrestrict\":\"0x0000000000000000000000000000000000000000\","
             "\"requesterrestrict\":\"0x0000000000000000000000000000000000000000\",%s}",
             salt);
    expect_bad(buf, CELLA_E_PARSE);
    /* several chains without --chain-id */
    expect_bad("{\"1\":{},\"2\":{}}", CELLA_E_USAGE);
    /* too big */
    size_t big = CELLA_ORDER_MAX_JSON + 1;
    char *b = malloc(big + 1);
    assert_non_null(b);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    b[big] = 0;
    expect_bad(b, CELLA_E_TOOBIG);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(types_and_domain),
        cmocka_unit_test(sdk_vectors),
        cmocka_unit_test(ethers_vectors),
        cmocka_unit_test(tags),
        cmocka_unit_test(u256),
        cmocka_unit_test(sign_fresh),
        cmocka_unit_test(file_shapes),
        cmocka_unit_test(malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

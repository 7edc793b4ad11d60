/* Unit tests for lib/policy/session: the seed's template, the normalised form,
 * the hash, redaction, the JSON path, and negative cases that each check the
 * error code and the exact "where" (line and field). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aead.h"
#include "policy/session.h"
#include "testutil.h"

#define MRE1 "e0f45a9a862c83f383730cc2aef144081025e3f925615da5b35c4d980faaa3c9"
#define MRE2 "1111111111111111111111111111111111111111111111111111111111111111"
#define KEY_IN "8f2a6d0c4b1e3a5f7d9c0b2e4a6f8d1c3b5e7a9f0d2c4b6e8a1f3d5c7b9e0a2c"
#define TAG_IN "0123456789abcdef0123456789abcdef"
#define KEY_OUT "5d3b1f9e7c5a3d1b9f7e5c3a1d9b7f5e3c1a9d7b5f3e1c9a7d5b3f1e9c7a5d3b"
#define TAG_OUT "fedcba9876543210fedcba9876543210"

/* The seed's session template (seeds/002, "name: $SESSION") with its
 * variables replaced by real values; key and tag in upper case on purpose. */
static const char g_seed_yaml[] =
    "name: copy-demo-1\n"
    "digest: create\n"
    "\n"
    "services:\n"
    "   - name: application\n"
    "     image_name: sconecuratedimages/iexecsgx:copy_demo\n"
    "     mrenclaves: [" MRE1 "]\n"
    "     tags: [demo]\n"
    "     command: /application\n"
    "     pwd: /\n"
    "     environment:\n"
    "        SCONE_MODE: hw\n"
    "\n"
    "volumes:\n"
    "   - name: encrypted-input-files\n"
    "     fspf_tag: 0123456789ABCDEF0123456789ABCDEF\n"
    "     fspf_key: 8F2A6D0C4B1E3A5F7D9C0B2E4A6F8D1C3B5E7A9F0D2C4B6E8A1F3D5C7B9E0A2C\n"
    "   - name: encrypted-output-files\n"
    "     fspf_tag: " TAG_OUT "\n"
    "     fspf_key: " KEY_OUT "\n"
    "\n"
    "images:\n"
    "   - name: sconecuratedimages/iexecsgx:copy_demo\n"
    "     mrenclaves: [" MRE1 "]\n"
    "     tags: [demo]\n"
    "     volumes:\n"
    "        - name: encrypted-input-files\n"
    "          path: /encryptedInputs\n"
    "        - name: encrypted-output-files\n"
    "          path: /encryptedOutputs\n";

static const char g_seed_json[] =
    "{\"version\": \"0.3.10\", \"name\": \"copy-demo-1\", \"predecessor\": null,"
    " \"services\": [{\"name\": \"application\","
    "   \"image_name\": \"sconecuratedimages/iexecsgx:copy_demo\","
    "   \"mrenclaves\": [\"" MRE1 "\"], \"command\": [\"/application\"], \"pwd\": \"/\","
    "   \"environment\": {\"SCONE_MODE\": \"hw\"}}],"
    " \"volumes\": ["
    "   {\"name\": \"encrypted-input-files\", \"fspf_key\": \"" KEY_IN "\","
    "    \"fspf_tag\": \"" TAG_IN "\"},"
    "   {\"name\": \"encrypted-output-files\", \"fspf_key\": \"" KEY_OUT "\","
    "    \"fspf_tag\": \"" TAG_OUT "\"}],"
    " \"images\": [{\"name\": \"sconecuratedimages/iexecsgx:copy_demo\","
    "   \"volumes\": [{\"name\": \"encrypted-input-files\", \"path\": \"/encryptedInputs\"},"
    "                 {\"name\": \"encrypted-output-files\", \"path\": \"/encryptedOutputs\"}],"
    "   \"injection_files\": []}],"
    " \"secrets\": [],"
    " \"security\": {\"allow_debug\": false, \"allow_sim\": false,"
    "   \"tee\": [\"sgx\", \"tdx\", \"snp\"], \"accepted_tcb\": [\"UpToDate\"],"
    "   \"tolerated_advisories\": []},"
    " \"access_policy\": {\"read\": [\"CREATOR\"], \"update\": [\"CREATOR\"]}}";

/* Every feature at once. */
static const char g_full_yaml[] =
    "version: \"0.3.10\"\n"
    "name: acme/ml/train-7\n"
    "predecessor: 00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff\n"
    "secrets:\n"
    "  - name: db_password\n"
    "    value: \"s3cr3t value!\"\n"
    "  - name: api-token\n"
    "  - name: wrap_key\n"
    "    kind: binary\n"
    "    value: 00FF10ee\n"
    "  - name: seed\n"
    "    kind: binary\n"
    "    size: 64\n"
    "volumes:\n"
    "  - name: out\n"
    "  - name: in\n"
    "    fspf_key: " KEY_IN "\n"
    "images:\n"
    "  - name: registry.example/acme/train@sha256:abc\n"
    "    volumes:\n"
    "      - {name: out, path: /data/out}\n"
    "      - {name: in, path: /data/in}\n"
    "    injection_files:\n"
    "      - path: /etc/app/config.ini\n"
    "        content: |\n"
    "          password = $$SCONE::db_password$$\n"
    "          token = $$CELLA::api-token$$\n"
    "services:\n"
    "  - name: train\n"
    "    image_name: registry.example/acme/train@sha256:abc\n"
    "    mrenclaves: [" MRE2 ", " MRE1 "]\n"
    "    command: [python3, /app/train.py, --epochs, \"10\"]\n"
    "    pwd: /app\n"
    "    environment:\n"
    "      EPOCHS: 10\n"
    "      VERBOSE: true\n"
    "      RATE: 0.5\n"
    "      DB_PASS: \"$$SCONE::db_password$$\"\n"
    "  - name: eval\n"
    "    mrenclaves:\n"
    "      - " MRE1 "\n"
    "    command: \"/app/eval  --fast\\t-q\"\n"
    "    pwd: /\n"
    "security:\n"
    "  allow_sim: true\n"
    "  attestation:\n"
    "    tolerate: [debug-mode, outdated-tcb, insecure-configuration]\n"
    "    ignore_advisories: [INTEL-SA-00615, \"*\", INTEL-SA-00233]\n"
    "access_policy:\n"
    "  read: [CREATOR, \"0xABCDEF0123456789abcdef0123456789ABCDEF01\"]\n"
    "  update: [NONE]\n";

static const char g_full_json[] =
    "{\"version\": \"0.3.10\", \"name\": \"acme/ml/train-7\","
    " \"predecessor\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
    " \"services\": ["
    "  {\"name\": \"eval\", \"image_name\": null, \"mrenclaves\": [\"" MRE1 "\"],"
    "   \"command\": [\"/app/eval\", \"--fast\", \"-q\"], \"pwd\": \"/\", \"environment\": {}},"
    "  {\"name\": \"train\", \"image_name\": \"registry.example/acme/train@sha256:abc\","
    "   \"mrenclaves\": [\"" MRE2 "\", \"" MRE1 "\"],"
    "   \"command\": [\"python3\", \"/app/train.py\", \"--epochs\", \"10\"], \"pwd\": \"/app\","
    "   \"environment\": {\"EPOCHS\": \"10\", \"VERBOSE\": \"true\", \"RATE\": \"0.5\","
    "                     \"DB_PASS\": \"$$SCONE::db_password$$\"}}],"
    " \"volumes\": [{\"name\": \"in\", \"fspf_key\": \"" KEY_IN "\", \"fspf_tag\": null},"
    "               {\"name\": \"out\", \"fspf_key\": null, \"fspf_tag\": null}],"
    " \"images\": [{\"name\": \"registry.example/acme/train@sha256:abc\","
    "   \"volumes\": [{\"name\": \"in\", \"path\": \"/data/in\"},"
    "                 {\"name\": \"out\", \"path\": \"/data/out\"}],"
    "   \"injection_files\": [{\"path\": \"/etc/app/config.ini\", \"content\":"
    "     \"password = $$SCONE::db_password$$\\ntoken = $$CELLA::api-token$$\\n\"}]}],"
    " \"secrets\": ["
    "  {\"name\": \"api-token\", \"kind\": \"ascii\", \"size\": 20, \"value\": null},"
    "  {\"name\": \"db_password\", \"kind\": \"ascii\", \"size\": 13, \"value\": \"s3cr3t value!\"},"
    "  {\"name\": \"seed\", \"kind\": \"binary\", \"size\": 64, \"value\": null},"
    "  {\"name\": \"wrap_key\", \"kind\": \"binary\", \"size\": 4, \"value\": \"00ff10ee\"}],"
    " \"security\": {\"allow_debug\": true, \"allow_sim\": true,"
    "   \"tee\": [\"sgx\", \"tdx\", \"snp\", \"sim\"],"
    "   \"accepted_tcb\": [\"UpToDate\", \"ConfigurationNeeded\","
    "     \"ConfigurationAndSWHardeningNeeded\", \"OutOfDate\", \"OutOfDateConfigurationNeeded\"],"
    "   \"tolerated_advisories\": [\"*\", \"INTEL-SA-00233\", \"INTEL-SA-00615\"]},"
    " \"access_policy\": {\"read\": [\"0xabcdef0123456789abcdef0123456789abcdef01\","
    "   \"CREATOR\"], \"update\": [\"NONE\"]}}";

/* A small valid session the negative cases are variations of. */
#define BASE_SERVICE                                                                   \
    "services:\n"                                                                      \
    "  - name: app\n"                                                                  \
    "    mrenclaves: [" MRE1 "]\n"                                                     \
    "    command: /app\n"                                                              \
    "    pwd: /\n"

static json_t *parse_ok(const char *yaml)
{
    json_t *o = NULL;
    assert_succeeds(cella_session_from_yaml(yaml, strlen(yaml), &o));
    assert_non_null(o);
    return o;
}

static json_t *load_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!j)
        fail_msg("bad JSON literal: %s at line %d col %d", e.text, e.line, e.column);
    return j;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = load_json(want_text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
        print_error("got:\n%s\nwant:\n%s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail_msg("normalised form differs");
    }
    json_decref(want);
}

static void hash_of(const char *yaml, uint8_t h[32])
{
    json_t *o = parse_ok(yaml);
    assert_succeeds(cella_session_hash(o, h));
    json_decref(o);
}

static void seed_template(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_seed_yaml);
    assert_json_eq(o, g_seed_json);
    /* the key order of the header, for human readers */
    const char *first = json_object_iter_key(json_object_iter(o));
    assert_string_equal(first, "version");
    json_decref(o);
}

static void full_session(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_full_yaml);
    assert_json_eq(o, g_full_json);
    json_decref(o);
}

/* The hash is SHA-256 over the compact, key-sorted serialisation. */
static void hash_definition(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_seed_yaml);
    uint8_t h[32], want[32];
    assert_succeeds(cella_session_hash(o, h));
    json_t *lit = load_json(g_seed_json);
    char *s = json_dumps(lit, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    assert_non_null(strstr(s, "{\"access_policy\":{\"read\":[\"CREATOR\"]"));
    assert_succeeds(cella_sha256(want, s, strlen(s)));
    assert_memory_equal(h, want, 32);
    free(s);
    json_decref(lit);
    json_decref(o);
}

static void hash_stable(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    static const char v1[] = "name: s\n"
                             "services:\n"
                             "  - name: app\n"
                             "    mrenclaves: [" MRE1 ", " MRE2 "]\n"
                             "    command: /app -x  --y\n"
                             "    pwd: /\n"
                             "    environment: {A: '1', B: two}\n"
                             "  - name: aux\n"
                             "    mrenclaves: [" MRE2 "]\n"
                             "    command: [/aux]\n"
                             "    pwd: /tmp\n"
                             "volumes: [{name: v1}, {name: v2, fspf_key: " KEY_IN "}]\n"
                             "access_policy: {read: [CREATOR], update: [CREATOR]}\n";
    /* same session: keys reordered, command as a list, hex in upper case,
     * list entries reordered, flow vs block style, defaults spelled out,
     * a number where a string is expected, an ignored digest */
    static const char v2[] =
        "access_policy:\n"
        "  update: [CREATOR]\n"
        "volumes:\n"
        "  - fspf_key: 8F2A6D0C4B1E3A5F7D9C0B2E4A6F8D1C3B5E7A9F0D2C4B6E8A1F3D5C7B9E0A2C\n"
        "    name: v2\n"
        "  - name: v1\n"
        "    fspf_tag: null\n"
        "digest: whatever\n"
        "security: {allow_debug: false, tee: [snp, sgx, tdx], accepted_tcb: [UpToDate]}\n"
        "services:\n"
        "  - pwd: /tmp\n"
        "    command: /aux\n"
        "    mrenclaves: [" MRE2 "]\n"
        "    name: aux\n"
        "    tags: [x]\n"
        "  - environment:\n"
        "      B: \"two\"\n"
        "      A: 1\n"
        "    command: [/app, -x, --y]\n"
        "    pwd: /\n"
        "    mrenclaves:\n"
        "      - " MRE2 "\n"
        "      - E0F45A9A862C83F383730CC2AEF144081025E3F925615DA5B35C4D980FAAA3C9\n"
        "    image_name: null\n"
        "    name: app\n"
        "name: s\n"
        "version: 0.3\n";
    hash_of(v1, a);
    hash_of(v2, b);
    assert_memory_equal(a, b, 32);
    hash_of(v1, b); /* and deterministic */
    assert_memory_equal(a, b, 32);

    /* JSON input of the same session hashes the same */
    json_t *o = parse_ok(v1), *n = NULL;
    assert_succeeds(cella_session_normalize(o, &n));
    assert_true(json_equal(o, n));
    assert_succeeds(cella_session_hash(n, b));
    assert_memory_equal(a, b, 32);
    json_decref(o);
    json_decref(n);
}

/* Changing any one field changes the hash (and each change differs). */
static void hash_changes(void **state)
{
    (void)state;
    /* each is g_full_yaml with one thing changed */
    static const struct {
        const char *from, *to;
    } edits[] = {
        {"name: acme/ml/train-7", "name: acme/ml/train-8"},
        {"predecessor: 00112233", "predecessor: 10112233"},
        {"\"s3cr3t value!\"", "\"s3cr3t value?\""},
        {"  - name: api-token\n", "  - name: api-token\n    size: 21\n"},
        {"    kind: binary\n    value: 00FF10ee", "    kind: binary\n    value: 00FF10ef"},
        {"size: 64", "size: 63"},
        {"  - name: out\n", "  - name: out\n    fspf_key: " KEY_OUT "\n"},
        {"    fspf_key: " KEY_IN "\n", "    fspf_key: " KEY_IN "\n    fspf_tag: " TAG_IN "\n"},
        {"path: /data/out", "path: /data/out2"},
        {"config.ini", "config.cfg"},
        {"token = $$CELLA", "token= $$CELLA"},
        {"[" MRE2 ", " MRE1 "]", "[" MRE2 "]"},
        {"--epochs, \"10\"", "--epochs, \"11\""},
        {"pwd: /app", "pwd: /app2"},
        {"EPOCHS: 10", "EPOCHS: 11"},
        {"RATE: 0.5", "RATE: 0.50"},
        {"-q\"", "-Q\""},
        {"  allow_sim: true\n", "  allow_sim: true\n  tee: [sim, sgx]\n"},
        {"debug-mode, outdated-tcb", "debug-mode"},
        {"INTEL-SA-00615, ", ""},
        {"update: [NONE]", "update: [CREATOR]"},
        {"read: [CREATOR, ", "read: ["},
        {"  - name: eval\n", "  - name: eval2\n"},
        {"version: \"0.3.10\"\n", "version: \"0.3.10\"\ndigest: ignored\n"}, /* same hash */
    };
    size_t n = sizeof edits / sizeof edits[0];
    uint8_t(*h)[32] = calloc(n + 1, 32);
    assert_non_null(h);
    hash_of(g_full_yaml, h[0]);
    for (size_t i = 0; i < n; i++) {
        const char *at = strstr(g_full_yaml, edits[i].from);
        if (!at)
            fail_msg("edit %zu: text not found", i);
        size_t pre = (size_t)(at - g_full_yaml);
        size_t len = strlen(g_full_yaml) - strlen(edits[i].from) + strlen(edits[i].to);
        char *y = malloc(len + 1);
        assert_non_null(y);
        memcpy(y, g_full_yaml, pre);
        strcpy(y + pre, edits[i].to);
        strcat(y, at + strlen(edits[i].from));
        json_t *o = NULL;
        cella_res r = cella_session_from_yaml(y, strlen(y), &o);
        if (!cella_ok(r))
            fail_msg("edit %zu: %s (%s)", i, cella_error_what(), cella_error_where());
        assert_succeeds(cella_session_hash(o, h[i + 1]));
        json_decref(o);
        free(y);
    }
    /* the last edit only adds an ignored field */
    assert_memory_equal(h[n], h[0], 32);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (memcmp(h[i], h[j], 32) == 0)
                fail_msg("edits %zu and %zu give the same hash", i, j);
    free(h);
}

static void redaction(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_full_yaml);
    json_t *seed = parse_ok(g_seed_yaml);
    json_t *r1 = cella_session_redact(o), *r2 = cella_session_redact(seed);
    assert_non_null(r1);
    assert_non_null(r2);
    char *s1 = json_dumps(r1, JSON_COMPACT), *s2 = json_dumps(r2, JSON_COMPACT);
    assert_non_null(s1);
    assert_non_null(s2);
    static const char *const secret_texts[] = {"s3cr3t value!", "00ff10ee", KEY_IN, KEY_OUT};
    for (size_t i = 0; i < 4; i++) {
        assert_null(strstr(s1, secret_texts[i]));
        assert_null(strstr(s2, secret_texts[i]));
    }
    /* every secret value and volume key that was set is now "<redacted>" */
    const json_t *sec = json_object_get(r1, "secrets");
    assert_int_equal(json_array_size(sec), 4);
    int redacted = 0;
    for (size_t i = 0; i < json_array_size(sec); i++) {
        const json_t *v = json_object_get(json_array_get(sec, i), "value");
        if (!json_is_null(v)) {
            assert_string_equal(json_string_value(v), "<redacted>");
            redacted++;
        }
    }
    assert_int_equal(redacted, 2);
    const json_t *vols = json_object_get(r2, "volumes");
    for (size_t i = 0; i < json_array_size(vols); i++) {
        const json_t *v = json_array_get(vols, i);
        assert_string_equal(json_string_value(json_object_get(v, "fspf_key")), "<redacted>");
        assert_non_null(strstr(json_string_value(json_object_get(v, "fspf_tag")), "0"));
    }
    assert_true(json_is_null(
        json_object_get(cella_session_volume(r1, "out"), "fspf_key"))); /* null stays null */
    /* the original is untouched */
    assert_string_equal(json_string_value(json_object_get(cella_session_volume(seed,
                                                                               "encrypted-input-files"),
                                                          "fspf_key")),
                        KEY_IN);
    /* everything else is the same */
    json_object_set_new((json_t *)cella_session_volume(r2, "encrypted-input-files"), "fspf_key",
                        json_string(KEY_IN));
    json_object_set_new((json_t *)cella_session_volume(r2, "encrypted-output-files"),
                        "fspf_key", json_string(KEY_OUT));
    assert_true(json_equal(r2, seed));
    assert_null(cella_session_redact(NULL));
    free(s1);
    free(s2);
    json_decref(r1);
    json_decref(r2);
    json_decref(o);
    json_decref(seed);
}

static void lookups(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_full_yaml);
    const json_t *s = cella_session_service(o, "train");
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "pwd")), "/app");
    assert_null(cella_session_service(o, "nope"));
    assert_non_null(cella_session_volume(o, "in"));
    assert_null(cella_session_volume(o, "train"));
    assert_null(cella_session_service(NULL, "train"));
    json_decref(o);
}

static void defaults(void **state)
{
    (void)state;
    json_t *o = parse_ok("name: minimal\n" BASE_SERVICE);
    assert_json_eq(o,
                   "{\"version\": \"0.3.10\", \"name\": \"minimal\", \"predecessor\": null,"
                   " \"services\": [{\"name\": \"app\", \"image_name\": null,"
                   "   \"mrenclaves\": [\"" MRE1 "\"], \"command\": [\"/app\"], \"pwd\": \"/\","
                   "   \"environment\": {}}],"
                   " \"volumes\": [], \"images\": [], \"secrets\": [],"
                   " \"security\": {\"allow_debug\": false, \"allow_sim\": false,"
                   "   \"tee\": [\"sgx\", \"tdx\", \"snp\"], \"accepted_tcb\": [\"UpToDate\"],"
                   "   \"tolerated_advisories\": []},"
                   " \"access_policy\": {\"read\": [\"CREATOR\"], \"update\": [\"CREATOR\"]}}");
    json_decref(o);
    /* allow_sim adds sim to the default TEE list; SCONE's other tolerations */
    o = parse_ok("name: s\nsecurity:\n  allow_sim: true\n  allow_debug: true\n"
                 "  tolerated_advisories: ['*']\n"
                 "  accepted_tcb: [OutOfDate, UpToDate, SWHardeningNeeded]\n");
    assert_json_eq(json_object_get(o, "security"),
                   "{\"allow_debug\": true, \"allow_sim\": true,"
                   " \"tee\": [\"sgx\", \"tdx\", \"snp\", \"sim\"],"
                   " \"accepted_tcb\": [\"UpToDate\", \"SWHardeningNeeded\", \"OutOfDate\"],"
                   " \"tolerated_advisories\": [\"*\"]}");
    json_decref(o);
    o = parse_ok("name: s\nsecurity:\n  attestation:\n    tolerate: [software-hardening-needed]\n");
    assert_json_eq(json_object_get(o, "security"),
                   "{\"allow_debug\": false, \"allow_sim\": false,"
                   " \"tee\": [\"sgx\", \"tdx\", \"snp\"],"
                   " \"accepted_tcb\": [\"UpToDate\", \"SWHardeningNeeded\"],"
                   " \"tolerated_advisories\": []}");
    json_decref(o);
    /* a secret value sets the size; an explicit matching size is fine */
    o = parse_ok("name: s\nsecrets:\n  - {name: a, value: abc, size: 3}\n"
                 "  - {name: b, kind: binary, value: \"0102\"}\n");
    assert_json_eq(json_object_get(o, "secrets"),
                   "[{\"name\": \"a\", \"kind\": \"ascii\", \"size\": 3, \"value\": \"abc\"},"
                   " {\"name\": \"b\", \"kind\": \"binary\", \"size\": 2, \"value\": \"0102\"}]");
    json_decref(o);
    /* a document start marker and an explicit end are one document */
    json_decref(parse_ok("---\nname: s\n...\n"));
}

/* The JSON path: the normalised form is a fixed point; JSON errors name the
 * field without a line; JSON types are strict where YAML is lenient. */
static void json_input(void **state)
{
    (void)state;
    json_t *o = parse_ok(g_full_yaml), *n = NULL;
    assert_succeeds(cella_session_normalize(o, &n));
    assert_true(json_equal(o, n));
    json_decref(n);
    json_decref(o);

    static const struct {
        const char *json;
        cella_code code;
        const char *where;
    } bad[] = {
        {"[]", CELLA_E_PARSE, "session"},
        {"{\"name\": \"s\", \"services\": [{\"name\": \"a\", \"mrenclaves\": [\"xx\"],"
         " \"command\": [\"/a\"], \"pwd\": \"/\"}]}",
         CELLA_E_PARSE, "services[0].mrenclaves[0]"},
        {"{\"name\": 5}", CELLA_E_PARSE, "name"},
        {"{\"name\": \"s\", \"bogus\": 1}", CELLA_E_PARSE, "bogus"},
        {"{\"name\": \"s\", \"security\": {\"allow_debug\": \"true\"}}", CELLA_E_PARSE,
         "security.allow_debug"},
        {"{\"name\": \"s\", \"secrets\": [{\"name\": \"x\", \"size\": 2.5}]}", CELLA_E_PARSE,
         "secrets[0].size"},
        {"{\"name\": \"s\", \"services\": [{\"name\": \"a\", \"mrenclaves\": [\"" MRE1 "\"],"
         " \"command\": \"/a\", \"pwd\": \"/\", \"environment\": {\"X\": null}}]}",
         CELLA_E_PARSE, "services[0].environment.X"},
        {"{\"name\": \"a\\u0000b\"}", CELLA_E_PARSE, "name"},
        {"{\"name\": \"s\", \"volumes\": [{\"name\": \"v\"}, {\"name\": \"v\"}]}",
         CELLA_E_POLICY, "volumes[1].name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *in = load_json(bad[i].json);
        json_t *out = (json_t *)1;
        cella_res r = cella_session_normalize(in, &out);
        if (r.code != bad[i].code || strcmp(cella_error_where(), bad[i].where) != 0)
            fail_msg("json case %zu: got %s: %s (%s)", i, cella_code_str(r.code),
                     cella_error_what(), cella_error_where());
        assert_null(out);
        json_decref(in);
    }
    /* environment values: numbers and booleans become strings */
    json_t *in = load_json("{\"name\": \"s\", \"services\": [{\"name\": \"a\", \"mrenclaves\":"
                           " [\"" MRE1 "\"], \"command\": \"/a\", \"pwd\": \"/\","
                           " \"environment\": {\"N\": 7, \"B\": false, \"S\": \"x\"}}]}");
    assert_succeeds(cella_session_normalize(in, &o));
    assert_json_eq(json_object_get(cella_session_service(o, "a"), "environment"),
                   "{\"N\": \"7\", \"B\": \"false\", \"S\": \"x\"}");
    json_decref(o);
    json_decref(in);
    /* too deep */
    json_t *deep = json_object(), *cur = deep;
    json_object_set_new(deep, "name", json_string("s"));
    json_t *d = json_array();
    json_object_set_new(deep, "digest", d);
    for (int i = 0; i < 40; i++) {
        json_t *x = json_array();
        json_array_append_new(d, x);
        d = x;
    }
    (void)cur;
    assert_fails_with(cella_session_normalize(deep, &o), CELLA_E_PARSE);
    assert_non_null(strstr(cella_error_where(), "digest[0][0]"));
    json_decref(deep);
}

/* ------------------------------------------------------------ negatives */

typedef struct {
    const char *name;
    const char *yaml;
    cella_code code;
    const char *where; /* exact */
    const char *what;  /* substring */
} neg_case;

#define NAME_S "name: s\n"

static const neg_case g_neg[] = {
    {"bad_hex_mrenclave",
     NAME_S "services:\n  - name: app\n    mrenclaves: [" MRE1 ", 0xabc]\n    command: /a\n"
            "    pwd: /\n",
     CELLA_E_PARSE, "line 4, services[0].mrenclaves[1]", "not 64 hex digits"},
    {"bad_hex_mrenclave_char",
     NAME_S "services:\n  - name: app\n    mrenclaves:\n      - " MRE1 "\n"
            "      - g0f45a9a862c83f383730cc2aef144081025e3f925615da5b35c4d980faaa3c9\n"
            "    command: /a\n    pwd: /\n",
     CELLA_E_PARSE, "line 6, services[0].mrenclaves[1]", "not 64 hex digits"},
    {"unknown_top_field", NAME_S "owner: bob\n", CELLA_E_PARSE, "line 2, owner",
     "unknown field"},
    {"unknown_service_field",
     NAME_S BASE_SERVICE "    fspf_path: /fspf\n", CELLA_E_PARSE,
     "line 7, services[0].fspf_path", "unknown field"},
    {"unknown_volume_field", NAME_S "volumes:\n  - name: v\n    export: x\n", CELLA_E_PARSE,
     "line 4, volumes[0].export", "unknown field"},
    {"unknown_secret_field", NAME_S "secrets:\n  - name: x\n    import: y\n", CELLA_E_PARSE,
     "line 4, secrets[0].import", "unknown field"},
    {"unknown_image_field", NAME_S "images:\n  - name: i\n    platform: amd64\n", CELLA_E_PARSE,
     "line 4, images[0].platform", "unknown field"},
    {"duplicate_key_top", "name: a\nversion: '0.3'\nname: b\n", CELLA_E_PARSE, "line 3, name",
     "duplicate key"},
    {"duplicate_key_env",
     NAME_S BASE_SERVICE "    environment:\n      A: 1\n      B: 2\n      A: 3\n", CELLA_E_PARSE,
     "line 10, services[0].environment.A", "duplicate key"},
    {"alias", NAME_S "digest: *anchor\n", CELLA_E_PARSE, "line 2, digest", "aliases"},
    {"anchor", NAME_S "digest: &a x\n", CELLA_E_PARSE, "line 2, digest", "anchors"},
    {"anchor_and_alias", "base: &b\n  x: 1\nother: *b\n", CELLA_E_PARSE, "line 1, base",
     "anchors"},
    {"tag", "name: !!str s\n", CELLA_E_PARSE, "line 1, name", "tags"},
    {"tag_on_mapping", NAME_S "security: !custom\n  allow_debug: true\n", CELLA_E_PARSE,
     "line 2, security", "tags"},
    {"missing_session_name", "version: '0.3'\n" BASE_SERVICE, CELLA_E_PARSE, "line 1, name",
     "missing field"},
    {"null_session_name", "name:\n", CELLA_E_PARSE, "line 1, name", "missing field"},
    {"missing_service_name",
     NAME_S "services:\n  - mrenclaves: [" MRE1 "]\n    command: /a\n    pwd: /\n",
     CELLA_E_PARSE, "line 3, services[0].name", "missing field"},
    {"missing_mount_path",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n      - name: v\n",
     CELLA_E_PARSE, "line 6, images[0].volumes[0].path", "missing field"},
    {"missing_mrenclaves", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n",
     CELLA_E_PARSE, "line 3, services[0].mrenclaves", "missing field"},
    {"missing_pwd", NAME_S "services:\n  - name: app\n    mrenclaves: [" MRE1 "]\n    command: /a\n",
     CELLA_E_PARSE, "line 3, services[0].pwd", "missing field"},
    {"bad_session_name_chars", "name: \"my session\"\n", CELLA_E_PARSE, "line 1, name",
     "invalid session name"},
    {"bad_session_name_empty_part", "name: acme//x\n", CELLA_E_PARSE, "line 1, name",
     "invalid session name"},
    {"bad_session_name_dotdot", "name: acme/../x\n", CELLA_E_PARSE, "line 1, name",
     "invalid session name"},
    {"bad_service_name_slash",
     NAME_S "services:\n  - name: a/b\n    mrenclaves: [" MRE1 "]\n    command: /a\n"
            "    pwd: /\n",
     CELLA_E_PARSE, "line 3, services[0].name", "invalid name"},
    {"bad_secret_name_long",
     NAME_S "secrets:\n  - name: "
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
     CELLA_E_PARSE, "line 3, secrets[0].name", "invalid name"},
    {"mount_unknown_volume",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n"
            "      - {name: v, path: /v}\n      - {name: w, path: /w}\n",
     CELLA_E_POLICY, "line 7, images[0].volumes[1].name", "names no volume"},
    {"mount_relative_path",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n"
            "      - name: v\n        path: data/v\n",
     CELLA_E_POLICY, "line 7, images[0].volumes[0].path", "not an absolute path"},
    {"mount_dotdot_path",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n"
            "      - name: v\n        path: /data/../etc\n",
     CELLA_E_POLICY, "line 7, images[0].volumes[0].path", "'..'"},
    {"mount_root_path",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n"
            "      - {name: v, path: /}\n",
     CELLA_E_POLICY, "line 6, images[0].volumes[0].path", "root"},
    {"mount_twice",
     NAME_S "volumes: [{name: v}]\nimages:\n  - name: i\n    volumes:\n"
            "      - {name: v, path: /a}\n      - {name: v, path: /b}\n",
     CELLA_E_POLICY, "line 7, images[0].volumes[1].name", "mounted twice"},
    {"mount_same_path",
     NAME_S "volumes: [{name: v}, {name: w}]\nimages:\n  - name: i\n    volumes:\n"
            "      - {name: v, path: /data}\n      - {name: w, path: /data}\n",
     CELLA_E_POLICY, "line 7, images[0].volumes[1].path", "duplicate mount path"},
    {"injection_same_path",
     NAME_S "images:\n  - name: i\n    injection_files:\n      - {path: /etc/x, content: a}\n"
            "      - {path: /etc/y, content: b}\n      - {path: /etc/x, content: c}\n",
     CELLA_E_POLICY, "line 7, images[0].injection_files[2].path", "duplicate injection file path"},
    {"unknown_field_unprintable_key", NAME_S "\"a b\\tc\": 1\n", CELLA_E_PARSE, "line 2, ?",
     "unknown field"},
    {"injection_dotdot_path",
     NAME_S "images:\n  - name: i\n    injection_files:\n      - path: /etc/./x\n"
            "        content: hi\n",
     CELLA_E_POLICY, "line 5, images[0].injection_files[0].path", "'.'"},
    {"undeclared_secret_env",
     NAME_S "secrets: [{name: known}]\n" BASE_SERVICE
            "    environment:\n      OK: $$SCONE::known$$\n      PASS: \"x$$SCONE::unknown$$\"\n",
     CELLA_E_POLICY, "line 10, services[0].environment.PASS", "undeclared secret 'unknown'"},
    {"undeclared_secret_injection",
     NAME_S "images:\n  - name: i\n    injection_files:\n      - path: /etc/x\n"
            "        content: |\n          a = 1\n          b = $$CELLA::nope$$\n",
     CELLA_E_POLICY, "line 6, images[0].injection_files[0].content", "undeclared secret"},
    {"malformed_secret_ref",
     NAME_S BASE_SERVICE "    environment:\n      X: $$SCONE::$$\n", CELLA_E_PARSE,
     "line 8, services[0].environment.X", "malformed secret reference"},
    {"undeclared_secret_command",
     NAME_S "services:\n  - name: app\n    mrenclaves: [" MRE1 "]\n"
            "    command: [/app, --key, $$SCONE::k$$]\n    pwd: /\n",
     CELLA_E_POLICY, "line 5, services[0].command[2]", "undeclared secret"},
    {"predecessor_bad_hex", NAME_S "predecessor: abcd\n", CELLA_E_PARSE, "line 2, predecessor",
     "not 64 hex digits"},
    {"predecessor_not_hex",
     NAME_S "predecessor: zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
     CELLA_E_PARSE, "line 2, predecessor", "not 64 hex digits"},
    {"fspf_key_bad_hex", NAME_S "volumes:\n  - name: v\n    fspf_key: " TAG_IN "\n",
     CELLA_E_PARSE, "line 4, volumes[0].fspf_key", "not 64 hex digits"},
    {"fspf_tag_bad_hex", NAME_S "volumes:\n  - name: v\n    fspf_key: " KEY_IN "\n"
                                "    fspf_tag: " KEY_IN "\n",
     CELLA_E_PARSE, "line 5, volumes[0].fspf_tag", "not 32 hex digits"},
    {"fspf_tag_without_key", NAME_S "volumes:\n  - name: v\n    fspf_tag: " TAG_IN "\n",
     CELLA_E_POLICY, "line 4, volumes[0].fspf_tag", "without fspf_key"},
    {"two_documents", "name: a\n---\nname: b\n", CELLA_E_PARSE, "line 2",
     "more than one YAML document"},
    {"non_mapping_root", "- name: a\n", CELLA_E_PARSE, "line 1", "must be a mapping"},
    {"scalar_root", "just text\n", CELLA_E_PARSE, "line 1", "must be a mapping"},
    {"empty_input", "", CELLA_E_PARSE, "line 1", "empty document"},
    {"comment_only", "# nothing\n", CELLA_E_PARSE, "line 1", "empty document"},
    {"invalid_yaml", NAME_S "services: [a, b\nvolumes: []\n", CELLA_E_PARSE, "line 3, services[2]",
     "invalid YAML"},
    {"invalid_yaml_indent", NAME_S "security:\n  allow_debug: true\n bad: 1\n", CELLA_E_PARSE,
     "line 4", "invalid YAML"},
    {"wrong_type_services", NAME_S "services: app\n", CELLA_E_PARSE, "line 2, services",
     "expected a list"},
    {"wrong_type_service_entry", NAME_S "services: [app]\n", CELLA_E_PARSE,
     "line 2, services[0]", "expected a mapping"},
    {"wrong_type_bool", NAME_S "security:\n  allow_debug: \"yes\"\n", CELLA_E_PARSE,
     "line 3, security.allow_debug", "expected true or false"},
    {"wrong_type_yes_is_not_bool", NAME_S "security:\n  allow_sim: yes\n", CELLA_E_PARSE,
     "line 3, security.allow_sim", "expected true or false"},
    {"wrong_type_name_list", "name: [a]\n", CELLA_E_PARSE, "line 1, name", "expected a string"},
    {"wrong_type_size", NAME_S "secrets:\n  - name: x\n    size: \"20\"\n", CELLA_E_PARSE,
     "line 4, secrets[0].size", "expected an integer"},
    {"wrong_type_env_map", NAME_S BASE_SERVICE "    environment: [A=1]\n", CELLA_E_PARSE,
     "line 7, services[0].environment", "expected a mapping"},
    {"wrong_type_env_value", NAME_S BASE_SERVICE "    environment:\n      A: {b: 1}\n",
     CELLA_E_PARSE, "line 8, services[0].environment.A", "expected a string"},
    {"bad_env_name", NAME_S BASE_SERVICE "    environment:\n      1A: x\n", CELLA_E_PARSE,
     "line 8, services[0].environment", "invalid variable name"},
    {"duplicate_service_names",
     NAME_S BASE_SERVICE "  - name: app\n    mrenclaves: [" MRE2 "]\n    command: /b\n"
                         "    pwd: /\n",
     CELLA_E_POLICY, "line 7, services[1].name", "duplicate service name"},
    {"duplicate_volume_names", NAME_S "volumes:\n  - name: v\n  - name: w\n  - name: v\n",
     CELLA_E_POLICY, "line 5, volumes[2].name", "duplicate volume name"},
    {"duplicate_secret_names", NAME_S "secrets:\n  - name: k\n  - name: k\n", CELLA_E_POLICY,
     "line 4, secrets[1].name", "duplicate secret name"},
    {"duplicate_image_names", NAME_S "images:\n  - name: i\n  - name: i\n", CELLA_E_POLICY,
     "line 4, images[1].name", "duplicate image name"},
    {"duplicate_mrenclave_case",
     NAME_S "services:\n  - name: app\n    mrenclaves:\n      - " MRE1 "\n"
            "      - E0F45A9A862C83F383730CC2AEF144081025E3F925615DA5B35C4D980FAAA3C9\n"
            "    command: /a\n    pwd: /\n",
     CELLA_E_POLICY, "line 6, services[0].mrenclaves[1]", "duplicate mrenclave"},
    {"empty_mrenclaves",
     NAME_S "services:\n  - name: app\n    mrenclaves: []\n    command: /a\n    pwd: /\n",
     CELLA_E_POLICY, "line 4, services[0].mrenclaves", "at least one measurement"},
    {"empty_command",
     NAME_S "services:\n  - name: app\n    mrenclaves: [" MRE1 "]\n    command: \"  \"\n"
            "    pwd: /\n",
     CELLA_E_POLICY, "line 5, services[0].command", "empty command"},
    {"relative_pwd",
     NAME_S "services:\n  - name: app\n    mrenclaves: [" MRE1 "]\n    command: /a\n"
            "    pwd: app\n",
     CELLA_E_POLICY, "line 6, services[0].pwd", "not an absolute path"},
    {"image_name_undeclared",
     NAME_S "services:\n  - name: app\n    image_name: some/image:1\n"
            "    mrenclaves: [" MRE1 "]\n    command: /a\n    pwd: /\n",
     CELLA_E_POLICY, "line 4, services[0].image_name", "names no image"},
    {"unsupported_version", "version: 0.2\n" NAME_S, CELLA_E_PARSE, "line 1, version",
     "unsupported session language version"},
    {"secret_kind_unknown", NAME_S "secrets:\n  - name: k\n    kind: x509\n", CELLA_E_PARSE,
     "line 4, secrets[0].kind", "unknown secret kind"},
    {"secret_binary_not_hex", NAME_S "secrets:\n  - name: k\n    kind: binary\n    value: abzz\n",
     CELLA_E_PARSE, "line 5, secrets[0].value", "not hex digits"},
    {"secret_binary_odd", NAME_S "secrets:\n  - name: k\n    kind: binary\n    value: abc\n",
     CELLA_E_PARSE, "line 5, secrets[0].value", "even number of hex digits"},
    {"secret_size_mismatch", NAME_S "secrets:\n  - name: k\n    size: 4\n    value: abc\n",
     CELLA_E_POLICY, "line 4, secrets[0].size", "does not match"},
    {"secret_size_range", NAME_S "secrets:\n  - name: k\n    size: 0\n", CELLA_E_POLICY,
     "line 4, secrets[0].size", "out of range"},
    {"secret_ascii_control", NAME_S "secrets:\n  - name: k\n    value: \"a\\tb\"\n",
     CELLA_E_PARSE, "line 4, secrets[0].value", "not printable ASCII"},
    {"nul_in_string", NAME_S BASE_SERVICE "    environment:\n      A: \"x\\0y\"\n", CELLA_E_PARSE,
     "line 8, services[0].environment.A", "NUL"},
    {"sim_without_allow_sim", NAME_S "security:\n  tee: [sgx, sim]\n", CELLA_E_POLICY,
     "line 3, security.tee", "allow_sim"},
    {"allow_sim_without_sim", NAME_S "security:\n  allow_sim: true\n  tee: [sgx]\n",
     CELLA_E_POLICY, "line 4, security.tee", "sim is not listed"},
    {"unknown_tee", NAME_S "security:\n  tee: [sgx, sev]\n", CELLA_E_PARSE,
     "line 3, security.tee[1]", "unknown TEE kind"},
    {"duplicate_tee", NAME_S "security:\n  tee:\n    - sgx\n    - sgx\n", CELLA_E_POLICY,
     "line 5, security.tee[1]", "duplicate TEE kind"},
    {"revoked_tcb", NAME_S "security:\n  accepted_tcb: [UpToDate, Revoked]\n", CELLA_E_POLICY,
     "line 3, security.accepted_tcb[1]", "revoked"},
    {"advisory_star_without_debug",
     NAME_S "security:\n  attestation:\n    ignore_advisories: [\"*\"]\n", CELLA_E_POLICY,
     "line 4, security.attestation.ignore_advisories[0]", "only when debug"},
    {"tolerate_unknown", NAME_S "security:\n  attestation:\n    tolerate: [everything]\n",
     CELLA_E_PARSE, "line 4, security.attestation.tolerate[0]", "unknown tolerate value"},
    {"tolerate_unsupported",
     NAME_S "security:\n  attestation:\n    tolerate: [debug-mode, hyperthreading]\n",
     CELLA_E_POLICY, "line 4, security.attestation.tolerate[1]", "not supported"},
    {"attestation_mixed",
     NAME_S "security:\n  attestation: {tolerate: [debug-mode]}\n  allow_debug: false\n",
     CELLA_E_POLICY, "line 4, security.allow_debug", "cannot be combined"},
    {"unknown_security_field", NAME_S "security:\n  mode: none\n", CELLA_E_PARSE,
     "line 3, security.mode", "unknown field"},
    {"access_bad_address",
     NAME_S "access_policy:\n  read: [CREATOR, 0x1234]\n", CELLA_E_PARSE,
     "line 3, access_policy.read[1]", "0x address"},
    {"access_any_not_alone",
     NAME_S "access_policy:\n  update: [CREATOR, ANY]\n", CELLA_E_POLICY,
     "line 3, access_policy.update[1]", "only entry"},
    {"access_duplicate",
     NAME_S "access_policy:\n  read:\n    - 0xABCDEF0123456789abcdef0123456789abcdef01\n"
            "    - 0xabcdef0123456789abcdef0123456789abcdef01\n",
     CELLA_E_POLICY, "line 5, access_policy.read[1]", "duplicate entry"},
    {"advisory_bad_id",
     NAME_S "security:\n  attestation:\n    ignore_advisories: [\"INTEL SA\"]\n", CELLA_E_PARSE,
     "line 4, security.attestation.ignore_advisories[0]", "invalid advisory id"},
    {"advisory_duplicate",
     NAME_S "security:\n  attestation:\n    ignore_advisories:\n      - INTEL-SA-00615\n"
            "      - INTEL-SA-00615\n",
     CELLA_E_POLICY, "line 6, security.attestation.ignore_advisories[1]", "duplicate advisory"},
    {"access_empty", NAME_S "access_policy:\n  read: []\n", CELLA_E_POLICY,
     "line 3, access_policy.read", "empty list"},
    {"access_unknown_field", NAME_S "access_policy:\n  create_sessions: [ANY]\n", CELLA_E_PARSE,
     "line 3, access_policy.create_sessions", "unknown field"},
    {"att_with_mrenclaves", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    mrenclaves: [" MRE1 "]\n    attestation:\n      - mrenclave: [" MRE1 "]\n", CELLA_E_POLICY, "line 8, services[0].attestation", "cannot be combined with mrenclaves"},
    {"att_empty_list", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation: []\n", CELLA_E_POLICY, "line 6, services[0].attestation", "at least one attestation variant"},
    {"att_empty_variant", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - {}\n", CELLA_E_POLICY, "line 7, services[0].attestation[0]", "needs mrenclave, signer or both"},
    {"att_unknown_field", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - platforms: [abc]\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].platforms", "unknown field"},
    {"att_signer_no_mrsigner", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {isvprodid: 1}\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].signer.mrsigner", "missing field"},
    {"att_signer_bad_hex", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {mrsigner: abcd, isvprodid: 1}\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].signer.mrsigner", "not 64 hex digits"},
    {"att_signer_no_prodid", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {mrsigner: " MRE2 "}\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].signer.isvprodid", "missing field"},
    {"att_prodid_range", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {mrsigner: " MRE2 ", isvprodid: 65536}\n", CELLA_E_POLICY, "line 7, services[0].attestation[0].signer.isvprodid", "out of range"},
    {"att_svn_not_int", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {mrsigner: " MRE2 ", isvprodid: 1, isvsvn_min: two}\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].signer.isvsvn_min", "expected an integer"},
    {"att_signer_unknown", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - signer: {mrsigner: " MRE2 ", isvprodid: 1, isvsvn: 2}\n", CELLA_E_PARSE, "line 7, services[0].attestation[0].signer.isvsvn", "unknown field"},
    {"att_dup_mrenclave", NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n    attestation:\n" "      - mrenclave: [" MRE1 ", " MRE1 "]\n", CELLA_E_POLICY, "line 7, services[0].attestation[0].mrenclave[1]", "duplicate"},
    {"key_not_scalar", NAME_S "? [a, b]\n: c\n", CELLA_E_PARSE, "line 2",
     "mapping key is not a scalar"},
    {"utf16_input", "\xff\xfen\0a\0m\0e\0:\0 \0s\0\n\0", CELLA_E_PARSE, "line 1", "invalid YAML"},
};

static void neg(void **state)
{
    const neg_case *t = *state;
    size_t len = strlen(t->yaml);
    if (strcmp(t->name, "utf16_input") == 0)
        len = 18;
    json_t *out = (json_t *)1;
    cella_res r = cella_session_from_yaml(t->yaml, len, &out);
    if (r.code != t->code)
        fail_msg("%s: expected %s, got %s: %s (%s)", t->name, cella_code_str(t->code),
                 cella_code_str(r.code), cella_error_what(), cella_error_where());
    if (strcmp(cella_error_where(), t->where) != 0)
        fail_msg("%s: where is \"%s\", expected \"%s\" (%s)", t->name, cella_error_where(),
                 t->where, cella_error_what());
    if (!strstr(cella_error_what(), t->what))
        fail_msg("%s: what is \"%s\", expected it to contain \"%s\"", t->name,
                 cella_error_what(), t->what);
    assert_null(out);
}

/* Cases whose input is built at run time. */
static void neg_too_deep(void **state)
{
    (void)state;
    char y[200] = NAME_S "digest: ";
    size_t k = strlen(y);
    for (int i = 0; i < 33; i++)
        y[k++] = '[';
    for (int i = 0; i < 33; i++)
        y[k++] = ']';
    y[k++] = '\n';
    y[k] = '\0';
    json_t *out = NULL;
    assert_fails_with(cella_session_from_yaml(y, k, &out), CELLA_E_PARSE);
    assert_string_equal(cella_error_what(), "nested deeper than 32 levels");
    assert_non_null(strstr(cella_error_where(), "line 2, digest[0][0][0]"));
    /* 31 levels inside the root mapping are fine */
    strcpy(y, NAME_S "digest: ");
    k = strlen(y);
    for (int i = 0; i < 31; i++)
        y[k++] = '[';
    for (int i = 0; i < 31; i++)
        y[k++] = ']';
    y[k] = '\0';
    assert_succeeds(cella_session_from_yaml(y, k, &out));
    json_decref(out);
}

static void neg_too_big(void **state)
{
    (void)state;
    size_t n = CELLA_SESSION_MAX_BYTES + 1;
    char *y = malloc(n);
    assert_non_null(y);
    memset(y, '#', n); /* a comment: would be valid YAML, but too big */
    y[0] = 'n';
    json_t *out = (json_t *)1;
    assert_fails_with(cella_session_from_yaml(y, n, &out), CELLA_E_TOOBIG);
    assert_string_equal(cella_error_where(), "session");
    assert_null(out);
    /* exactly at the cap: parsed (a session followed by a long comment) */
    memcpy(y, "name: s\n", 8);
    assert_succeeds(cella_session_from_yaml(y, n - 1, &out));
    json_decref(out);
    free(y);
}

static void neg_too_many_entries(void **state)
{
    (void)state;
    size_t cap = 4200 * 3 + 64;
    char *y = malloc(cap);
    assert_non_null(y);
    size_t k = (size_t)sprintf(y, "name: s\ndigest: [");
    for (int i = 0; i < 4097; i++)
        k += (size_t)sprintf(y + k, "a,");
    k += (size_t)sprintf(y + k, "]\n");
    json_t *out = NULL;
    assert_fails_with(cella_session_from_yaml(y, k, &out), CELLA_E_TOOBIG);
    assert_string_equal(cella_error_where(), "line 2, digest");
    free(y);
}

static void neg_not_terminated(void **state)
{
    (void)state;
    /* the input is a length, not a C string: bytes after it are never read */
    static const char y[] = "name: s\nowner: x";
    json_t *out = NULL;
    assert_succeeds(cella_session_from_yaml(y, 8, &out));
    json_decref(out);
    assert_fails_with(cella_session_from_yaml(y, sizeof y - 1, &out), CELLA_E_PARSE);
    assert_string_equal(cella_error_where(), "line 2, owner");
}

/* 96 hex digits pin a TDX MRTD or an SNP measurement (cas compares the claim
 * of the evidence's kind); both lengths mix in one list, lowercased. */
/* SCONE's attestation variants: OR across variants, AND within one; the
 * normalised form keeps their order, sorts each mrenclave list, and is a
 * fixed point. */
static void attestation_variants(void **state)
{
    (void)state;
    json_t *o = parse_ok(NAME_S "services:\n  - name: app\n    command: /a\n    pwd: /\n"
                         "    attestation:\n"
                         "      - signer: {mrsigner: " MRE2 ", isvprodid: 7, isvsvn_min: 3}\n"
                         "      - mrenclave: [" MRE2 ", " MRE1 "]\n"
                         "        signer: {mrsigner: \"" MRE1 "\", isvprodid: 0}\n");
    const json_t *svc = cella_session_service(o, "app");
    assert_null(json_object_get(svc, "mrenclaves"));
    char *got = json_dumps(json_object_get(svc, "attestation"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got,
                        "[{\"mrenclave\":null,\"signer\":{\"isvprodid\":7,\"isvsvn_min\":3,"
                        "\"mrsigner\":\"" MRE2 "\"}},"
                        "{\"mrenclave\":[\"" MRE2 "\",\"" MRE1 "\"],\"signer\":{\"isvprodid\":0,"
                        "\"isvsvn_min\":0,\"mrsigner\":\"" MRE1 "\"}}]");
    free(got);
    json_t *again = NULL;
    assert_succeeds(cella_session_normalize(o, &again));
    assert_true(json_equal(o, again));
    json_decref(again);
    json_decref(o);
}

static void mrenclaves_48_bytes(void **state)
{
    (void)state;
    json_t *o = parse_ok("name: s\nservices:\n  - name: app\n    mrenclaves:\n"
                         "      - " MRE1 "\n"
                         "      - 91EB2B44D141D4ECE09F0C75C2C53D247A3C68EDD7FAFE8A3520C942A604A407"
                         "DE03AE6DC5F87F27428B2538873118B7\n"
                         "    command: /a\n    pwd: /\n");
    const json_t *m = json_object_get(cella_session_service(o, "app"), "mrenclaves");
    assert_int_equal(json_array_size(m), 2);
    const char *mrtd = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
                       "de03ae6dc5f87f27428b2538873118b7";
    assert_true(!strcmp(json_string_value(json_array_get(m, 0)), mrtd) ||
                !strcmp(json_string_value(json_array_get(m, 1)), mrtd));
    json_decref(o);
    static const char *const bad[] = {"abc", MRE1 "00", MRE1 MRE1};
    for (size_t i = 0; i < 3; i++) {
        char y[512];
        snprintf(y, sizeof y,
                 "name: s\nservices:\n  - name: app\n    mrenclaves: [%s]\n"
                 "    command: /a\n    pwd: /\n", bad[i]);
        assert_fails_with(cella_session_from_yaml(y, strlen(y), &o), CELLA_E_PARSE);
        assert_non_null(strstr(cella_error_what(), "or 96"));
    }
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(mrenclaves_48_bytes), cmocka_unit_test(attestation_variants),
        cmocka_unit_test(seed_template),   cmocka_unit_test(full_session),
        cmocka_unit_test(hash_definition), cmocka_unit_test(hash_stable),
        cmocka_unit_test(hash_changes),    cmocka_unit_test(redaction),
        cmocka_unit_test(lookups),         cmocka_unit_test(defaults),
        cmocka_unit_test(json_input),      cmocka_unit_test(neg_too_deep),
        cmocka_unit_test(neg_too_big),     cmocka_unit_test(neg_too_many_entries),
        cmocka_unit_test(neg_not_terminated),
    };
    size_t nfixed = sizeof fixed / sizeof fixed[0];
    size_t nneg = sizeof g_neg / sizeof g_neg[0];
    struct CMUnitTest *tests = calloc(nfixed + nneg, sizeof *tests);
    if (!tests)
        return 1;
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < nneg; i++) {
        tests[nfixed + i].name = g_neg[i].name;
        tests[nfixed + i].test_func = neg;
        tests[nfixed + i].initial_state = (void *)&g_neg[i];
    }
    int rc = _cmocka_run_group_tests("session", tests, nfixed + nneg, NULL, NULL);
    free(tests);
    return rc;
}

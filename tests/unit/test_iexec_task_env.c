/* Unit tests for lib/iexec/task_env: the app's variables as iExec's
 * IexecEnvUtils.getComputeStageEnvMap and SecretSessionBaseService.getAppTokens
 * give them, the pre-compute set kept apart, the allow-list filter. */
#include <stdlib.h>
#include <string.h>

#include "iexec/task_env.h"
#include "testutil.h"

#define TASK "0x1111111111111111111111111111111111111111111111111111111111111111"
#define DEAL "0x2222222222222222222222222222222222222222222222222222222222222222"
#define ZERO "0x0000000000000000000000000000000000000000"
#define DSET "0xabcdefabcdefabcdefabcdefabcdefabcdefabcd"
/* printf '%s' https://example.com/file.txt | sha256sum */
#define URL1 "https://example.com/file.txt"
#define NAME1 "0x7a8c22e58ff916fc67ab2f0cca10a488ba7c1e600c8bc341b5a1c775cd6998ee"
#define NAME2 "0xb3c16f62a782d75f10dca889d3f5da810b0f217bd7db64e2442bd65d11faf171" /* https://example.com/two */

static const char *const urls[] = {URL1, "https://example.com/two"};
static const cella_iexec_env_secret req_secrets[] = {
    {1, {(const uint8_t *)"req one", 7}},
    {3, {(const uint8_t *)"req\nthree", 9}},
};

static void facts(cella_iexec_task_facts *f, bool tee, bool dataset, bool inputs)
{
    memset(f, 0, sizeof *f);
    f->tee = tee;
    memset(f->task_id, 0x11, 32);
    memset(f->deal_id, 0x22, 32);
    f->task_index = 3;
    f->bot_first = 2;
    f->bot_size = 5;
    if (dataset) {
        f->has_dataset = true;
        test_unhex(f->dataset, 20, &DSET[2]);
        f->dataset_url = "https://blobs.example/d.enc";
        f->dataset_checksum = "0x" "33333333333333333333333333333333"
                              "33333333333333333333333333333333";
        f->dataset_key = cella_slice_of("a2V5a2V5", 8);
    }
    if (inputs) {
        f->input_urls = urls;
        f->ninputs = 2;
    }
    f->requester_secrets = req_secrets;
    f->nrequester_secrets = 2;
    f->developer_secret = cella_slice_of("dev secret", 10);
}

/* env holds exactly want (NULL-terminated NAME, value pairs), in that order. */
static void assert_env(const json_t *env, const char *const *want)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        if (!want[2 * n])
            fail_msg("unexpected variable %s", k);
        assert_string_equal(k, want[2 * n]);
        assert_string_equal(json_string_value(v), want[2 * n + 1]);
        n++;
    }
    if (want[2 * n])
        fail_msg("missing variable %s", want[2 * n]);
}

static json_t *app_env(const cella_iexec_task_facts *f)
{
    json_t *env = json_object();
    assert_non_null(env);
    assert_succeeds(cella_iexec_task_env_app(f, env));
    return env;
}

static void standard_without_dataset_or_inputs(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, false, false, false);
    json_t *env = app_env(&f);
    static const char *const want[] = {
        "IEXEC_DEAL_ID", DEAL, "IEXEC_TASK_INDEX", "3", "IEXEC_TASK_ID", TASK,
        "IEXEC_IN", "/iexec_in", "IEXEC_OUT", "/iexec_out", "IEXEC_BOT_SIZE", "5",
        "IEXEC_BOT_FIRST_INDEX", "2", "IEXEC_BOT_TASK_INDEX", "3",
        "IEXEC_DATASET_ADDRESS", ZERO, "IEXEC_DATASET_FILENAME", ZERO,
        "IEXEC_INPUT_FILES_NUMBER", "0", NULL};
    assert_env(env, want); /* no secret in a standard task, even if given */
    json_decref(env);
}

static void tee_with_dataset_inputs_and_secrets(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, true, true, true);
    json_t *env = app_env(&f);
    static const char *const want[] = {
        "IEXEC_DEAL_ID", DEAL, "IEXEC_TASK_INDEX", "3", "IEXEC_TASK_ID", TASK,
        "IEXEC_IN", "/iexec_in", "IEXEC_OUT", "/iexec_out", "IEXEC_BOT_SIZE", "5",
        "IEXEC_BOT_FIRST_INDEX", "2", "IEXEC_BOT_TASK_INDEX", "3",
        "IEXEC_DATASET_ADDRESS", DSET, "IEXEC_DATASET_FILENAME", DSET,
        "IEXEC_INPUT_FILES_NUMBER", "2", "IEXEC_INPUT_FILES_FOLDER", "/iexec_in",
        "IEXEC_INPUT_FILE_NAME_1", NAME1,
        "IEXEC_INPUT_FILE_NAME_2", NAME2,
        "IEXEC_APP_DEVELOPER_SECRET", "dev secret", "IEXEC_APP_DEVELOPER_SECRET_1", "dev secret",
        "IEXEC_REQUESTER_SECRET_1", "req one", "IEXEC_REQUESTER_SECRET_3", "req\nthree", NULL};
    assert_env(env, want);
    json_decref(env);
    /* every app variable passes the filter */
    const char *k;
    json_t *v;
    facts(&f, true, true, true);
    env = app_env(&f);
    json_object_foreach(env, k, v) assert_true(cella_iexec_env_is_app(k));
    json_decref(env);
}

static void tee_without_developer_secret(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, true, false, false);
    f.developer_secret = (cella_slice){0};
    f.nrequester_secrets = 0;
    json_t *env = app_env(&f);
    assert_null(json_object_get(env, "IEXEC_APP_DEVELOPER_SECRET"));
    assert_null(json_object_get(env, "IEXEC_APP_DEVELOPER_SECRET_1"));
    assert_null(json_object_get(env, "IEXEC_INPUT_FILES_FOLDER"));
    assert_string_equal(json_string_value(json_object_get(env, "IEXEC_DATASET_FILENAME")), ZERO);
    json_decref(env);
}

static void input_file_name_known_answer(void **state)
{
    (void)state;
    char name[CELLA_IEXEC_INPUT_FILE_NAME_LEN + 1];
    assert_succeeds(cella_iexec_input_file_name(name, URL1));
    assert_string_equal(name, NAME1);
}

static void pre_compute_set_is_never_the_apps(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, true, true, true);
    json_t *pre = json_object();
    assert_succeeds(cella_iexec_task_env_pre(&f, pre));
    static const char *const want[] = {
        "IEXEC_PRE_COMPUTE_OUT", "/iexec_in", "IS_DATASET_REQUIRED", "true",
        "IEXEC_INPUT_FILE_URL_1", URL1, "IEXEC_INPUT_FILE_URL_2", "https://example.com/two",
        "IEXEC_DATASET_URL", "https://blobs.example/d.enc",
        "IEXEC_DATASET_CHECKSUM", "0x3333333333333333333333333333333333333333333333333333333333333333",
        "IEXEC_DATASET_KEY", "a2V5a2V5", NULL};
    assert_env(pre, want);
    const char *k;
    json_t *v;
    json_object_foreach(pre, k, v) assert_false(cella_iexec_env_is_app(k));
    json_decref(pre);
    /* without a dataset: no dataset variable, and nothing missing is needed */
    facts(&f, true, false, false);
    pre = json_object();
    assert_succeeds(cella_iexec_task_env_pre(&f, pre));
    static const char *const want0[] = {"IEXEC_PRE_COMPUTE_OUT", "/iexec_in",
                                        "IS_DATASET_REQUIRED", "false", NULL};
    assert_env(pre, want0);
    json_decref(pre);
    /* a standard task with a dataset: no key, no URL, no checksum to give */
    facts(&f, false, true, true);
    f.dataset_key = (cella_slice){0};
    pre = json_object();
    assert_succeeds(cella_iexec_task_env_pre(&f, pre));
    static const char *const want_std[] = {
        "IEXEC_PRE_COMPUTE_OUT", "/iexec_in", "IS_DATASET_REQUIRED", "true",
        "IEXEC_INPUT_FILE_URL_1", URL1, "IEXEC_INPUT_FILE_URL_2", "https://example.com/two", NULL};
    assert_env(pre, want_std);
    json_decref(pre);
}

static void filter_is_an_allow_list(void **state)
{
    (void)state;
    static const char *const yes[] = {"IEXEC_IN", "IEXEC_BOT_TASK_INDEX", "IEXEC_INPUT_FILE_NAME_1",
                                      "IEXEC_INPUT_FILE_NAME_100", "IEXEC_REQUESTER_SECRET_7",
                                      "IEXEC_APP_DEVELOPER_SECRET_1"};
    static const char *const no[] = {
        "IEXEC_INPUT_FILE_URL_1", "IEXEC_DATASET_KEY", "IEXEC_DATASET_URL",
        "IEXEC_DATASET_CHECKSUM", "IEXEC_PRE_COMPUTE_OUT", "IS_DATASET_REQUIRED",
        "SIGN_TEE_CHALLENGE_PRIVATE_KEY", "SIGN_WORKER_ADDRESS", "RESULT_ENCRYPTION",
        "RESULT_ENCRYPTION_PUBLIC_KEY", "IEXEC_APP_ARGS", "IEXEC_APP_ADDRESS", "IEXEC_REQUESTER",
        "IEXEC_BENEFICIARY", "IEXEC_APP_DEVELOPER_SECRET_2", "IEXEC_REQUESTER_SECRET_",
        "IEXEC_REQUESTER_SECRET_01", "IEXEC_REQUESTER_SECRET_1x", "IEXEC_INPUT_FILE_NAME_0",
        "PATH", "iexec_in"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(cella_iexec_env_is_app(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (cella_iexec_env_is_app(no[i]))
            fail_msg("%s passes the filter", no[i]);
}

static void vector_keeps_the_app_set_only(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, true, true, true);
    json_t *env = app_env(&f);
    size_t napp = json_object_size(env);
    assert_succeeds(cella_iexec_task_env_pre(&f, env));
    json_object_set_new(env, "SIGN_TEE_CHALLENGE_PRIVATE_KEY", json_string("0xkey"));
    json_object_set_new(env, "IEXEC_APP_ARGS", json_string("a b"));
    cella_buf b;
    cella_buf_init(&b, true);
    const char **v = NULL;
    assert_succeeds(cella_iexec_env_vector(env, &b, &v));
    size_t n = 0;
    for (; v[n]; n++)
        assert_true(strncmp(v[n], "IEXEC_DATASET_KEY=", 18) && strncmp(v[n], "SIGN_", 5) &&
                    strncmp(v[n], "IEXEC_INPUT_FILE_URL_", 21) && strncmp(v[n], "IEXEC_APP_ARGS", 14));
    assert_int_equal(n, napp);
    assert_string_equal(v[0], "IEXEC_DEAL_ID=" DEAL);
    free(v);
    cella_buf_free(&b);
    json_decref(env);
}

static void secrets_refused_by_name_only(void **state)
{
    (void)state;
    cella_iexec_task_facts f;
    facts(&f, true, false, false);
    cella_iexec_env_secret bad[] = {{2, {(const uint8_t *)"s3cr\0t", 6}}};
    f.requester_secrets = bad;
    f.nrequester_secrets = 1;
    json_t *env = json_object();
    assert_fails_with(cella_iexec_task_env_app(&f, env), CELLA_E_POLICY);
    assert_string_equal(cella_error_where(), "IEXEC_REQUESTER_SECRET_2");
    assert_null(strstr(cella_error_what(), "s3cr"));
    json_decref(env);
    facts(&f, true, false, false);
    f.developer_secret = cella_slice_of("\xff\xfe", 2);
    env = json_object();
    assert_fails_with(cella_iexec_task_env_app(&f, env), CELLA_E_POLICY);
    assert_string_equal(cella_error_where(), "IEXEC_APP_DEVELOPER_SECRET");
    json_decref(env);
    /* a dataset without its key is the caller's bug, not a silent omission */
    facts(&f, true, true, false);
    f.dataset_key = (cella_slice){0};
    env = json_object();
    assert_fails_with(cella_iexec_task_env_pre(&f, env), CELLA_E_INTERNAL);
    json_decref(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_without_dataset_or_inputs),
        cmocka_unit_test(tee_with_dataset_inputs_and_secrets),
        cmocka_unit_test(tee_without_developer_secret),
        cmocka_unit_test(input_file_name_known_answer),
        cmocka_unit_test(pre_compute_set_is_never_the_apps),
        cmocka_unit_test(filter_is_an_allow_list),
        cmocka_unit_test(vector_keeps_the_app_set_only),
        cmocka_unit_test(secrets_refused_by_name_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

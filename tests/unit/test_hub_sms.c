/* The hub's dataset key lookups (hub/sms_check.c): only pinned https:// cas
 * URLs; at most HUB_SMS_INFLIGHT lookups at once (a dataset asked beyond
 * that is unknown, and no lookup starts for it); a dataset being looked up
 * is joined, not asked again; an unreachable cas is unknown with the reason,
 * and that answer is cached too. The cas here is a socket that never
 * accepts: each lookup ends by its timeout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hub/sms_check.h"
#include "testutil.h"

#define PIN "0000000000000000000000000000000000000000000000000000000000000000"

static void only_pinned_https(void **state)
{
    (void)state;
    hub_sms *s = NULL;
    assert_fails_with(hub_sms_new("http://127.0.0.1:1", "", &s), CELLA_E_USAGE);
    assert_fails_with(hub_sms_new("https://127.0.0.1:1", NULL, &s), CELLA_E_USAGE);
    assert_null(s);
}

static void bounded_and_cached(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0); /* connections wait in the backlog: never answered */
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", ntohs(a.sin_port));
    hub_sms *s;
    assert_succeeds(hub_sms_new(url, PIN, &s));
    uint8_t d[HUB_SMS_INFLIGHT + 1][20];
    memset(d, 0, sizeof d);
    hub_sms_answer ans;
    for (int i = 0; i <= HUB_SMS_INFLIGHT; i++) {
        d[i][19] = (uint8_t)(i + 1);
        hub_sms_ask(s, d[i], 1, &ans);
        assert_int_equal(ans.state, i < HUB_SMS_INFLIGHT ? HUB_SMS_PENDING : HUB_SMS_UNKNOWN);
    }
    assert_non_null(strstr(ans.reason, "lookups of other datasets are running"));
    hub_sms_ask(s, d[0], 1, &ans); /* joins the running lookup */
    assert_int_equal(ans.state, HUB_SMS_PENDING);
    assert_int_equal(hub_sms_lookups(s), HUB_SMS_INFLIGHT);
    for (int tries = 0; tries < 100; tries++) { /* each ends within HUB_SMS_TIMEOUT_S */
        hub_sms_ask(s, d[0], 0, &ans);
        if (ans.state != HUB_SMS_PENDING)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(ans.state, HUB_SMS_UNKNOWN);
    assert_non_null(strstr(ans.reason, "cas unreachable: "));
    hub_sms_ask(s, d[0], 1, &ans); /* cached for HUB_SMS_RETRY_S: no new lookup */
    assert_int_equal(ans.state, HUB_SMS_UNKNOWN);
    assert_int_equal(hub_sms_lookups(s), HUB_SMS_INFLIGHT);
    hub_sms_free(s); /* waits for the others */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_pinned_https),
        cmocka_unit_test(bounded_and_cached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

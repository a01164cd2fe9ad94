/* SPDX-License-Identifier: MIT */
/* Unit tests for netaddr (--trusted_proxies): parsing lists and their errors, matching IPv4,
 * IPv6 and IPv4-mapped addresses against networks, and the client address taken from
 * X-Forwarded-For only when the peer is trusted, right to left, never past an untrusted hop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

static void test_parse(void **state)
{
    (void)state;
    struct svc_proxies p;
    char err[200] = "";
    assert_int_equal(svc_proxies_parse(NULL, &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(svc_proxies_parse("", &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(
        svc_proxies_parse(" 10.0.0.0/8 , ::1,192.0.2.7,, 2001:db8::/32 ", &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.m[0].bits, 96 + 8);
    assert_int_equal(p.m[1].bits, 128);
    assert_int_equal(p.m[2].bits, 128);
    assert_int_equal(p.m[3].bits, 32);
}

static void test_parse_errors(void **state)
{
    (void)state;
    struct svc_proxies p;
    char err[200];
    static const struct {
        const char *list, *says;
    } bad[] = {
        {"10.0.0.300", "'10.0.0.300' is not an IPv4 or IPv6 address"},
        {"proxy.example", "'proxy.example' is not an IPv4 or IPv6 address"},
        {"10.0.0.0/33", "the prefix length must be 0-32"},
        {"::/129", "the prefix length must be 0-128"},
        {"10.0.0.0/", "the prefix length must be 0-32"},
        {"10.0.0.0/8x", "the prefix length must be 0-32"},
        {"10.0.0.0/-1", "the prefix length must be 0-32"},
        {"/8", "'' is not an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(svc_proxies_parse(bad[i].list, &p, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i].says) || strncmp(err, "--trusted_proxies: ", 19))
            fail_msg("%s: %s", bad[i].list, err);
    }
    char many[40 * (TB_TRUSTED_PROXIES_MAX + 1)] = "";
    for (int i = 0; i <= TB_TRUSTED_PROXIES_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.%d.1,", i);
    assert_int_equal(svc_proxies_parse(many, &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "at most"));
}

static void test_match(void **state)
{
    (void)state;
    struct svc_proxies p;
    char err[200];
    assert_int_equal(svc_proxies_parse("10.1.0.0/16,192.0.2.7,2001:db8:a::/48,172.16.0.0/12", &p,
                                       err, sizeof(err)),
                     0);
    assert_true(svc_proxies_match(&p, "10.1.255.3"));
    assert_false(svc_proxies_match(&p, "10.2.0.1"));
    assert_true(svc_proxies_match(&p, "192.0.2.7"));
    assert_false(svc_proxies_match(&p, "192.0.2.8"));
    assert_true(svc_proxies_match(&p, "::ffff:192.0.2.7")); /* a dual-stack socket's peer */
    assert_true(svc_proxies_match(&p, "2001:db8:a:ffff::1"));
    assert_false(svc_proxies_match(&p, "2001:db8:b::1"));
    assert_true(svc_proxies_match(&p, "172.31.255.255")); /* /12: a prefix inside a byte */
    assert_false(svc_proxies_match(&p, "172.32.0.0"));
    assert_false(svc_proxies_match(&p, "?"));
    assert_false(svc_proxies_match(&p, NULL));
    assert_false(svc_proxies_match(NULL, "10.1.0.1"));
    assert_int_equal(svc_proxies_parse("0.0.0.0/0", &p, err, sizeof(err)), 0);
    assert_true(svc_proxies_match(&p, "203.0.113.9"));
    assert_false(svc_proxies_match(&p, "2001:db8::1")); /* IPv4's /0 is not every IPv6 */
}

static void client(const struct svc_proxies *p, const char *peer, const char *xff, const char *want)
{
    char out[64];
    svc_proxies_client(p, peer, xff, out, sizeof(out));
    if (strcmp(out, want))
        fail_msg("peer %s, X-Forwarded-For %s: got %s, want %s", peer, xff ? xff : "(none)", out,
                 want);
}

static void test_client(void **state)
{
    (void)state;
    struct svc_proxies none, p;
    char err[200];
    assert_int_equal(svc_proxies_parse("", &none, err, sizeof(err)), 0);
    assert_int_equal(svc_proxies_parse("127.0.0.1,10.0.0.0/8", &p, err, sizeof(err)), 0);
    /* no trusted proxies: the header is the client's own word, ignored */
    client(&none, "127.0.0.1", "203.0.113.7", "127.0.0.1");
    /* an untrusted peer's header is ignored */
    client(&p, "198.51.100.2", "203.0.113.7", "198.51.100.2");
    client(&p, "127.0.0.1", NULL, "127.0.0.1");
    client(&p, "127.0.0.1", "203.0.113.7", "203.0.113.7");
    client(&p, "127.0.0.1", " 203.0.113.7 ", "203.0.113.7");
    /* through two trusted hops; what the client wrote left of them is not believed */
    client(&p, "127.0.0.1", "1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7");
    /* every hop trusted: the leftmost */
    client(&p, "127.0.0.1", "10.0.0.3, 10.0.0.9", "10.0.0.3");
    /* a forged or broken item stops the walk at the last good address */
    client(&p, "127.0.0.1", "203.0.113.7, unknown", "127.0.0.1");
    client(&p, "127.0.0.1", "evil, 10.0.0.9", "10.0.0.9");
    client(&p, "127.0.0.1", "203.0.113.7:443", "127.0.0.1");
    client(&p, "127.0.0.1", "", "127.0.0.1");
    client(&p, "127.0.0.1", ",,", "127.0.0.1");
    client(&p, "127.0.0.1", "2001:db8::5", "2001:db8::5");
    char longx[4096];
    memset(longx, '1', sizeof(longx) - 1);
    longx[sizeof(longx) - 1] = 0;
    client(&p, "127.0.0.1", longx, "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for config: the defaults validate, the new limits are checked, and the scheme of
 * the public URL decides Secure cookies and HSTS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "config.h"

static int validate(struct svc_config *c)
{
    char err[256] = "";
    return svc_config_validate(c, err, sizeof(err));
}

static void test_defaults(void **state)
{
    (void)state;
    struct svc_config c;
    svc_config_defaults(&c);
    assert_int_equal(validate(&c), 0);
    assert_int_equal(c.body_memory, 256ll << 20);
    assert_int_equal(c.auth_threads, 2);
    assert_int_equal(c.login_per_minute, 10);
    assert_int_equal(c.device_token_days, 90);
    assert_false(c.https);
    assert_string_equal(c.url_base, "http://127.0.0.1:8080");
}

static void test_limits_checked(void **state)
{
    (void)state;
    struct svc_config c;
    svc_config_defaults(&c);
    c.body_memory = c.request_bytes; /* one full body could never be held */
    assert_int_equal(validate(&c), -22);
    svc_config_defaults(&c);
    c.auth_threads = 0;
    assert_int_equal(validate(&c), -22);
    svc_config_defaults(&c);
    c.login_per_minute = -1;
    assert_int_equal(validate(&c), -22);
    svc_config_defaults(&c);
    c.login_per_minute = 0; /* off */
    assert_int_equal(validate(&c), 0);
    svc_config_defaults(&c);
    c.device_token_days = -5;
    assert_int_equal(validate(&c), -22);
}

static void test_https_from_the_public_url(void **state)
{
    (void)state;
    struct svc_config c;
    svc_config_defaults(&c);
    c.public_url = "https://tb.example.org/";
    assert_int_equal(validate(&c), 0);
    assert_true(c.https); /* behind a TLS proxy: Secure cookies, HSTS */
    assert_string_equal(c.url_base, "https://tb.example.org");
    svc_config_defaults(&c);
    c.public_url = "http://tb.example.org";
    assert_int_equal(validate(&c), 0);
    assert_false(c.https);
    svc_config_defaults(&c);
    c.tls_cert = "cert.pem";
    c.tls_key = "key.pem";
    assert_int_equal(validate(&c), 0);
    assert_true(c.https); /* native TLS */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_limits_checked),
        cmocka_unit_test(test_https_from_the_public_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

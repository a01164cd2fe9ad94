/* SPDX-License-Identifier: MIT */
/* Unit tests for log: what a request path or header turns into in a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "log.h"

static void check(const char *in, const char *want)
{
    char out[256];
    size_t n = svc_log_escape(in, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_escapes(void **state)
{
    (void)state;
    check("/api/v1/health", "/api/v1/health");
    check("/x\r\nfake 200", "/x\\x0d\\x0afake 200");
    check("\x1b[31mred\x07", "\\x1b[31mred\\x07");
    check("tab\there", "tab\\x09here");
    check("del\x7f", "del\\x7f");
    check("back\\slash", "back\\\\slash");
    /* UTF-8 passes; what is not UTF-8 is escaped byte by byte */
    check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    check("\xc3(\xff", "\\xc3(\\xff");
    check("\xc0\xaf", "\\xc0\\xaf");          /* an overlong slash */
    check("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
    check("\xc2\x9b"
          "2J",
          "\\xc2\\x9b2J");           /* C1 CSI */
    check("\xe2\x82", "\\xe2\\x82"); /* cut short */
}

static void test_cut_at_a_whole_escape(void **state)
{
    (void)state;
    char out[8];
    svc_log_escape("ab\ncd", out, sizeof(out)); /* "ab\x0acd" needs 9 bytes */
    assert_string_equal(out, "ab\\x0ac");
    char tiny[3];
    svc_log_escape("\n", tiny, sizeof(tiny));
    assert_string_equal(tiny, "");
    assert_int_equal(svc_log_escape("x", tiny, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_cut_at_a_whole_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

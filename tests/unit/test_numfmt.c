/* SPDX-License-Identifier: MIT */
/* Unit tests for numfmt: every text reads back exactly, and has no more digits than needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Significant digits of a number's text, without leading and trailing zeros. */
static int sig_digits(const char *s)
{
    char d[64];
    int n = 0;
    bool started = false;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && (*s != '0' || started)) {
            started = true;
            d[n++] = *s;
        }
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

/* The fewest digits that read back as v, the slow way. */
static int shortest_double(double v)
{
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof(t), "%.*g", p, v);
        if (strtod(t, NULL) == v)
            return p;
    }
    return 99;
}

static int shortest_float(float f)
{
    char t[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(t, sizeof(t), "%.*g", p, (double)f);
        if ((float)strtod(t, NULL) == f)
            return p;
    }
    return 99;
}

/* JSON number syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == 0;
}

static void check_double(double v)
{
    char out[TB_NUMFMT_MAX];
    size_t n = tb_numfmt_double(v, out);
    assert_int_equal(n, strlen(out));
    if (!json_number(out))
        fail_msg("%.17g -> '%s' is not a JSON number", v, out);
    double back = strtod(out, NULL);
    if (memcmp(&back, &v, sizeof(v)))
        fail_msg("%.17g -> '%s' reads back as %.17g", v, out, back);
    /* Text without a point or exponent is an integer to some readers (Python's json): it must
     * be exactly v, not another integer that rounds to it. */
    if (!strpbrk(out, ".eE")) {
        const char *digits = out + (out[0] == '-');
        errno = 0;
        unsigned long long u = strtoull(digits, NULL, 10);
        if (errno || (double)u != fabs(v) || u != (unsigned long long)fabs(v))
            fail_msg("%.17g -> '%s': an integer other than the value", v, out);
    }
    if (v != 0 && sig_digits(out) > shortest_double(v))
        fail_msg("%.17g -> '%s' has more digits than the %d needed", v, out, shortest_double(v));
}

static void check_float(float f)
{
    char out[TB_NUMFMT_MAX];
    size_t n = tb_numfmt_float(f, out);
    assert_int_equal(n, strlen(out));
    if (!json_number(out))
        fail_msg("%.9g -> '%s' is not a JSON number", (double)f, out);
    float back = (float)strtod(out, NULL);
    if (memcmp(&back, &f, sizeof(f)))
        fail_msg("%.9g -> '%s' reads back as %.9g", (double)f, out, (double)back);
    if (f != 0 && sig_digits(out) > shortest_float(f))
        fail_msg("%.9g -> '%s' has more digits than the %d needed", (double)f, out,
                 shortest_float(f));
}

static void test_known_doubles(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.1, "0.1"},
        {-0.0, "-0"},
        {0.0, "0"},
        {1e-7, "1e-7"},
        {1.5e-5, "0.000015"},
        {1e21, "1e+21"},
        {1e20, "1e+20"},
        {1e16, "1e+16"},
        {9007199254740992.0, "9007199254740992"},
        {9999999999999998.0, "9999999999999998"},
        {1421236426644651968.0, "1.421236426644652e+18"},
        {1795716236.123456, "1795716236.123456"},
        {1.0 / 3, "0.3333333333333333"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {-2.5, "-2.5"},
        {1000, "1000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[TB_NUMFMT_MAX];
        tb_numfmt_double(cases[i].v, out);
        assert_string_equal(out, cases[i].want);
        check_double(cases[i].v);
    }
}

static void test_known_floats(void **state)
{
    (void)state;
    static const struct {
        float f;
        const char *want;
    } cases[] = {
        {0.1f, "0.1"},
        {1e-5f, "0.00001"},
        {3.4e38f, "3.4e+38"},
        {1e-45f, "1e-45"},
        {16777216.f, "16777216"},
        {-0.0f, "-0"},
        {0.7504221f, "0.7504221"},
        {FLT_MAX, "3.4028235e+38"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[TB_NUMFMT_MAX];
        tb_numfmt_float(cases[i].f, out);
        assert_string_equal(out, cases[i].want);
        check_float(cases[i].f);
    }
}

/* Random bit patterns, random decimals of every size, wall times, and integers. */
static void test_random_doubles(void **state)
{
    (void)state;
    for (long i = 0; i < 150000; i++) {
        double v;
        uint64_t b = next();
        switch (i % 4) {
        case 0:
            memcpy(&v, &b, sizeof(v));
            if (!isfinite(v))
                continue;
            break;
        case 1:
            v = (double)(b >> 11) / 9007199254740992.0 * pow(10, (int)(next() % 40) - 20);
            break;
        case 2:
            v = 1795716236.0 + (double)(next() % 1000000000) / 1e6;
            break;
        default:
            v = (double)(int64_t)(next() % 2000000) - 1000000;
        }
        check_double(v);
    }
}

static void test_random_floats(void **state)
{
    (void)state;
    for (long i = 0; i < 150000; i++) {
        float f;
        uint32_t b = (uint32_t)next();
        if (i % 2) {
            memcpy(&f, &b, sizeof(f));
            if (!isfinite(f))
                continue;
        } else {
            f = (float)((double)(b % 100000000) / 1e8 * pow(10, (int)(next() % 14) - 7));
        }
        check_float(f);
    }
}

static void test_non_finite(void **state)
{
    (void)state;
    char out[TB_NUMFMT_MAX];
    tb_numfmt_double(NAN, out);
    assert_string_equal(out, "null");
    tb_numfmt_double(-INFINITY, out);
    assert_string_equal(out, "null");
    tb_numfmt_float(INFINITY, out);
    assert_string_equal(out, "null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_doubles),  cmocka_unit_test(test_known_floats),
        cmocka_unit_test(test_random_doubles), cmocka_unit_test(test_random_floats),
        cmocka_unit_test(test_non_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

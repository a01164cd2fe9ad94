/* SPDX-License-Identifier: MIT */
/* Unit tests for json: escaping, UTF-8 repair, numbers, commas, checked by a strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- a strict RFC 8259 parser, to check the output independently ---- */

struct jp {
    const uint8_t *s;
    size_t n, i;
    uint8_t dec[4096]; /* the last string parsed, decoded to UTF-8 */
    size_t dec_len;
    bool dec_cut; /* the string did not fit in dec */
};

static void jp_ws(struct jp *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]))
        p->i++;
}

static bool jp_lit(struct jp *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l))
        return false;
    p->i += l;
    return true;
}

static int hexv(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool jp_hex4(struct jp *p, uint32_t *ret)
{
    uint32_t v = 0;
    if (p->n - p->i < 4)
        return false;
    for (int k = 0; k < 4; k++) {
        int h = hexv(p->s[p->i++]);
        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *ret = v;
    return true;
}

static void jp_put(struct jp *p, uint32_t cp)
{
    uint8_t *o = p->dec + p->dec_len;
    if (p->dec_len + 4 > sizeof(p->dec)) {
        p->dec_cut = true;
        return;
    }
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        p->dec_len += 1;
    } else if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        p->dec_len += 2;
    } else if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        p->dec_len += 3;
    } else {
        o[0] = (uint8_t)(0xf0 | cp >> 18);
        o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        o[3] = (uint8_t)(0x80 | (cp & 0x3f));
        p->dec_len += 4;
    }
}

static bool jp_string(struct jp *p)
{
    p->dec_len = 0;
    p->dec_cut = false;
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    p->i++;
    while (p->i < p->n) {
        uint8_t c = p->s[p->i++];
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\') {
            if (p->dec_len < sizeof(p->dec))
                p->dec[p->dec_len++] = c;
            else
                p->dec_cut = true;
            continue;
        }
        if (p->i >= p->n)
            return false;
        uint8_t e = p->s[p->i++];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            jp_put(p, (uint8_t)to[hit - from]);
            continue;
        }
        if (e != 'u')
            return false;
        uint32_t cp, lo;
        if (!jp_hex4(p, &cp))
            return false;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (!jp_lit(p, "\\u") || !jp_hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
                return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return false;
        }
        jp_put(p, cp);
    }
    return false;
}

static bool jp_digits(struct jp *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > start;
}

static bool jp_number(struct jp *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!jp_digits(p))
        return false;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!jp_digits(p))
            return false;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!jp_digits(p))
            return false;
    }
    return true;
}

static bool jp_value(struct jp *p, int depth)
{
    if (depth > 64)
        return false;
    jp_ws(p);
    if (p->i >= p->n)
        return false;
    uint8_t c = p->s[p->i];
    if (c == '{' || c == '[') {
        uint8_t close = c == '{' ? '}' : ']';
        p->i++;
        jp_ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                jp_ws(p);
                if (!jp_string(p))
                    return false;
                jp_ws(p);
                if (!jp_lit(p, ":"))
                    return false;
            }
            if (!jp_value(p, depth + 1))
                return false;
            jp_ws(p);
            if (jp_lit(p, ","))
                continue;
            return p->i < p->n && p->s[p->i++] == close;
        }
    }
    if (c == '"')
        return jp_string(p);
    if (jp_lit(p, "true") || jp_lit(p, "false") || jp_lit(p, "null"))
        return true;
    return jp_number(p);
}

/* True if the whole of s is exactly one JSON value. */
static bool json_valid(const uint8_t *s, size_t n)
{
    struct jp p = {.s = s, .n = n};
    if (!jp_value(&p, 0))
        return false;
    jp_ws(&p);
    return p.i == p.n;
}

/* True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t l = c < 0x80                 ? 1
                   : c >= 0xc2 && c <= 0xdf ? 2
                   : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4
                                            : 0;
        if (!l || n - i < l)
            return false;
        uint32_t cp = l == 1 ? c : c & (0x7f >> l);
        for (size_t k = 1; k < l; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += l;
    }
    return true;
}

/* ---- helpers ---- */

/* Writes s with tb_json_strn into b (which the caller frees), checks the output is valid JSON
 * and valid UTF-8, and leaves the decoded string in p. */
static void roundtrip(const void *s, size_t len, struct jp *p, struct tb_buf *b)
{
    struct tb_json j;
    tb_buf_init(b, 0);
    tb_json_init(&j, b);
    tb_json_strn(&j, s, len);
    assert_int_equal(b->err, 0);
    assert_true(json_valid(b->data, b->len));
    assert_true(utf8_valid(b->data, b->len));
    memset(p, 0, sizeof(*p));
    p->s = b->data;
    p->n = b->len;
    assert_true(jp_string(p));
    assert_false(p->dec_cut);
}

static bool raw_contains(const struct tb_buf *b, const char *needle)
{
    return memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void expect_same(const char *in, size_t len)
{
    struct jp p;
    struct tb_buf b;
    roundtrip(in, len, &p, &b);
    assert_int_equal(p.dec_len, len);
    assert_memory_equal(p.dec, in, len);
    tb_buf_done(&b);
}

/* ---- tests ---- */

static void test_escape_quotes_backslash_controls(void **state)
{
    (void)state;
    static const char in[] = "say \"hi\" \\ / \b\f\n\r\t \x01\x1f\x7f end";
    expect_same(in, sizeof(in) - 1);
    /* every control character and NUL itself */
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    expect_same(all, sizeof(all));

    struct jp p;
    struct tb_buf b;
    roundtrip("a\"b\\c\n", 6, &p, &b);
    assert_string_equal((char *)b.data, "\"a\\\"b\\\\c\\n\"");
    tb_buf_done(&b);
}

static void test_escape_html_sensitive(void **state)
{
    (void)state;
    static const char in[] = "</script><!-- a & b -->";
    struct jp p;
    struct tb_buf b;
    roundtrip(in, sizeof(in) - 1, &p, &b);
    assert_memory_equal(p.dec, in, sizeof(in) - 1);
    assert_false(raw_contains(&b, "<"));
    assert_false(raw_contains(&b, ">"));
    assert_false(raw_contains(&b, "&"));
    tb_buf_done(&b);
}

static void test_escape_line_separators(void **state)
{
    (void)state;
    static const char in[] = "a\xe2\x80\xa8z\xe2\x80\xa9!";
    struct jp p;
    struct tb_buf b;
    roundtrip(in, sizeof(in) - 1, &p, &b);
    assert_int_equal(p.dec_len, sizeof(in) - 1);
    assert_memory_equal(p.dec, in, sizeof(in) - 1);
    assert_false(raw_contains(&b, "\xe2\x80\xa8"));
    assert_false(raw_contains(&b, "\xe2\x80\xa9"));
    tb_buf_done(&b);
}

static void test_valid_multibyte_kept(void **state)
{
    (void)state;
    static const char in[] = "caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac "
                             "\xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf \xef\xbf\xbd";
    struct jp p;
    struct tb_buf b;
    roundtrip(in, sizeof(in) - 1, &p, &b);
    assert_memory_equal(p.dec, in, sizeof(in) - 1);
    /* written as the bytes themselves */
    assert_int_equal(b.len, sizeof(in) - 1 + 2);
    assert_memory_equal(b.data + 1, in, sizeof(in) - 1);
    tb_buf_done(&b);
}

/* Decodes `in` and checks that the result is `want`, where each '?' in want stands for one
 * or more U+FFFD (how many per bad sequence is a policy this test leaves open). */
static void expect_repaired(const char *in, const char *want)
{
    struct jp p;
    struct tb_buf b;
    roundtrip(in, strlen(in), &p, &b);
    size_t i = 0;
    for (const char *w = want; *w; w++) {
        if (*w != '?') {
            assert_true(i < p.dec_len);
            assert_int_equal(p.dec[i], (uint8_t)*w);
            i++;
            continue;
        }
        assert_true(p.dec_len - i >= 3);
        assert_memory_equal(p.dec + i, "\xef\xbf\xbd", 3);
        while (p.dec_len - i >= 3 && !memcmp(p.dec + i, "\xef\xbf\xbd", 3))
            i += 3;
    }
    assert_int_equal(i, p.dec_len);
    tb_buf_done(&b);
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    expect_repaired("\xff", "?");
    expect_repaired("a\x80z", "a?z");
    expect_repaired("a\xc0\xafz", "a?z");         /* overlong '/' */
    expect_repaired("a\xe0\x80\xafz", "a?z");     /* overlong, 3 bytes */
    expect_repaired("a\xed\xa0\x80z", "a?z");     /* a UTF-16 surrogate */
    expect_repaired("a\xf4\x90\x80\x80z", "a?z"); /* past U+10FFFF */
    expect_repaired("a\xe2\x82", "a?");           /* cut short at the end */
    expect_repaired("a\xe2\x82z", "a?z");         /* cut short in the middle */
    expect_repaired("\xc3\xa9\xfe\xc3\xa9", "\xc3\xa9?\xc3\xa9");

    /* exactly one replacement for one stray byte */
    struct jp p;
    struct tb_buf b;
    roundtrip("x\xffy", 3, &p, &b);
    assert_int_equal(p.dec_len, 5);
    assert_memory_equal(p.dec, "x\xef\xbf\xbdy", 5);
    tb_buf_done(&b);
}

static void test_non_finite_doubles(void **state)
{
    (void)state;
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 0);
    tb_json_init(&j, &b);
    tb_json_arr_open(&j);
    tb_json_double(&j, NAN);
    tb_json_double(&j, INFINITY);
    tb_json_double(&j, -INFINITY);
    tb_json_double(&j, 1.5);
    tb_json_arr_close(&j);
    assert_int_equal(b.err, 0);
    assert_string_equal((char *)b.data, "[\"NaN\",\"Infinity\",\"-Infinity\",1.5]");
    assert_true(json_valid(b.data, b.len));
    tb_buf_done(&b);
}

/* Finite doubles are valid JSON numbers that read back as the same double. */
static void test_doubles_roundtrip(void **state)
{
    (void)state;
    const double vals[] = {0.0,   -0.0,    0.1,      1.0 / 3, 3.0,    -2.5,
                           1e300, -1e-300, 5e-324,   DBL_MAX, 1e21,   123456789012345678.0,
                           0.3,   2e-7,    1.0e+100, 100.0,   65504., 16777217.0};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct tb_buf b;
        struct tb_json j;
        tb_buf_init(&b, 0);
        tb_json_init(&j, &b);
        tb_json_double(&j, vals[i]);
        assert_int_equal(b.err, 0);
        if (!json_valid(b.data, b.len))
            fail_msg("not a JSON number: %s", (char *)b.data);
        double back = strtod((char *)b.data, NULL);
        if (memcmp(&back, &vals[i], sizeof(double)) != 0)
            fail_msg("%.17g written as %s", vals[i], (char *)b.data);
        tb_buf_done(&b);
    }
}

static void test_integers(void **state)
{
    (void)state;
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 0);
    tb_json_init(&j, &b);
    tb_json_arr_open(&j);
    tb_json_int(&j, INT64_MIN);
    tb_json_int(&j, INT64_MAX);
    tb_json_int(&j, 0);
    tb_json_uint(&j, UINT64_MAX);
    tb_json_bool(&j, true);
    tb_json_bool(&j, false);
    tb_json_null(&j);
    tb_json_str(&j, NULL);
    tb_json_arr_close(&j);
    assert_string_equal((char *)b.data, "[-9223372036854775808,9223372036854775807,0,"
                                        "18446744073709551615,true,false,null,null]");
    assert_true(json_valid(b.data, b.len));
    tb_buf_done(&b);
}

static void test_nested_commas(void **state)
{
    (void)state;
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 0);
    tb_json_init(&j, &b);
    tb_json_obj_open(&j);
    tb_json_key(&j, "a");
    tb_json_int(&j, 1);
    tb_json_key(&j, "b");
    tb_json_arr_open(&j);
    tb_json_int(&j, 1);
    tb_json_int(&j, 2);
    tb_json_obj_open(&j);
    tb_json_key(&j, "c");
    tb_json_null(&j);
    tb_json_key(&j, "d");
    tb_json_arr_open(&j);
    tb_json_arr_close(&j);
    tb_json_obj_close(&j);
    tb_json_arr_open(&j);
    tb_json_arr_open(&j);
    tb_json_arr_close(&j);
    tb_json_arr_open(&j);
    tb_json_str(&j, "x");
    tb_json_arr_close(&j);
    tb_json_arr_close(&j);
    tb_json_arr_close(&j);
    tb_json_key(&j, "e");
    tb_json_obj_open(&j);
    tb_json_obj_close(&j);
    tb_json_key(&j, "quote\"key<");
    tb_json_bool(&j, true);
    tb_json_obj_close(&j);
    assert_int_equal(b.err, 0);
    assert_string_equal((char *)b.data, "{\"a\":1,\"b\":[1,2,{\"c\":null,\"d\":[]},[[],[\"x\"]]],"
                                        "\"e\":{},\"quote\\\"key\\u003c\":true}");
    assert_true(json_valid(b.data, b.len));
    tb_buf_done(&b);
}

/* The deepest nesting the header allows. */
static void test_deep_nesting(void **state)
{
    (void)state;
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 0);
    tb_json_init(&j, &b);
    for (int i = 0; i < TB_JSON_DEPTH_MAX; i++) {
        tb_json_arr_open(&j);
        tb_json_int(&j, i);
    }
    for (int i = 0; i < TB_JSON_DEPTH_MAX; i++)
        tb_json_arr_close(&j);
    assert_int_equal(b.err, 0);
    assert_int_equal(j.depth, 0);
    assert_true(json_valid(b.data, b.len));
    assert_true(tb_json_valid(b.data, b.len, TB_JSON_DEPTH_MAX));
    assert_false(tb_json_valid(b.data, b.len, TB_JSON_DEPTH_MAX - 1));
    assert_int_equal(b.data[b.len - 1], ']');
    tb_buf_done(&b);
}

/* Issue 12: 40 levels of stored hparams lists overflowed the writer's 32-entry stack (an assert,
 * or stack corruption in a release build). Past the limit the error sticks in the buffer and
 * nothing is written out of bounds, at any depth and with objects and keys mixed in. */
static void test_too_deep_is_a_sticky_error(void **state)
{
    (void)state;
    const int depths[] = {TB_JSON_DEPTH_MAX + 1, 40 * 3, 100000};
    for (size_t k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
        struct tb_buf b;
        struct tb_json j;
        tb_buf_init(&b, 0);
        tb_json_init(&j, &b);
        tb_json_obj_open(&j);
        tb_json_key(&j, "v");
        for (int i = 0; i < depths[k]; i++) {
            if (i % 2) {
                tb_json_obj_open(&j);
                tb_json_key(&j, "k");
            } else {
                tb_json_arr_open(&j);
                tb_json_int(&j, i);
            }
        }
        tb_json_null(&j);
        for (int i = depths[k]; i-- > 0;) {
            if (i % 2)
                tb_json_obj_close(&j);
            else
                tb_json_arr_close(&j);
        }
        tb_json_obj_close(&j);
        assert_int_equal(b.err, -E2BIG);
        /* the writer is back at the top: usable again after a reset */
        assert_int_equal(j.depth, 0);
        assert_int_equal(j.over, 0);
        tb_buf_reset(&b);
        tb_json_init(&j, &b);
        tb_json_arr_open(&j);
        tb_json_int(&j, 1);
        tb_json_arr_close(&j);
        assert_int_equal(b.err, 0);
        assert_string_equal((const char *)b.data, "[1]");
        tb_buf_done(&b);
    }
}

struct vcase {
    const char *s;
    bool ok;
};

static void test_valid(void **state)
{
    (void)state;
    static const struct vcase cases[] = {
        {"{}", true},
        {" [ ] ", true},
        {"{\"width\":2,\"height\":3,\"labels\":[\"a\",\"\\u00e9\\n\"]}", true},
        {"{\"sample_rate\":8000.5,\"content_type\":\"audio/wav\"}", true},
        {"-0.5e+10", true},
        {"\"\xc3\xa9\"", true},
        {"[1,[2,{\"a\":[]}],null,true,false]", true},
        {"", false},
        {"{", false},
        {"{\"a\":1,}", false},
        {"[1,]", false},
        {"[1 2]", false},
        {"{\"a\" 1}", false},
        {"{1:2}", false},
        {"01", false},
        {"1.", false},
        {"NaN", false},
        {"\"\x01\"", false},
        {"\"\xff\"", false},
        {"\"\\x\"", false},
        {"\"\\u12g4\"", false},
        {"{} {}", false},
        {"{\"a\":1}}", false},
        {"]", false},
        {"tru", false},
        {"\"abc", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].s;
        bool got = tb_json_valid(s, strlen(s), 8);
        if (got != cases[i].ok)
            fail_msg("tb_json_valid(%s) = %d", s, got);
        /* and the independent parser agrees (which leaves UTF-8 to utf8_valid) */
        const uint8_t *u = (const uint8_t *)s;
        assert_int_equal(json_valid(u, strlen(s)) && utf8_valid(u, strlen(s)), cases[i].ok);
    }
    assert_false(tb_json_valid("[1]", 2, 8)); /* the length is honoured */
    assert_false(tb_json_valid(NULL, 0, 8));
    /* depth */
    assert_true(tb_json_valid("[[[]]]", 6, 3));
    assert_false(tb_json_valid("[[[]]]", 6, 2));
    assert_false(tb_json_valid("[[[1]]]", 7, 2));
    /* 100,000 opens: refused at the limit, no recursion */
    size_t n = 100000;
    char *deep = malloc(2 * n);
    assert_non_null(deep);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_false(tb_json_valid(deep, 2 * n, 64));
    free(deep);
}

static void test_escape_into_buffer(void **state)
{
    (void)state;
    struct tb_buf b;
    tb_buf_init(&b, 0);
    tb_buf_adds(&b, "pre:");
    tb_json_escape(&b, "a<b", 3);
    tb_json_escape(&b, "", 0);
    assert_int_equal(b.err, 0);
    /* no quotes added; '<' escaped in some \\u form */
    assert_memory_equal(b.data, "pre:a\\u", 7);
    assert_int_equal(b.data[b.len - 1], 'b');
    assert_null(memchr(b.data, '<', b.len));
    tb_buf_done(&b);
}

/* A long string with many escapes: no byte is lost between escaped runs. */
static void test_long_mixed_string(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n);
    assert_non_null(s);
    static const char pieces[][5] = {"a", "\"", "\xc3\xa9", "<", "\n", "\xe2\x80\xa8", "bc"};
    size_t k = 0;
    for (size_t i = 0; k + 4 < n; i++) {
        size_t l = strlen(pieces[i % 7]);
        memcpy(s + k, pieces[i % 7], l);
        k += l;
    }
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 0);
    tb_json_init(&j, &b);
    tb_json_strn(&j, s, k);
    assert_int_equal(b.err, 0);
    assert_true(json_valid(b.data, b.len));
    assert_true(utf8_valid(b.data, b.len));
    tb_buf_done(&b);
    /* The strict parser decodes into a small buffer: compare a prefix cut at a character. */
    size_t part = 2000;
    while (part > 0 && (((uint8_t)s[part] & 0xc0) == 0x80))
        part--;
    struct jp *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    roundtrip(s, part, p, &b);
    assert_int_equal(p->dec_len, part);
    assert_memory_equal(p->dec, s, part);
    tb_buf_done(&b);
    free(p);
    free(s);
}

/* Errors stick in the buffer: a capped buffer reports -E2BIG once at the end. */
static void test_error_sticks(void **state)
{
    (void)state;
    struct tb_buf b;
    struct tb_json j;
    tb_buf_init(&b, 16);
    tb_json_init(&j, &b);
    tb_json_arr_open(&j);
    for (int i = 0; i < 20; i++)
        tb_json_str(&j, "abcdef");
    tb_json_arr_close(&j);
    assert_int_equal(b.err, -E2BIG);
    assert_true(b.len <= 16);
    tb_buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_quotes_backslash_controls),
        cmocka_unit_test(test_escape_html_sensitive),
        cmocka_unit_test(test_escape_line_separators),
        cmocka_unit_test(test_valid_multibyte_kept),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_non_finite_doubles),
        cmocka_unit_test(test_doubles_roundtrip),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_nested_commas),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_too_deep_is_a_sticky_error),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_escape_into_buffer),
        cmocka_unit_test(test_long_mixed_string),
        cmocka_unit_test(test_error_sticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

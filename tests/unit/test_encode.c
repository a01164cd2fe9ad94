/* SPDX-License-Identifier: MIT */
/* Unit tests for encode: choosing the coding, and answers that decompress to what they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decompress.h"
#include "encode.h"

static void test_pick(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        enum svc_encoding want;
    } cases[] = {
        {NULL, SVC_ENC_IDENTITY},
        {"", SVC_ENC_IDENTITY},
        {"identity", SVC_ENC_IDENTITY},
        {"gzip", SVC_ENC_GZIP},
        {"GZIP", SVC_ENC_GZIP},
        {"gzip, deflate, br, zstd", SVC_ENC_ZSTD}, /* what Chromium sends over HTTPS */
        {"gzip, deflate, br", SVC_ENC_GZIP},
        {"zstd;q=0, gzip", SVC_ENC_GZIP},
        {"zstd;q=0.5, gzip;q=0.9", SVC_ENC_GZIP},
        {"zstd ; q=1.0, gzip;q=1", SVC_ENC_ZSTD},
        {"gzip;q=0", SVC_ENC_IDENTITY},
        {"*", SVC_ENC_ZSTD},
        {"*;q=0, gzip", SVC_ENC_GZIP},
        {"br", SVC_ENC_IDENTITY},
        {"x-gzip", SVC_ENC_GZIP},
        {"gzipped, zstdx", SVC_ENC_IDENTITY},
        {",,;q=,gzip;q=abc", SVC_ENC_IDENTITY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (svc_encoding_pick(cases[i].ae) != cases[i].want)
            fail_msg("'%s': got %d, want %d", cases[i].ae ? cases[i].ae : "(null)",
                     svc_encoding_pick(cases[i].ae), cases[i].want);
    assert_string_equal(svc_encoding_name(SVC_ENC_GZIP), "gzip");
    assert_string_equal(svc_encoding_name(SVC_ENC_ZSTD), "zstd");
    assert_null(svc_encoding_name(SVC_ENC_IDENTITY));
}

static char *json_like(size_t n)
{
    char *s = malloc(n + 1);
    size_t o = 0;
    for (int i = 0; o < n; i++)
        o += (size_t)snprintf(s + o, n + 1 - o, "[1795716236.%06d,%d,0.%07d],", i * 37 % 1000000, i,
                              (i * 7919) % 10000000);
    s[n] = 0;
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    char *in = json_like(300000);
    for (int e = SVC_ENC_GZIP; e <= SVC_ENC_ZSTD; e++) {
        uint8_t *z = NULL, *back = NULL;
        size_t zn = 0, bn = 0;
        assert_int_equal(svc_encode((enum svc_encoding)e, (const uint8_t *)in, 300000, &z, &zn), 0);
        assert_true(zn < 300000 / 2);
        assert_int_equal(
            svc_decompress(svc_encoding_name((enum svc_encoding)e), z, zn, 1 << 20, &back, &bn), 0);
        assert_int_equal(bn, 300000);
        assert_memory_equal(back, in, 300000);
        free(z);
        free(back);
    }
    uint8_t *z = NULL;
    size_t zn = 0;
    assert_int_equal(svc_encode(SVC_ENC_IDENTITY, (const uint8_t *)in, 10, &z, &zn), -EINVAL);
    free(in);
}

static void response(struct svc_response *r, const char *type, const char *body)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->content_type = type;
    tb_buf_init(&r->body, 0);
    tb_buf_adds(&r->body, body);
}

static const char *header(const struct svc_response *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (!strcmp(r->headers[i][0], name))
            return r->headers[i][1];
    return NULL;
}

static void test_response(void **state)
{
    (void)state;
    char *big = json_like(50000);
    struct svc_response r;
    response(&r, "application/json", big);
    svc_encode_response("gzip, deflate, br, zstd", &r);
    assert_string_equal(header(&r, "Content-Encoding"), "zstd");
    assert_string_equal(header(&r, "Vary"), "Accept-Encoding");
    uint8_t *back = NULL;
    size_t bn = 0;
    assert_int_equal(svc_decompress("zstd", r.body.data, r.body.len, 1 << 20, &back, &bn), 0);
    assert_int_equal(bn, 50000);
    assert_memory_equal(back, big, 50000);
    free(back);
    tb_buf_done(&r.body);

    /* a small answer, a client without codings, an image: as they were */
    response(&r, "application/json", "{\"ok\":true}");
    svc_encode_response("gzip", &r);
    assert_null(header(&r, "Content-Encoding"));
    assert_string_equal((char *)r.body.data, "{\"ok\":true}");
    tb_buf_done(&r.body);
    response(&r, "text/csv; charset=utf-8", big);
    svc_encode_response(NULL, &r);
    assert_null(header(&r, "Content-Encoding"));
    assert_int_equal(r.body.len, 50000);
    tb_buf_done(&r.body);
    response(&r, "image/png", big);
    svc_encode_response("gzip", &r);
    assert_null(header(&r, "Content-Encoding"));
    assert_null(header(&r, "Vary"));
    tb_buf_done(&r.body);

    /* static bodies are compressed once and kept */
    struct svc_response s1 = {0}, s2 = {0};
    s1.content_type = s2.content_type = "text/javascript; charset=utf-8";
    s1.static_body = s2.static_body = (const uint8_t *)big;
    s1.static_len = s2.static_len = 50000;
    svc_encode_response("gzip", &s1);
    svc_encode_response("gzip", &s2);
    assert_string_equal(header(&s1, "Content-Encoding"), "gzip");
    assert_ptr_equal(s1.static_body, s2.static_body);
    assert_true(s1.static_body != (const uint8_t *)big);
    assert_int_equal(svc_decompress("gzip", s1.static_body, s1.static_len, 1 << 20, &back, &bn), 0);
    assert_memory_equal(back, big, 50000);
    free(back);
    svc_encode_cache_free();
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

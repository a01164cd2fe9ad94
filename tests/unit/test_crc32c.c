/* SPDX-License-Identifier: MIT */
/* Unit tests for crc32c: published vectors, software vs hardware paths, the TFRecord mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"

/* A bit-at-a-time CRC32C straight from the definition: an oracle independent of the tables. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

/* Checks one vector through all three entry points. */
static void check_vector(const void *data, size_t len, uint32_t want)
{
    assert_int_equal(crc_ref(0, data, len), want);
    assert_int_equal(tb_crc32c_sw(0, data, len), want);
    assert_int_equal(tb_crc32c(0, data, len), want);
    uint32_t hw = 0;
    if (tb_crc32c_hw(0, data, len, &hw))
        assert_int_equal(hw, want);
}

static void test_check_string(void **state)
{
    (void)state;
    check_vector("123456789", 9, 0xE3069283u);
    check_vector("a", 1, 0xC1D04330u);
    check_vector("", 0, 0);
    assert_int_equal(tb_crc32c(0, NULL, 0), 0);
    assert_int_equal(tb_crc32c_sw(0, NULL, 0), 0);
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_iscsi_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    check_vector(buf, sizeof(buf), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    check_vector(buf, sizeof(buf), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    check_vector(buf, sizeof(buf), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    check_vector(buf, sizeof(buf), 0x113FDB5Cu);
    static const uint8_t read10[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    check_vector(read10, sizeof(read10), 0xD9963A56u);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* Continuing from a previous CRC must equal one pass over the concatenation. */
static void test_incremental(void **state)
{
    (void)state;
    uint8_t buf[1000];
    fill_pattern(buf, sizeof(buf), 7);
    uint32_t whole = crc_ref(0, buf, sizeof(buf));
    assert_int_equal(tb_crc32c(0, buf, sizeof(buf)), whole);
    for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
        uint32_t c = tb_crc32c_sw(0, buf, cut);
        assert_int_equal(tb_crc32c_sw(c, buf + cut, sizeof(buf) - cut), whole);
        c = tb_crc32c(0, buf, cut);
        assert_int_equal(tb_crc32c(c, buf + cut, sizeof(buf) - cut), whole);
        uint32_t h1, h2;
        if (tb_crc32c_hw(0, buf, cut, &h1)) {
            assert_true(tb_crc32c_hw(h1, buf + cut, sizeof(buf) - cut, &h2));
            assert_int_equal(h2, whole);
        }
    }
    /* Byte at a time. */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        c = tb_crc32c_sw(c, buf + i, 1);
    assert_int_equal(c, whole);
}

/* Every start alignment and every length 0..100: sw, hw and the reference agree. */
static void test_alignment_and_lengths(void **state)
{
    (void)state;
    uint8_t *buf = malloc(128 + 16);
    assert_non_null(buf);
    fill_pattern(buf, 128 + 16, 99);
    uint32_t hw_probe;
    bool have_hw = tb_crc32c_hw(0, buf, 0, &hw_probe);
    for (size_t start = 0; start < 16; start++) {
        for (size_t len = 0; len <= 100; len++) {
            const uint8_t *p = buf + start;
            uint32_t want = crc_ref(0, p, len);
            assert_int_equal(tb_crc32c_sw(0, p, len), want);
            assert_int_equal(tb_crc32c(0, p, len), want);
            /* a non-zero starting CRC exercises the ~crc handling */
            assert_int_equal(tb_crc32c_sw(0x12345678u, p, len), crc_ref(0x12345678u, p, len));
            if (have_hw) {
                uint32_t hw = 0;
                assert_true(tb_crc32c_hw(0, p, len, &hw));
                assert_int_equal(hw, want);
                assert_true(tb_crc32c_hw(0x12345678u, p, len, &hw));
                assert_int_equal(hw, crc_ref(0x12345678u, p, len));
            }
        }
    }
    free(buf);
}

/* tb_crc32c_hw must leave *ret_crc alone when it reports no hardware. */
static void test_hw_reports_honestly(void **state)
{
    (void)state;
    uint32_t out = 0xdeadbeefu;
    if (tb_crc32c_hw(0, "123456789", 9, &out))
        assert_int_equal(out, 0xE3069283u);
    else
        assert_int_equal(out, 0xdeadbeefu);
}

/* TFRecord's mask: rotate right 15, add 0xa282ead8 (TensorFlow's crc32c::Mask). */
static void test_mask(void **state)
{
    (void)state;
    assert_int_equal(tb_crc32c_mask(0), 0xa282ead8u);
    uint32_t c = 0xE3069283u;
    uint32_t rot = (c >> 15) | (c << 17);
    assert_int_equal(tb_crc32c_mask(c), (uint32_t)(rot + 0xa282ead8u));
    /* Unmask (TensorFlow's crc32c::Unmask) inverts it, and masking twice changes it again. */
    uint32_t m = tb_crc32c_mask(c) - 0xa282ead8u;
    assert_int_equal((m >> 17) | (m << 15), c);
    assert_int_not_equal(tb_crc32c_mask(c), c);
    assert_int_not_equal(tb_crc32c_mask(tb_crc32c_mask(c)), c);
    assert_int_equal(tb_crc32c_masked("123456789", 9), tb_crc32c_mask(0xE3069283u));
    /* An empty payload's footer. */
    assert_int_equal(tb_crc32c_masked(NULL, 0), 0xa282ead8u);
}

/* The header of a real event file written by TensorBoard's own writer checks out. */
static void test_real_tfrecord_header(void **state)
{
    (void)state;
    const char *root = getenv("TBDEV_REAL_DATA");
    if (!root)
        skip();
    char path[4096];
    snprintf(path, sizeof(path), "%s/pytorch-1.13/graph/events.out.tfevents.1795716237.vm.12732.7",
             root);
    FILE *f = fopen(path, "rb");
    if (!f)
        skip();
    uint8_t h[12];
    size_t got = fread(h, 1, sizeof(h), f);
    fclose(f);
    assert_int_equal(got, sizeof(h));
    uint32_t stored =
        (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    assert_int_equal(tb_crc32c_masked(h, 8), stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_string),         cmocka_unit_test(test_iscsi_vectors),
        cmocka_unit_test(test_incremental),          cmocka_unit_test(test_alignment_and_lengths),
        cmocka_unit_test(test_hw_reports_honestly),  cmocka_unit_test(test_mask),
        cmocka_unit_test(test_real_tfrecord_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

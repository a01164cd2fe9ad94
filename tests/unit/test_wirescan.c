/* SPDX-License-Identifier: MIT */
/* Unit tests for wirescan: nesting limits, what counts as nesting, and agreement with
 * protobuf-c on which bytes are a valid message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tblimits.h"
#include "tensorboard/event.pb-c.h"
#include "tensorboard/plugin_custom_scalar.pb-c.h"
#include "tensorboard/plugin_hparams.pb-c.h"
#include "wirescan.h"

/* ---- a tiny wire writer ---- */

struct w {
    uint8_t *p;
    size_t n, cap;
};

static void w_byte(struct w *w, uint8_t b)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->p = realloc(w->p, w->cap);
        assert_non_null(w->p);
    }
    w->p[w->n++] = b;
}

static void w_varint(struct w *w, uint64_t v)
{
    do {
        w_byte(w, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

static void w_bytes(struct w *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w_byte(w, ((const uint8_t *)p)[i]);
}

/* field `f`, wire type 2, holding `inner` */
static void w_len(struct w *w, unsigned f, const struct w *inner)
{
    w_varint(w, (uint64_t)f << 3 | 2);
    w_varint(w, inner->n);
    w_bytes(w, inner->p, inner->n);
}

/* An hparams Value that is `levels` ListValues nested around a number: each level is a Value
 * (list_value = 6) holding a ListValue (values = 1). Message levels: 2 * levels + 1. */
static struct w nested_list_value(size_t levels)
{
    struct w v = {0};
    w_byte(&v, 0x11); /* number_value = 2, wire 1 */
    double d = 1.5;
    w_bytes(&v, &d, 8);
    for (size_t i = 0; i < levels; i++) {
        struct w list = {0}, outer = {0};
        w_len(&list, 1, &v);
        w_len(&outer, 6, &list);
        free(v.p);
        free(list.p);
        v = outer;
    }
    return v;
}

/* HParamsPluginData{session_start_info{hparams{"k": value}}}: value sits at level 4. */
static struct w session_with(const struct w *value)
{
    struct w entry = {0}, ssi = {0}, pd = {0};
    w_byte(&entry, 0x0a);
    w_byte(&entry, 1);
    w_byte(&entry, 'k');
    w_len(&entry, 2, value);
    w_len(&ssi, 1, &entry);
    w_len(&pd, 3, &ssi);
    free(entry.p);
    free(ssi.p);
    return pd;
}

static const ProtobufCMessageDescriptor *const HP =
    &tensorboard__hparams__hparams_plugin_data__descriptor;

/* What protobuf-c says about the bytes (with its default allocator). */
static bool pbc_accepts(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
    static const uint8_t empty[1];
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, n ? p : empty);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return m != NULL;
}

/* ---- tests ---- */

static void test_depth_limit(void **state)
{
    (void)state;
    /* 14 ListValues: the value at level 4 nests 29 more levels, 32 in all: at the limit. */
    struct w v = nested_list_value(14), pd = session_with(&v);
    assert_int_equal(tb_wirescan_check(HP, pd.p, pd.n, TB_PB_DEPTH_MAX, NULL), 0);
    assert_int_equal(tb_wirescan_check(HP, pd.p, pd.n, 31, NULL), -E2BIG);
    int err = 0;
    ProtobufCMessage *m = tb_wirescan_unpack(HP, NULL, pd.n, pd.p, &err);
    assert_non_null(m);
    protobuf_c_message_free_unpacked(m, NULL);
    free(v.p);
    free(pd.p);

    /* One more ListValue: 34 levels, refused, and the offset points inside the data. */
    v = nested_list_value(15);
    pd = session_with(&v);
    size_t off = SIZE_MAX;
    assert_int_equal(tb_wirescan_check(HP, pd.p, pd.n, TB_PB_DEPTH_MAX, &off), -E2BIG);
    assert_true(off < pd.n);
    err = 0;
    assert_null(tb_wirescan_unpack(HP, NULL, pd.n, pd.p, &err));
    assert_int_equal(err, -E2BIG);
    assert_non_null(strstr(tb_wirescan_why(err), "32 levels"));
    /* Without the limit the scan and protobuf-c agree that it is a valid message. */
    assert_int_equal(tb_wirescan_check(HP, pd.p, pd.n, INT_MAX, NULL), 0);
    assert_true(pbc_accepts(HP, pd.p, pd.n));
    free(v.p);
    free(pd.p);
}

/* The attack shapes of issue 12: 40 and 5,000 nested ListValues, 100,000 nested Structs. The
 * scan refuses them at once; protobuf-c is never asked (at 5,000 it would overflow the stack). */
static void test_attack_shapes(void **state)
{
    (void)state;
    const size_t levels[] = {40, 5000};
    for (size_t i = 0; i < 2; i++) {
        struct w v = nested_list_value(levels[i]), pd = session_with(&v);
        int err = 0;
        assert_null(tb_wirescan_unpack(HP, NULL, pd.n, pd.p, &err));
        assert_int_equal(err, -E2BIG);
        free(v.p);
        free(pd.p);
    }
    /* Value{struct_value = 5: Struct{fields = 1: entry{key = "", value = 2: Value{...}}}}, 3
     * message levels per nesting, written outside in from lengths computed inside out. */
    size_t depth = 100000;
    size_t *vlen = malloc((depth + 1) * sizeof(*vlen)); /* content bytes of Value i */
    assert_non_null(vlen);
    struct w tmp = {0};
    vlen[0] = 2; /* bool_value = 4: true */
    for (size_t i = 0; i < depth; i++) {
        tmp.n = 0;
        w_varint(&tmp, vlen[i]);
        size_t entry = 2 + 1 + tmp.n + vlen[i];
        tmp.n = 0;
        w_varint(&tmp, entry);
        size_t st = 1 + tmp.n + entry;
        tmp.n = 0;
        w_varint(&tmp, st);
        vlen[i + 1] = 1 + tmp.n + st;
    }
    struct w v = {0};
    for (size_t i = depth; i > 0; i--) {
        size_t inner = vlen[i - 1];
        tmp.n = 0;
        w_varint(&tmp, inner);
        size_t entry = 2 + 1 + tmp.n + inner;
        tmp.n = 0;
        w_varint(&tmp, entry);
        size_t st = 1 + tmp.n + entry;
        w_byte(&v, 0x2a);
        w_varint(&v, st);
        w_byte(&v, 0x0a);
        w_varint(&v, entry);
        w_byte(&v, 0x0a);
        w_byte(&v, 0);
        w_byte(&v, 0x12);
        w_varint(&v, inner);
    }
    w_byte(&v, 0x20);
    w_byte(&v, 1);
    assert_int_equal(v.n, vlen[depth]);
    print_message("100,000 nested structs: %zu bytes\n", v.n);
    struct w pd = session_with(&v);
    assert_int_equal(tb_wirescan_check(HP, pd.p, pd.n, TB_PB_DEPTH_MAX, NULL), -E2BIG);
    int err = 0;
    assert_null(tb_wirescan_unpack(HP, NULL, pd.n, pd.p, &err));
    assert_int_equal(err, -E2BIG);
    free(vlen);
    free(tmp.p);
    free(v.p);
    free(pd.p);
}

/* Only message-typed fields count: the same nested bytes in a bytes field (Event.graph_def),
 * in an unknown field, or in a string are skipped. */
static void test_only_message_fields_count(void **state)
{
    (void)state;
    struct w deep = {0};
    w_byte(&deep, 0x08);
    w_byte(&deep, 1);
    for (int i = 0; i < 2000; i++) {
        struct w o = {0};
        w_len(&o, 1, &deep);
        free(deep.p);
        deep = o;
    }
    const ProtobufCMessageDescriptor *ev = &tensorboard__event__descriptor;
    unsigned fields[] = {4 /* graph_def: bytes */, 9 /* meta_graph_def: bytes */,
                         3 /* file_version: string */, 99 /* unknown */};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        struct w e = {0};
        w_len(&e, fields[i], &deep);
        assert_int_equal(tb_wirescan_check(ev, e.p, e.n, 3, NULL), 0);
        assert_true(pbc_accepts(ev, e.p, e.n));
        free(e.p);
    }
    /* The real Event nesting (Event, Summary, Value, TensorProto, TensorShapeProto, Dim) is
     * 6 levels. */
    struct w dim = {0}, shape = {0}, t = {0}, val = {0}, sum = {0}, e = {0};
    w_byte(&dim, 0x08);
    w_byte(&dim, 3);
    w_len(&shape, 2, &dim);
    w_len(&t, 2, &shape);
    w_len(&val, 8, &t);
    w_len(&sum, 1, &val);
    w_len(&e, 5, &sum);
    assert_int_equal(tb_wirescan_check(ev, e.p, e.n, 6, NULL), 0);
    assert_int_equal(tb_wirescan_check(ev, e.p, e.n, 5, NULL), -E2BIG);
    free(deep.p);
    free(dim.p);
    free(shape.p);
    free(t.p);
    free(val.p);
    free(sum.p);
    free(e.p);
}

struct case_ {
    const char *name;
    const ProtobufCMessageDescriptor *d;
    const char *bytes;
    size_t len;
};

#define C(name, d, lit)                                                                            \
    {                                                                                              \
        name, d, lit, sizeof(lit) - 1                                                              \
    }

/* Hand-made edge cases of the wire format: the scan and protobuf-c must agree on each. */
static void test_edges_agree_with_protobuf_c(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *ev = &tensorboard__event__descriptor;
    const ProtobufCMessageDescriptor *t = &tensorboard__tensor_proto__descriptor;
    const ProtobufCMessageDescriptor *lay = &tensorboard__layout__descriptor;
    const struct case_ cases[] = {
        C("empty", ev, ""),
        C("step", ev, "\x10\x05"),
        C("truncated varint", ev, "\x10\x85"),
        C("ten-byte varint", ev, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        C("eleven-byte varint", ev, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        C("step as wire type 2", ev, "\x12\x01\x00"),
        C("wall_time as varint", ev, "\x08\x01"),
        C("wall_time truncated", ev, "\x09\x00\x00\x00"),
        C("summary as varint", ev, "\x28\x01"),
        C("summary longer than the data", ev, "\x2a\x05\x0a\x00"),
        C("length prefix of 6 bytes", ev, "\x2a\x80\x80\x80\x80\x80\x00"),
        C("length prefix of 5 bytes", ev, "\x2a\x80\x80\x80\x80\x00"),
        C("length past INT_MAX", ev, "\x2a\xff\xff\xff\xff\x0f"),
        C("start group", ev, "\x7b\x7c"),
        C("end group", ev, "\x7c"),
        C("wire type 6", ev, "\x7e\x00"),
        C("first key byte names field 0", ev, "\x02\x00"),
        C("two-byte key of field 0", ev, "\x80\x00\x00"),
        C("five-byte key", ev, "\xf8\xff\xff\xff\x0f\x00"),
        C("six-byte key", ev, "\xf8\xff\xff\xff\xff\x0f\x00"),
        C("unknown 32-bit truncated", ev, "\x7d\x00\x00"),
        C("unknown 64-bit", ev, "\x79\x00\x00\x00\x00\x00\x00\x00\x00"),
        C("packed floats, whole", t, "\x2a\x04\x00\x00\xc0\x3f"),
        C("packed floats, ragged", t, "\x2a\x03\x00\x00\xc0"),
        C("packed doubles, ragged", t, "\x32\x04\x00\x00\x00\x00"),
        C("packed int32, unterminated", t, "\x3a\x02\x01\x81"),
        C("packed int64, long", t, "\x52\x0b\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        C("packed bool, unterminated", t, "\x5a\x01\x80"),
        C("packed bool, varint of 2", t, "\x5a\x02\x80\x01"),
        C("unpacked float", t, "\x2d\x00\x00\xc0\x3f"),
        C("float as varint", t, "\x28\x01"),
        C("string_val as varint", t, "\x40\x01"),
        C("bool singular as fixed32 (protobuf-c reads it)",
          &tensorboard__tensor_shape_proto__descriptor, "\x1d\x01\x00\x00\x00"),
        C("bool singular as length", &tensorboard__tensor_shape_proto__descriptor, "\x1a\x01\x01"),
        C("enum out of range", t, "\x08\xff\x01"),
        C("nested bad", lay, "\x12\x03\x0a\x01\x80"),
        C("nested good", lay, "\x12\x04\x0a\x02\x68\x69"),
        C("oneof twice", &tensorboard__chart__descriptor, "\x12\x00\x1a\x00"),
        C("message twice (merged)", ev, "\x2a\x00\x2a\x02\x0a\x00"),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct case_ *k = &cases[i];
        const uint8_t *p = (const uint8_t *)k->bytes;
        int scan = tb_wirescan_check(k->d, p, k->len, INT_MAX, NULL);
        bool pbc = pbc_accepts(k->d, p, k->len);
        if ((scan == 0) != pbc)
            fail_msg("%s: scan %d, protobuf-c %s", k->name, scan, pbc ? "accepts" : "refuses");
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* Random mutations of valid messages of three types: the scan and protobuf-c agree on every
 * one (the property the fuzz target fuzz_wirescan checks at length). */
static void test_mutations_agree_with_protobuf_c(void **state)
{
    (void)state;
    /* seeds: a layout, an hparams session start, an event with a tensor */
    struct w lay = {0};
    {
        struct w ml = {0}, chart = {0}, cat = {0};
        w_byte(&ml, 0x0a);
        w_byte(&ml, 2);
        w_bytes(&ml, "ab", 2);
        w_byte(&chart, 0x0a);
        w_byte(&chart, 1);
        w_byte(&chart, 'c');
        w_len(&chart, 2, &ml);
        w_len(&cat, 2, &chart);
        w_byte(&cat, 0x18);
        w_byte(&cat, 1);
        w_byte(&lay, 0x08);
        w_byte(&lay, 1);
        w_len(&lay, 2, &cat);
        free(ml.p);
        free(chart.p);
        free(cat.p);
    }
    struct w v = nested_list_value(3), hp = session_with(&v);
    struct w ev = {0};
    {
        struct w t = {0}, val = {0}, sum = {0};
        w_byte(&t, 0x08);
        w_byte(&t, 1);
        w_byte(&t, 0x2a);
        w_byte(&t, 8);
        float fv[2] = {1, 2};
        w_bytes(&t, fv, 8);
        w_byte(&val, 0x0a);
        w_byte(&val, 1);
        w_byte(&val, 'x');
        w_len(&val, 8, &t);
        w_len(&sum, 1, &val);
        w_byte(&ev, 0x09);
        double wt = 1.5;
        w_bytes(&ev, &wt, 8);
        w_len(&ev, 5, &sum);
        free(t.p);
        free(val.p);
        free(sum.p);
    }
    struct {
        const ProtobufCMessageDescriptor *d;
        struct w *seed;
    } seeds[] = {{&tensorboard__layout__descriptor, &lay},
                 {HP, &hp},
                 {&tensorboard__event__descriptor, &ev}};
    uint8_t buf[512];
    size_t disagree = 0, accepted = 0, total = 0;
    for (int round = 0; round < 60000; round++) {
        size_t s = (size_t)rnd() % 3;
        size_t n = seeds[s].seed->n;
        memcpy(buf, seeds[s].seed->p, n);
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts; m++) {
            uint32_t r = rnd();
            switch (r % 4) {
            case 0: /* flip a byte */
                if (n)
                    buf[rnd() % n] = (uint8_t)rnd();
                break;
            case 1: /* truncate */
                if (n)
                    n = rnd() % n;
                break;
            case 2: /* insert a byte */
                if (n < sizeof(buf) - 1) {
                    size_t at = n ? rnd() % n : 0;
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = (uint8_t)rnd();
                    n++;
                }
                break;
            default: /* duplicate a slice at the end */
                if (n && n < sizeof(buf) / 2) {
                    size_t a = rnd() % n, l = rnd() % (n - a) + 1;
                    memcpy(buf + n, buf + a, l);
                    n += l;
                }
                break;
            }
        }
        int scan = tb_wirescan_check(seeds[s].d, buf, n, INT_MAX, NULL);
        bool pbc = pbc_accepts(seeds[s].d, buf, n);
        total++;
        accepted += pbc;
        if ((scan == 0) != pbc && disagree++ < 5)
            print_message("disagree: seed %zu, %zu bytes, scan %d, protobuf-c %d\n", s, n, scan,
                          pbc);
    }
    assert_int_equal(disagree, 0);
    /* both kinds of answer were exercised */
    assert_true(accepted > total / 20 && accepted < total - total / 20);
    free(lay.p);
    free(v.p);
    free(hp.p);
    free(ev.p);
}

/* The guard: free where the schema bounds nesting (Event: 6 levels), a scan where it does not. */
static void test_guard(void **state)
{
    (void)state;
    assert_int_equal(tb_wirescan_schema_depth(&tensorboard__event__descriptor), 6);
    assert_int_equal(tb_wirescan_schema_depth(&tensorboard__layout__descriptor), 5);
    assert_int_equal(tb_wirescan_schema_depth(&tensorboard__tensor_proto__descriptor), 3);
    assert_int_equal(tb_wirescan_schema_depth(HP), INT_MAX);
    assert_int_equal(tb_wirescan_schema_depth(&tensorboard__hparams__value__descriptor), INT_MAX);
    /* asked again: the kept answer */
    assert_int_equal(tb_wirescan_schema_depth(&tensorboard__event__descriptor), 6);
    /* a bad Event passes the guard (protobuf-c refuses it while unpacking), not the check */
    const uint8_t bad[] = {0x10, 0x85};
    const ProtobufCMessageDescriptor *ev = &tensorboard__event__descriptor;
    assert_int_equal(tb_wirescan_guard(ev, bad, 2, TB_PB_DEPTH_MAX, NULL), 0);
    assert_int_equal(tb_wirescan_check(ev, bad, 2, TB_PB_DEPTH_MAX, NULL), -EBADMSG);
    assert_int_equal(tb_wirescan_guard(ev, bad, 2, 5, NULL), -EBADMSG); /* a tighter limit */
    int err = 0;
    assert_null(tb_wirescan_unpack(ev, NULL, 2, bad, &err));
    assert_int_equal(err, -EBADMSG); /* not -ENOMEM: the scan tells bad bytes apart */
    /* hparams: scanned, and refused past the limit */
    struct w v = nested_list_value(40), pd = session_with(&v);
    assert_int_equal(tb_wirescan_guard(HP, pd.p, pd.n, TB_PB_DEPTH_MAX, NULL), -E2BIG);
    free(v.p);
    free(pd.p);
}

static void test_unpack_errors(void **state)
{
    (void)state;
    int err = 0;
    assert_null(tb_wirescan_unpack(HP, NULL, 2, (const uint8_t *)"\x1a\x05", &err));
    assert_int_equal(err, -EBADMSG);
    assert_non_null(strstr(tb_wirescan_why(err), "not valid"));
    /* NULL data with no length is the empty message */
    err = 1;
    ProtobufCMessage *m = tb_wirescan_unpack(HP, NULL, 0, NULL, &err);
    assert_non_null(m);
    assert_int_equal(err, 1); /* untouched on success */
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(tb_wirescan_check(HP, NULL, 3, TB_PB_DEPTH_MAX, NULL), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_attack_shapes),
        cmocka_unit_test(test_only_message_fields_count),
        cmocka_unit_test(test_edges_agree_with_protobuf_c),
        cmocka_unit_test(test_mutations_agree_with_protobuf_c),
        cmocka_unit_test(test_guard),
        cmocka_unit_test(test_unpack_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

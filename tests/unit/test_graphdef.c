/* SPDX-License-Identifier: MIT */
/* Unit tests for graphdef: GraphDef, MetaGraphDef and RunMetadata decoding, its bounds, errors
 * and the JSON of GET .../graph. Messages are built here byte by byte from the wire format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graphdef.h"
#include "json.h"
#include "tblimits.h"

/* A growing protobuf message. */
struct pb {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct pb *m, const void *d, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 64;
        m->p = realloc(m->p, m->cap);
        assert_non_null(m->p);
    }
    if (n)
        memcpy(m->p + m->n, d, n);
    m->n += n;
}

static void varint(struct pb *m, uint64_t v)
{
    uint8_t b[10];
    size_t n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    put(m, b, n);
}

static void f_bytes(struct pb *m, unsigned field, const void *d, size_t n)
{
    varint(m, (uint64_t)field << 3 | 2);
    varint(m, n);
    put(m, d, n);
}

static void f_str(struct pb *m, unsigned field, const char *s)
{
    f_bytes(m, field, s, strlen(s));
}

static void f_msg(struct pb *m, unsigned field, struct pb *sub)
{
    f_bytes(m, field, sub->p, sub->n);
    free(sub->p);
    *sub = (struct pb){0};
}

static void f_varint(struct pb *m, unsigned field, uint64_t v)
{
    varint(m, (uint64_t)field << 3);
    varint(m, v);
}

/* NodeDef{name, op, inputs..., attr{key: AttrValue{i}}} into a GraphDef. */
static void node(struct pb *g, const char *name, const char *op, const char **inputs, size_t n_in,
                 const char *attr_key, int64_t attr_i)
{
    struct pb nd = {0}, entry = {0}, av = {0};
    f_str(&nd, 1, name);
    f_str(&nd, 2, op);
    for (size_t i = 0; i < n_in; i++)
        f_str(&nd, 3, inputs[i]);
    f_str(&nd, 4, "/device:CPU:0");
    if (attr_key) {
        f_varint(&av, 3, (uint64_t)attr_i);
        f_str(&entry, 1, attr_key);
        f_msg(&entry, 2, &av);
        f_msg(&nd, 5, &entry);
    }
    f_msg(g, 1, &nd);
}

static char *json_of(const struct svc_graph *g, const struct svc_graph_stats *st)
{
    struct tb_buf b;
    tb_buf_init(&b, 64u << 20);
    struct tb_json j;
    tb_json_init(&j, &b);
    tb_json_obj_open(&j);
    assert_int_equal(svc_graph_json(g, st, &j), 0);
    tb_json_obj_close(&j);
    assert_int_equal(b.err, 0);
    char *s = strndup((const char *)b.data, b.len);
    tb_buf_done(&b);
    return s;
}

static struct pb small_graph(void)
{
    struct pb g = {0};
    const char *in_b[] = {"a", "^c", "a:1"};
    const char *in_c[] = {"missing"};
    node(&g, "s/a", "Const", NULL, 0, "k", 7);
    node(&g, "s/b", "Add", (const char *[]){"s/a", "^s/c", "s/a:1"}, 3, NULL, 0);
    node(&g, "s/c", "Identity", in_c, 1, NULL, 0);
    (void)in_b;
    struct pb ver = {0};
    f_varint(&ver, 1, 27);
    f_msg(&g, 4, &ver);
    return g;
}

static void test_graph_def(void **state)
{
    (void)state;
    struct pb m = small_graph();
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), 0);
    assert_int_equal(g.n_nodes, 3);
    assert_int_equal(g.nodes_total, 3);
    assert_int_equal(g.n_graphs, 1);
    assert_int_equal(g.producer, 27);
    assert_false(g.truncated);
    const struct svc_graph_node *b = &g.nodes[1];
    assert_int_equal(b->n_inputs, 3);
    assert_memory_equal(g.inputs[b->input0 + 1].p, "^s/c", 4);
    assert_memory_equal(g.inputs[b->input0 + 2].p, "s/a:1", 5);
    assert_int_equal(g.nodes[0].n_attrs, 1);
    char *js = json_of(&g, NULL);
    /* inputs exactly as written; one dangling input ("missing"); edges = inputs */
    assert_non_null(strstr(js, "\"inputs\":[\"s/a\",\"^s/c\",\"s/a:1\"]"));
    assert_non_null(strstr(js, "\"edges\":4"));
    assert_non_null(strstr(js, "\"dangling_inputs\":1"));
    assert_non_null(strstr(js, "\"attr\":{\"k\":{\"i\":7}}"));
    assert_non_null(strstr(js, "\"device\":\"/device:CPU:0\""));
    assert_non_null(strstr(js, "\"truncated\":false"));
    free(js);
    svc_graph_done(&g);
    svc_graph_done(&g); /* reusable, idempotent */
    free(m.p);
}

static void test_meta_graph_def(void **state)
{
    (void)state;
    struct pb gd = small_graph(), meta = {0};
    struct pb info = {0};
    f_str(&info, 1, "tag");
    f_msg(&meta, 1, &info); /* meta_info_def first: skipped */
    f_msg(&meta, 2, &gd);
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_META_GRAPH_DEF, meta.p, meta.n), 0);
    assert_int_equal(g.n_nodes, 3);
    svc_graph_done(&g);
    free(meta.p);
}

/* A RunMetadata with two function graphs: merged with graph_1/, graph_2/ prefixes. */
static void test_run_metadata_merge(void **state)
{
    (void)state;
    struct pb rm = {0};
    for (int k = 0; k < 2; k++) {
        struct pb gd = {0}, fg = {0};
        node(&gd, "x", "Placeholder", NULL, 0, NULL, 0);
        node(&gd, "y", "Relu", (const char *[]){"x"}, 1, NULL, 0);
        f_msg(&fg, 2, &gd); /* FunctionGraphs.pre_optimization_graph */
        f_msg(&rm, 4, &fg); /* RunMetadata.function_graphs */
    }
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_RUN_METADATA, rm.p, rm.n), 0);
    assert_int_equal(g.n_graphs, 2);
    assert_int_equal(g.n_nodes, 4);
    char *js = json_of(&g, NULL);
    assert_non_null(strstr(js, "\"name\":\"graph_1/x\""));
    assert_non_null(strstr(js, "\"name\":\"graph_2/y\""));
    assert_non_null(strstr(js, "\"inputs\":[\"graph_2/x\"]"));
    assert_non_null(strstr(js, "\"dangling_inputs\":0"));
    free(js);
    svc_graph_done(&g);
    free(rm.p);
}

static void test_bad_messages(void **state)
{
    (void)state;
    struct svc_graph g;
    /* a length past the end */
    const uint8_t past[] = {0x0a, 0x10, 0x0a, 0x01};
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, past, sizeof(past)), -EBADMSG);
    assert_non_null(g.why);
    assert_true(g.err_offset <= sizeof(past));
    svc_graph_done(&g);
    /* a group wire type; a varint of 11 bytes; field number 0 */
    const uint8_t group[] = {0x0b, 0x0c};
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, group, sizeof(group)), -EBADMSG);
    svc_graph_done(&g);
    const uint8_t longv[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, longv, sizeof(longv)), -EBADMSG);
    svc_graph_done(&g);
    /* a bad NodeDef inside a good GraphDef: the offset points into it */
    struct pb m = {0};
    node(&m, "ok", "Const", NULL, 0, NULL, 0);
    size_t at = m.n;
    const uint8_t bad_node[] = {0x0a, 0x03, 0x0a, 0x05, 'x'};
    put(&m, bad_node, sizeof(bad_node));
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), -EBADMSG);
    assert_true(g.err_offset >= at);
    svc_graph_done(&g);
    free(m.p);
    /* nothing at all is an empty graph */
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, (const uint8_t *)"", 0), 0);
    assert_int_equal(g.n_nodes, 0);
    svc_graph_done(&g);
}

static void test_name_too_long(void **state)
{
    (void)state;
    char *name = malloc(TB_GRAPH_NAME_MAX + 2);
    memset(name, 'n', TB_GRAPH_NAME_MAX + 1);
    name[TB_GRAPH_NAME_MAX + 1] = 0;
    struct pb m = {0};
    node(&m, name, "Const", NULL, 0, NULL, 0);
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), -E2BIG);
    svc_graph_done(&g);
    free(m.p);
    /* exactly the limit is fine */
    name[TB_GRAPH_NAME_MAX] = 0;
    m = (struct pb){0};
    node(&m, name, "Const", NULL, 0, NULL, 0);
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), 0);
    assert_int_equal(g.n_nodes, 1);
    svc_graph_done(&g);
    free(m.p);
    free(name);
}

/* Past TB_GRAPH_NODES_MAX the graph is cut, counted and says so. */
static void test_node_limit(void **state)
{
    (void)state;
    size_t n = TB_GRAPH_NODES_MAX + 123;
    uint8_t *d = malloc(2 * n);
    for (size_t i = 0; i < n; i++)
        d[2 * i] = 0x0a, d[2 * i + 1] = 0x00; /* empty NodeDefs */
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, d, 2 * n), 0);
    assert_int_equal(g.n_nodes, TB_GRAPH_NODES_MAX);
    assert_int_equal(g.nodes_total, n);
    assert_true(g.truncated);
    char *js = json_of(&g, NULL);
    assert_non_null(strstr(js, "\"truncated\":true"));
    free(js);
    svc_graph_done(&g);
    free(d);
}

/* Function attributes nested far deeper than TB_GRAPH_ATTR_DEPTH_MAX: written, bounded. */
static void test_deep_attrs(void **state)
{
    (void)state;
    struct pb v = {0};
    f_varint(&v, 3, 5);
    for (int k = 0; k < 2000; k++) {
        struct pb nal = {0}, entry = {0}, outer = {0};
        f_str(&nal, 1, "f");
        f_str(&entry, 1, "a");
        f_msg(&entry, 2, &v);
        f_msg(&nal, 2, &entry);
        f_msg(&outer, 10, &nal);
        v = outer;
    }
    struct pb nd = {0}, entry = {0}, m = {0};
    f_str(&nd, 1, "call");
    f_str(&nd, 2, "PartitionedCall");
    f_str(&entry, 1, "f");
    f_msg(&entry, 2, &v);
    f_msg(&nd, 5, &entry);
    f_msg(&m, 1, &nd);
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), 0);
    char *js = json_of(&g, NULL);
    /* the attribute is too large to write whole (over TB_GRAPH_ATTR_BYTES): only named */
    assert_non_null(strstr(js, "\"too_large_attrs\":[\"f\"]"));
    free(js);
    svc_graph_done(&g);
    free(m.p);

    /* a small one nested past the depth limit: cut at TB_GRAPH_ATTR_DEPTH_MAX levels */
    v = (struct pb){0};
    f_varint(&v, 3, 5);
    for (int k = 0; k < TB_GRAPH_ATTR_DEPTH_MAX + 4; k++) {
        struct pb nal = {0}, e2 = {0}, outer = {0};
        f_str(&e2, 1, "a");
        f_msg(&e2, 2, &v);
        f_msg(&nal, 2, &e2);
        f_msg(&outer, 10, &nal);
        v = outer;
    }
    nd = (struct pb){0};
    entry = (struct pb){0};
    m = (struct pb){0};
    f_str(&nd, 1, "call");
    f_str(&entry, 1, "f");
    f_msg(&entry, 2, &v);
    f_msg(&nd, 5, &entry);
    f_msg(&m, 1, &nd);
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), 0);
    js = json_of(&g, NULL);
    assert_non_null(strstr(js, "\"too_deep\":true"));
    assert_null(strstr(js, "\"i\":5"));
    free(js);
    svc_graph_done(&g);
    free(m.p);
}

/* A cycle and a node that is its own input decode as they are (the page lays them out). */
static void test_cycle(void **state)
{
    (void)state;
    struct pb m = {0};
    node(&m, "a", "Add", (const char *[]){"b"}, 1, NULL, 0);
    node(&m, "b", "Add", (const char *[]){"a", "b:0"}, 2, NULL, 0);
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, m.p, m.n), 0);
    char *js = json_of(&g, NULL);
    assert_non_null(strstr(js, "\"edges\":3"));
    assert_non_null(strstr(js, "\"dangling_inputs\":0"));
    free(js);
    svc_graph_done(&g);
    free(m.p);
}

static void test_step_stats(void **state)
{
    (void)state;
    struct pb rm = {0}, ss = {0}, dev = {0};
    f_str(&dev, 1, "/job:localhost/device:CPU:0");
    for (int k = 0; k < 2; k++) {
        struct pb ns = {0};
        f_str(&ns, 1, k ? "s/b" : "s/a");
        f_varint(&ns, 2, 1000 + (uint64_t)k); /* all_start_micros */
        f_varint(&ns, 5, 40);                 /* all_end_rel_micros */
        f_msg(&dev, 2, &ns);
    }
    f_msg(&ss, 1, &dev);
    f_msg(&rm, 1, &ss);
    struct svc_graph_stats st;
    assert_int_equal(svc_graph_stats_decode(&st, rm.p, rm.n), 0);
    assert_int_equal(st.n, 2);
    assert_int_equal(st.s[0].micros, 40);
    struct pb gm = small_graph();
    struct svc_graph g;
    assert_int_equal(svc_graph_decode(&g, SVC_GRAPH_GRAPH_DEF, gm.p, gm.n), 0);
    char *js = json_of(&g, &st);
    assert_non_null(strstr(js, "\"devices\":[\"/job:localhost/device:CPU:0\"]"));
    assert_non_null(strstr(js, "\"micros\":40"));
    free(js);
    svc_graph_done(&g);
    svc_graph_stats_done(&st);
    const uint8_t bad[] = {0x0a, 0x05, 0x0a};
    assert_int_equal(svc_graph_stats_decode(&st, bad, sizeof(bad)), -EBADMSG);
    assert_non_null(st.why);
    svc_graph_stats_done(&st);
    free(rm.p);
    free(gm.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_def),          cmocka_unit_test(test_meta_graph_def),
        cmocka_unit_test(test_run_metadata_merge), cmocka_unit_test(test_bad_messages),
        cmocka_unit_test(test_name_too_long),      cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_deep_attrs),         cmocka_unit_test(test_cycle),
        cmocka_unit_test(test_step_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: svc_graph_decode (GraphDef, MetaGraphDef, RunMetadata), the function bodies of
 * its library, svc_graph_stats_decode, and the JSON of GET .../graph written from them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "graphdef.h"
#include "json.h"
#include "tblimits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_graphdef: check failed: %s: ", #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The JSON written is balanced: as many opening as closing brackets outside strings. */
static void check_json(const struct tb_buf *b)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < b->len; i++) {
        uint8_t ch = b->data[i];
        if (in_str) {
            CHECK(ch >= 0x20, "raw control byte 0x%02x in a JSON string at %zu", ch, i);
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            CHECK(depth >= 0, "closing bracket without an opening one at %zu", i);
        }
    }
    CHECK(depth == 0 && !in_str, "unbalanced JSON (depth %d)", depth);
}

static void check_graph(int err, const struct svc_graph *g, size_t size)
{
    CHECK(err == 0 || err == -EBADMSG || err == -E2BIG || err == -ENOMEM || err == -ENOENT,
          "unexpected error %d", err);
    if (err == -EBADMSG)
        CHECK(g->why && g->err_offset <= size, "an error without a reason or past the end (%zu)",
              g->err_offset);
    if (err)
        return;
    CHECK(g->n_nodes <= TB_GRAPH_NODES_MAX, "%zu nodes kept", g->n_nodes);
    CHECK(g->n_nodes <= g->nodes_total, "kept %zu of %llu", g->n_nodes,
          (unsigned long long)g->nodes_total);
    CHECK(g->nodes_total == g->n_nodes || g->truncated, "nodes left out but not truncated");
    CHECK(g->n_inputs <= TB_GRAPH_INPUTS_MAX && g->n_attrs <= TB_GRAPH_ATTRS_MAX, "over limits");
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct svc_graph_node *n = &g->nodes[i];
        CHECK((uint64_t)n->input0 + n->n_inputs <= g->n_inputs, "node %zu's inputs out of range",
              i);
        CHECK((uint64_t)n->attr0 + n->n_attrs <= g->n_attrs, "node %zu's attrs out of range", i);
        CHECK(n->name.n <= TB_GRAPH_NAME_MAX, "a name of %u bytes kept", n->name.n);
    }
}

static void write_json(const struct svc_graph *g, const struct svc_graph_stats *st)
{
    struct tb_buf b;
    tb_buf_init(&b, 64u << 20);
    struct tb_json j;
    tb_json_init(&j, &b);
    tb_json_obj_open(&j);
    int err = svc_graph_json(g, st, &j);
    tb_json_obj_close(&j);
    CHECK(err == 0 || err == -ENOMEM, "svc_graph_json: %d", err);
    if (!err && !b.err)
        check_json(&b);
    tb_buf_done(&b);
}

/* The first byte picks the source; the rest is the message. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum svc_graph_source src = (enum svc_graph_source)(1 + data[0] % 3);
    size_t n = size - 1;
    uint8_t *d = malloc(n ? n : 1); /* exact size: a read past the end is seen */
    if (!d)
        return 0;
    memcpy(d, data + 1, n);
    struct svc_graph g;
    int err = svc_graph_decode(&g, src, d, n);
    check_graph(err, &g, n);
    struct svc_graph_stats st;
    int serr = svc_graph_stats_decode(&st, d, n);
    CHECK(serr == 0 || serr == -EBADMSG || serr == -ENOMEM, "stats: %d", serr);
    if (!err) {
        write_json(&g, serr == 0 ? &st : NULL);
        for (size_t k = 0; k < g.n_funcs && k < 4; k++) {
            char name[TB_GRAPH_NAME_MAX + 1];
            size_t ln = g.funcs[k].name.n;
            if (ln > TB_GRAPH_NAME_MAX || memchr(g.funcs[k].name.p ? g.funcs[k].name.p : d, 0, ln))
                continue;
            memcpy(name, g.funcs[k].name.p, ln);
            name[ln] = 0;
            struct svc_graph fg;
            int ferr = svc_graph_decode_function(&fg, &g, name);
            check_graph(ferr, &fg, n);
            if (!ferr)
                write_json(&fg, NULL);
            svc_graph_done(&fg);
        }
    }
    svc_graph_stats_done(&st);
    svc_graph_done(&g);
    free(d);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* TensorFlow graphs for drawing: a bounded wire reader of GraphDef, MetaGraphDef and
 * RunMetadata, and the JSON of GET .../graph. */
#include "graphdef.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "map.h"
#include "tblimits.h"

/*
 * The field numbers, from TensorFlow's protos (framework/graph.proto, node_def.proto,
 * attr_value.proto, tensor_shape.proto, tensor.proto, function.proto, op_def.proto,
 * versions.proto, protobuf/meta_graph.proto, protobuf/config.proto, framework/step_stats.proto):
 *   GraphDef { NodeDef node = 1; FunctionDefLibrary library = 2; VersionDef versions = 4; }
 *   NodeDef { string name = 1; string op = 2; repeated string input = 3; string device = 4;
 *             map<string, AttrValue> attr = 5; }
 *   AttrValue { oneof { ListValue list = 1; bytes s = 2; int64 i = 3; float f = 4; bool b = 5;
 *             DataType type = 6; TensorShapeProto shape = 7; TensorProto tensor = 8;
 *             string placeholder = 9; NameAttrList func = 10; } }
 *   ListValue { repeated bytes s = 2; int64 i = 3; float f = 4; bool b = 5; DataType type = 6;
 *             TensorShapeProto shape = 7; TensorProto tensor = 8; NameAttrList func = 9; }
 *   NameAttrList { string name = 1; map<string, AttrValue> attr = 2; }
 *   TensorShapeProto { repeated Dim dim = 2 { int64 size = 1; } bool unknown_rank = 3; }
 *   TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
 *             float_val = 5; double_val = 6; int_val = 7; bytes string_val = 8; int64_val = 10;
 *             bool_val = 11; }
 *   FunctionDefLibrary { FunctionDef function = 1; }
 *   FunctionDef { OpDef signature = 1; NodeDef node_def = 3; }  OpDef { string name = 1;
 *             ArgDef input_arg = 2 { string name = 1; } }
 *   VersionDef { int32 producer = 1; }
 *   MetaGraphDef { GraphDef graph_def = 2; }
 *   RunMetadata { StepStats step_stats = 1; GraphDef partition_graphs = 3;
 *             FunctionGraphs function_graphs = 4 { GraphDef pre_optimization_graph = 2; } }
 *   StepStats { DeviceStepStats dev_stats = 1 { string device = 1; NodeExecStats node_stats = 2; }
 * } NodeExecStats { string node_name = 1; int64 all_start_micros = 2; int64 all_end_rel_micros = 5;
 * AllocatorMemoryUsed memory = 6 { int64 total_bytes = 2; } }
 */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* A bounded cursor over one message; errors go to the decoder it belongs to. */
struct cur {
    const uint8_t *p, *end;
};

struct field {
    uint32_t fn;
    int wt;
    uint64_t v;     /* varints, and fixed 32/64-bit values */
    struct cur sub; /* length-delimited: its bytes */
};

/* The decoder: the start of the message (for error offsets) and the first error. */
struct dec {
    const uint8_t *base;
    int err;
    const char *why;
    size_t off;
};

static void fail(struct dec *d, const uint8_t *at, int err, const char *why)
{
    if (d->err)
        return;
    d->err = err;
    d->why = why;
    d->off = (size_t)(at - d->base);
}

static bool rd_varint(struct cur *c, uint64_t *ret)
{
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end)
            return false;
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *ret = v;
            return true;
        }
    }
    return false;
}

/* The next field of c into *f: 1, 0 at the end, or -1 after recording why in d. */
static int next(struct dec *d, struct cur *c, struct field *f, const char *what)
{
    if (d->err)
        return -1;
    if (c->p >= c->end)
        return 0;
    const uint8_t *at = c->p;
    uint64_t key;
    if (!rd_varint(c, &key) || key >> 32 || (key >> 3) == 0) {
        fail(d, at, -EBADMSG, what);
        return -1;
    }
    f->fn = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    f->v = 0;
    f->sub = (struct cur){NULL, NULL};
    switch (f->wt) {
    case WT_VARINT:
        if (!rd_varint(c, &f->v))
            break;
        return 1;
    case WT_I64:
        if (c->end - c->p < 8)
            break;
        memcpy(&f->v, c->p, 8);
        c->p += 8;
        return 1;
    case WT_I32: {
        if (c->end - c->p < 4)
            break;
        uint32_t v;
        memcpy(&v, c->p, 4);
        f->v = v;
        c->p += 4;
        return 1;
    }
    case WT_LEN: {
        uint64_t n;
        if (!rd_varint(c, &n) || n > (uint64_t)(c->end - c->p))
            break;
        f->sub = (struct cur){c->p, c->p + n};
        c->p += n;
        return 1;
    }
    default:
        break;
    }
    fail(d, at, -EBADMSG, what);
    return -1;
}

/* A field that must be length-delimited (a string, bytes or a message). */
static bool want_len(struct dec *d, const struct field *f, const uint8_t *at, const char *what)
{
    if (f->wt == WT_LEN)
        return true;
    fail(d, at, -EBADMSG, what);
    return false;
}

static struct svc_slice slice_of(const struct cur *c)
{
    return (struct svc_slice){c->p, (uint32_t)(c->end - c->p)};
}

/* A name-like string: at most TB_GRAPH_NAME_MAX bytes. */
static bool name_ok(struct dec *d, const struct field *f, const char *what)
{
    if (f->sub.end - f->sub.p <= TB_GRAPH_NAME_MAX)
        return true;
    fail(d, f->sub.p, -E2BIG, what);
    return false;
}

/* Grows *arr (of *cap elements of size es) to hold one more; false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t n, size_t es)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, nc * es);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

struct gbuild {
    struct dec d;
    struct svc_graph *g;
    size_t cap_nodes, cap_inputs, cap_attrs, cap_funcs;
    uint16_t prefix; /* of the graph being read (merged graphs) */
};

static void oom(struct gbuild *b)
{
    if (!b->d.err) {
        b->d.err = -ENOMEM;
        b->d.why = "out of memory";
    }
}

/* NodeDef (or a FunctionDef's node_def: the same message). */
static void read_node(struct gbuild *b, struct cur c)
{
    struct svc_graph *g = b->g;
    g->nodes_total++;
    bool keep = g->n_nodes < TB_GRAPH_NODES_MAX;
    if (!keep)
        g->truncated = true;
    struct svc_graph_node n = {
        .input0 = (uint32_t)g->n_inputs, .attr0 = (uint32_t)g->n_attrs, .prefix = b->prefix};
    struct field f;
    int r;
    const uint8_t *at = c.p;
    while ((r = next(&b->d, &c, &f, "a NodeDef")) > 0) {
        switch (f.fn) {
        case 1:
        case 2:
        case 4:
            if (!want_len(&b->d, &f, at, "a NodeDef's name, op or device") ||
                !name_ok(&b->d, &f, "a node's name, op or device is over the length limit"))
                return;
            if (f.fn == 1)
                n.name = slice_of(&f.sub);
            else if (f.fn == 2)
                n.op = slice_of(&f.sub);
            else
                n.device = slice_of(&f.sub);
            break;
        case 3:
            if (!want_len(&b->d, &f, at, "a NodeDef's input") ||
                !name_ok(&b->d, &f, "a node's input is over the length limit"))
                return;
            g->inputs_total++;
            if (!keep)
                break;
            if (g->n_inputs >= TB_GRAPH_INPUTS_MAX) {
                g->truncated = true;
                break;
            }
            if (!grow((void **)&g->inputs, &b->cap_inputs, g->n_inputs, sizeof(*g->inputs))) {
                oom(b);
                return;
            }
            g->inputs[g->n_inputs++] = slice_of(&f.sub);
            n.n_inputs++;
            break;
        case 5: { /* map entry: key = 1, value = 2 */
            if (!want_len(&b->d, &f, at, "a NodeDef's attr"))
                return;
            struct svc_graph_attr a = {{NULL, 0}, {NULL, 0}};
            struct cur e = f.sub;
            struct field ef;
            int er;
            const uint8_t *eat = e.p;
            while ((er = next(&b->d, &e, &ef, "an attr map entry")) > 0) {
                if (ef.fn == 1) {
                    if (!want_len(&b->d, &ef, eat, "an attr's name") ||
                        !name_ok(&b->d, &ef, "an attr's name is over the length limit"))
                        return;
                    a.key = slice_of(&ef.sub);
                } else if (ef.fn == 2) {
                    if (!want_len(&b->d, &ef, eat, "an attr's value"))
                        return;
                    a.value = slice_of(&ef.sub);
                }
                eat = e.p;
            }
            if (er < 0)
                return;
            if (!keep)
                break;
            if (g->n_attrs >= TB_GRAPH_ATTRS_MAX || n.n_attrs >= TB_GRAPH_NODE_ATTRS_MAX) {
                g->truncated = true;
                break;
            }
            if (!grow((void **)&g->attrs, &b->cap_attrs, g->n_attrs, sizeof(*g->attrs))) {
                oom(b);
                return;
            }
            /* a map key written twice: the last one counts, as in protobuf */
            size_t k = n.attr0;
            while (k < g->n_attrs && (g->attrs[k].key.n != a.key.n ||
                                      (a.key.n && memcmp(g->attrs[k].key.p, a.key.p, a.key.n))))
                k++;
            g->attrs[k] = a;
            if (k == g->n_attrs) {
                g->n_attrs++;
                n.n_attrs++;
            }
            break;
        }
        default:
            break; /* experimental_debug_info, experimental_type, unknown fields */
        }
        at = c.p;
    }
    if (r < 0 || !keep)
        return;
    if (!grow((void **)&g->nodes, &b->cap_nodes, g->n_nodes, sizeof(*g->nodes))) {
        oom(b);
        return;
    }
    g->nodes[g->n_nodes++] = n;
}

/* The name of a FunctionDef (its signature's) and its node count. */
static void read_function(struct gbuild *b, struct cur c)
{
    struct svc_graph *g = b->g;
    g->funcs_total++;
    struct svc_graph_func fn = {.def = slice_of(&c), .prefix = b->prefix};
    struct field f;
    int r;
    const uint8_t *at = c.p;
    while ((r = next(&b->d, &c, &f, "a FunctionDef")) > 0) {
        if (f.fn == 1) {
            if (!want_len(&b->d, &f, at, "a FunctionDef's signature"))
                return;
            struct cur s = f.sub;
            struct field sf;
            int sr;
            const uint8_t *sat = s.p;
            while ((sr = next(&b->d, &s, &sf, "an OpDef")) > 0) {
                if (sf.fn == 1) {
                    if (!want_len(&b->d, &sf, sat, "an OpDef's name") ||
                        !name_ok(&b->d, &sf, "a function's name is over the length limit"))
                        return;
                    fn.name = slice_of(&sf.sub);
                }
                sat = s.p;
            }
            if (sr < 0)
                return;
        } else if (f.fn == 3) {
            if (!want_len(&b->d, &f, at, "a FunctionDef's node_def"))
                return;
            fn.n_nodes++;
        }
        at = c.p;
    }
    if (r < 0)
        return;
    if (g->n_funcs >= TB_GRAPH_FUNCS_MAX) {
        g->truncated = true;
        return;
    }
    if (!grow((void **)&g->funcs, &b->cap_funcs, g->n_funcs, sizeof(*g->funcs))) {
        oom(b);
        return;
    }
    g->funcs[g->n_funcs++] = fn;
}

static void read_graph(struct gbuild *b, struct cur c)
{
    struct field f;
    int r;
    const uint8_t *at = c.p;
    b->g->n_graphs++;
    while ((r = next(&b->d, &c, &f, "a GraphDef")) > 0) {
        if (f.fn == 1) {
            if (!want_len(&b->d, &f, at, "a GraphDef's node"))
                return;
            read_node(b, f.sub);
        } else if (f.fn == 2) {
            if (!want_len(&b->d, &f, at, "a GraphDef's library"))
                return;
            struct cur l = f.sub;
            struct field lf;
            int lr;
            const uint8_t *lat = l.p;
            while ((lr = next(&b->d, &l, &lf, "a FunctionDefLibrary")) > 0) {
                if (lf.fn == 1) {
                    if (!want_len(&b->d, &lf, lat, "a FunctionDef"))
                        return;
                    read_function(b, lf.sub);
                }
                lat = l.p;
            }
        } else if (f.fn == 4) {
            if (!want_len(&b->d, &f, at, "a GraphDef's versions"))
                return;
            struct cur v = f.sub;
            struct field vf;
            while (next(&b->d, &v, &vf, "a VersionDef") > 0)
                if (vf.fn == 1 && vf.wt == WT_VARINT && b->g->n_graphs == 1)
                    b->g->producer = (int64_t)(int32_t)vf.v;
        }
        at = c.p;
    }
}

/* A RunMetadata's graphs: function_graphs' pre_optimization_graph, else partition_graphs. */
static void read_run_metadata(struct gbuild *b, struct cur c)
{
    struct cur graphs[TB_GRAPH_MERGE_MAX];
    size_t n_pre = 0, n_part = 0;
    struct cur part[TB_GRAPH_MERGE_MAX];
    struct field f;
    int r;
    const uint8_t *at = c.p;
    while ((r = next(&b->d, &c, &f, "a RunMetadata")) > 0) {
        if (f.fn == 3 || f.fn == 4) {
            if (!want_len(&b->d, &f, at, "a RunMetadata's graphs"))
                return;
        }
        if (f.fn == 3) {
            if (n_part == TB_GRAPH_MERGE_MAX) {
                fail(&b->d, at, -E2BIG, "a RunMetadata holds more graphs than the limit");
                return;
            }
            part[n_part++] = f.sub;
        } else if (f.fn == 4) {
            struct cur fg = f.sub;
            struct field gf;
            int gr;
            const uint8_t *gat = fg.p;
            while ((gr = next(&b->d, &fg, &gf, "a FunctionGraphs")) > 0) {
                if (gf.fn == 2) {
                    if (!want_len(&b->d, &gf, gat, "a pre_optimization_graph"))
                        return;
                    if (n_pre == TB_GRAPH_MERGE_MAX) {
                        fail(&b->d, gat, -E2BIG, "a RunMetadata holds more graphs than the limit");
                        return;
                    }
                    graphs[n_pre++] = gf.sub;
                }
                gat = fg.p;
            }
            if (gr < 0)
                return;
        }
        at = c.p;
    }
    if (r < 0)
        return;
    struct cur *list = n_pre ? graphs : part;
    size_t n = n_pre ? n_pre : n_part;
    for (size_t i = 0; i < n && !b->d.err; i++) {
        b->prefix = n > 1 ? (uint16_t)(i + 1) : 0;
        read_graph(b, list[i]);
    }
    b->prefix = 0;
}

static int finish(struct gbuild *b)
{
    b->g->why = b->d.why;
    b->g->err_offset = b->d.off;
    return b->d.err;
}

int svc_graph_decode(struct svc_graph *g, enum svc_graph_source source, const uint8_t *data,
                     size_t len)
{
    *g = (struct svc_graph){0};
    struct gbuild b = {.d = {.base = data}, .g = g};
    struct cur c = {data, data + len};
    if (source == SVC_GRAPH_GRAPH_DEF) {
        read_graph(&b, c);
    } else if (source == SVC_GRAPH_META_GRAPH_DEF) {
        struct field f;
        int r;
        const uint8_t *at = c.p;
        bool seen = false;
        struct cur gd = {data, data};
        while ((r = next(&b.d, &c, &f, "a MetaGraphDef")) > 0) {
            if (f.fn == 2) {
                if (!want_len(&b.d, &f, at, "a MetaGraphDef's graph_def"))
                    break;
                gd = f.sub; /* a singular message written twice merges in protobuf; the last
                               one is what writers mean, and all TensorFlow writes once */
                seen = true;
            }
            at = c.p;
        }
        if (!b.d.err && seen)
            read_graph(&b, gd);
    } else {
        read_run_metadata(&b, c);
    }
    return finish(&b);
}

int svc_graph_decode_function(struct svc_graph *g, const struct svc_graph *lib, const char *name)
{
    *g = (struct svc_graph){0};
    size_t nl = strlen(name);
    const struct svc_graph_func *fn = NULL;
    for (size_t i = 0; i < lib->n_funcs && !fn; i++) {
        const struct svc_graph_func *f = &lib->funcs[i];
        char pre[16] = "";
        if (f->prefix)
            snprintf(pre, sizeof(pre), "graph_%u_", (unsigned)f->prefix);
        size_t pl = strlen(pre);
        if (nl == pl + f->name.n && !memcmp(name, pre, pl) &&
            (!f->name.n || !memcmp(name + pl, f->name.p, f->name.n)))
            fn = f;
    }
    if (!fn)
        return -ENOENT;
    struct gbuild b = {.d = {.base = fn->def.p}, .g = g};
    struct cur c = {fn->def.p, fn->def.p + fn->def.n};
    struct field f;
    int r;
    const uint8_t *at = c.p;
    g->n_graphs = 1;
    while ((r = next(&b.d, &c, &f, "a FunctionDef")) > 0) {
        if (f.fn == 1 && want_len(&b.d, &f, at, "a FunctionDef's signature")) {
            /* input_arg = 2, each an ArgDef whose name = 1 becomes an "_Arg" node */
            struct cur s = f.sub;
            struct field sf;
            const uint8_t *sat = s.p;
            while (next(&b.d, &s, &sf, "an OpDef") > 0) {
                if (sf.fn == 2 && want_len(&b.d, &sf, sat, "an ArgDef")) {
                    struct svc_graph_node n = {.op = {(const uint8_t *)"_Arg", 4},
                                               .input0 = (uint32_t)g->n_inputs,
                                               .attr0 = (uint32_t)g->n_attrs,
                                               .synthetic = true};
                    struct cur a = sf.sub;
                    struct field af;
                    const uint8_t *aat = a.p;
                    while (next(&b.d, &a, &af, "an ArgDef") > 0) {
                        if (af.fn == 1 && want_len(&b.d, &af, aat, "an ArgDef's name") &&
                            name_ok(&b.d, &af, "an argument's name is over the length limit"))
                            n.name = slice_of(&af.sub);
                        aat = a.p;
                    }
                    g->nodes_total++;
                    if (b.d.err)
                        break;
                    if (g->n_nodes >= TB_GRAPH_NODES_MAX) {
                        g->truncated = true;
                    } else if (!grow((void **)&g->nodes, &b.cap_nodes, g->n_nodes,
                                     sizeof(*g->nodes))) {
                        oom(&b);
                    } else {
                        g->nodes[g->n_nodes++] = n;
                    }
                }
                sat = s.p;
            }
        } else if (f.fn == 3 && want_len(&b.d, &f, at, "a FunctionDef's node_def")) {
            read_node(&b, f.sub);
        }
        at = c.p;
    }
    return finish(&b);
}

void svc_graph_done(struct svc_graph *g)
{
    if (!g)
        return;
    free(g->nodes);
    free(g->inputs);
    free(g->attrs);
    free(g->funcs);
    *g = (struct svc_graph){0};
}

/* --- step stats --- */

static int64_t as_int64(uint64_t v)
{
    return (int64_t)v;
}

static void read_exec_stats(struct dec *d, struct cur c, struct svc_graph_stat *s)
{
    struct field f;
    const uint8_t *at = c.p;
    while (next(d, &c, &f, "a NodeExecStats") > 0) {
        if (f.fn == 1 && want_len(d, &f, at, "a NodeExecStats' node_name") &&
            name_ok(d, &f, "a node name in step stats is over the length limit"))
            s->name = slice_of(&f.sub);
        else if (f.fn == 2 && f.wt == WT_VARINT)
            s->start_micros = as_int64(f.v);
        else if (f.fn == 5 && f.wt == WT_VARINT)
            s->micros = as_int64(f.v);
        else if (f.fn == 6 && want_len(d, &f, at, "an AllocatorMemoryUsed")) {
            struct cur m = f.sub;
            struct field mf;
            while (next(d, &m, &mf, "an AllocatorMemoryUsed") > 0)
                if (mf.fn == 2 && mf.wt == WT_VARINT && as_int64(mf.v) > 0)
                    s->bytes += mf.v; /* TensorBoard ignores negative allocations */
        }
        at = c.p;
    }
}

int svc_graph_stats_decode(struct svc_graph_stats *st, const uint8_t *data, size_t len)
{
    *st = (struct svc_graph_stats){0};
    struct dec d = {.base = data};
    struct cur c = {data, data + len};
    size_t cap = 0;
    struct field f;
    const uint8_t *at = c.p;
    while (next(&d, &c, &f, "a RunMetadata") > 0) {
        if (f.fn == 1 && want_len(&d, &f, at, "a RunMetadata's step_stats")) {
            struct cur ss = f.sub;
            struct field sf;
            const uint8_t *sat = ss.p;
            while (next(&d, &ss, &sf, "a StepStats") > 0) {
                if (sf.fn == 1 && want_len(&d, &sf, sat, "a DeviceStepStats")) {
                    struct cur ds = sf.sub;
                    struct field df;
                    struct svc_slice device = {NULL, 0};
                    const uint8_t *dat = ds.p;
                    size_t first = st->n;
                    while (next(&d, &ds, &df, "a DeviceStepStats") > 0) {
                        if (df.fn == 1 && want_len(&d, &df, dat, "a device name") &&
                            name_ok(&d, &df, "a device name in step stats is over the limit")) {
                            device = slice_of(&df.sub);
                        } else if (df.fn == 2 && want_len(&d, &df, dat, "a NodeExecStats")) {
                            st->total++;
                            struct svc_graph_stat s = {{NULL, 0}, {NULL, 0}, 0, 0, 0};
                            read_exec_stats(&d, df.sub, &s);
                            if (st->n >= TB_GRAPH_NODES_MAX || d.err) {
                                /* counted, not kept */
                            } else if (!grow((void **)&st->s, &cap, st->n, sizeof(*st->s))) {
                                d.err = -ENOMEM;
                                d.why = "out of memory";
                            } else {
                                st->s[st->n++] = s;
                            }
                        }
                        dat = ds.p;
                    }
                    /* the device may come after the node stats */
                    for (size_t k = first; k < st->n; k++)
                        st->s[k].device = device;
                }
                sat = ss.p;
            }
        }
        at = c.p;
    }
    st->why = d.why;
    st->err_offset = d.off;
    return d.err;
}

void svc_graph_stats_done(struct svc_graph_stats *st)
{
    if (!st)
        return;
    free(st->s);
    *st = (struct svc_graph_stats){0};
}

/* --- JSON --- */

/* A DataType's name; reference types (TensorFlow's dtype + 100) as "DT_FLOAT_REF". */
static void json_dtype(struct tb_json *j, uint64_t v)
{
    char buf[64];
    if (v > 100 && v < 200) {
        snprintf(buf, sizeof(buf), "%s_REF", tb_dtype_name((int)(v - 100)));
        tb_json_str(j, buf);
    } else if (v < 100) {
        tb_json_str(j, tb_dtype_name((int)v));
    } else {
        tb_json_uint(j, v);
    }
}

/* A TensorShapeProto as [dims] (-1 unknown) or null (unknown rank, or a rank over
 * TB_GRAPH_RANK_MAX); false if invalid. */
static bool json_shape(struct dec *d, struct tb_json *j, struct cur c)
{
    bool unknown_rank = false;
    size_t rank = 0;
    struct cur scan = c; /* two passes: the flag may follow the dims */
    struct field f;
    while (next(d, &scan, &f, "a TensorShapeProto") > 0) {
        if (f.fn == 3 && f.wt == WT_VARINT)
            unknown_rank = f.v != 0;
        else if (f.fn == 2)
            rank++;
    }
    if (d->err)
        return false;
    if (unknown_rank || rank > TB_GRAPH_RANK_MAX) {
        tb_json_null(j);
        return true;
    }
    tb_json_arr_open(j);
    const uint8_t *at = c.p;
    while (next(d, &c, &f, "a TensorShapeProto") > 0) {
        if (f.fn == 2 && want_len(d, &f, at, "a TensorShapeProto's dim")) {
            int64_t size = 0;
            struct cur dc = f.sub;
            struct field df;
            while (next(d, &dc, &df, "a Dim") > 0)
                if (df.fn == 1 && df.wt == WT_VARINT)
                    size = (int64_t)df.v;
            tb_json_int(j, size);
        }
        at = c.p;
    }
    tb_json_arr_close(j);
    return !d->err;
}

/* Elements of a repeated scalar field (packed or not) of wire type wt, each written by put. */
typedef void (*put_fn)(struct tb_json *j, uint64_t v);

static void put_int(struct tb_json *j, uint64_t v)
{
    tb_json_int(j, (int64_t)v);
}

static void put_int32(struct tb_json *j, uint64_t v)
{
    tb_json_int(j, (int32_t)v);
}

static void put_float(struct tb_json *j, uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float x;
    memcpy(&x, &u, 4);
    tb_json_double(j, x);
}

static void put_double(struct tb_json *j, uint64_t v)
{
    double x;
    memcpy(&x, &v, 8);
    tb_json_double(j, x);
}

static void put_bool(struct tb_json *j, uint64_t v)
{
    tb_json_bool(j, v != 0);
}

static void put_dtype(struct tb_json *j, uint64_t v)
{
    json_dtype(j, v);
}

/* One element (unpacked) or a packed run, counting into *count; values past max are skipped. */
static void put_elements(struct dec *d, struct tb_json *j, const struct field *f, int wt,
                         put_fn put, size_t *count, size_t max)
{
    if (f->wt == wt) {
        if ((*count)++ < max)
            put(j, f->v);
        return;
    }
    if (f->wt != WT_LEN) {
        fail(d, f->sub.p ? f->sub.p : d->base, -EBADMSG, "a repeated field of the wrong type");
        return;
    }
    struct cur c = f->sub;
    while (c.p < c.end) {
        uint64_t v = 0;
        if (wt == WT_VARINT) {
            if (!rd_varint(&c, &v))
                break;
        } else {
            size_t w = wt == WT_I64 ? 8 : 4;
            if ((size_t)(c.end - c.p) < w)
                break;
            uint32_t u32 = 0;
            if (w == 8)
                memcpy(&v, c.p, 8);
            else
                memcpy(&u32, c.p, 4), v = u32;
            c.p += w;
        }
        if ((*count)++ < max)
            put(j, v);
    }
    if (c.p != c.end)
        fail(d, c.p, -EBADMSG, "a packed repeated field");
}

/* A TensorProto: dtype, shape and (up to TB_GRAPH_VALUES_MAX) values. */
static bool json_tensor(struct dec *d, struct tb_json *j, struct cur c)
{
    uint64_t dtype = 0;
    struct cur shape = {NULL, NULL}, content = {NULL, NULL};
    struct field f;
    struct cur scan = c;
    const uint8_t *at = scan.p;
    while (next(d, &scan, &f, "a TensorProto") > 0) {
        if (f.fn == 1 && f.wt == WT_VARINT)
            dtype = f.v;
        else if (f.fn == 2 && want_len(d, &f, at, "a TensorProto's shape"))
            shape = f.sub;
        else if (f.fn == 4 && want_len(d, &f, at, "a TensorProto's tensor_content"))
            content = f.sub;
        at = scan.p;
    }
    if (d->err)
        return false;
    tb_json_obj_open(j);
    tb_json_key(j, "dtype");
    json_dtype(j, dtype);
    tb_json_key(j, "shape");
    if (shape.p) {
        if (!json_shape(d, j, shape))
            return false;
    } else {
        tb_json_arr_open(j);
        tb_json_arr_close(j);
    }
    tb_json_key(j, "values");
    tb_json_arr_open(j);
    size_t count = 0;
    if (content.p) {
        size_t es = tb_dtype_size((int)dtype);
        size_t n = es ? (size_t)(content.end - content.p) / es : 0;
        for (size_t i = 0; i < n && count < TB_GRAPH_VALUES_MAX; i++, count++) {
            double v;
            if (tb_dtype_to_double((int)dtype, content.p + i * es, &v))
                tb_json_double(j, v);
            else
                tb_json_null(j);
        }
        count = n;
    } else {
        struct cur vc = c;
        at = vc.p;
        while (next(d, &vc, &f, "a TensorProto") > 0) {
            switch (f.fn) {
            case 5:
                put_elements(d, j, &f, WT_I32, put_float, &count, TB_GRAPH_VALUES_MAX);
                break;
            case 6:
                put_elements(d, j, &f, WT_I64, put_double, &count, TB_GRAPH_VALUES_MAX);
                break;
            case 7:
                put_elements(d, j, &f, WT_VARINT, put_int32, &count, TB_GRAPH_VALUES_MAX);
                break;
            case 10:
                put_elements(d, j, &f, WT_VARINT, put_int, &count, TB_GRAPH_VALUES_MAX);
                break;
            case 11:
                put_elements(d, j, &f, WT_VARINT, put_bool, &count, TB_GRAPH_VALUES_MAX);
                break;
            case 8:
                if (!want_len(d, &f, at, "a TensorProto's string_val"))
                    break;
                if (count++ < TB_GRAPH_VALUES_MAX)
                    tb_json_strn(j, f.sub.p, (size_t)(f.sub.end - f.sub.p));
                break;
            default:
                break;
            }
            at = vc.p;
        }
    }
    tb_json_arr_close(j);
    if (count > TB_GRAPH_VALUES_MAX) {
        tb_json_key(j, "values_total");
        tb_json_uint(j, count);
    }
    tb_json_obj_close(j);
    return !d->err;
}

static bool json_attr_value(struct dec *d, struct tb_json *j, struct cur c, int depth);

/* A NameAttrList: {"name", "attr": {...}}. */
static bool json_func(struct dec *d, struct tb_json *j, struct cur c, int depth)
{
    tb_json_obj_open(j);
    struct field f;
    struct cur scan = c;
    const uint8_t *at = scan.p;
    while (next(d, &scan, &f, "a NameAttrList") > 0) {
        if (f.fn == 1 && want_len(d, &f, at, "a NameAttrList's name")) {
            tb_json_key(j, "name");
            tb_json_strn(j, f.sub.p, (size_t)(f.sub.end - f.sub.p));
        }
        at = scan.p;
    }
    tb_json_key(j, "attr");
    tb_json_obj_open(j);
    scan = c;
    at = scan.p;
    while (!d->err && next(d, &scan, &f, "a NameAttrList") > 0) {
        if (f.fn == 2 && want_len(d, &f, at, "a NameAttrList's attr")) {
            struct cur e = f.sub, key = {NULL, NULL}, val = {NULL, NULL};
            struct field ef;
            const uint8_t *eat = e.p;
            while (next(d, &e, &ef, "an attr map entry") > 0) {
                if (ef.fn == 1 && want_len(d, &ef, eat, "an attr's name"))
                    key = ef.sub;
                else if (ef.fn == 2 && want_len(d, &ef, eat, "an attr's value"))
                    val = ef.sub;
                eat = e.p;
            }
            if (d->err)
                break;
            if (key.p)
                tb_json_keyn(j, key.p, (size_t)(key.end - key.p));
            else
                tb_json_key(j, "");
            if (!json_attr_value(d, j, val.p ? val : (struct cur){c.p, c.p}, depth + 1))
                break;
        }
        at = scan.p;
    }
    tb_json_obj_close(j);
    tb_json_obj_close(j);
    return !d->err;
}

/* A ListValue: {"s": [...], "i": [...], ...}, only the members it has. */
static bool json_list(struct dec *d, struct tb_json *j, struct cur c, int depth)
{
    static const char *const names[10] = {NULL, NULL,   "s",     "i",      "f",
                                          "b",  "type", "shape", "tensor", "func"};
    tb_json_obj_open(j);
    for (uint32_t fn = 2; fn <= 9 && !d->err; fn++) {
        struct cur scan = c;
        struct field f;
        bool open = false;
        size_t count = 0;
        const uint8_t *at = scan.p;
        while (next(d, &scan, &f, "a ListValue") > 0) {
            if (f.fn == fn) {
                if (!open) {
                    tb_json_key(j, names[fn]);
                    tb_json_arr_open(j);
                    open = true;
                }
                switch (fn) {
                case 2:
                    if (want_len(d, &f, at, "a ListValue's s"))
                        tb_json_strn(j, f.sub.p, (size_t)(f.sub.end - f.sub.p));
                    break;
                case 3:
                    put_elements(d, j, &f, WT_VARINT, put_int, &count, SIZE_MAX);
                    break;
                case 4:
                    put_elements(d, j, &f, WT_I32, put_float, &count, SIZE_MAX);
                    break;
                case 5:
                    put_elements(d, j, &f, WT_VARINT, put_bool, &count, SIZE_MAX);
                    break;
                case 6:
                    put_elements(d, j, &f, WT_VARINT, put_dtype, &count, SIZE_MAX);
                    break;
                case 7:
                    if (want_len(d, &f, at, "a ListValue's shape"))
                        json_shape(d, j, f.sub);
                    break;
                case 8:
                    if (want_len(d, &f, at, "a ListValue's tensor"))
                        json_tensor(d, j, f.sub);
                    break;
                case 9:
                    if (want_len(d, &f, at, "a ListValue's func")) {
                        if (depth >= TB_GRAPH_ATTR_DEPTH_MAX) {
                            tb_json_obj_open(j);
                            tb_json_key(j, "too_deep");
                            tb_json_bool(j, true);
                            tb_json_obj_close(j);
                        } else {
                            json_func(d, j, f.sub, depth);
                        }
                    }
                    break;
                }
            }
            at = scan.p;
        }
        if (open)
            tb_json_arr_close(j);
    }
    tb_json_obj_close(j);
    return !d->err;
}

/* An AttrValue as its oneof: {"s": ...}, {"list": {...}}, ...; {} when none is set. */
static bool json_attr_value(struct dec *d, struct tb_json *j, struct cur c, int depth)
{
    /* the oneof's last field on the wire is the one set */
    struct field f, last = {0};
    struct cur scan = c;
    bool any = false;
    while (next(d, &scan, &f, "an AttrValue") > 0) {
        if (f.fn >= 1 && f.fn <= 10) {
            last = f;
            any = true;
        }
    }
    if (d->err)
        return false;
    tb_json_obj_open(j);
    if (any) {
        static const char *const names[11] = {NULL,   "list",  "s",      "i",           "f",   "b",
                                              "type", "shape", "tensor", "placeholder", "func"};
        static const int wts[11] = {0,         WT_LEN, WT_LEN, WT_VARINT, WT_I32, WT_VARINT,
                                    WT_VARINT, WT_LEN, WT_LEN, WT_LEN,    WT_LEN};
        if (last.wt != wts[last.fn]) {
            fail(d, c.p, -EBADMSG, "an AttrValue field of the wrong type");
            return false;
        }
        tb_json_key(j, names[last.fn]);
        size_t n = last.sub.p ? (size_t)(last.sub.end - last.sub.p) : 0;
        switch (last.fn) {
        case 1:
            json_list(d, j, last.sub, depth);
            break;
        case 2:
        case 9:
            tb_json_strn(j, last.sub.p, n);
            break;
        case 3:
            tb_json_int(j, (int64_t)last.v);
            break;
        case 4:
            put_float(j, last.v);
            break;
        case 5:
            tb_json_bool(j, last.v != 0);
            break;
        case 6:
            json_dtype(j, last.v);
            break;
        case 7:
            json_shape(d, j, last.sub);
            break;
        case 8:
            json_tensor(d, j, last.sub);
            break;
        case 10:
            if (depth >= TB_GRAPH_ATTR_DEPTH_MAX) {
                tb_json_obj_open(j);
                tb_json_key(j, "too_deep");
                tb_json_bool(j, true);
                tb_json_obj_close(j);
            } else {
                json_func(d, j, last.sub, depth);
            }
            break;
        }
    }
    tb_json_obj_close(j);
    return !d->err;
}

static bool slice_is(struct svc_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && !memcmp(s.p, lit, n);
}

/* "graph_k/" for a prefix k, "" for none. */
static const char *prefix_str(uint16_t k, char *buf, size_t len)
{
    if (!k)
        return "";
    snprintf(buf, len, "graph_%u/", (unsigned)k);
    return buf;
}

/* A node's name as it is written (prefix included) into buf, NUL-terminated; false when it
 * holds a NUL (it can then match nothing). */
static bool full_name(struct tb_buf *buf, uint16_t prefix, struct svc_slice s)
{
    char pre[16];
    tb_buf_reset(buf);
    tb_buf_adds(buf, prefix_str(prefix, pre, sizeof(pre)));
    tb_buf_add(buf, s.p, s.n);
    tb_buf_addc(buf, 0);
    return !buf->err && !(s.n && memchr(s.p, 0, s.n));
}

/* The node an input names: without "^" and without ":port" (or a function's ":output:0"). */
static struct svc_slice input_node(struct svc_slice in)
{
    struct svc_slice s = in;
    if (s.n && s.p[0] == '^')
        s.p++, s.n--;
    const uint8_t *colon = s.n ? memchr(s.p, ':', s.n) : NULL;
    if (colon)
        s.n = (uint32_t)(colon - s.p);
    return s;
}

/* One attribute value, into a scratch buffer first: one that is not a valid AttrValue
 * becomes {"invalid": true} instead of half a value. */
static void json_one_attr(struct tb_json *j, struct svc_slice v, struct tb_buf *scratch)
{
    struct dec d = {.base = v.p};
    tb_buf_reset(scratch);
    struct tb_json sj;
    tb_json_init(&sj, scratch);
    bool ok = json_attr_value(&d, &sj, (struct cur){v.p, v.p + v.n}, 0);
    tb_buf_addc(scratch, 0);
    if (ok && !scratch->err) {
        tb_json_raw(j, (const char *)scratch->data);
    } else {
        tb_json_obj_open(j);
        tb_json_key(j, "invalid");
        tb_json_bool(j, true);
        tb_json_obj_close(j);
    }
}

/* "_output_shapes" (a list of shapes) as the node's "output_shapes". */
static void json_output_shapes(struct tb_json *j, struct svc_slice v, struct tb_buf *scratch)
{
    struct dec d = {.base = v.p};
    tb_buf_reset(scratch);
    struct tb_json sj;
    tb_json_init(&sj, scratch);
    tb_json_arr_open(&sj);
    struct cur c = {v.p, v.p + v.n};
    struct field f;
    size_t shapes = 0;
    const uint8_t *at = c.p;
    while (next(&d, &c, &f, "an AttrValue") > 0) {
        if (f.fn != 1 || !want_len(&d, &f, at, "an AttrValue's list"))
            continue;
        struct cur l = f.sub;
        struct field lf;
        const uint8_t *lat = l.p;
        while (next(&d, &l, &lf, "a ListValue") > 0) {
            if (lf.fn == 7 && want_len(&d, &lf, lat, "a ListValue's shape") &&
                shapes++ < TB_GRAPH_SHAPES_MAX)
                json_shape(&d, &sj, lf.sub);
            lat = l.p;
        }
        at = c.p;
    }
    tb_json_arr_close(&sj);
    tb_buf_addc(scratch, 0);
    if (!d.err && !scratch->err) {
        tb_json_key(j, "output_shapes");
        tb_json_raw(j, (const char *)scratch->data);
    }
}

int svc_graph_json(const struct svc_graph *g, const struct svc_graph_stats *stats,
                   struct tb_json *j)
{
    int err = 0;
    struct tb_map names, by_stat;
    tb_map_init(&names);
    tb_map_init(&by_stat);
    struct tb_buf nb, scratch;
    tb_buf_init(&nb, 0);
    tb_buf_init(&scratch, 1u << 20);
    /* 1-based indexes as map values */
    uint64_t duplicates = 0;
    for (size_t i = 0; i < g->n_nodes && !err; i++) {
        if (!full_name(&nb, g->nodes[i].prefix, g->nodes[i].name))
            continue;
        if (tb_map_get(&names, (const char *)nb.data))
            duplicates++;
        else if (tb_map_put(&names, (const char *)nb.data, (void *)(uintptr_t)(i + 1)) < 0)
            err = -ENOMEM;
    }
    for (size_t i = 0; stats && i < stats->n && !err; i++) {
        if (!full_name(&nb, 0, stats->s[i].name))
            continue;
        if (!tb_map_get(&by_stat, (const char *)nb.data) &&
            tb_map_put(&by_stat, (const char *)nb.data, (void *)(uintptr_t)(i + 1)) < 0)
            err = -ENOMEM;
    }
    if (err)
        goto out;
    uint64_t edges = 0, dangling = 0, matched = 0;
    char pre[16];
    tb_json_key(j, "nodes");
    tb_json_arr_open(j);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const struct svc_graph_node *n = &g->nodes[i];
        const char *p = prefix_str(n->prefix, pre, sizeof(pre));
        tb_json_obj_open(j);
        tb_json_key(j, "name");
        full_name(&nb, n->prefix, n->name);
        tb_json_strn(j, nb.data, nb.len ? nb.len - 1 : 0);
        tb_json_key(j, "op");
        tb_json_strn(j, n->op.p, n->op.n);
        tb_json_key(j, "inputs");
        tb_json_arr_open(j);
        for (uint32_t k = 0; k < n->n_inputs; k++) {
            struct svc_slice in = g->inputs[n->input0 + k];
            bool ctl = in.n && in.p[0] == '^';
            tb_buf_reset(&nb);
            if (ctl)
                tb_buf_addc(&nb, '^');
            tb_buf_adds(&nb, p);
            tb_buf_add(&nb, in.p + ctl, in.n - ctl);
            tb_json_strn(j, nb.data, nb.len);
            edges++;
            if (!full_name(&nb, n->prefix, input_node(in)) ||
                !tb_map_get(&names, (const char *)nb.data))
                dangling++;
        }
        tb_json_arr_close(j);
        tb_json_key(j, "device");
        tb_json_strn(j, n->device.p, n->device.n);
        tb_json_key(j, "attr");
        tb_json_obj_open(j);
        const struct svc_graph_attr *shapes = NULL;
        size_t large = 0;
        for (uint32_t k = 0; k < n->n_attrs; k++) {
            const struct svc_graph_attr *a = &g->attrs[n->attr0 + k];
            if (slice_is(a->key, "_output_shapes")) {
                shapes = a;
                continue;
            }
            if (a->value.n > TB_GRAPH_ATTR_BYTES) {
                large++;
                continue;
            }
            tb_json_keyn(j, a->key.p, a->key.n);
            json_one_attr(j, a->value, &scratch);
        }
        tb_json_obj_close(j);
        if (large) {
            tb_json_key(j, "too_large_attrs");
            tb_json_arr_open(j);
            for (uint32_t k = 0; k < n->n_attrs; k++) {
                const struct svc_graph_attr *a = &g->attrs[n->attr0 + k];
                if (a->value.n > TB_GRAPH_ATTR_BYTES && !slice_is(a->key, "_output_shapes"))
                    tb_json_strn(j, a->key.p, a->key.n);
            }
            tb_json_arr_close(j);
        }
        if (shapes)
            json_output_shapes(j, shapes->value, &scratch);
        if (stats && full_name(&nb, n->prefix, n->name)) {
            uintptr_t si = (uintptr_t)tb_map_get(&by_stat, (const char *)nb.data);
            if (si) {
                const struct svc_graph_stat *s = &stats->s[si - 1];
                matched++;
                tb_json_key(j, "stats");
                tb_json_obj_open(j);
                tb_json_key(j, "device");
                tb_json_strn(j, s->device.p, s->device.n);
                tb_json_key(j, "start_micros");
                tb_json_int(j, s->start_micros);
                tb_json_key(j, "micros");
                tb_json_int(j, s->micros);
                tb_json_key(j, "bytes");
                tb_json_uint(j, s->bytes);
                tb_json_obj_close(j);
            }
        }
        tb_json_obj_close(j);
    }
    tb_json_arr_close(j);
    tb_json_key(j, "nodes_total");
    tb_json_uint(j, g->nodes_total);
    tb_json_key(j, "edges");
    tb_json_uint(j, edges);
    tb_json_key(j, "dangling_inputs");
    tb_json_uint(j, dangling);
    tb_json_key(j, "duplicate_names");
    tb_json_uint(j, duplicates);
    tb_json_key(j, "truncated");
    tb_json_bool(j, g->truncated);
    tb_json_key(j, "functions");
    tb_json_arr_open(j);
    for (size_t i = 0; i < g->n_funcs; i++) {
        tb_json_obj_open(j);
        tb_json_key(j, "name");
        tb_buf_reset(&nb);
        if (g->funcs[i].prefix)
            tb_buf_addf(&nb, "graph_%u_", (unsigned)g->funcs[i].prefix);
        tb_buf_add(&nb, g->funcs[i].name.p, g->funcs[i].name.n);
        tb_json_strn(j, nb.data, nb.len);
        tb_json_key(j, "nodes");
        tb_json_uint(j, g->funcs[i].n_nodes);
        tb_json_obj_close(j);
    }
    tb_json_arr_close(j);
    tb_json_key(j, "functions_total");
    tb_json_uint(j, g->funcs_total);
    tb_json_key(j, "producer");
    tb_json_int(j, g->producer);
    if (stats) {
        tb_json_key(j, "stats");
        tb_json_obj_open(j);
        tb_json_key(j, "devices");
        tb_json_arr_open(j);
        /* the devices, each once: node stats come grouped by device, so a short list of those
         * seen is enough, and bounded */
        struct svc_slice seen[TB_GRAPH_DEVICES_MAX];
        size_t n_seen = 0;
        for (size_t i = 0; i < stats->n; i++) {
            struct svc_slice dv = stats->s[i].device;
            if (i && dv.p == stats->s[i - 1].device.p && dv.n == stats->s[i - 1].device.n)
                continue;
            bool known = false;
            for (size_t k = 0; k < n_seen && !known; k++)
                known = seen[k].n == dv.n && (!dv.n || !memcmp(seen[k].p, dv.p, dv.n));
            if (known || n_seen == TB_GRAPH_DEVICES_MAX)
                continue;
            seen[n_seen++] = dv;
            tb_json_strn(j, dv.p, dv.n);
        }
        tb_json_arr_close(j);
        tb_json_key(j, "nodes");
        tb_json_uint(j, matched);
        tb_json_key(j, "node_stats_total");
        tb_json_uint(j, stats->total);
        tb_json_obj_close(j);
    }
    if (nb.err == -ENOMEM)
        err = -ENOMEM;
out:
    tb_map_done(&names);
    tb_map_done(&by_stat);
    tb_buf_done(&nb);
    tb_buf_done(&scratch);
    return err;
}

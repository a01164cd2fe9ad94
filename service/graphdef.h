/* SPDX-License-Identifier: MIT */
/* TensorFlow graphs for drawing: GraphDef, MetaGraphDef and RunMetadata read with a bounded wire
 * cursor, and written as the JSON of GET .../graph. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

/*
 * Graphs are stored data read back: anyone with the link may send any bytes here as a "graph".
 * They are read without protobuf-c, with a cursor that checks every length against what is left
 * and stops at the first bad byte (-EBADMSG, with the offset and what was being read), so a
 * decode takes time linear in the bytes and memory proportional to what is kept:
 *  - at most TB_GRAPH_NODES_MAX nodes, TB_GRAPH_INPUTS_MAX inputs and TB_GRAPH_ATTRS_MAX
 *    attributes are kept (the rest is counted, and the graph says it was cut: `truncated`);
 *  - a name, op, device, input or attribute name longer than TB_GRAPH_NAME_MAX bytes makes the
 *    graph an error (-E2BIG): no writer makes them;
 *  - attribute values are kept as their wire bytes and written out (as JSON) only when they are
 *    at most TB_GRAPH_ATTR_BYTES long: longer ones are only named, in the node's
 *    "too_large_attrs", as TensorBoard's graph plugin does (limit_attr_size);
 *  - the only recursion is in writing an attribute (a function's attributes hold attributes),
 *    cut at TB_GRAPH_ATTR_DEPTH_MAX levels.
 * Everything the structs point to is borrowed from the bytes given to the decoder, which must
 * outlive them.
 */

/* What a graph's bytes are. */
enum svc_graph_source {
    SVC_GRAPH_GRAPH_DEF = 1,  /* a GraphDef (Event.graph_def, the __run_graph__ blob) */
    SVC_GRAPH_META_GRAPH_DEF, /* a MetaGraphDef (Event.meta_graph_def): its graph_def */
    /* a RunMetadata (a Keras graph_run_metadata_graph, a tagged_run_metadata): the
     * pre-optimization graphs of its function graphs, else its partition graphs, merged as
     * TensorBoard's merge_graph_defs does (one graph as it is; several with each one's nodes
     * under a scope graph_1/, graph_2/, ...) */
    SVC_GRAPH_RUN_METADATA,
};

/* Bytes borrowed from the decoded message. */
struct svc_slice {
    const uint8_t *p;
    uint32_t n;
};

struct svc_graph_node {
    struct svc_slice name, op, device;
    uint32_t input0, n_inputs; /* its inputs: g->inputs[input0 ...] */
    uint32_t attr0, n_attrs;   /* its attributes: g->attrs[attr0 ...] */
    uint16_t prefix; /* 0, or k: in a merged graph, its name (and inputs') are "graph_k/" + name */
    bool synthetic;  /* a function's argument, made up as a node of op "_Arg" */
};

struct svc_graph_attr {
    struct svc_slice key;
    struct svc_slice value; /* an AttrValue's wire bytes, not yet checked */
};

/* A function of the graph's library (FunctionDef). */
struct svc_graph_func {
    struct svc_slice name;
    struct svc_slice def; /* the FunctionDef's wire bytes */
    uint32_t n_nodes;
    uint16_t prefix; /* as for nodes: in a merged graph its name is "graph_k_" + name */
};

struct svc_graph {
    struct svc_graph_node *nodes; /* owned, as are the other arrays */
    size_t n_nodes;
    uint64_t nodes_total; /* nodes in the message, kept or not */
    struct svc_slice *inputs;
    size_t n_inputs;
    uint64_t inputs_total;
    struct svc_graph_attr *attrs;
    size_t n_attrs;
    struct svc_graph_func *funcs;
    size_t n_funcs;
    uint64_t funcs_total;
    int64_t producer;  /* VersionDef.producer, 0 if none */
    bool truncated;    /* nodes, inputs, attributes or functions past their limits left out */
    size_t n_graphs;   /* GraphDefs read (a RunMetadata may hold none, one or several) */
    const char *why;   /* on failure: what was wrong (a static string) */
    size_t err_offset; /* ... and at which byte of the message */
};

/* Per-node execution statistics from a RunMetadata's step_stats, as TensorBoard joins them with
 * the graph: compute time all_end_rel_micros, memory the sum of positive total_bytes. */
struct svc_graph_stat {
    struct svc_slice name, device;
    int64_t start_micros, micros;
    uint64_t bytes;
};

struct svc_graph_stats {
    struct svc_graph_stat *s; /* owned */
    size_t n;
    uint64_t total; /* NodeExecStats in the message, kept or not (at most TB_GRAPH_NODES_MAX) */
    const char *why;
    size_t err_offset;
};

/* Decodes data[0..len) as the given source into *g (zeroed first). Returns 0; -EBADMSG (not a
 * valid message: g->why and g->err_offset say what and where); -E2BIG (a name over
 * TB_GRAPH_NAME_MAX, or over TB_GRAPH_MERGE_MAX graphs merged); -ENOMEM. Free with
 * svc_graph_done, also on failure. */
int svc_graph_decode(struct svc_graph *g, enum svc_graph_source source, const uint8_t *data,
                     size_t len);

/* Decodes the body of library function `name` (as svc_graph_json writes functions' names) of
 * lib into *g: its input arguments as nodes of op "_Arg", then its node_defs (inputs as
 * FunctionDef writes them: "arg", "node:output:0", "^node"). -ENOENT if lib has no such
 * function; otherwise as svc_graph_decode. *g borrows from lib's bytes. */
int svc_graph_decode_function(struct svc_graph *g, const struct svc_graph *lib, const char *name);

/* Frees what a decode allocated. NULL-safe; g is zeroed and reusable. */
void svc_graph_done(struct svc_graph *g);

/* Decodes a RunMetadata's step_stats into *st. Returns 0, -EBADMSG (st->why, st->err_offset),
 * -ENOMEM. Free with svc_graph_stats_done. */
int svc_graph_stats_decode(struct svc_graph_stats *st, const uint8_t *data, size_t len);
void svc_graph_stats_done(struct svc_graph_stats *st);

/*
 * Writes the graph as members of the JSON object open in j (the caller writes the braces):
 *   "nodes": [{"name", "op", "inputs": [...], "device", "attr": {NAME: VALUE}, "output_shapes":
 *     [[dims] or null], "too_large_attrs": [NAME...], "stats": {...}}, ...] ("output_shapes",
 *     "too_large_attrs" and "stats" only when there are some); attribute values as AttrValue's
 *     oneof: {"s": "..."}, {"i": n}, {"f": x}, {"b": true}, {"type": "DT_FLOAT"}, {"shape":
 *     [dims] or null}, {"tensor": {"dtype", "shape", "values"}}, {"list": {"s": [...], ...}},
 *     {"func": {"name", "attr"}}, {"placeholder": "..."}; an attribute that is not a valid
 *     AttrValue as {"invalid": true}; "_output_shapes" is given as the node's "output_shapes";
 *   "nodes_total", "edges" (inputs of the nodes written), "dangling_inputs" (inputs naming no
 *   node of the graph), "duplicate_names", "truncated", "functions": [{"name", "nodes"}],
 *   "functions_total", "producer", and with stats (may be NULL) "stats": {"devices": [...],
 *   "nodes": N}, the nodes it matched.
 * Returns 0 or -ENOMEM (the JSON buffer's own errors stick in it).
 */
int svc_graph_json(const struct svc_graph *g, const struct svc_graph_stats *stats,
                   struct tb_json *j);

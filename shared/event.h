/* SPDX-License-Identifier: MIT */
/* Event decoding and normalisation: every summary form becomes a scalar, a tensor or a blob
 * sequence, each with its plugin name and metadata. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "map.h"
#include "tblimits.h"
#include "tensorboard/event.pb-c.h"

/* The three data classes TensorBoard's data provider knows. */
enum tb_kind {
    TB_KIND_SCALAR = 1,        /* one double per step */
    TB_KIND_TENSOR = 2,        /* a typed n-d array per step (histograms, text, pr curves...) */
    TB_KIND_BLOB_SEQUENCE = 3, /* a list of opaque byte strings per step (images, audio, graphs) */
};

/* Which form a value had in the file, so that an export can write it back the same way. */
enum tb_source {
    TB_SRC_SIMPLE_VALUE = 1, /* TF1 Summary.Value.simple_value */
    TB_SRC_HISTO,            /* TF1 HistogramProto, normalised to a [k,3] DT_DOUBLE tensor */
    TB_SRC_IMAGE,            /* TF1 Summary.Image */
    TB_SRC_AUDIO,            /* TF1 Summary.Audio */
    TB_SRC_TENSOR,           /* a TensorProto (TF2 summaries, and TF1 plugin summaries) */
    TB_SRC_METADATA_ONLY,    /* a value with metadata and no data (hparams) */
    TB_SRC_OLD_HISTOGRAM,    /* obsolete_old_style_histogram bytes, kept as a blob */
    TB_SRC_GRAPH_DEF,        /* Event.graph_def */
    TB_SRC_META_GRAPH_DEF,   /* Event.meta_graph_def */
    TB_SRC_RUN_METADATA,     /* Event.tagged_run_metadata */
};

/* Tags given to the blob sequences made from graph events (TensorBoard's own names). */
#define TB_TAG_RUN_GRAPH "__run_graph__"
#define TB_TAG_META_GRAPH "__meta_graph__"
#define TB_PLUGIN_GRAPHS "graphs"
#define TB_PLUGIN_TAGGED_RUN_METADATA "graph_tagged_run_metadata"

struct tb_bytes {
    const uint8_t *data;
    size_t len;
};

struct tb_tensor {
    int dtype; /* TENSORBOARD__DATA_TYPE__DT_* */
    int rank;  /* -1 when the shape is unknown or deeper than TB_TENSOR_RANK_MAX */
    int64_t dims[TB_TENSOR_RANK_MAX];
    uint64_t n_elements;     /* product of dims; for unknown shapes, the elements present */
    struct tb_bytes content; /* numeric dtypes: n_elements packed little-endian elements */
    size_t n_strings;        /* DT_STRING: n_elements strings */
    const struct tb_bytes *strings;
};

struct tb_value {
    const char *tag;                /* never NULL */
    const char *plugin_name;        /* "" when the file named none; never NULL */
    struct tb_bytes plugin_content; /* opaque plugin metadata */
    const char *display_name;       /* never NULL */
    const char *description;        /* never NULL */
    int data_class;                 /* TENSORBOARD__DATA_CLASS__*, as stored or inferred */
    enum tb_kind kind;
    enum tb_source source;
    double scalar;           /* TB_KIND_SCALAR */
    struct tb_tensor tensor; /* TB_KIND_TENSOR; also set for blob sequences from tensors */
    size_t n_blobs;          /* TB_KIND_BLOB_SEQUENCE */
    const struct tb_bytes *blobs;
    const struct tb_bytes *labels; /* audio labels, n_blobs of them, or NULL */
    int width, height;             /* images, when known, else 0 */
    bool has_metadata;             /* the value carried SummaryMetadata itself */
    /* The message the value came from, for lossless re-encoding; NULL for graph events and for
     * values read by the fast path (everything about a scalar is in the fields above). */
    const Tensorboard__Summary__Value *pb;
    /* The fast path's tensors: the Summary.Value's own wire bytes (in the arena), what `pb`
     * would pack to; empty otherwise. */
    struct tb_bytes raw;
};

enum tb_event_kind {
    TB_EVENT_EMPTY = 0, /* wall_time and step only */
    TB_EVENT_FILE_VERSION,
    TB_EVENT_SUMMARY,
    TB_EVENT_GRAPH_DEF,
    TB_EVENT_META_GRAPH_DEF,
    TB_EVENT_TAGGED_RUN_METADATA,
    TB_EVENT_SESSION_LOG,
    TB_EVENT_LOG_MESSAGE,
};

struct tb_event {
    double wall_time;
    int64_t step;
    enum tb_event_kind kind;
    const char *file_version; /* TB_EVENT_FILE_VERSION, else NULL */
    int session_status; /* TB_EVENT_SESSION_LOG: TENSORBOARD__SESSION_LOG__SESSION_STATUS__* */
    size_t n_values;    /* summaries and graph events */
    struct tb_value *values;
    size_t n_bad_values; /* values dropped; the first is described in the problem */
    const Tensorboard__Event *pb;
};

/*
 * Decodes one record's payload into *ret_ev. Everything in *ret_ev lives in `arena` and is
 * valid until the arena is reset; nothing points into `data`, which may be freed at once.
 *
 * Returns 0 on success. A value that cannot be used (an oversized tag, a tensor whose content
 * does not match its shape, ...) is dropped: it is counted in n_bad_values, the first one is
 * described in *ret_problem (kind TB_PROBLEM_BAD_VALUE), and the other values are kept.
 * Returns -EBADMSG (not a valid Event), -E2BIG (decoding would pass the arena's cap), or
 * -EINVAL (a NaN or infinite wall_time: the event is dropped), each with *ret_problem filled
 * (offset 0: the caller knows the record's offset). ret_problem may be NULL.
 */
int tb_event_decode(const uint8_t *data, size_t len, struct tb_arena *arena,
                    struct tb_event *ret_ev, struct tb_problem *ret_problem);

/*
 * A cheap look at a record, for an uploader that only needs to know whether its values' tags
 * are acceptable names: 1 if it is a summary event whose every value has a tag of at most max
 * bytes of text (UTF-8 without control characters), 0 if one does not, -1 if it cannot tell
 * without decoding (not a summary event, or malformed): then tb_event_decode it.
 */
int tb_event_tags_ok(const uint8_t *data, size_t len, size_t max);

/* Whether n bytes are text a name may be: valid UTF-8 without control characters. */
bool tb_text_ok(const void *s, size_t n);

/* tb_event_decode without its fast path for scalar events: always through protobuf-c, so that
 * every value has its `pb`. Same contract otherwise; the differential fuzz target and the
 * benchmark use it. */
int tb_event_decode_pb(const uint8_t *data, size_t len, struct tb_arena *arena,
                       struct tb_event *ret_ev, struct tb_problem *ret_problem);

/*
 * TensorFlow's writers put a tag's SummaryMetadata on its first value only; TensorBoard applies
 * that first metadata to the tag's later values in the same run. A tb_meta_cache does the
 * same: one per run, fed every decoded event in order.
 */
struct tb_tag_meta {
    char *plugin_name; /* owned copies */
    uint8_t *content;
    size_t content_len;
    char *display_name;
    char *description;
    int data_class;
};

struct tb_meta_cache {
    struct tb_map tags; /* tag -> struct tb_tag_meta */
};

void tb_meta_cache_init(struct tb_meta_cache *c);
void tb_meta_cache_done(struct tb_meta_cache *c);

/* The first metadata seen for tag, or NULL. Borrowed until the cache is done. */
const struct tb_tag_meta *tb_meta_cache_get(const struct tb_meta_cache *c, const char *tag);

/* Remembers m for tag unless the tag already has metadata. Copies m. Returns 0 or -ENOMEM. */
int tb_meta_cache_put(struct tb_meta_cache *c, const char *tag, const struct tb_tag_meta *m);

/*
 * Re-normalises ev->values[i], which carried no metadata, as if it had carried m: a rank-0
 * float tensor of a "scalars" tag becomes a scalar, an "images" string tensor a blob sequence,
 * and so on. Memory comes from arena; a value the fast path read (no `pb`) may instead point
 * to m's names and content, so m must outlive the event (a tb_meta_cache's entries do). Returns 0,
 * or -EINVAL if the value is unusable under m (it is then counted in ev->n_bad_values and described
 * in *ret_problem, like any dropped value; the caller removes it).
 */
int tb_value_inherit(struct tb_event *ev, size_t i, const struct tb_tag_meta *m,
                     struct tb_arena *arena, struct tb_problem *ret_problem);

/* Whether v carried no metadata of its own and so takes its tag's first metadata, if any
 * (false for graph events and for values with metadata). */
bool tb_value_takes_meta(const struct tb_value *v);

/* Applies the rule to every value of ev: values with metadata teach the cache, values without
 * take their tag's. Unusable values are removed from ev. Returns 0 or -ENOMEM. */
int tb_meta_cache_apply(struct tb_meta_cache *c, struct tb_event *ev, struct tb_arena *arena,
                        struct tb_problem *ret_problem);

/* The metadata a value carried (borrowed pointers, valid as long as the value). */
void tb_value_meta(const struct tb_value *v, struct tb_tag_meta *ret);

/* Name of a kind: "scalar", "tensor", "blob_sequence". */
const char *tb_kind_name(enum tb_kind kind);

/* Name of a TensorFlow dtype, e.g. "DT_FLOAT"; "DT_UNKNOWN" for values not in the schema. */
const char *tb_dtype_name(int dtype);

/* Whether string i of a DT_STRING tensor of `plugin` with this rank (and second dimension) is a
 * blob of its blob sequence: images [w, h, blob...] skip the sizes, audio [k, 2] keeps column 0
 * (the labels are column 1), anything else is all blobs. The one statement of the layout that
 * decoding, storing blobs apart, and exporting them back all follow. */
bool tb_string_is_blob(const char *plugin, int rank, int64_t dim1, size_t i);

/* Converts one little-endian element of a numeric dtype (ints, floats, half, bfloat16, bool) to
 * a double. Returns false for other dtypes (strings, complex, resources). */
bool tb_dtype_to_double(int dtype, const uint8_t *p, double *ret);

/* Bytes per element of a numeric dtype, or 0 for DT_STRING and dtypes without a fixed size. */
size_t tb_dtype_size(int dtype);

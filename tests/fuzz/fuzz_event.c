/* SPDX-License-Identifier: MIT */
/* Fuzz target: event decoding and normalisation (tb_event_decode), alone or after framing. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "event.h"
#include "tblimits.h"
#include "tfrecord.h"

/*
 * fuzz_event: the input is one record's payload. fuzz_event_file (built with -DFUZZ_FRAMED):
 * the input is an event file; every record tb_tfrecord_next returns is decoded as below.
 * fuzz_event_diff (built with -DFUZZ_DIFF): only step 1, for speed on the fast path.
 *
 * Each payload is decoded from a copy that is freed before the result is read (event.h: nothing
 * points into `data`), so that a sanitizer sees any pointer left into it:
 *   1. by tb_event_decode (the wire-format fast path for scalar events, else protobuf-c) and by
 *      tb_event_decode_pb (always protobuf-c): both must return the same code and, on success,
 *      the same model; every byte of the model is read (tags, names, plugin content, tensor
 *      content, strings, blobs, labels) and hashed, and its invariants are checked (counts
 *      match shapes, content lengths match dtypes, values kept + dropped == values sent, ...);
 *   2. again after tb_arena_reset, into the kept block: the same model must come out;
 *   3. from its own re-encoding (tensorboard__event__pack of ev.pb, the lossless export
 *      path): the same model must come out;
 *   4. with an arena cap one byte short of what step 1 used, and with a cap picked from a
 *      hash of the input below that: the decoder must fail with -E2BIG, or drop a value, or
 *      return the whole model; never less without saying so, and never more than the cap.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define DT(x) TENSORBOARD__DATA_TYPE__DT_##x

/* FNV-1a over everything the model holds: reading each byte is the point. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    CHECK(n == 0 || b != NULL);
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 0x100000001b3u;
}

static void mix_u64(uint64_t *h, uint64_t v)
{
    mix(h, &v, sizeof(v));
}

static void mix_str(uint64_t *h, const char *s)
{
    CHECK(s != NULL);
    mix(h, s, strlen(s) + 1);
}

/* One NaN, since float-to-double conversion need not keep the payload; and one zero, since
 * protobuf-c does not write a singular double holding -0.0 (proto3 omits zeros, and it
 * compares with ==), so re-encoding turns a -0.0 wall_time or histogram edge into 0.0. */
static void mix_double(uint64_t *h, double d)
{
    if (isnan(d))
        d = NAN;
    if (d == 0)
        d = 0;
    mix(h, &d, sizeof(d));
}

static void mix_bytes(uint64_t *h, struct tb_bytes b)
{
    mix_u64(h, b.len);
    mix(h, b.data, b.len);
}

static bool dtype_numeric(int dtype)
{
    return tb_dtype_size(dtype) != 0;
}

static uint64_t check_tensor(const struct tb_value *v)
{
    const struct tb_tensor *t = &v->tensor;
    uint64_t h = 0xcbf29ce484222325u;
    CHECK(t->rank >= -1 && t->rank <= TB_TENSOR_RANK_MAX);
    mix_u64(&h, (uint64_t)t->dtype);
    mix_u64(&h, (uint64_t)t->rank);
    uint64_t product = 1;
    for (int i = 0; i < t->rank; i++) {
        CHECK(t->dims[i] >= 0);
        mix_u64(&h, (uint64_t)t->dims[i]);
        product *= (uint64_t)t->dims[i];
    }
    mix_u64(&h, t->n_elements);
    if (v->source == TB_SRC_HISTO) {
        CHECK(t->content.len % sizeof(double) == 0);
        for (size_t i = 0; i < t->content.len; i += sizeof(double)) {
            double d;
            memcpy(&d, t->content.data + i, sizeof(d));
            mix_double(&h, d);
        }
    } else {
        mix_bytes(&h, t->content);
    }
    mix_u64(&h, t->n_strings);
    CHECK(t->n_strings == 0 || t->strings != NULL);
    for (size_t i = 0; i < t->n_strings; i++)
        mix_bytes(&h, t->strings[i]);

    if (v->source != TB_SRC_TENSOR && v->source != TB_SRC_HISTO) {
        CHECK(t->n_elements == 0 && t->content.len == 0 && t->n_strings == 0);
        return h;
    }
    if (t->rank >= 0 && (dtype_numeric(t->dtype) || t->dtype == DT(STRING)))
        CHECK(t->n_elements == product);
    if (t->dtype == DT(STRING)) {
        CHECK(t->n_strings == t->n_elements);
        CHECK(t->content.len == 0);
    } else if (dtype_numeric(t->dtype)) {
        CHECK(t->n_strings == 0);
        CHECK(t->content.len == t->n_elements * tb_dtype_size(t->dtype));
        CHECK(t->content.len <= TB_RECORD_MAX);
    } else {
        CHECK(t->n_elements == 0 && t->content.len == 0 && t->n_strings == 0);
    }
    if (v->source == TB_SRC_HISTO) {
        CHECK(t->dtype == DT(DOUBLE) && t->rank == 2 && t->dims[1] == 3);
        const Tensorboard__HistogramProto *hp = v->pb->histo;
        size_t k = hp->n_bucket < hp->n_bucket_limit ? hp->n_bucket : hp->n_bucket_limit;
        CHECK((size_t)t->dims[0] == k);
    }
    return h;
}

/* Checks one value and returns its hash. */
static uint64_t check_value(const struct tb_value *v, bool pb_only)
{
    uint64_t h = 0xcbf29ce484222325u;
    mix_str(&h, v->tag);
    mix_str(&h, v->plugin_name);
    mix_str(&h, v->display_name);
    mix_str(&h, v->description);
    CHECK(strlen(v->tag) <= TB_NAME_MAX);
    CHECK(strlen(v->plugin_name) <= TB_PLUGIN_NAME_MAX);
    mix_bytes(&h, v->plugin_content);
    mix_u64(&h, (uint64_t)v->data_class);
    CHECK(v->kind == TB_KIND_SCALAR || v->kind == TB_KIND_TENSOR ||
          v->kind == TB_KIND_BLOB_SEQUENCE);
    CHECK(v->source >= TB_SRC_SIMPLE_VALUE && v->source <= TB_SRC_RUN_METADATA);
    CHECK(strcmp(tb_kind_name(v->kind), "unknown") != 0);
    mix_u64(&h, v->kind);
    mix_u64(&h, v->source);
    if (v->kind == TB_KIND_SCALAR)
        mix_double(&h, v->scalar);
    mix_u64(&h, check_tensor(v));
    mix_u64(&h, v->n_blobs);
    CHECK(v->n_blobs == 0 || v->blobs != NULL);
    if (v->kind != TB_KIND_BLOB_SEQUENCE)
        CHECK(v->n_blobs == 0 && v->labels == NULL);
    for (size_t i = 0; i < v->n_blobs; i++) {
        mix_bytes(&h, v->blobs[i]);
        if (v->labels)
            mix_bytes(&h, v->labels[i]);
    }
    mix_u64(&h, (uint64_t)v->width);
    mix_u64(&h, (uint64_t)v->height);

    if (v->source >= TB_SRC_GRAPH_DEF) {
        CHECK(v->pb == NULL);
        CHECK(v->kind == TB_KIND_BLOB_SEQUENCE && v->n_blobs == 1);
        return h;
    }
    if (!v->pb) { /* the fast path's scalars, and its tensors with their wire bytes */
        CHECK(!pb_only);
        CHECK(v->source == TB_SRC_SIMPLE_VALUE || v->source == TB_SRC_TENSOR);
        if (v->kind == TB_KIND_SCALAR)
            return h;
        /* a tensor, or (after inheriting a blob plugin's metadata) a numeric tensor's empty
         * blob sequence */
        CHECK(v->source == TB_SRC_TENSOR && v->raw.len > 0);
        CHECK(v->kind == TB_KIND_TENSOR || (v->kind == TB_KIND_BLOB_SEQUENCE && !v->n_blobs));
        /* the kept bytes are the value: protobuf-c reads them as the same tensor */
        Tensorboard__Summary__Value *pv = (Tensorboard__Summary__Value *)protobuf_c_message_unpack(
            &tensorboard__summary__value__descriptor, NULL, v->raw.len, v->raw.data);
        CHECK(pv && pv->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR);
        CHECK((int)pv->tensor->dtype == v->tensor.dtype);
        CHECK(!strcmp(pv->tag ? pv->tag : "", v->tag));
        CHECK((pv->metadata != NULL) == v->has_metadata);
        protobuf_c_message_free_unpacked(&pv->base, NULL);
        return h;
    }
    const Tensorboard__Summary__Value *pb = v->pb;
    switch (v->source) {
    case TB_SRC_SIMPLE_VALUE:
        CHECK(pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE);
        CHECK(v->kind == TB_KIND_SCALAR);
        CHECK(isnan(v->scalar) ? isnan(pb->simple_value) : v->scalar == pb->simple_value);
        break;
    case TB_SRC_IMAGE:
        CHECK(pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE);
        CHECK(v->n_blobs == 1 && v->blobs[0].len == pb->image->encoded_image_string.len);
        break;
    case TB_SRC_AUDIO:
        CHECK(pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_AUDIO);
        CHECK(v->n_blobs == 1 && v->blobs[0].len == pb->audio->encoded_audio_string.len);
        break;
    case TB_SRC_OLD_HISTOGRAM:
        CHECK(v->n_blobs == 1 && v->blobs[0].len == pb->obsolete_old_style_histogram.len);
        break;
    case TB_SRC_TENSOR:
        CHECK(pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR);
        CHECK(v->tensor.dtype == (int)pb->tensor->dtype);
        if (v->kind == TB_KIND_SCALAR)
            CHECK(v->tensor.rank == 0 && v->tensor.n_elements >= 1);
        if (v->kind == TB_KIND_BLOB_SEQUENCE && v->tensor.dtype == DT(STRING))
            CHECK(v->n_blobs <= v->tensor.n_strings);
        break;
    case TB_SRC_METADATA_ONLY:
        CHECK(pb->value_case == TENSORBOARD__SUMMARY__VALUE__VALUE__NOT_SET);
        CHECK(v->n_blobs == 0);
        break;
    default:
        break;
    }
    return h;
}

/* Checks a decoded event and returns a hash of all of it. */
static uint64_t check_event(const struct tb_event *ev, bool pb_only)
{
    uint64_t h = 0xcbf29ce484222325u;
    CHECK(!pb_only || ev->pb != NULL);
    CHECK(isfinite(ev->wall_time));
    mix_double(&h, ev->wall_time);
    mix_u64(&h, (uint64_t)ev->step);
    mix_u64(&h, ev->kind);
    CHECK((ev->kind == TB_EVENT_FILE_VERSION) == (ev->file_version != NULL));
    if (ev->file_version)
        mix_str(&h, ev->file_version);
    mix_u64(&h, (uint64_t)ev->session_status);
    mix_u64(&h, ev->n_values);
    mix_u64(&h, ev->n_bad_values);
    CHECK(ev->n_values == 0 || ev->values != NULL);
    switch (ev->kind) {
    case TB_EVENT_SUMMARY:
        if (ev->pb)
            CHECK(ev->n_values + ev->n_bad_values == ev->pb->summary->n_value);
        break;
    case TB_EVENT_GRAPH_DEF:
    case TB_EVENT_META_GRAPH_DEF:
    case TB_EVENT_TAGGED_RUN_METADATA:
        CHECK(ev->n_values + ev->n_bad_values == 1);
        break;
    default:
        CHECK(ev->n_values == 0 && ev->n_bad_values == 0);
        break;
    }
    for (size_t i = 0; i < ev->n_values; i++)
        mix_u64(&h, check_value(&ev->values[i], pb_only));
    return h;
}

struct outcome {
    int rc;
    uint64_t hash;       /* of the model, when rc == 0 */
    size_t n_bad_values; /* when rc == 0 */
    size_t used;         /* arena bytes the decode took */
    bool known_gap;      /* an input a known, reported bug makes unusable for the rest */
};

/* Decodes a copy of data with tb_event_decode (or tb_event_decode_pb), frees the copy, then
 * checks and hashes the model, which is left in *ret_ev until the arena's reset. */
static struct outcome decode(const uint8_t *data, size_t size, struct tb_arena *arena, bool pb_only,
                             struct tb_event *ret_ev)
{
    struct tb_event ev;
    struct tb_problem p;
    memset(&ev, 0xa5, sizeof(ev)); /* the decoder must fill everything */
    memset(&p, 0, sizeof(p));
    struct outcome o = {0};
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy);
    if (size)
        memcpy(copy, data, size);
    o.rc = pb_only ? tb_event_decode_pb(copy, size, arena, &ev, &p)
                   : tb_event_decode(copy, size, arena, &ev, &p);
    free(copy);
    o.used = arena->used;
    CHECK(o.used <= arena->cap);
    CHECK(memchr(p.message, '\0', sizeof(p.message)) != NULL);
    if (o.rc == 0) {
        o.hash = check_event(&ev, pb_only);
        o.n_bad_values = ev.n_bad_values;
        CHECK(ev.n_bad_values == 0 ? p.kind == TB_PROBLEM_NONE : p.kind == TB_PROBLEM_BAD_VALUE);
        if (ret_ev)
            *ret_ev = ev;
    } else if (o.rc == -EINVAL) {
        CHECK(p.kind == TB_PROBLEM_BAD_EVENT);
    } else {
        CHECK(o.rc == -EBADMSG || o.rc == -E2BIG);
        CHECK(p.kind == TB_PROBLEM_BAD_PROTO);
    }
    return o;
}

#ifndef FUZZ_DIFF
static void decode_capped(const uint8_t *data, size_t size, size_t cap, const struct outcome *full)
{
    struct tb_arena arena;
    tb_arena_init(&arena, cap);
    struct outcome o = decode(data, size, &arena, false, NULL);
    /* Less memory may drop values (or a value already dropped fails sooner), but what comes
     * out without an extra drop must be all of it. */
    if (full->rc == 0)
        CHECK(o.rc == -E2BIG ||
              (o.rc == 0 && (o.n_bad_values > full->n_bad_values || o.hash == full->hash)));
    tb_arena_done(&arena);
}

static uint64_t hash_input(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}
#endif

/* A tag's first metadata, as a writer that puts it on the first value only leaves it. */
static const struct tb_tag_meta first_meta[] = {
    {"scalars", NULL, 0, "", "", 0},
    {"", NULL, 0, "", "", TENSORBOARD__DATA_CLASS__DATA_CLASS_SCALAR},
    {"histograms", NULL, 0, "shown", "a histogram", 0},
    {"images", (uint8_t *)"\x08\x01", 2, "", "", TENSORBOARD__DATA_CLASS__DATA_CLASS_BLOB_SEQUENCE},
    {"text", NULL, 0, "", "", TENSORBOARD__DATA_CLASS__DATA_CLASS_TENSOR},
    {"pr_curves", (uint8_t *)"\x10\x05", 2, "", "", 0},
};

/* Decodes by one path, then applies first_meta[which] to every value that takes its tag's
 * first metadata (tb_meta_cache_apply); returns the hash of the result. */
static uint64_t inherited(const uint8_t *data, size_t size, bool pb_only, size_t which,
                          size_t *ret_bad)
{
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    struct tb_event ev;
    struct outcome o = decode(data, size, &arena, pb_only, &ev);
    uint64_t h = 0;
    *ret_bad = 0;
    if (o.rc == 0) {
        struct tb_meta_cache mc;
        tb_meta_cache_init(&mc);
        for (size_t i = 0; i < ev.n_values; i++)
            if (tb_value_takes_meta(&ev.values[i]))
                CHECK(tb_meta_cache_put(&mc, ev.values[i].tag, &first_meta[which]) == 0);
        struct tb_problem p;
        CHECK(tb_meta_cache_apply(&mc, &ev, &arena, &p) == 0);
        h = check_event(&ev, pb_only);
        *ret_bad = ev.n_bad_values;
        tb_meta_cache_done(&mc);
    }
    tb_arena_done(&arena);
    return h;
}

/* tb_event_tags_ok's 1 is a promise: every value the decoder keeps has a tag of text within
 * the limit, and the decoder drops none for its tag. */
static void check_tags_ok(const uint8_t *data, size_t size)
{
    if (tb_event_tags_ok(data, size, TB_NAME_MAX) != 1)
        return;
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    struct tb_event ev;
    struct tb_problem p;
    if (tb_event_decode(data, size, &arena, &ev, &p) == 0) {
        CHECK(ev.kind == TB_EVENT_SUMMARY);
        for (size_t i = 0; i < ev.n_values; i++)
            CHECK(strlen(ev.values[i].tag) <= TB_NAME_MAX &&
                  tb_text_ok(ev.values[i].tag, strlen(ev.values[i].tag)));
        CHECK(ev.n_bad_values == 0 || !strstr(p.message, "tag is longer"));
    }
    tb_arena_done(&arena);
}

/* Step 1: both paths agree, on what they decode and on what a tag's first metadata makes of
 * values without their own. */
static struct outcome differential(const uint8_t *data, size_t size, struct tb_arena *arena)
{
    check_tags_ok(data, size);
    struct outcome full = decode(data, size, arena, false, NULL);
    tb_arena_reset(arena);
    struct outcome slow = decode(data, size, arena, true, NULL);
    tb_arena_reset(arena);
    CHECK(full.rc == slow.rc);
    CHECK(full.hash == slow.hash && full.n_bad_values == slow.n_bad_values);
    if (full.rc == 0) {
        size_t n = sizeof(first_meta) / sizeof(first_meta[0]);
        size_t which = (size_t)(size ? data[size / 2] + size : 0) % n;
        size_t bad_fast, bad_slow;
        uint64_t hf = inherited(data, size, false, which, &bad_fast);
        uint64_t hs = inherited(data, size, true, which, &bad_slow);
        CHECK(hf == hs && bad_fast == bad_slow);
    }
    return full;
}

static void fuzz_payload(const uint8_t *data, size_t size, struct tb_arena *arena)
{
#ifdef FUZZ_DIFF
    differential(data, size, arena);
#else
    struct outcome full = differential(data, size, arena);
    struct tb_event ev;
    struct outcome again = decode(data, size, arena, false, NULL);
    CHECK(again.rc == full.rc && again.hash == full.hash && again.used == full.used);
    tb_arena_reset(arena);

    if (full.rc == 0) {
        /* Re-encode from the message, as an export would; only protobuf-c's path keeps it. */
        CHECK(decode(data, size, arena, true, &ev).rc == 0);
        size_t n = tensorboard__event__get_packed_size(ev.pb);
        uint8_t *packed = malloc(n ? n : 1);
        CHECK(packed);
        CHECK(tensorboard__event__pack(ev.pb, packed) == n);
        struct tb_arena other;
        tb_arena_init(&other, 0);
        struct outcome round = decode(packed, n, &other, false, NULL);
        CHECK(round.rc == 0 && round.hash == full.hash);
        tb_arena_done(&other);
        free(packed);
    }
    tb_arena_reset(arena);

    if (full.used > 1) {
        decode_capped(data, size, full.used - 1, &full);
        decode_capped(data, size, 1 + (size_t)(hash_input(data, size) % (full.used - 1)), &full);
    }
#endif
}

#ifndef FUZZ_FRAMED

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    fuzz_payload(data, size, &arena);
    tb_arena_done(&arena);
    return 0;
}

#else

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tb_tfrecord_reader *r = NULL;
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    CHECK(tb_tfrecord_open_mem(data, size, 0, 0, &r) == 0);
    for (size_t steps = 0;; steps++) {
        CHECK(steps <= size + 2);
        struct tb_record rec;
        int rc = tb_tfrecord_next(r, &rec, NULL);
        if (rc == 0)
            break;
        if (rc == 1)
            fuzz_payload(rec.data, rec.len, &arena);
    }
    tb_tfrecord_close(r);
    tb_arena_done(&arena);
    return 0;
}

#endif

/* SPDX-License-Identifier: MIT */
/* Unit tests for service/ingest: POST .../events handled against a real SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "crc32c.h"
#include "ingest.h"
#include "log.h"
#include "tbdev/v1/api.pb-c.h"

/*
 * The handler is called as the router would call it (svc_h_write_events with an
 * authenticated call), so that these tests see exactly what ingest decides: which groups are
 * committed, refused or replayed, which values are dropped and why, when a request is too
 * large to decode, and what the store then holds. tests/integration covers the same over
 * HTTPS with the real uploader.
 */

struct fx {
    char dir[64];
    struct svc_config cfg;
    struct svc_app app;
    struct svc_experiment e;
    struct svc_user user;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/tbdev-test-ingest-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char db[128];
    snprintf(db, sizeof(db), "%s/t.db", f->dir);
    svc_config_defaults(&f->cfg);
    f->cfg.db = strdup(db);
    f->cfg.quiet = true;
    char err[200];
    if (svc_config_validate(&f->cfg, err, sizeof(err)) < 0)
        return -1;
    f->app.cfg = &f->cfg;
    f->app.ops = &svc_store_sqlite;
    pthread_mutex_init(&f->app.rate_lock, NULL);
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    if (svc_store_sqlite.open(db, &o, &f->app.store) < 0 ||
        svc_store_sqlite.migrate(f->app.store, NULL, NULL) < 0)
        return -1;
    int64_t uid;
    if (svc_store_sqlite.user_add(f->app.store, "ann", "", false, &uid) < 0 ||
        svc_store_sqlite.user_get_id(f->app.store, uid, &f->user) < 0)
        return -1;
    svc_experiment_id_new(f->e.id);
    f->e.owner_id = uid;
    f->e.visibility = SVC_VIS_UNLISTED;
    if (svc_store_sqlite.experiment_create(f->app.store, &f->e) < 0)
        return -1;
    svc_log_set_quiet(true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    svc_store_sqlite.close(f->app.store);
    svc_app_done(&f->app);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free((char *)f->cfg.db);
    free(f);
    return 0;
}

/* ---- building requests ---- */

struct recs {
    uint8_t *b;
    size_t n, cap;
};

static void add_bytes(struct recs *r, const void *p, size_t n)
{
    if (r->n + n > r->cap) {
        r->cap = (r->n + n) * 2;
        r->b = realloc(r->b, r->cap);
        assert_non_null(r->b);
    }
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

/* Appends one framed record holding ev. */
static void add_event(struct recs *r, const Tensorboard__Event *ev)
{
    size_t n = tensorboard__event__get_packed_size(ev);
    uint8_t *p = malloc(n + 16);
    assert_non_null(p);
    uint64_t len = n;
    memcpy(p, &len, 8);
    uint32_t c = tb_crc32c_masked(p, 8);
    memcpy(p + 8, &c, 4);
    tensorboard__event__pack(ev, p + 12);
    c = tb_crc32c_masked(p + 12, n);
    memcpy(p + 12 + n, &c, 4);
    add_bytes(r, p, n + 16);
    free(p);
}

/* A TF2 scalar as TensorBoard's own writer makes it: packed float_val, metadata if first. */
static void add_float_val(struct recs *r, const char *tag, int64_t step, float v, bool first)
{
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = "scalars";
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    Tensorboard__TensorProto t = TENSORBOARD__TENSOR_PROTO__INIT;
    t.dtype = TENSORBOARD__DATA_TYPE__DT_FLOAT;
    t.tensor_shape = &shape;
    t.n_float_val = 1;
    t.float_val = &v;
    Tensorboard__Summary__Value val = TENSORBOARD__SUMMARY__VALUE__INIT;
    val.tag = (char *)tag;
    val.metadata = first ? &md : NULL;
    val.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    val.tensor = &t;
    Tensorboard__Summary__Value *vals[1] = {&val};
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = vals;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = 1700000000.0 + (double)step;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    add_event(r, &ev);
}

/* An event of n values with a plugin's metadata and no data (as hparams are written). */
static void add_empty_values(struct recs *r, const char *tag, const char *plugin, size_t n)
{
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = (char *)plugin;
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    Tensorboard__Summary__Value *vals = calloc(n, sizeof(*vals));
    Tensorboard__Summary__Value **ptrs = calloc(n, sizeof(*ptrs));
    assert_true(vals && ptrs);
    for (size_t i = 0; i < n; i++) {
        tensorboard__summary__value__init(&vals[i]);
        vals[i].tag = (char *)tag;
        vals[i].metadata = plugin ? &md : NULL;
        ptrs[i] = &vals[i];
    }
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = n;
    sum.value = ptrs;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = 1700000000.0;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    add_event(r, &ev);
    free(vals);
    free(ptrs);
}

struct group {
    const char *run, *file;
    uint64_t offset;
    struct recs *recs;
    uint32_t fp_len, fp;
};

/* POSTs the groups; returns the HTTP status, and the parsed answer when it is 200 (the
 * caller frees it with tbdev__v1__write_events_response__free_unpacked). */
static int post(struct fx *f, const struct group *gs, size_t ng,
                Tbdev__V1__WriteEventsResponse **ret)
{
    Tbdev__V1__RecordGroup *g = calloc(ng, sizeof(*g));
    Tbdev__V1__RecordGroup **p = calloc(ng, sizeof(*p));
    assert_true(g && p);
    for (size_t i = 0; i < ng; i++) {
        tbdev__v1__record_group__init(&g[i]);
        g[i].run = (ProtobufCBinaryData){strlen(gs[i].run), (uint8_t *)gs[i].run};
        g[i].file = (ProtobufCBinaryData){strlen(gs[i].file), (uint8_t *)gs[i].file};
        g[i].offset = gs[i].offset;
        g[i].records = (ProtobufCBinaryData){gs[i].recs->n, gs[i].recs->b};
        g[i].fingerprint_len = gs[i].fp_len;
        g[i].fingerprint = gs[i].fp;
        p[i] = &g[i];
    }
    Tbdev__V1__WriteEventsRequest req = TBDEV__V1__WRITE_EVENTS_REQUEST__INIT;
    req.n_groups = ng;
    req.groups = p;
    size_t n = tbdev__v1__write_events_request__get_packed_size(&req);
    uint8_t *body = malloc(n + 1);
    assert_non_null(body);
    tbdev__v1__write_events_request__pack(&req, body);
    body[n] = 0;
    struct svc_request rq = {.method = "POST",
                             .path = "/api/v1/experiments/x/events",
                             .client_ip = "127.0.0.1",
                             .body = body,
                             .body_len = n};
    struct svc_response res = {0};
    tb_buf_init(&res.body, 64 << 20);
    struct svc_call c = {.app = &f->app,
                         .req = &rq,
                         .res = &res,
                         .pb = true,
                         .authed = true,
                         .by_token = true,
                         .user = f->user,
                         .param = f->e.id};
    svc_h_write_events(&c);
    int status = res.status;
    *ret = status == 200
               ? tbdev__v1__write_events_response__unpack(NULL, res.body.len, res.body.data)
               : NULL;
    if (status == 200)
        assert_non_null(*ret);
    tb_buf_done(&res.body);
    free(body);
    free(g);
    free(p);
    return status;
}

static void recs_done(struct recs *r)
{
    free(r->b);
    memset(r, 0, sizeof(*r));
}

/* The stored series of (run, tag), or NULL: caller frees with svc_series_list_free(s, 1). */
static struct svc_series_info *series(struct fx *f, const char *run, const char *tag)
{
    struct svc_series_info *s = NULL;
    return svc_store_sqlite.series_find(f->app.store, f->e.id, run, tag, &s) == 0 ? s : NULL;
}

/* ---- tests ---- */

/* TensorBoard's writer puts metadata on a tag's first value only: values in a later request
 * take it from the store, and are stored as scalars, not as bare tensors. */
static void test_first_metadata_across_requests(void **state)
{
    struct fx *f = *state;
    struct recs a = {0}, b = {0};
    for (int s = 0; s < 100; s++)
        add_float_val(&a, "loss", s, (float)s, s == 0);
    for (int s = 100; s < 300; s++)
        add_float_val(&b, "loss", s, (float)s, false);
    Tbdev__V1__WriteEventsResponse *res;
    struct group g = {"train", "events.1", 0, &a, 0, 0};
    assert_int_equal(post(f, &g, 1, &res), 200);
    assert_int_equal(res->results[0]->values, 100);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    g = (struct group){"train", "events.1", a.n, &b, 0, 0};
    assert_int_equal(post(f, &g, 1, &res), 200);
    assert_int_equal(res->results[0]->status, TBDEV__V1__GROUP_STATUS__COMMITTED);
    assert_int_equal(res->results[0]->values, 200);
    assert_int_equal(res->results[0]->dropped, 0);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    struct svc_series_info *s = series(f, "train", "loss");
    assert_non_null(s);
    assert_int_equal(s->kind, TB_KIND_SCALAR);
    assert_string_equal(s->plugin, "scalars");
    assert_int_equal(s->points, 300);
    svc_series_list_free(s, 1);
    recs_done(&a);
    recs_done(&b);
}

/* A group with a bad run or file name is refused on its own: the rest of the request is
 * stored. */
static void test_bad_names_refuse_only_their_group(void **state)
{
    struct fx *f = *state;
    struct recs a = {0};
    for (int s = 0; s < 10; s++)
        add_float_val(&a, "loss", s, 1.0f, s == 0);
    char long_run[1100];
    memset(long_run, 'r', sizeof(long_run) - 1);
    long_run[sizeof(long_run) - 1] = 0;
    struct group gs[4] = {
        {long_run, "events.1", 0, &a, 0, 0},
        {"ok", "events.1", 0, &a, 0, 0},
        {"bad\x01run", "events.1", 0, &a, 0, 0},
        {"ok2", "../events", 0, &a, 0, 0},
    };
    Tbdev__V1__WriteEventsResponse *res;
    assert_int_equal(post(f, gs, 4, &res), 200);
    assert_int_equal(res->n_results, 4);
    int want[4] = {TBDEV__V1__GROUP_STATUS__REFUSED, TBDEV__V1__GROUP_STATUS__COMMITTED,
                   TBDEV__V1__GROUP_STATUS__REFUSED, TBDEV__V1__GROUP_STATUS__REFUSED};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(res->results[i]->status, want[i]);
        if (want[i] == TBDEV__V1__GROUP_STATUS__REFUSED) {
            assert_string_equal(res->results[i]->refused, "name");
            assert_int_equal(res->results[i]->values, 0);
            assert_true(res->results[i]->n_problems == 1);
        }
    }
    assert_non_null(strstr(res->results[0]->problems[0], "longer than the server's limit"));
    assert_int_equal(res->results[1]->values, 10);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    struct svc_series_info *s = series(f, "ok", "loss");
    assert_non_null(s);
    assert_int_equal(s->points, 10);
    svc_series_list_free(s, 1);
    assert_null(series(f, long_run, "loss"));
    recs_done(&a);
}

/* Dropped values are counted by reason and name, once per name however many there are. */
static void test_drops_by_reason_and_name(void **state)
{
    struct fx *f = *state;
    f->cfg.allowed_plugins = "scalars";
    struct recs a = {0};
    char long_tag[TB_NAME_MAX + 1];
    memset(long_tag, 't', TB_NAME_MAX - 1);
    long_tag[TB_NAME_MAX - 1] = 0; /* within the limit: kept */
    for (int i = 0; i < 50; i++)
        add_empty_values(&a, "hp", "hparams", 2);
    add_empty_values(&a, "tab\ttag", NULL, 3);
    add_float_val(&a, long_tag, 0, 1.0f, true);
    struct group g = {"run", "events.1", 0, &a, 0, 0};
    Tbdev__V1__WriteEventsResponse *res;
    assert_int_equal(post(f, &g, 1, &res), 200);
    const Tbdev__V1__GroupResult *gr = res->results[0];
    assert_int_equal(gr->values, 1);
    assert_int_equal(gr->dropped, 103);
    assert_int_equal(gr->n_drops, 2);
    for (size_t k = 0; k < gr->n_drops; k++) {
        if (!strcmp(gr->drops[k]->reason, "plugin")) {
            assert_string_equal(gr->drops[k]->name, "hparams");
            assert_int_equal(gr->drops[k]->values, 100);
        } else {
            assert_string_equal(gr->drops[k]->reason, "name");
            assert_string_equal(gr->drops[k]->name, "tab\ttag");
            assert_int_equal(gr->drops[k]->values, 3);
        }
    }
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    f->cfg.allowed_plugins = "";
    recs_done(&a);
}

/* A group whose fingerprint differs from the one stored with its file's cursor is refused:
 * another file is never appended to the first one's data. */
static void test_fingerprint(void **state)
{
    struct fx *f = *state;
    struct recs a = {0}, b = {0};
    for (int s = 0; s < 5; s++)
        add_float_val(&a, "loss", s, 1.0f, s == 0);
    for (int s = 5; s < 9; s++)
        add_float_val(&b, "loss", s, 1.0f, false);
    struct group g = {"run", "events.1", 0, &a, 64, 0xabcdef};
    Tbdev__V1__WriteEventsResponse *res;
    assert_int_equal(post(f, &g, 1, &res), 200);
    assert_int_equal(res->results[0]->status, TBDEV__V1__GROUP_STATUS__COMMITTED);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    /* the same file goes on; another one with its name is refused, and stores nothing */
    struct group other = {"run", "events.1", a.n, &b, 64, 0x123456};
    assert_int_equal(post(f, &other, 1, &res), 200);
    assert_int_equal(res->results[0]->status, TBDEV__V1__GROUP_STATUS__REFUSED);
    assert_string_equal(res->results[0]->refused, "file_changed");
    assert_non_null(strstr(res->results[0]->problems[0], "different file"));
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    struct group same = {"run", "events.1", a.n, &b, 64, 0xabcdef};
    assert_int_equal(post(f, &same, 1, &res), 200);
    assert_int_equal(res->results[0]->status, TBDEV__V1__GROUP_STATUS__COMMITTED);
    assert_int_equal(res->results[0]->cursor, a.n + b.n);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    /* a resend of the first group (a replay) with the wrong fingerprint is refused too */
    struct group replay = {"run", "events.1", 0, &a, 64, 0x123456};
    assert_int_equal(post(f, &replay, 1, &res), 200);
    assert_int_equal(res->results[0]->status, TBDEV__V1__GROUP_STATUS__REFUSED);
    tbdev__v1__write_events_response__free_unpacked(res, NULL);
    struct svc_series_info *s = series(f, "run", "loss");
    assert_int_equal(s->points, 9);
    svc_series_list_free(s, 1);
    recs_done(&a);
    recs_done(&b);
}

/* A request whose records keep far more than their bytes (empty values) passes the decoding
 * cap: 413, nothing stored; the same records in smaller requests are all taken. */
static void test_decoding_cap(void **state)
{
    struct fx *f = *state;
    struct recs all = {0};
    size_t per = 150, n_records = 4000;
    for (size_t i = 0; i < n_records; i++)
        add_empty_values(&all, "e", NULL, per);
    struct group g = {"cap", "events.1", 0, &all, 0, 0};
    Tbdev__V1__WriteEventsResponse *res = NULL;
    assert_int_equal(post(f, &g, 1, &res), 413);
    assert_null(series(f, "cap", "e"));
    /* in eight pieces, on record boundaries */
    size_t rec_len = all.n / n_records, off = 0;
    for (int k = 0; k < 8; k++) {
        struct recs part = {all.b + off, all.n / 8, 0};
        assert_int_equal(part.n % rec_len, 0);
        g = (struct group){"cap", "events.1", off, &part, 0, 0};
        assert_int_equal(post(f, &g, 1, &res), 200);
        assert_int_equal(res->results[0]->values, per * n_records / 8);
        tbdev__v1__write_events_response__free_unpacked(res, NULL);
        off += part.n;
    }
    struct svc_series_info *s = series(f, "cap", "e");
    assert_non_null(s);
    assert_int_equal(s->points, per * n_records);
    svc_series_list_free(s, 1);
    recs_done(&all);
}

/* ---- the ingest steps called directly, as the local mode does (no HTTP, no token) ---- */

/* Groups as local mode hands them over: records read from a file, with run, file, offset. */
static Tbdev__V1__RecordGroup **direct_groups(const struct group *gs, size_t ng,
                                              Tbdev__V1__RecordGroup *g)
{
    Tbdev__V1__RecordGroup **p = calloc(ng, sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < ng; i++) {
        tbdev__v1__record_group__init(&g[i]);
        g[i].run = (ProtobufCBinaryData){strlen(gs[i].run), (uint8_t *)gs[i].run};
        g[i].file = (ProtobufCBinaryData){strlen(gs[i].file), (uint8_t *)gs[i].file};
        g[i].offset = gs[i].offset;
        g[i].records = (ProtobufCBinaryData){gs[i].recs->n, gs[i].recs->b};
        g[i].fingerprint_len = gs[i].fp_len;
        g[i].fingerprint = gs[i].fp;
        p[i] = &g[i];
    }
    return p;
}

/* Decodes and writes groups; returns svc_ingest_write's result (or -1000 - status when the
 * decode failed), with in left for the caller to look at and free. */
static int ingest(struct fx *f, struct svc_ingest *in, const struct group *gs, size_t ng)
{
    size_t bytes = 0;
    for (size_t i = 0; i < ng; i++)
        bytes += gs[i].recs->n;
    Tbdev__V1__RecordGroup g[8];
    assert_true(ng <= 8);
    Tbdev__V1__RecordGroup **p = direct_groups(gs, ng, g);
    svc_ingest_init(in, &f->app, f->e.id, bytes);
    int rc = svc_ingest_decode(in, p, ng);
    if (rc < 0) {
        free(p);
        return -1000 - in->status;
    }
    rc = svc_ingest_write(in, f->user.id, 0);
    free(p);
    return rc;
}

/* The steps commit exactly once: a group is committed with its cursor, the same group again is
 * a replay that stores nothing, a group past the cursor is a gap with nothing stored. */
static void test_direct_exactly_once(void **state)
{
    struct fx *f = *state;
    struct recs a = {0}, b = {0};
    for (int s = 0; s < 50; s++)
        add_float_val(&a, "loss", s, (float)s, s == 0);
    for (int s = 50; s < 80; s++)
        add_float_val(&b, "loss", s, (float)s, false);
    struct svc_ingest in;
    struct group g = {"train", "events.1", 0, &a, 0, 0};
    assert_int_equal(ingest(f, &in, &g, 1), 0);
    assert_int_equal(svc_ingest_values(&in), 50);
    assert_false(in.b.groups[0].replay);
    assert_null(in.b.groups[0].refused);
    assert_int_equal(in.b.groups[0].cursor, a.n);
    svc_ingest_done(&in);
    /* the same group again: acknowledged, not stored again */
    assert_int_equal(ingest(f, &in, &g, 1), 0);
    assert_true(in.b.groups[0].replay);
    assert_int_equal(in.b.groups[0].cursor, a.n);
    svc_ingest_done(&in);
    /* a group that starts past the cursor: a gap, nothing stored */
    struct group gap = {"train", "events.1", a.n + 16, &b, 0, 0};
    assert_int_equal(ingest(f, &in, &gap, 1), -ESTALE);
    assert_int_equal(in.status, 409);
    assert_string_equal(in.code, "gap");
    assert_non_null(strstr(in.message, "has the file up to"));
    assert_int_equal(in.b.groups[in.b.gap_group].cursor, a.n);
    svc_ingest_done(&in);
    /* the group that follows on: stored, with the first value's metadata from the store */
    struct group next = {"train", "events.1", a.n, &b, 0, 0};
    assert_int_equal(ingest(f, &in, &next, 1), 0);
    assert_int_equal(in.b.groups[0].cursor, a.n + b.n);
    svc_ingest_done(&in);
    struct svc_series_info *s = series(f, "train", "loss");
    assert_non_null(s);
    assert_int_equal(s->kind, TB_KIND_SCALAR);
    assert_int_equal(s->points, 80);
    svc_series_list_free(s, 1);
    struct svc_experiment e;
    assert_int_equal(svc_store_sqlite.experiment_get(f->app.store, f->e.id, &e), 0);
    assert_int_equal(e.usage.scalars, 80);
    recs_done(&a);
    recs_done(&b);
}

/* Failures come back as a status, a code and a message for the caller to report: records cut
 * short (400), more decoded data than the bytes allow (413); nothing is stored. */
static void test_direct_failures(void **state)
{
    struct fx *f = *state;
    struct recs a = {0};
    for (int s = 0; s < 10; s++)
        add_float_val(&a, "acc", s, 0.5f, s == 0);
    struct recs cut = {a.b, a.n - 3, 0};
    struct group g = {"run", "events.1", 0, &cut, 0, 0};
    struct svc_ingest in;
    assert_int_equal(ingest(f, &in, &g, 1), -1000 - 400);
    assert_string_equal(in.code, "bad_record");
    assert_non_null(strstr(in.message, "ends inside a record"));
    svc_ingest_done(&in);
    struct recs empty = {0};
    for (size_t i = 0; i < 4000; i++)
        add_empty_values(&empty, "e", NULL, 150);
    g = (struct group){"run", "events.2", 0, &empty, 0, 0};
    assert_int_equal(ingest(f, &in, &g, 1), -1000 - 413);
    assert_string_equal(in.code, "too_large");
    svc_ingest_done(&in);
    assert_null(series(f, "run", "acc"));
    assert_null(series(f, "run", "e"));
    /* done after init alone frees nothing twice */
    svc_ingest_init(&in, &f->app, f->e.id, 100);
    svc_ingest_done(&in);
    recs_done(&a);
    recs_done(&empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_metadata_across_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_refuse_only_their_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drops_by_reason_and_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoding_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

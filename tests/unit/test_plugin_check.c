/* SPDX-License-Identifier: MIT */
/* Unit tests for plugin_check: hostile hparams and custom-scalars data refused, real writers'
 * data accepted, other plugins' content left alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_check.h"
#include "tfrecord.h"

/* An hparams SessionStartInfo {"lr": levels ListValues around 0.5}, packed by protobuf-c. */
static uint8_t *session_nested(size_t levels, size_t *ret_len)
{
    Tensorboard__Hparams__Value *vals = calloc(levels + 1, sizeof(*vals));
    Tensorboard__Hparams__ListValue *lists = calloc(levels + 1, sizeof(*lists));
    Tensorboard__Hparams__Value **ptrs = calloc(levels + 1, sizeof(*ptrs));
    assert_true(vals && lists && ptrs);
    tensorboard__hparams__value__init(&vals[0]);
    vals[0].kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE;
    vals[0].number_value = 0.5;
    for (size_t i = 1; i <= levels; i++) {
        tensorboard__hparams__list_value__init(&lists[i]);
        ptrs[i] = &vals[i - 1];
        lists[i].n_values = 1;
        lists[i].values = &ptrs[i];
        tensorboard__hparams__value__init(&vals[i]);
        vals[i].kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_LIST_VALUE;
        vals[i].list_value = &lists[i];
    }
    Tensorboard__Hparams__SessionStartInfo__HparamsEntry e =
        TENSORBOARD__HPARAMS__SESSION_START_INFO__HPARAMS_ENTRY__INIT;
    e.key = "lr";
    e.value = &vals[levels];
    Tensorboard__Hparams__SessionStartInfo__HparamsEntry *ep = &e;
    Tensorboard__Hparams__SessionStartInfo si = TENSORBOARD__HPARAMS__SESSION_START_INFO__INIT;
    si.n_hparams = 1;
    si.hparams = &ep;
    Tensorboard__Hparams__HParamsPluginData pd = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__INIT;
    pd.data_case = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO;
    pd.session_start_info = &si;
    size_t n = tensorboard__hparams__hparams_plugin_data__get_packed_size(&pd);
    uint8_t *out = malloc(n);
    assert_non_null(out);
    tensorboard__hparams__hparams_plugin_data__pack(&pd, out);
    free(vals);
    free(lists);
    free(ptrs);
    *ret_len = n;
    return out;
}

static struct tb_value value(const char *plugin, const uint8_t *content, size_t len)
{
    struct tb_value v;
    memset(&v, 0, sizeof(v));
    v.tag = "t";
    v.plugin_name = plugin;
    v.display_name = v.description = "";
    v.plugin_content = (struct tb_bytes){content, len};
    v.kind = TB_KIND_TENSOR;
    return v;
}

static void test_hparams(void **state)
{
    (void)state;
    char why[200];
    size_t n;
    uint8_t *ok = session_nested(2, &n);
    struct tb_value v = value("hparams", ok, n);
    assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), 0);
    Tensorboard__Hparams__HParamsPluginData *pd = svc_plugin_hparams(ok, n, NULL);
    assert_non_null(pd);
    assert_int_equal(pd->session_start_info->n_hparams, 1);
    tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);
    free(ok);

    /* issue 12's shapes: 40 levels (the JSON writer's old limit) and 5,000 (protobuf-c's
     * stack) */
    const size_t levels[] = {40, 5000};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *deep = session_nested(levels[i], &n);
        v = value("hparams", deep, n);
        why[0] = 0;
        assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "hparams plugin data"));
        assert_non_null(strstr(why, "32 levels"));
        int err = 0;
        assert_null(svc_plugin_hparams(deep, n, &err));
        assert_int_equal(err, -E2BIG);
        free(deep);
    }
    /* not protobuf at all */
    static const uint8_t junk[] = {0x1a, 0x7f, 0x00};
    v = value("hparams", junk, sizeof(junk));
    assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "not valid"));
    /* empty content is an empty HParamsPluginData: allowed */
    v = value("hparams", NULL, 0);
    assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), 0);
}

static void test_custom_scalars(void **state)
{
    (void)state;
    char why[200];
    Tensorboard__MultilineChartContent ml = TENSORBOARD__MULTILINE_CHART_CONTENT__INIT;
    char *tags[1] = {"loss.*"};
    ml.n_tag = 1;
    ml.tag = tags;
    Tensorboard__Chart ch = TENSORBOARD__CHART__INIT;
    ch.title = "c";
    ch.content_case = TENSORBOARD__CHART__CONTENT_MULTILINE;
    ch.multiline = &ml;
    Tensorboard__Chart *chp = &ch;
    Tensorboard__Category cat = TENSORBOARD__CATEGORY__INIT;
    cat.title = "cat";
    cat.n_chart = 1;
    cat.chart = &chp;
    Tensorboard__Category *catp = &cat;
    Tensorboard__Layout l = TENSORBOARD__LAYOUT__INIT;
    l.n_category = 1;
    l.category = &catp;
    uint8_t buf[256];
    size_t n = tensorboard__layout__pack(&l, buf);
    struct tb_bytes strs[2] = {{buf, n}, {(const uint8_t *)"\x12\x05\x0a", 3}};
    struct tb_value v = value("custom_scalars", NULL, 0);
    v.tensor.dtype = TENSORBOARD__DATA_TYPE__DT_STRING;
    v.tensor.strings = strs;
    v.tensor.n_strings = 1;
    assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), 0);
    Tensorboard__Layout *got = svc_plugin_layout(buf, n, NULL);
    assert_non_null(got);
    assert_string_equal(got->category[0]->chart[0]->multiline->tag[0], "loss.*");
    tensorboard__layout__free_unpacked(got, NULL);
    v.tensor.n_strings = 2; /* the second string is not a Layout */
    assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "string 1"));
}

/* Content the server never decodes is not checked: Keras writes "1" as graph_keras_model's. */
static void test_other_plugins_untouched(void **state)
{
    (void)state;
    char why[200];
    static const uint8_t one[] = {'1'};
    const char *plugins[] = {"graph_keras_model", "text", "pr_curves", "mesh", "", "scalars"};
    for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++) {
        struct tb_value v = value(plugins[i], one, 1);
        assert_int_equal(svc_plugin_check(&v, why, sizeof(why)), 0);
    }
}

/* MeshPluginData: what a writer packs decodes back; what is not one is NULL with -EBADMSG. */
static void test_mesh(void **state)
{
    (void)state;
    Tensorboard__Mesh__MeshPluginData m = TENSORBOARD__MESH__MESH_PLUGIN_DATA__INIT;
    int32_t shape[3] = {1, 4, 3};
    m.name = "mesh/tetrahedron";
    m.content_type = TENSORBOARD__MESH__MESH_PLUGIN_DATA__CONTENT_TYPE__FACE;
    m.json_config = "{\"camera\": {\"fov\": 40}}";
    m.n_shape = 3;
    m.shape = shape;
    m.components = 14;
    uint8_t buf[256];
    size_t len = tensorboard__mesh__mesh_plugin_data__pack(&m, buf);
    int err = 0;
    Tensorboard__Mesh__MeshPluginData *d = svc_plugin_mesh(buf, len, &err);
    assert_non_null(d);
    assert_string_equal(d->name, "mesh/tetrahedron");
    assert_int_equal(d->content_type, 2);
    assert_string_equal(d->json_config, m.json_config);
    assert_int_equal(d->n_shape, 3);
    assert_int_equal(d->shape[1], 4);
    assert_int_equal(d->components, 14);
    tensorboard__mesh__mesh_plugin_data__free_unpacked(d, NULL);
    /* cut short, inside the name */
    assert_null(svc_plugin_mesh(buf, 5, &err));
    assert_int_equal(err, -EBADMSG);
    /* Keras's "1" in another plugin's content is not a MeshPluginData either */
    assert_null(svc_plugin_mesh((const uint8_t *)"1", 1, &err));
    assert_int_equal(err, -EBADMSG);
    /* a field of the wrong wire type (name as a varint) */
    static const uint8_t wrong[] = {0x10, 0x01};
    assert_null(svc_plugin_mesh(wrong, sizeof(wrong), &err));
    /* nothing: all defaults, content type UNDEFINED (the Mesh tab leaves such a series out) */
    d = svc_plugin_mesh(NULL, 0, &err);
    assert_non_null(d);
    assert_int_equal(d->content_type, 0);
    tensorboard__mesh__mesh_plugin_data__free_unpacked(d, NULL);
}

static size_t n_values, n_checked, n_mesh;

static int check_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (type != FTW_F || !strstr(path, "tfevents"))
        return 0;
    struct tb_tfrecord_reader *r = NULL;
    if (tb_tfrecord_open(path, 0, 0, &r) < 0)
        return 0;
    struct tb_arena arena;
    tb_arena_init(&arena, 0);
    struct tb_meta_cache mc;
    tb_meta_cache_init(&mc);
    struct tb_record rec;
    struct tb_problem p;
    int rc;
    while ((rc = tb_tfrecord_next(r, &rec, &p)) != 0) {
        if (rc < 0)
            continue;
        struct tb_event ev;
        tb_arena_reset(&arena);
        if (tb_event_decode(rec.data, rec.len, &arena, &ev, &p) < 0)
            continue;
        assert_int_equal(tb_meta_cache_apply(&mc, &ev, &arena, &p), 0);
        for (size_t i = 0; i < ev.n_values; i++) {
            char why[200];
            if (svc_plugin_check(&ev.values[i], why, sizeof(why)) != 0)
                fail_msg("%s: value '%s' (%s) refused: %s", path, ev.values[i].tag,
                         ev.values[i].plugin_name, why);
            n_values++;
            if (!strcmp(ev.values[i].plugin_name, "mesh")) {
                /* PyTorch's and tensorboardX's add_mesh: each part decodes, named, typed */
                Tensorboard__Mesh__MeshPluginData *m = svc_plugin_mesh(
                    ev.values[i].plugin_content.data, ev.values[i].plugin_content.len, NULL);
                if (!m || !m->name[0] || m->content_type < 1 || m->content_type > 3)
                    fail_msg("%s: mesh value '%s' does not decode as a named part", path,
                             ev.values[i].tag);
                tensorboard__mesh__mesh_plugin_data__free_unpacked(m, NULL);
                n_mesh++;
            }
            n_checked += !strcmp(ev.values[i].plugin_name, "hparams") ||
                         !strcmp(ev.values[i].plugin_name, "custom_scalars");
        }
    }
    tb_meta_cache_done(&mc);
    tb_arena_done(&arena);
    tb_tfrecord_close(r);
    return 0;
}

/* Every value in the real writers' files (PyTorch, tensorboardX, TensorBoard, Keras, ...) is
 * accepted: the checks refuse nothing a real writer makes. */
static void test_real_writers_accepted(void **state)
{
    (void)state;
    /* tests/meson.build points TBDEV_REAL_DATA at the shared folder */
    const char *real = getenv("TBDEV_REAL_DATA");
    struct stat st;
    if (!real || stat(real, &st) != 0) {
        print_message("skip: the real event files (TBDEV_REAL_DATA) are missing\n");
        skip();
    }
    assert_int_equal(nftw(real, check_file, 16, FTW_PHYS), 0);
    print_message("%zu values, %zu of them hparams or custom-scalars\n", n_values, n_checked);
    assert_true(n_checked >= 10);
    assert_true(n_mesh >= 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hparams),
        cmocka_unit_test(test_custom_scalars),
        cmocka_unit_test(test_other_plugins_untouched),
        cmocka_unit_test(test_mesh),
        cmocka_unit_test(test_real_writers_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

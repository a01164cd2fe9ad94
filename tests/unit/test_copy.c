/* SPDX-License-Identifier: MIT */
/* Unit tests for copy.c's pure parts: the canonical encoding of values and rows that the
 * verification hashes, the key of a copy's mark (read back from a destination: untrusted), and
 * its table list against the schema a migrated SQLite store really has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "copy.h"
#include "store.h"

static const struct svc_copy_table *table(const char *name)
{
    for (size_t i = 0; i < svc_copy_n_tables; i++)
        if (!strcmp(svc_copy_tables[i].name, name))
            return &svc_copy_tables[i];
    fail_msg("no table %s", name);
    return NULL;
}

static struct svc_copy_value text(const char *s)
{
    return (struct svc_copy_value){.p = (const uint8_t *)s, .len = strlen(s)};
}

static void test_value_encoding(void **state)
{
    (void)state;
    uint8_t out[64];
    struct svc_copy_value v = {.i = -2};
    assert_int_equal(svc_copy_value_encode('i', &v, out), 9);
    const uint8_t want_i[9] = {'i', 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(out, want_i, 9);
    v = (struct svc_copy_value){.d = 1.0};
    assert_int_equal(svc_copy_value_encode('D', &v, out), 9); /* nullable: the same tag */
    const uint8_t want_d[9] = {'d', 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    assert_memory_equal(out, want_d, 9);
    v = text("ab");
    assert_int_equal(svc_copy_value_encode('t', &v, out), 11);
    const uint8_t want_t[11] = {'t', 2, 0, 0, 0, 0, 0, 0, 0, 'a', 'b'};
    assert_memory_equal(out, want_t, 11);
    v = (struct svc_copy_value){.null = true};
    assert_int_equal(svc_copy_value_encode('B', &v, out), 1);
    assert_int_equal(out[0], 'N');
    v = (struct svc_copy_value){0};
    assert_int_equal(svc_copy_value_encode('b', &v, NULL), 9); /* empty bytes are not NULL */
}

/* The digest of a row is the SHA-256 of its values' encodings, whatever the backend. */
static void digest(const struct svc_copy_table *t, const struct svc_copy_value *row,
                   uint8_t out[32])
{
    struct svc_sha256_ctx *c = svc_sha256_new();
    assert_non_null(c);
    svc_copy_row_digest(c, t, row);
    svc_sha256_end(c, out);
}

static void test_row_digest(void **state)
{
    (void)state;
    const struct svc_copy_table *t = table("tokens");
    uint8_t hash[32] = {1, 2, 3};
    struct svc_copy_value row[9] = {{.i = 7},       {.i = 1},         {.p = hash, .len = 32},
                                    text("ci"),     text("tbdev_ab"), {.d = 1.5},
                                    {.null = true}, {.null = true},   {.d = 99.25}};
    uint8_t buf[512];
    size_t at = 0;
    for (unsigned i = 0; i < t->n_cols; i++)
        at += svc_copy_value_encode(t->types[i], &row[i], buf + at);
    uint8_t want[32], got[32];
    svc_sha256(buf, at, want);
    digest(t, row, got);
    assert_memory_equal(got, want, 32);

    /* one bit of one value, NULL against empty, and a value moved to the next column all
     * change it */
    hash[31] ^= 1;
    digest(t, row, got);
    assert_memory_not_equal(got, want, 32);
    hash[31] ^= 1;
    row[6] = (struct svc_copy_value){.d = 0};
    digest(t, row, got);
    assert_memory_not_equal(got, want, 32);
    row[6] = (struct svc_copy_value){.null = true};
    row[3] = text("c");
    row[4] = text("itbdev_ab");
    digest(t, row, got);
    assert_memory_not_equal(got, want, 32);
}

static void test_key_roundtrip(void **state)
{
    (void)state;
    const struct svc_copy_table *t = table("blob_owners");
    uint8_t sha[32];
    memset(sha, 0xab, sizeof(sha));
    struct svc_copy_value row[2] = {text("0U9EqFROOfsnWQ9X7iu4Fg"), {.p = sha, .len = 32}};
    uint8_t *key = NULL;
    size_t len = 0;
    assert_int_equal(svc_copy_key_encode(t, row, &key, &len), 0);
    assert_int_equal(len, 9 + 22 + 9 + 32);
    struct svc_copy_value back[2];
    assert_int_equal(svc_copy_key_decode(t, key, len, back), 0);
    assert_int_equal(back[0].len, 22);
    assert_memory_equal(back[0].p, "0U9EqFROOfsnWQ9X7iu4Fg", 22);
    assert_int_equal(back[1].len, 32);
    assert_memory_equal(back[1].p, sha, 32);

    /* short, long, another type, and a length past the end are refused */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(svc_copy_key_decode(t, key, cut, back), -EBADMSG);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, key, len);
    longer[len] = 0;
    assert_int_equal(svc_copy_key_decode(t, longer, len + 1, back), -EBADMSG);
    longer[0] = 'b';
    assert_int_equal(svc_copy_key_decode(t, longer, len, back), -EBADMSG);
    longer[0] = 't';
    longer[8] = 0x80; /* a length of 2^63 + 22 */
    assert_int_equal(svc_copy_key_decode(t, longer, len, back), -EBADMSG);
    free(longer);
    free(key);

    const struct svc_copy_table *files = table("files");
    struct svc_copy_value frow[5] = {{.i = 41}, text("events.out.tfevents.1"), {.i = 9}};
    assert_int_equal(svc_copy_key_encode(files, frow, &key, &len), 0);
    assert_int_equal(svc_copy_key_decode(files, key, len, back), 0);
    assert_int_equal(back[0].i, 41);
    assert_int_equal(back[1].len, strlen("events.out.tfevents.1"));
    const uint8_t null_key[] = {'N'};
    assert_int_equal(svc_copy_key_decode(files, null_key, 1, back), -EBADMSG);
    free(key);
}

/* --- the table list against a real, migrated SQLite store --- */

struct names {
    char list[64][64];
    size_t n;
};

static int on_name(void *ctx, const struct svc_copy_value *row)
{
    struct names *n = ctx;
    if (n->n < 64)
        snprintf(n->list[n->n++], 64, "%.*s", (int)row[0].len, (const char *)row[0].p);
    return 0;
}

static bool listed(const struct names *n, const char *name)
{
    for (size_t i = 0; i < n->n; i++)
        if (!strcmp(n->list[i], name))
            return true;
    return false;
}

static void test_tables_are_the_schema(void **state)
{
    (void)state;
    for (size_t i = 0; i < svc_copy_n_tables; i++) {
        const struct svc_copy_table *t = &svc_copy_tables[i];
        assert_int_equal(strlen(t->types), t->n_cols);
        assert_true(t->n_key >= 1 && t->n_key <= t->n_cols && t->n_cols <= SVC_COPY_COLS_MAX);
        for (unsigned k = 0; k < t->n_key; k++)
            assert_true(t->types[k] >= 'a' && t->types[k] <= 'z'); /* keys are never NULL */
    }
    char dir[64], db[128];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/tbdev-copy-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof(db), "%s/t.db", dir);
    struct svc_store_options o = {.busy_timeout_ms = 5000};
    struct svc_store *s = NULL;
    assert_int_equal(svc_store_sqlite.open(db, &o, &s), 0);
    assert_int_equal(svc_store_sqlite.migrate(s, NULL, NULL), 0);

    /* every table of the schema is copied (but the seq counter, which PostgreSQL keeps in a
     * sequence that copy_finish sets) */
    const struct svc_copy_table master = {
        "sqlite_master WHERE type = 'table'", {"name"}, "t", 1, 1};
    struct names tables = {0};
    assert_int_equal(svc_store_sqlite.rows_read(s, &master, NULL, on_name, &tables), 0);
    for (size_t i = 0; i < tables.n; i++) {
        bool found = !strcmp(tables.list[i], "counters");
        for (size_t k = 0; k < svc_copy_n_tables && !found; k++)
            found = !strcmp(svc_copy_tables[k].name, tables.list[i]);
        if (!found)
            fail_msg("table %s of the schema is not copied", tables.list[i]);
    }
    /* with exactly its columns */
    for (size_t i = 0; i < svc_copy_n_tables; i++) {
        const struct svc_copy_table *t = &svc_copy_tables[i];
        assert_true(listed(&tables, t->name));
        char from[128];
        snprintf(from, sizeof(from), "pragma_table_info('%s')", t->name);
        const struct svc_copy_table info = {from, {"name"}, "t", 1, 1};
        struct names cols = {0};
        assert_int_equal(svc_store_sqlite.rows_read(s, &info, NULL, on_name, &cols), 0);
        if (cols.n != t->n_cols)
            fail_msg("table %s has %zu columns, the copy knows %u", t->name, cols.n, t->n_cols);
        for (unsigned k = 0; k < t->n_cols; k++)
            if (!listed(&cols, t->cols[k]))
                fail_msg("table %s has no column %s", t->name, t->cols[k]);
    }
    /* a source at this schema version opens a snapshot; the rows of an empty table are none */
    assert_int_equal(svc_store_sqlite.rows_snapshot(s, true), 0);
    uint64_t n = 1;
    assert_int_equal(svc_store_sqlite.rows_count(s, table("users"), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(svc_store_sqlite.rows_snapshot(s, false), 0);
    svc_store_sqlite.close(s);
    char rm[160];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_encoding),
        cmocka_unit_test(test_row_digest),
        cmocka_unit_test(test_key_roundtrip),
        cmocka_unit_test(test_tables_are_the_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

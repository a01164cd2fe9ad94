/* SPDX-License-Identifier: MIT */
/* Managing experiments from the command line: list, delete, update-metadata. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "creds.h"
#include "exitcode.h"
#include "json.h"
#include "manage.h"
#include "opts.h"

#define PROTOBUF "application/x-protobuf"

struct common {
    struct up_common c; /* first: the common options */
    bool json;
    const char *experiment_id;
    const char *name;
    const char *description;
    const char *visibility;
    const char *share;
    const char *unshare;
};

static const struct tb_opt list_options[] = {
    {"json", 0, TB_OPT_FLAG, offsetof(struct common, json), NULL, NULL,
     "Print one JSON document, for scripts (README: \"JSON output\")."},
};

static const struct tb_opt delete_options[] = {
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct common, experiment_id), "ID[,ID...]", NULL,
     "The experiments to delete, comma-separated."},
};

static const struct tb_opt update_options[] = {
    {"experiment_id", 0, TB_OPT_STRING, offsetof(struct common, experiment_id), "ID", NULL,
     "The experiment to change."},
    {"name", 0, TB_OPT_STRING, offsetof(struct common, name), "NAME", NULL, "A new title."},
    {"description", 0, TB_OPT_STRING, offsetof(struct common, description), "TEXT", NULL,
     "A new markdown description."},
    {"visibility", 0, TB_OPT_STRING, offsetof(struct common, visibility), "V", NULL,
     "unlisted, public or private."},
    {"share_with", 0, TB_OPT_STRING, offsetof(struct common, share), "USERS", NULL,
     "Let these users (comma-separated) read the experiment when it is private."},
    {"unshare", 0, TB_OPT_STRING, offsetof(struct common, unshare), "USERS", NULL,
     "Stop sharing with these users."},
};

#define N(a) (sizeof(a) / sizeof(a[0]))

/* The --help of the command being parsed (up_cli_parse calls a function without arguments). */
static struct {
    const char *cmd, *synopsis, *about;
    const struct tb_opt *opts;
    size_t n;
} help;

static void print_help(void)
{
    printf("Usage: tbdev %s %s\n\n%s\n\nOptions:\n", help.cmd, help.synopsis, help.about);
    tb_opts_help(stdout, help.opts, help.n);
    up_cli_help_common();
    printf("\nExit status: 0 success, 1 failure (the message says why), 2 usage error.\n");
}

/* Parses options; answers --help and usage errors. Returns -1 to go on, else an exit code. */
static int parse(const char *cmd, const char *synopsis, const char *about,
                 const struct tb_opt *opts, size_t n, int argc, char **argv, struct common *c)
{
    help.cmd = cmd;
    help.synopsis = synopsis;
    help.about = about;
    help.opts = opts;
    help.n = n;
    return up_cli_parse(cmd, opts, n, print_help, argc, argv, c, true, NULL);
}

/* Checks comma-separated experiment IDs locally. Returns false after a usage message. */
static bool ids_ok(const char *cmd, const char *list)
{
    char *copy = strdup(list ? list : "");
    bool ok = copy && *copy;
    for (char *save = NULL, *id = copy ? strtok_r(copy, ",", &save) : NULL; ok && id;
         id = strtok_r(NULL, ",", &save))
        if (!up_experiment_id_ok(id)) {
            fprintf(stderr,
                    "tbdev %s: '%.80s' is not an experiment ID (22 letters, digits, '-' and '_', "
                    "as in the link; see 'tbdev list')\n",
                    cmd, id);
            ok = false;
        }
    free(copy);
    return ok;
}

static int open_client(const char *cmd, const struct common *o, bool need_token,
                       struct up_client **ret)
{
    struct up_creds creds;
    char err[600];
    if (up_creds_load(&creds, o->c.server, err, sizeof(err)) < 0 ||
        up_client_open(&creds, o->c.server, o->c.cacert, need_token, o->c.verbose >= UP_REQUESTS,
                       ret, err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev %s: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

static const char *vis_name(int v)
{
    return v == TBDEV__V1__VISIBILITY__PUBLIC    ? "public"
           : v == TBDEV__V1__VISIBILITY__PRIVATE ? "private"
                                                 : "unlisted";
}

static void fmt_time(char *out, size_t len, double t, bool rfc3339)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, len, rfc3339 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M", &tm);
}

int up_list_main(int argc, char **argv)
{
    struct common o = {0};
    int rc = parse("list", "[--json]",
                   "Lists your experiments on the server, newest first, with their usage.",
                   list_options, N(list_options), argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct up_client *cl = NULL;
    if (open_client("list", &o, true, &cl) < 0)
        return UP_EXIT_FAILURE;
    struct up_reply r;
    char err[600];
    rc = UP_EXIT_FAILURE;
    if (up_client_call(cl, "GET", "/api/v1/experiments", NULL, NULL, 0, false, &r, err,
                       sizeof(err)) < 0) {
        fprintf(stderr, "tbdev list: %s\n", err);
        goto out;
    }
    if (r.status != 200 || !r.protobuf) {
        up_reply_error(&r, err, sizeof(err), NULL, 0);
        fprintf(stderr, "tbdev list: %s\n", err);
        tb_buf_done(&r.body);
        goto out;
    }
    Tbdev__V1__ExperimentList *l =
        tbdev__v1__experiment_list__unpack(NULL, r.body.len, r.body.data);
    tb_buf_done(&r.body);
    if (!l) {
        fprintf(stderr, "tbdev list: the server's answer is unreadable\n");
        goto out;
    }
    if (o.json) {
        struct tb_buf b;
        tb_buf_init(&b, 0);
        struct tb_json j;
        tb_json_init(&j, &b);
        tb_json_obj_open(&j);
        tb_json_key(&j, "experiments");
        tb_json_arr_open(&j);
        for (size_t i = 0; i < l->n_experiments; i++) {
            const Tbdev__V1__Experiment *e = l->experiments[i];
            tb_json_obj_open(&j);
            tb_json_key(&j, "id");
            tb_json_str(&j, e->id);
            tb_json_key(&j, "name");
            tb_json_str(&j, e->name);
            tb_json_key(&j, "description");
            tb_json_str(&j, e->description);
            tb_json_key(&j, "visibility");
            tb_json_str(&j, vis_name(e->visibility));
            tb_json_key(&j, "url");
            tb_json_str(&j, e->url);
            /* TensorBoard.dev's fields (created, updated as RFC 3339), and ours beside them */
            char t[40];
            fmt_time(t, sizeof(t), e->create_time, true);
            tb_json_key(&j, "created");
            tb_json_str(&j, t);
            fmt_time(t, sizeof(t), e->update_time, true);
            tb_json_key(&j, "updated");
            tb_json_str(&j, t);
            tb_json_key(&j, "create_time");
            tb_json_double(&j, e->create_time);
            tb_json_key(&j, "update_time");
            tb_json_double(&j, e->update_time);
            tb_json_key(&j, "owner");
            tb_json_str(&j, e->owner);
            if (e->usage) {
                tb_json_key(&j, "runs");
                tb_json_uint(&j, e->usage->runs);
                tb_json_key(&j, "tags");
                tb_json_uint(&j, e->usage->tags);
                tb_json_key(&j, "scalars");
                tb_json_uint(&j, e->usage->scalars);
                tb_json_key(&j, "tensors");
                tb_json_uint(&j, e->usage->tensors);
                tb_json_key(&j, "blobs");
                tb_json_uint(&j, e->usage->blobs);
                tb_json_key(&j, "bytes");
                tb_json_uint(&j, e->usage->bytes);
            }
            tb_json_obj_close(&j);
        }
        tb_json_arr_close(&j);
        tb_json_obj_close(&j);
        printf("%s\n", b.data ? (const char *)b.data : "{}");
        tb_buf_done(&b);
    } else if (!l->n_experiments) {
        printf("No experiments yet. Upload one with: tbdev upload --logdir DIR\n");
    } else {
        for (size_t i = 0; i < l->n_experiments; i++) {
            const Tbdev__V1__Experiment *e = l->experiments[i];
            char upd[32], created[32];
            fmt_time(upd, sizeof(upd), e->update_time, false);
            fmt_time(created, sizeof(created), e->create_time, false);
            printf("%s\n", e->url);
            printf("  Name        %s\n", e->name[0] ? e->name : "[No Name]");
            printf("  Id          %s   (%s)\n", e->id, vis_name(e->visibility));
            printf("  Created     %s UTC, updated %s UTC\n", created, upd);
            if (e->usage) {
                char ru[32], t[32], sc[40], te[40], bl[40], by[32];
                up_human_bytes(by, sizeof(by), (double)e->usage->bytes);
                printf(
                    "  Usage       %s, %s, %s, %s, %s, %s\n",
                    up_plural(e->usage->runs, "run", "runs", ru, sizeof(ru)),
                    up_plural(e->usage->tags, "tag", "tags", t, sizeof(t)),
                    up_plural(e->usage->scalars, "scalar point", "scalar points", sc, sizeof(sc)),
                    up_plural(e->usage->tensors, "tensor point", "tensor points", te, sizeof(te)),
                    up_plural(e->usage->blobs, "blob point", "blob points", bl, sizeof(bl)), by);
            }
        }
        printf("Total: %zu experiment%s\n", l->n_experiments, l->n_experiments == 1 ? "" : "s");
    }
    tbdev__v1__experiment_list__free_unpacked(l, NULL);
    rc = UP_EXIT_OK;
out:
    up_client_close(cl);
    return rc;
}

int up_delete_main(int argc, char **argv)
{
    struct common o = {0};
    int rc = parse("delete", "--experiment_id ID[,ID...]",
                   "Deletes experiments and all their data from the server. There is no undo.",
                   delete_options, N(delete_options), argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (!o.experiment_id || !*o.experiment_id) {
        fprintf(stderr, "tbdev delete: give --experiment_id ID (see 'tbdev list')\n");
        return UP_EXIT_USAGE;
    }
    if (!ids_ok("delete", o.experiment_id))
        return UP_EXIT_USAGE;
    struct up_client *cl = NULL;
    if (open_client("delete", &o, true, &cl) < 0)
        return UP_EXIT_FAILURE;
    rc = UP_EXIT_OK;
    char *ids = strdup(o.experiment_id);
    for (char *save = NULL, *id = ids ? strtok_r(ids, ",", &save) : NULL; id;
         id = strtok_r(NULL, ",", &save)) {
        char path[200], err[600];
        snprintf(path, sizeof(path), "/api/v1/experiments/%.64s", id);
        struct up_reply r;
        if (up_client_call(cl, "DELETE", path, NULL, NULL, 0, false, &r, err, sizeof(err)) < 0) {
            fprintf(stderr, "tbdev delete: %s: %s\n", id, err);
            rc = UP_EXIT_FAILURE;
            continue;
        }
        if (r.status == 204) {
            printf("Deleted experiment %s.\n", id);
        } else {
            up_reply_error(&r, err, sizeof(err), NULL, 0);
            fprintf(stderr, "tbdev delete: %s: %s\n", id, err);
            rc = UP_EXIT_FAILURE;
        }
        tb_buf_done(&r.body);
    }
    free(ids);
    up_client_close(cl);
    return rc;
}

static size_t split(char *s, char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = s ? strtok_r(s, ",", &save) : NULL; t && n < max;
         t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

int up_experiment_update(struct up_client *cl, const char *id, const char *name,
                         const char *description, const char *visibility, char *share,
                         char *unshare, char *err, size_t err_len)
{
    Tbdev__V1__UpdateExperimentRequest req = TBDEV__V1__UPDATE_EXPERIMENT_REQUEST__INIT;
    char *mask[3];
    size_t nm = 0;
    if (name) {
        req.name = (ProtobufCBinaryData){strlen(name), (uint8_t *)name};
        mask[nm++] = "name";
    }
    if (description) {
        req.description = (ProtobufCBinaryData){strlen(description), (uint8_t *)description};
        mask[nm++] = "description";
    }
    if (visibility) {
        req.visibility = !strcmp(visibility, "public")    ? TBDEV__V1__VISIBILITY__PUBLIC
                         : !strcmp(visibility, "private") ? TBDEV__V1__VISIBILITY__PRIVATE
                                                          : TBDEV__V1__VISIBILITY__UNLISTED;
        mask[nm++] = "visibility";
    }
    req.n_update_mask = nm;
    req.update_mask = mask;
    char *sh[64], *unsh[64];
    req.n_share_with = split(share, sh, 64);
    req.share_with = sh;
    req.n_unshare = split(unshare, unsh, 64);
    req.unshare = unsh;
    size_t n;
    void *body = up_pack(&req, &n);
    if (!body) {
        snprintf(err, err_len, "out of memory");
        return -ENOMEM;
    }
    char path[200];
    snprintf(path, sizeof(path), "/api/v1/experiments/%.64s", id);
    struct up_reply r;
    int rc = up_client_call(cl, "PATCH", path, PROTOBUF, body, n, false, &r, err, err_len);
    free(body);
    if (rc < 0)
        return rc;
    rc = 0;
    if (r.status != 200) {
        up_reply_error(&r, err, err_len, NULL, 0);
        rc = -EPROTO;
    }
    tb_buf_done(&r.body);
    return rc;
}

int up_update_main(int argc, char **argv)
{
    struct common o = {0};
    int rc =
        parse("update-metadata", "--experiment_id ID [--name N] [--description D] [--visibility V]",
              "Changes an experiment's title, description, visibility or sharing.", update_options,
              N(update_options), argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (!o.experiment_id) {
        fprintf(stderr, "tbdev update-metadata: give --experiment_id ID (see 'tbdev list')\n");
        return UP_EXIT_USAGE;
    }
    if (!ids_ok("update-metadata", o.experiment_id) || strchr(o.experiment_id, ','))
        return UP_EXIT_USAGE;
    const char *v = o.visibility;
    if (v && strcmp(v, "unlisted") && strcmp(v, "public") && strcmp(v, "private")) {
        fprintf(stderr,
                "tbdev update-metadata: --visibility must be unlisted, public or private\n");
        return UP_EXIT_USAGE;
    }
    if (!o.name && !o.description && !v && !o.share && !o.unshare) {
        fprintf(stderr, "tbdev update-metadata: nothing to change: give --name, --description, "
                        "--visibility, --share_with or --unshare\n");
        return UP_EXIT_USAGE;
    }
    char *share_buf = o.share ? strdup(o.share) : NULL,
         *unshare_buf = o.unshare ? strdup(o.unshare) : NULL;
    struct up_client *cl = NULL;
    rc = UP_EXIT_FAILURE;
    if (open_client("update-metadata", &o, true, &cl) < 0)
        goto out;
    char err[600];
    if (up_experiment_update(cl, o.experiment_id, o.name, o.description, v, share_buf, unshare_buf,
                             err, sizeof(err)) < 0) {
        fprintf(stderr, "tbdev update-metadata: %s\n", err);
        goto out;
    }
    printf("Updated experiment %s.\n", o.experiment_id);
    rc = UP_EXIT_OK;
out:
    free(share_buf);
    free(unshare_buf);
    up_client_close(cl);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* Serving the viewer: static files by name from the embedded table, and the page shell. */
#include "web.h"

#include <stdbool.h>
#include <string.h>

#include "app.h"
#include "auth.h"

const struct svc_asset *svc_asset_find(const char *name)
{
    for (const struct svc_asset *a = svc_assets; a->name; a++)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}

void svc_h_static(struct svc_call *c)
{
    /* The name is matched against the table only: nothing reaches the file system. */
    const struct svc_asset *a = svc_asset_find(c->param);
    if (!a || !strcmp(a->name, "index.html")) {
        svc_error(c, 404, "not_found", "no such file");
        return;
    }
    c->res->status = 200;
    c->res->content_type = a->mime;
    c->res->static_body = a->data;
    c->res->static_len = a->len;
    c->res->cache_control = "public, max-age=300";
}

void svc_h_page(struct svc_call *c)
{
    /* Route parameters are checked here too, so that a malformed link is a plain 404. */
    bool exp = !strncmp(c->req->path, "/experiment/", 12);
    bool user = !strncmp(c->req->path, "/user/", 6);
    if ((exp && !svc_is_experiment_id(c->param)) ||
        (user &&
         (strlen(c->param) > 64 || strspn(c->param, "abcdefghijklmnopqrstuvwxyz"
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                    "0123456789_-.") != strlen(c->param)))) {
        svc_error(c, 404, "not_found", "not found");
        return;
    }
    /* One shell for every page; app.js reads the path. Unlisted pages are not indexed. */
    const struct svc_asset *a = svc_asset_find("index.html");
    if (!a) {
        svc_error(c, 500, "internal", "the viewer was not built into this server");
        return;
    }
    c->res->status = 200;
    c->res->content_type = a->mime;
    c->res->static_body = a->data;
    c->res->static_len = a->len;
    svc_res_header(c->res, "X-Robots-Tag", "noindex");
}

/* SPDX-License-Identifier: MIT */
/* Markdown rendering with cmark-gfm in safe mode. */
#include "markdown.h"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_extensions(void)
{
    cmark_gfm_core_extensions_ensure_registered();
}

int svc_markdown_html(const char *md, size_t len, struct tb_buf *out)
{
    pthread_once(&once, register_extensions);
    int opts = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8 | CMARK_OPT_STRIKETHROUGH_DOUBLE_TILDE;
    cmark_parser *p = cmark_parser_new(opts);
    if (!p)
        return -ENOMEM;
    static const char *const exts[] = {"table", "strikethrough", "autolink", "tagfilter"};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        cmark_syntax_extension *e = cmark_find_syntax_extension(exts[i]);
        if (e)
            cmark_parser_attach_syntax_extension(p, e);
    }
    cmark_parser_feed(p, md, len);
    cmark_node *doc = cmark_parser_finish(p);
    int err = 0;
    if (!doc) {
        err = -ENOMEM;
    } else {
        char *html = cmark_render_html(doc, opts, cmark_parser_get_syntax_extensions(p));
        if (!html)
            err = -ENOMEM;
        else
            err = tb_buf_adds(out, html);
        free(html);
        cmark_node_free(doc);
    }
    cmark_parser_free(p);
    return err;
}

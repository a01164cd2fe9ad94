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

/* Raw HTML in untrusted markdown is shown as the text it is, as TensorBoard shows it, rather
 * than dropped: each HTML node becomes a text node (inside a paragraph when it was a block). */
static void html_to_text(cmark_node *doc)
{
    cmark_iter *it = cmark_iter_new(doc);
    cmark_node *pending[256];
    size_t n = 0;
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE && n < 256) {
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(node);
        if (ev == CMARK_EVENT_ENTER && (t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_HTML_INLINE))
            pending[n++] = node;
    }
    cmark_iter_free(it);
    for (size_t i = 0; i < n; i++) {
        cmark_node *node = pending[i];
        cmark_node *text = cmark_node_new(CMARK_NODE_TEXT);
        const char *lit = cmark_node_get_literal(node);
        if (!text)
            continue;
        cmark_node_set_literal(text, lit ? lit : "");
        cmark_node *repl = text;
        if (cmark_node_get_type(node) == CMARK_NODE_HTML_BLOCK) {
            repl = cmark_node_new(CMARK_NODE_PARAGRAPH);
            if (!repl) {
                cmark_node_free(text);
                continue;
            }
            cmark_node_append_child(repl, text);
        }
        cmark_node_replace(node, repl);
        cmark_node_free(node);
    }
    /* Past 256 HTML nodes the rest stay HTML nodes, which safe mode then drops. */
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
        html_to_text(doc);
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

/* SPDX-License-Identifier: MIT */
/* Fuzz target: svc_markdown_html, untrusted markdown (experiment descriptions) to HTML. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "markdown.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_markdown: check failed: %s: ", #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * The output is checked with a small tokenizer rather than by searching for bad strings:
 *   - every '<' opens one of the tags cmark-gfm writes (below), or its comment
 *     "<!-- raw HTML omitted -->"; every '>' closes one ('>' in text is &gt;);
 *   - a tag has only the attributes cmark-gfm writes, each name="value" with no '"', '<' or
 *     '>' inside the value, so that no attribute (an on* handler) can hide in another;
 *   - href and src are never a javascript:, vbscript:, file: or data: URL (cmark keeps
 *     data:image/png, gif, jpeg and webp), compared without case, ASCII whitespace and
 *     control characters, as a browser reads a scheme.
 */
static const char *const tags[] = {"p",  "em",         "strong", "a",   "code",  "pre",   "ul",
                                   "ol", "li",         "h1",     "h2",  "h3",    "h4",    "h5",
                                   "h6", "blockquote", "hr",     "br",  "table", "thead", "tbody",
                                   "tr", "th",         "td",     "del", "img",   "input"};
static const char *const attrs[] = {"href",  "src",   "alt",  "title",   "align",
                                    "start", "class", "type", "checked", "disabled"};

static bool in_list(const char *s, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && !strncmp(list[i], s, len))
            return true;
    return false;
}

static void check_url(const char *v, size_t len, const char *html)
{
    char s[32];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(s) - 1; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch <= 0x20 || ch == 0x7f)
            continue;
        s[n++] = (char)tolower(ch);
    }
    s[n] = 0;
    CHECK(strncmp(s, "javascript:", 11) && strncmp(s, "vbscript:", 9) && strncmp(s, "file:", 5),
          "dangerous URL %.*s in %s", (int)len, v, html);
    if (!strncmp(s, "data:", 5))
        CHECK(!strncmp(s, "data:image/png", 14) || !strncmp(s, "data:image/gif", 14) ||
                  !strncmp(s, "data:image/jpeg", 15) || !strncmp(s, "data:image/webp", 15),
              "data URL %.*s in %s", (int)len, v, html);
}

static void check_html(const char *h, size_t len)
{
    static const char comment[] = "<!-- raw HTML omitted -->";
    size_t i = 0;
    while (i < len) {
        if (h[i] == '>')
            CHECK(0, "'>' outside a tag at %zu in %s", i, h);
        if (h[i] != '<') {
            i++;
            continue;
        }
        if (!strncmp(h + i, "<!--", 4)) {
            CHECK(!strncmp(h + i, comment, sizeof(comment) - 1), "comment at %zu in %s", i, h);
            i += sizeof(comment) - 1;
            continue;
        }
        i++;
        if (h[i] == '/')
            i++;
        size_t name = i;
        while (i < len && (isalnum((unsigned char)h[i])))
            i++;
        CHECK(in_list(h + name, i - name, tags, sizeof(tags) / sizeof(tags[0])),
              "tag <%.*s> at %zu in %s", (int)(i - name), h + name, name, h);
        for (;;) {
            while (i < len && h[i] == ' ')
                i++;
            if (i < len && h[i] == '>') {
                i++;
                break;
            }
            if (i + 1 < len && h[i] == '/' && h[i + 1] == '>') {
                i += 2;
                break;
            }
            size_t an = i;
            while (i < len && (islower((unsigned char)h[i]) || h[i] == '-'))
                i++;
            CHECK(i > an && in_list(h + an, i - an, attrs, sizeof(attrs) / sizeof(attrs[0])),
                  "attribute %.*s at %zu in %s", (int)(i - an + 1), h + an, an, h);
            if (i < len && h[i] != '=')
                continue; /* a bare attribute: checked, disabled */
            CHECK(i + 1 < len && h[i] == '=' && h[i + 1] == '"', "attribute value at %zu in %s", i,
                  h);
            i += 2;
            size_t v = i;
            while (i < len && h[i] != '"') {
                CHECK(h[i] != '<' && h[i] != '>', "'%c' in an attribute at %zu in %s", h[i], i, h);
                i++;
            }
            CHECK(i < len, "unterminated attribute at %zu in %s", v, h);
            size_t alen = v - 2 - an;
            if ((alen == 4 && !strncmp(h + an, "href", 4)) ||
                (alen == 3 && !strncmp(h + an, "src", 3)))
                check_url(h + v, i - v, h);
            i++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Descriptions are at most 2400 bytes; more only slows the search down. */
    if (size > 16384)
        return 0;
    char *md = malloc(size ? size : 1);
    if (!md)
        return 0;
    memcpy(md, data, size);
    struct tb_buf out;
    tb_buf_init(&out, 0);
    int err = svc_markdown_html(md, size, &out);
    free(md);
    CHECK(err == 0 || err == -ENOMEM || err == -E2BIG, "svc_markdown_html: %d", err);
    if (err == 0 && out.len) {
        CHECK(strlen((const char *)out.data) == out.len, "a NUL in the HTML");
        check_html((const char *)out.data, out.len);
    }
    tb_buf_done(&out);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Untrusted markdown to safe HTML, with cmark-gfm: the only file that includes it. */
#pragma once

#include <stddef.h>

#include "buf.h"

/*
 * Appends the HTML for `len` bytes of markdown to out. cmark-gfm runs in its default safe
 * mode: raw HTML becomes a comment and javascript:, vbscript:, file: and data: links are
 * emptied. GFM tables, strikethrough and autolinks are on. NUL bytes are replaced by U+FFFD.
 * Returns 0, or -ENOMEM / -E2BIG (from out).
 */
int svc_markdown_html(const char *md, size_t len, struct tb_buf *out);

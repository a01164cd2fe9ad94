/* SPDX-License-Identifier: MIT */
/* Streaming JSON writer; see json.h. */
#include "json.h"
#include "numfmt.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_json_init(struct tb_json *j, struct tb_buf *out)
{
    j->out = out;
    j->depth = 0;
    j->over = 0;
    j->first[0] = true;
    j->after_key = false;
}

static void sep(struct tb_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        tb_buf_addc(j->out, ',');
    j->first[j->depth] = false;
}

static void open_(struct tb_json *j, char c)
{
    sep(j);
    if (j->over || j->depth >= TB_JSON_DEPTH_MAX) {
        j->over++;
        if (!j->out->err)
            j->out->err = -E2BIG;
        return;
    }
    tb_buf_addc(j->out, c);
    j->first[++j->depth] = true;
}

static void close_(struct tb_json *j, char c)
{
    if (j->over) {
        j->over--;
        return;
    }
    assert(j->depth > 0); /* a close without an open is the caller's bug */
    if (j->depth > 0)
        j->depth--;
    tb_buf_addc(j->out, c);
}

void tb_json_obj_open(struct tb_json *j)
{
    open_(j, '{');
}

void tb_json_obj_close(struct tb_json *j)
{
    close_(j, '}');
}

void tb_json_arr_open(struct tb_json *j)
{
    open_(j, '[');
}

void tb_json_arr_close(struct tb_json *j)
{
    close_(j, ']');
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void tb_json_escape(struct tb_buf *b, const void *s, size_t len)
{
    const uint8_t *p = s;
    size_t i = 0, run = 0; /* bytes [i - run, i) need no escaping */
    while (i < len) {
        uint8_t c = p[i];
        const char *esc = NULL;
        char tmp[8];
        size_t skip = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            esc = tmp;
        } else if (c >= 0x80) {
            size_t l = utf8_len(p + i, len - i);
            if (l == 0) {
                esc = "\\ufffd";
            } else if (l == 3 && c == 0xe2 && p[i + 1] == 0x80 &&
                       (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                esc = p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
                skip = 3;
            } else {
                i += l;
                run += l;
                continue;
            }
        }
        if (!esc) {
            i++;
            run++;
            continue;
        }
        tb_buf_add(b, p + i - run, run);
        run = 0;
        tb_buf_adds(b, esc);
        i += skip;
    }
    tb_buf_add(b, p + i - run, run);
}

void tb_json_key(struct tb_json *j, const char *key)
{
    sep(j);
    tb_buf_addc(j->out, '"');
    tb_json_escape(j->out, key, strlen(key));
    tb_buf_add(j->out, "\":", 2);
    j->after_key = true;
}

void tb_json_keyn(struct tb_json *j, const void *key, size_t len)
{
    sep(j);
    tb_buf_addc(j->out, '"');
    tb_json_escape(j->out, key, len);
    tb_buf_add(j->out, "\":", 2);
    j->after_key = true;
}

void tb_json_strn(struct tb_json *j, const void *s, size_t len)
{
    sep(j);
    tb_buf_addc(j->out, '"');
    tb_json_escape(j->out, s, len);
    tb_buf_addc(j->out, '"');
}

void tb_json_str(struct tb_json *j, const char *s)
{
    if (!s) {
        tb_json_null(j);
        return;
    }
    tb_json_strn(j, s, strlen(s));
}

void tb_json_int(struct tb_json *j, int64_t v)
{
    sep(j);
    tb_buf_addf(j->out, "%lld", (long long)v);
}

void tb_json_uint(struct tb_json *j, uint64_t v)
{
    sep(j);
    tb_buf_addf(j->out, "%llu", (unsigned long long)v);
}

void tb_json_double(struct tb_json *j, double v)
{
    sep(j);
    if (isnan(v))
        tb_buf_adds(j->out, "\"NaN\"");
    else if (isinf(v))
        tb_buf_adds(j->out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else {
        /* the fewest digits that read back as the same double */
        char tmp[TB_NUMFMT_MAX];
        tb_buf_add(j->out, tmp, tb_numfmt_double(v, tmp));
    }
}

void tb_json_bool(struct tb_json *j, bool v)
{
    sep(j);
    tb_buf_adds(j->out, v ? "true" : "false");
}

void tb_json_null(struct tb_json *j)
{
    sep(j);
    tb_buf_adds(j->out, "null");
}

void tb_json_raw(struct tb_json *j, const char *json)
{
    sep(j);
    tb_buf_adds(j->out, json);
}

bool tb_utf8_valid(const void *s, size_t len)
{
    const uint8_t *p = s;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_len(p + i, len - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

/* --- validation --- */

struct jv {
    const uint8_t *p, *end;
};

static void jv_ws(struct jv *v)
{
    while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
        v->p++;
}

static bool jv_string(struct jv *v)
{
    if (v->p >= v->end || *v->p != '"')
        return false;
    v->p++;
    while (v->p < v->end) {
        uint8_t c = *v->p;
        if (c == '"') {
            v->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (v->end - v->p < 2)
                return false;
            uint8_t e = v->p[1];
            if (e == 'u') {
                if (v->end - v->p < 6)
                    return false;
                for (int i = 2; i < 6; i++)
                    if (!strchr("0123456789abcdefABCDEF", v->p[i]) || !v->p[i])
                        return false;
                v->p += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                v->p += 2;
            } else {
                return false;
            }
            continue;
        }
        size_t l = utf8_len(v->p, (size_t)(v->end - v->p));
        if (!l)
            return false;
        v->p += l;
    }
    return false;
}

static bool jv_digits(struct jv *v)
{
    const uint8_t *s = v->p;
    while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
        v->p++;
    return v->p > s;
}

static bool jv_number(struct jv *v)
{
    if (v->p < v->end && *v->p == '-')
        v->p++;
    if (v->p < v->end && *v->p == '0')
        v->p++;
    else if (!jv_digits(v))
        return false;
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!jv_digits(v))
            return false;
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
            v->p++;
        if (!jv_digits(v))
            return false;
    }
    return true;
}

static bool jv_lit(struct jv *v, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n))
        return false;
    v->p += n;
    return true;
}

bool tb_json_valid(const void *s, size_t len, int max_depth)
{
    if (max_depth > 64)
        max_depth = 64;
    struct jv v = {s, (const uint8_t *)s + len};
    uint64_t is_obj = 0; /* bit d: the container at depth d + 1 is an object */
    int depth = 0;
    if (!s)
        return false;
    for (;;) {
        /* a value */
        jv_ws(&v);
        if (v.p >= v.end)
            return false;
        uint8_t c = *v.p;
        bool opened = false;
        if (c == '{' || c == '[') {
            if (depth >= max_depth)
                return false;
            v.p++;
            if (c == '{')
                is_obj |= (uint64_t)1 << depth;
            else
                is_obj &= ~((uint64_t)1 << depth);
            depth++;
            jv_ws(&v);
            if (v.p < v.end && *v.p == (c == '{' ? '}' : ']')) {
                v.p++;
                depth--;
            } else {
                opened = true;
            }
        } else if (c == '"') {
            if (!jv_string(&v))
                return false;
        } else if (c == 't' || c == 'f' || c == 'n') {
            if (!jv_lit(&v, c == 't' ? "true" : c == 'f' ? "false" : "null"))
                return false;
        } else if (!jv_number(&v)) {
            return false;
        }
        if (opened && (is_obj >> (depth - 1) & 1)) {
            /* first member of an object: a key, then the value */
            if (!jv_string(&v))
                return false;
            jv_ws(&v);
            if (v.p >= v.end || *v.p++ != ':')
                return false;
            continue;
        }
        if (opened)
            continue;
        /* after a value: a comma and the next member or element, or closes */
        for (;;) {
            jv_ws(&v);
            if (depth == 0)
                return v.p == v.end;
            if (v.p >= v.end)
                return false;
            bool obj = is_obj >> (depth - 1) & 1;
            if (*v.p == (obj ? '}' : ']')) {
                v.p++;
                depth--;
                continue;
            }
            if (*v.p++ != ',')
                return false;
            if (obj) {
                jv_ws(&v);
                if (!jv_string(&v))
                    return false;
                jv_ws(&v);
                if (v.p >= v.end || *v.p++ != ':')
                    return false;
            }
            break;
        }
    }
}

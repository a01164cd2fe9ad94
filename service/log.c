/* SPDX-License-Identifier: MIT */
/* Server logging; see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_bool quiet;

void svc_log_set_quiet(bool q)
{
    atomic_store(&quiet, q);
}

/* The length of the well-formed UTF-8 sequence at s (2-4 bytes, no overlongs, surrogates or
 * C1 controls), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 && !(c == 0xc2 && s[1] < 0xa0) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

size_t svc_log_escape(const char *in, char *out, size_t out_len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (!out_len)
        return 0;
    while (*s) {
        size_t n = 1;
        char esc[5];
        const char *put = (const char *)s;
        size_t put_len = 1;
        if (*s == '\\') {
            put = "\\\\";
            put_len = 2;
        } else if (*s < 0x20 || *s == 0x7f) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[*s >> 4], esc[3] = hex[*s & 15];
            put = esc;
            put_len = 4;
        } else if (*s >= 0x80) {
            n = utf8_len(s);
            if (n) {
                put_len = n;
            } else {
                n = 1;
                esc[0] = '\\', esc[1] = 'x', esc[2] = hex[*s >> 4], esc[3] = hex[*s & 15];
                put = esc;
                put_len = 4;
            }
        }
        if (o + put_len >= out_len)
            break;
        memcpy(out + o, put, put_len);
        o += put_len;
        s += n;
    }
    out[o] = 0;
    return o;
}

static void vlog(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char msg[2048], line[2048 + 64];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000, level);
    if (n > 0 && (size_t)n < sizeof(line))
        svc_log_escape(msg, line + n, sizeof(line) - (size_t)n);
    /* One write per line, so that lines from pool threads never interleave. */
    fprintf(stderr, "%s\n", line);
}

void svc_log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error", fmt, ap);
    va_end(ap);
}

void svc_log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warn", fmt, ap);
    va_end(ap);
}

void svc_log_info(const char *fmt, ...)
{
    if (atomic_load(&quiet))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("info", fmt, ap);
    va_end(ap);
}

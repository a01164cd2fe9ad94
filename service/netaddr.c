/* SPDX-License-Identifier: MIT */
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Address text to 16 bytes (IPv4 as ::ffff:a.b.c.d); *v4 says it was IPv4. */
static bool parse_ip(const char *s, size_t n, uint8_t out[16], bool *v4)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    uint8_t a4[4];
    if (inet_pton(AF_INET, buf, a4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, a4, 4);
        *v4 = true;
        return true;
    }
    *v4 = false;
    return inet_pton(AF_INET6, buf, out) == 1;
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* The length of s[0..n) without trailing blanks. */
static size_t trim_end(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

int svc_proxies_parse(const char *list, struct svc_proxies *out, char *err, size_t err_len)
{
    out->n = 0;
    if (!list)
        return 0;
    const char *p = list;
    while (*(p = skip_space(p))) {
        size_t n = trim_end(p, strcspn(p, ","));
        const char *item = p;
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
        if (n == 0)
            continue;
        const char *slash = memchr(item, '/', n);
        size_t alen = slash ? (size_t)(slash - item) : n;
        struct svc_netmask m;
        bool v4;
        if (!parse_ip(item, alen, m.addr, &v4)) {
            snprintf(err, err_len, "--trusted_proxies: '%.*s' is not an IPv4 or IPv6 address",
                     (int)(alen > 64 ? 64 : alen), item);
            return -EINVAL;
        }
        unsigned max = v4 ? 32 : 128, bits = max;
        if (slash) {
            const char *d = slash + 1;
            size_t dl = n - alen - 1;
            char num[8];
            char *end = NULL;
            long v = -1;
            if (dl > 0 && dl < sizeof(num) && strspn(d, "0123456789") >= dl) {
                memcpy(num, d, dl);
                num[dl] = 0;
                v = strtol(num, &end, 10);
            }
            if (v < 0 || (unsigned long)v > max) {
                snprintf(err, err_len, "--trusted_proxies: '%.*s': the prefix length must be 0-%u",
                         (int)(n > 80 ? 80 : n), item, max);
                return -EINVAL;
            }
            bits = (unsigned)v;
        }
        if (out->n == TB_TRUSTED_PROXIES_MAX) {
            snprintf(err, err_len, "--trusted_proxies: at most %d addresses or networks",
                     TB_TRUSTED_PROXIES_MAX);
            return -EINVAL;
        }
        m.bits = v4 ? bits + 96 : bits;
        out->m[out->n++] = m;
    }
    return 0;
}

static bool match_bytes(const struct svc_proxies *p, const uint8_t a[16])
{
    for (size_t i = 0; i < p->n; i++) {
        const struct svc_netmask *m = &p->m[i];
        unsigned full = m->bits / 8, rest = m->bits % 8;
        if (memcmp(a, m->addr, full))
            continue;
        if (rest && ((a[full] ^ m->addr[full]) & (uint8_t)(0xff << (8 - rest))))
            continue;
        return true;
    }
    return false;
}

bool svc_proxies_match(const struct svc_proxies *p, const char *ip)
{
    uint8_t a[16];
    bool v4;
    return p && p->n && ip && parse_ip(ip, strlen(ip), a, &v4) && match_bytes(p, a);
}

void svc_proxies_client(const struct svc_proxies *p, const char *peer, const char *xff, char *out,
                        size_t len)
{
    snprintf(out, len, "%s", peer ? peer : "?");
    if (!xff || !svc_proxies_match(p, peer))
        return;
    /* right to left: each item was appended by the hop to its right */
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        const char *item = skip_space(xff + start);
        size_t n = trim_end(item, (size_t)(xff + end - item));
        end = start ? start - 1 : 0;
        if (n == 0)
            continue;
        uint8_t a[16];
        bool v4;
        if (!parse_ip(item, n, a, &v4))
            return; /* a forged or broken item: keep the last good address */
        char text[INET6_ADDRSTRLEN];
        if (v4)
            inet_ntop(AF_INET, a + 12, text, sizeof(text));
        else
            inet_ntop(AF_INET6, a, text, sizeof(text));
        snprintf(out, len, "%s", text);
        if (!match_bytes(p, a))
            return; /* the first hop we do not trust is the client */
    }
}

/* SPDX-License-Identifier: MIT */
/* Trusted proxies (--trusted_proxies): the client address of a request is the socket's peer,
 * or, when that peer is a trusted proxy, the address its X-Forwarded-For header names. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tblimits.h"

/* One address or network (CIDR). IPv4 is kept as IPv4-mapped IPv6, so one compare serves both. */
struct svc_netmask {
    uint8_t addr[16];
    unsigned bits; /* prefix length over the 128 bits */
};

struct svc_proxies {
    size_t n;
    struct svc_netmask m[TB_TRUSTED_PROXIES_MAX];
};

/* Parses a comma-separated list of addresses and networks ("10.0.0.0/8, ::1, 192.0.2.7"); an
 * empty or NULL list trusts nothing. Returns 0, or -EINVAL with the bad item named in err. */
int svc_proxies_parse(const char *list, struct svc_proxies *out, char *err, size_t err_len);

/* Whether the address text (IPv4, IPv6 or IPv4-mapped IPv6) is inside one of the networks. */
bool svc_proxies_match(const struct svc_proxies *p, const char *ip);

/*
 * The client's address for a request from peer with the X-Forwarded-For header xff (NULL when
 * absent), written into out: peer itself unless peer is trusted; then the rightmost address of
 * xff that is not itself a trusted proxy (every proxy appends the address it saw, so those left
 * of an untrusted one could be forged by the client). A malformed item stops the walk: the last
 * address known good is used. out gets at least 46 bytes.
 */
void svc_proxies_client(const struct svc_proxies *p, const char *peer, const char *xff, char *out,
                        size_t len);

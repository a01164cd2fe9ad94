/* SPDX-License-Identifier: MIT */
/* How many record bytes the next upload request may carry: the server's advertised limit,
 * halved each time the server still refuses a request as too large, regained after requests
 * it takes, down to one record, which is then skipped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct up_budget {
    size_t max; /* the most a request carries: the server's request limit, minus framing */
    size_t cur; /* what the next request may carry */
};

/* What to do about a request the server refused as too large (HTTP 413, too_large). */
enum up_refusal {
    UP_SPLIT,       /* send less per request: cur was halved; send the same records again */
    UP_SKIP_RECORD, /* the request held one record: skip it (with a warning) and go on */
};

/* Starts at the server's limit: max_bytes (at least 1). */
void up_budget_init(struct up_budget *b, size_t max_bytes);

/* A request of n_records records and bytes record bytes was refused as too large. */
enum up_refusal up_budget_refused(struct up_budget *b, size_t n_records, size_t bytes);

/* A request was taken: the next one may carry twice as much, up to max. */
void up_budget_taken(struct up_budget *b);

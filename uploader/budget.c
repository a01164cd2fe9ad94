/* SPDX-License-Identifier: MIT */
/* Request sizing for tbdev upload; see budget.h. */
#include "budget.h"

void up_budget_init(struct up_budget *b, size_t max_bytes)
{
    b->max = max_bytes ? max_bytes : 1;
    b->cur = b->max;
}

enum up_refusal up_budget_refused(struct up_budget *b, size_t n_records, size_t bytes)
{
    if (n_records <= 1)
        return UP_SKIP_RECORD;
    /* Half of what was refused, so that the retry certainly carries fewer records; a request
     * always takes its first record, whatever the budget. */
    size_t half = bytes / 2;
    b->cur = half < b->cur ? half : b->cur / 2;
    if (b->cur < 1)
        b->cur = 1;
    return UP_SPLIT;
}

void up_budget_taken(struct up_budget *b)
{
    b->cur = b->cur > b->max / 2 ? b->max : b->cur * 2;
}

/* SPDX-License-Identifier: MIT */
/* Fuzz target: tb_wirescan_check against protobuf-c, which it must agree with (see README.md). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tblimits.h"
#include "tensorboard/event.pb-c.h"
#include "tensorboard/plugin_custom_scalar.pb-c.h"
#include "tensorboard/plugin_hparams.pb-c.h"
#include "wirescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_wirescan: check failed: %s: ", #cond);                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Byte 0 picks the message type; the rest is the message. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &tensorboard__event__descriptor,
        &tensorboard__hparams__hparams_plugin_data__descriptor,
        &tensorboard__layout__descriptor,
        &tensorboard__tensor_proto__descriptor,
        &tensorboard__summary__value__descriptor,
        &tensorboard__hparams__value__descriptor,
    };
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *d = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* Deep inputs are compared up to 200 levels, where protobuf-c's own recursion is still
     * safe to run. */
    size_t off = 0;
    int deep = tb_wirescan_check(d, p, n, 200, &off);
    CHECK(deep == 0 || deep == -EBADMSG || deep == -E2BIG, "result %d", deep);
    CHECK(deep == 0 || off <= n, "offset %zu of %zu", off, n);
    int limited = tb_wirescan_check(d, p, n, TB_PB_DEPTH_MAX, NULL);
    /* a deeper limit accepts at least what a shallower one does */
    CHECK(limited != 0 || deep == 0, "accepted at %d levels, refused (%d) at 200", TB_PB_DEPTH_MAX,
          deep);
    CHECK(limited != -EBADMSG || deep != 0, "bad at %d levels, good at 200", TB_PB_DEPTH_MAX);
    if (deep == -E2BIG)
        return 0;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, n ? p : data);
    CHECK((deep == 0) == (m != NULL), "%s: the scan says %d, protobuf-c %s", d->name, deep,
          m ? "accepts" : "refuses");
    int err = 1;
    ProtobufCMessage *u = tb_wirescan_unpack(d, NULL, n, n ? p : data, &err);
    CHECK((u != NULL) == (limited == 0), "tb_wirescan_unpack disagrees with its scan");
    CHECK(u || err == limited, "tb_wirescan_unpack error %d, scan %d", err, limited);
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    if (u)
        protobuf_c_message_free_unpacked(u, NULL);
    return 0;
}

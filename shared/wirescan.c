/* SPDX-License-Identifier: MIT */
/* Wire-format pre-scan with a nesting limit; see wirescan.h. */
#include "wirescan.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "tblimits.h"

#define WIRE_VARINT 0
#define WIRE_64BIT 1
#define WIRE_LEN 2
#define WIRE_32BIT 5

/* A bounded cursor: reads past `end` set `bad`, which sticks. */
struct wcur {
    const uint8_t *p, *end;
    bool bad;
};

/* A varint of at most `max` bytes (protobuf-c's limits: 5 for keys and lengths, 10 for
 * values); its value is kept only for lengths, so wrap-around past 64 bits does not matter. */
static uint64_t varint(struct wcur *c, int max)
{
    uint64_t v = 0;
    for (int i = 0; i < max; i++) {
        if (c->p >= c->end)
            break;
        uint8_t b = *c->p++;
        if (i < 10)
            v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static void skip(struct wcur *c, uint64_t n)
{
    if (c->bad || n > (uint64_t)(c->end - c->p)) {
        c->bad = true;
        return;
    }
    c->p += n;
}

/* Whether a known field of this type may arrive in this wire type (protobuf-c's
 * parse_required_member, and parse_packed_repeated_member for wire type 2). */
static bool wire_ok(const ProtobufCFieldDescriptor *f, int wire)
{
    bool packable = f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES &&
                    f->type != PROTOBUF_C_TYPE_MESSAGE;
    if (wire == WIRE_LEN && f->label == PROTOBUF_C_LABEL_REPEATED && packable)
        return true;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        return true; /* protobuf-c reads a bool from any wire type */
    case PROTOBUF_C_TYPE_ENUM:
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
        return wire == WIRE_VARINT;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return wire == WIRE_32BIT;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return wire == WIRE_64BIT;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return wire == WIRE_LEN;
    }
    return false;
}

/* A packed array of a repeated scalar field: whole elements only. */
static void packed(struct wcur *c, const ProtobufCFieldDescriptor *f)
{
    size_t n = (size_t)(c->end - c->p);
    switch (f->type) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        c->bad = c->bad || n % 4 != 0;
        return;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        c->bad = c->bad || n % 8 != 0;
        return;
    default: /* varints, bools included */
        while (!c->bad && c->p < c->end)
            varint(c, 10);
        return;
    }
}

/* Scans one message of type d filling c; `depth` is its level. Returns 0, -EBADMSG or -E2BIG,
 * with c->p at the failure. */
static int scan(struct wcur *c, const ProtobufCMessageDescriptor *d, int depth, int max_depth)
{
    if (depth > max_depth)
        return -E2BIG;
    while (!c->bad && c->p < c->end) {
        /* protobuf-c refuses a key whose first byte names field 0, and keeps a longer key of
         * field 0 as an unknown field; so does this scan. */
        if ((*c->p & 0xf8) == 0) {
            c->bad = true;
            break;
        }
        uint64_t k = varint(c, 5);
        if (c->bad)
            break;
        int wire = (int)(k & 7);
        uint64_t id = (k >> 3) & 0xffffffffu;
        const ProtobufCFieldDescriptor *f =
            id <= INT_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)id) : NULL;
        if (f && !wire_ok(f, wire)) {
            c->bad = true;
            break;
        }
        switch (wire) {
        case WIRE_VARINT:
            varint(c, 10);
            break;
        case WIRE_64BIT:
            skip(c, 8);
            break;
        case WIRE_32BIT:
            skip(c, 4);
            break;
        case WIRE_LEN: {
            uint64_t n = varint(c, 5);
            if (c->bad || n > INT_MAX || n > (uint64_t)(c->end - c->p)) {
                c->bad = true;
                break;
            }
            struct wcur sub = {c->p, c->p + n, false};
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                int err = scan(&sub, f->descriptor, depth + 1, max_depth);
                if (err < 0 || sub.bad) {
                    c->p = sub.p;
                    c->bad = true;
                    return err < 0 ? err : -EBADMSG;
                }
            } else if (f && f->label == PROTOBUF_C_LABEL_REPEATED &&
                       f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
                packed(&sub, f);
                if (sub.bad) {
                    c->p = sub.p;
                    c->bad = true;
                    break;
                }
            }
            c->p += n;
            break;
        }
        default: /* groups (3, 4) and the unused 6 and 7: protobuf-c has no groups */
            c->bad = true;
            break;
        }
    }
    return c->bad ? -EBADMSG : 0;
}

int tb_wirescan_check(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                      int max_depth, size_t *ret_offset)
{
    struct wcur c = {data, data + len, false};
    if (!data && len) {
        if (ret_offset)
            *ret_offset = 0;
        return -EBADMSG;
    }
    int err = scan(&c, d, 1, max_depth);
    if (err < 0 && ret_offset)
        *ret_offset = (size_t)(c.p - data);
    return err;
}

/* Schema depths worked out so far: a few slots, filled without a lock (a slot is claimed by
 * its key; a reader takes a depth only once it is written, else works it out again). */
#define DEPTH_SLOTS 32
static _Atomic(const ProtobufCMessageDescriptor *) depth_key[DEPTH_SLOTS];
static _Atomic int depth_val[DEPTH_SLOTS]; /* 0: not written yet */

/* Depth of d, with `path` the types being walked (a type met again on it is a cycle). */
static int schema_depth(const ProtobufCMessageDescriptor *d,
                        const ProtobufCMessageDescriptor **path, int n)
{
    for (int i = 0; i < n; i++)
        if (path[i] == d)
            return INT_MAX;
    if (n >= 64)
        return INT_MAX;
    path[n] = d;
    int deepest = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        int sub = schema_depth(f->descriptor, path, n + 1);
        if (sub == INT_MAX)
            return INT_MAX;
        if (sub > deepest)
            deepest = sub;
    }
    return deepest + 1;
}

int tb_wirescan_schema_depth(const ProtobufCMessageDescriptor *d)
{
    for (int i = 0; i < DEPTH_SLOTS; i++) {
        const ProtobufCMessageDescriptor *k = atomic_load(&depth_key[i]);
        if (!k)
            break;
        if (k == d) {
            int v = atomic_load(&depth_val[i]);
            if (v)
                return v;
            break;
        }
    }
    const ProtobufCMessageDescriptor *path[64];
    int depth = schema_depth(d, path, 0);
    for (int i = 0; i < DEPTH_SLOTS; i++) {
        const ProtobufCMessageDescriptor *expected = NULL;
        if (atomic_compare_exchange_strong(&depth_key[i], &expected, d)) {
            atomic_store(&depth_val[i], depth);
            break;
        }
        if (expected == d)
            break; /* another thread has it */
    }
    return depth;
}

int tb_wirescan_guard(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                      int max_depth, size_t *ret_offset)
{
    if (tb_wirescan_schema_depth(d) <= max_depth)
        return 0;
    return tb_wirescan_check(d, data, len, max_depth, ret_offset);
}

ProtobufCMessage *tb_wirescan_unpack(const ProtobufCMessageDescriptor *d,
                                     ProtobufCAllocator *allocator, size_t len, const uint8_t *data,
                                     int *ret_err)
{
    static const uint8_t empty[1];
    const uint8_t *p = data ? data : empty;
    size_t n = data ? len : 0;
    int err = tb_wirescan_guard(d, p, n, TB_PB_DEPTH_MAX, NULL);
    ProtobufCMessage *m = NULL;
    if (!err) {
        m = protobuf_c_message_unpack(d, allocator, n, p);
        /* bad bytes, or the allocator: the scan tells which */
        if (!m)
            err = tb_wirescan_check(d, p, n, INT_MAX, NULL) < 0 ? -EBADMSG : -ENOMEM;
    }
    if (err && ret_err)
        *ret_err = err;
    return m;
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *tb_wirescan_why(int err)
{
    switch (err) {
    case -E2BIG:
        return "it nests messages more than " STR(TB_PB_DEPTH_MAX) " levels deep";
    case -ENOMEM:
        return "decoding it needs more memory than allowed";
    default:
        return "it is not valid protobuf of its message type";
    }
}

/* SPDX-License-Identifier: MIT */
/* A pre-scan of protobuf wire format that bounds nesting before protobuf-c unpacks anything. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/*
 * protobuf-c's unpack recurses once per nested message, with no limit: 5,000 nested hparams
 * ListValues (a few kilobytes) overflow a thread's stack. These functions walk the wire format
 * first, with a bounded cursor and a sticky error, descending only into length-delimited fields
 * the descriptor declares as messages (a bytes field that happens to parse as a message counts
 * for nothing, as it does for protobuf-c), and refuse what nests deeper than a limit.
 *
 * The scan accepts exactly what protobuf-c 1.4 accepts (keys of up to 5 bytes whose first byte
 * names a field, wire types 0, 1, 2 and 5, length prefixes of up to 5 bytes and at most
 * INT_MAX, each known field in a wire type its type allows, packed arrays that split into whole
 * elements), so a scan that passes is an unpack that can fail only for want of memory. The
 * differential fuzz target and tests/unit/test_wirescan.c hold it to that.
 *
 * Cost: one pass over the keys (the bytes of strings, bytes and fixed-width packed arrays are
 * skipped by length, varint arrays are walked), stack depth at most max_depth frames.
 */

/*
 * Checks that data[0..len) is a message of type d nesting at most max_depth message levels (the
 * top message is level 1). Returns 0; -EBADMSG if it is not a valid d; -E2BIG if it nests
 * deeper. *ret_offset (may be NULL) is set, on failure, to the offset in data where the scan
 * stopped.
 */
int tb_wirescan_check(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                      int max_depth, size_t *ret_offset);

/*
 * The guard to call before an unpack: 0 at once when no message of type d can nest deeper than
 * max_depth whatever the bytes (no type reachable from d contains itself, and its deepest chain
 * of message fields is within the limit: an Event nests 6 levels at most), else
 * tb_wirescan_check. So the scan costs nothing where the schema bounds the recursion already,
 * and protobuf-c, which validates as it unpacks, is left to refuse bad bytes there. What a
 * schema allows is worked out once per type and kept (thread-safe).
 */
int tb_wirescan_guard(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                      int max_depth, size_t *ret_offset);

/* The deepest message nesting d's schema allows (the top message is 1), or INT_MAX when a type
 * reachable from d contains itself. */
int tb_wirescan_schema_depth(const ProtobufCMessageDescriptor *d);

/*
 * tb_wirescan_guard with TB_PB_DEPTH_MAX, then protobuf_c_message_unpack(d, allocator, ...).
 * Returns the message (the caller frees it with protobuf_c_message_free_unpacked and the same
 * allocator, or by dropping its arena), or NULL with *ret_err (may be NULL) set to -EBADMSG,
 * -E2BIG (too deep) or -ENOMEM (the bytes are valid, so only the allocator can have failed).
 */
ProtobufCMessage *tb_wirescan_unpack(const ProtobufCMessageDescriptor *d,
                                     ProtobufCAllocator *allocator, size_t len, const uint8_t *data,
                                     int *ret_err);

/* Why a check failed, for a problem message: "nested deeper than 32 levels" or "not a valid
 * tensorboard.hparams.HParamsPluginData". Static strings. */
const char *tb_wirescan_why(int err);

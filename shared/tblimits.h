/* SPDX-License-Identifier: MIT */
/* Every size and count cap in tbdev, in one place. */
#pragma once

/* Event files. */
#define TB_RECORD_MAX (64u << 20)  /* largest TFRecord payload read; larger ones are skipped */
#define TB_RECORD_HEADER 12u       /* u64 length + u32 masked CRC of the length */
#define TB_RECORD_FOOTER 4u        /* u32 masked CRC of the payload */
#define TB_READ_CHUNK (256u << 10) /* bytes asked of read(2) at a time */
#define TB_RESYNC_SCAN_MAX                                                                         \
    (64u << 20) /* bytes scanned for the next good record after corruption                         \
                 */

/* Decoding. The arena caps what one record may expand into: protobuf-c allocates up to
 * eight times a repeated field's wire size, so the cap is a multiple of the record cap. */
#define TB_DECODE_ARENA_MAX (256u << 20)
#define TB_DECODE_ARENA_BLOCK (64u << 10)
#define TB_TENSOR_RANK_MAX 16 /* deeper shapes are kept as unknown-shape tensors */

/* Names. One limit for run names (relative paths) and tags, in bytes of UTF-8: the decoder
 * drops values with longer tags, the server refuses longer run names (per group) and tags
 * (per value), and advertises it in server-info; the uploader skips such runs and tags. */
#define TB_NAME_MAX 1024
#define TB_PLUGIN_NAME_MAX 128

/* Server requests: bodies by route (a write of events takes --request_bytes), and the
 * sign-in throttle's tables (service/throttle.h). */
#define TB_AUTH_BODY_MAX (4u << 10)   /* sign-in, sign-out, device code, token and approval */
#define TB_SMALL_BODY_MAX (64u << 10) /* other writes: create, change, delete */
#define TB_THROTTLE_KEYS_MAX 16384    /* addresses or accounts tracked per kind of attempt */
/* --trusted_proxies: networks whose X-Forwarded-For is believed (service/netaddr.h). */
#define TB_TRUSTED_PROXIES_MAX 32

/* Files: a fingerprint (CRC32C) of an event file's first bytes tells apart two files that an
 * upload finds under the same run and name (api.proto, RecordGroup). */
#define TB_FINGERPRINT_BYTES 4096 /* at most: whole records from the file's start */
#define TB_FINGERPRINT_MIN 256    /* at least, when the file has that much */

/* Ingest: the memory one write-events request may take while it is decoded follows from the
 * limits the server advertises: TB_INGEST_EXPANSION bytes per byte of its body for what is
 * kept (the items and their data: a 40-byte scalar event keeps 120 bytes, a histogram or image
 * about its own size), plus each record's own decoding, TB_INGEST_RECORD_EXPANSION times the
 * record cap at most (protobuf-c takes up to 8 bytes per byte of a repeated field), reused
 * record after record. A request past the first gets 413 and the uploader splits it; one
 * record past the second is dropped and reported, and the rest of the request is kept. */
#define TB_INGEST_EXPANSION 16
#define TB_INGEST_RECORD_EXPANSION 8

/* Logdir discovery. */
#define TB_LOGDIR_DEPTH_MAX 64 /* directory levels walked below the logdir */
#define TB_LOGDIR_RUNS_MAX 100000
#define TB_LOGDIR_FILES_MAX 1000000
#define TB_LOGDIR_DIRS_MAX 100000   /* directories visited, symlinked paths included */
#define TB_LOGDIR_ALIASES_MAX 8     /* times one directory is walked via different symlinks */
#define TB_LOGDIR_PROBLEMS_MAX 1000 /* problems listed; the rest are only counted */

/* Generic growable buffers: nothing grows past this unless its owner sets a smaller cap. */
#define TB_BUF_MAX ((size_t)1 << 31)

/* Stored data read back (issue 12): whatever a write stored, anyone with the link may read, on
 * every later request. Each limit below says what an attacker gets at it. */
/* Message levels a protobuf may nest (the top message is level 1), checked by shared/wirescan
 * before any protobuf-c unpack of stored or uploaded data. Past it the data is refused: at
 * ingest the value is dropped with a problem, on read the series is left out of the answer.
 * Real hparams nest 6 levels; protobuf-c recurses once per level. */
#define TB_PB_DEPTH_MAX 32
/* Arrays and objects a JSON answer may nest; past it the writer's sticky error is set. */
#define TB_JSON_DEPTH_MAX 64
/* TensorFlow's fill-to-shape (a shape with more elements than values, the last value
 * repeated) may expand a tensor to at most this many times the bytes of the TensorProto it
 * was written in, and to at most TB_TENSOR_FILL_MAX bytes; past either the value is dropped
 * with a problem saying so. */
#define TB_TENSOR_FILL_RATIO 64
#define TB_TENSOR_FILL_MAX (1u << 20)
/* What the quota charges for one stored row on top of its bytes (runs, files, series, scalar
 * chunks, tensor and blob points, restarts, blob ownership): the index and row overhead that
 * makes empty rows cost something. A decimal literal: the migration's SQL spells it too. */
#define TB_QUOTA_ROW_BYTES 64
/* JSON bytes one page of a tensor, histogram, text, PR-curve or blob-list answer may hold
 * before it stops and answers a next_page_token (one element or row always fits). */
#define TB_READ_PAGE_BYTES (4u << 20)
/* tbdev-server copy: rows and bytes written to the destination per transaction (a batch, the
 * most a killed copy does again), and the largest blob it reads back from an object store */
#define TB_COPY_BATCH_ROWS 10000
#define TB_COPY_BATCH_BYTES (8u << 20)
#define TB_COPY_BLOB_MAX TB_RECORD_MAX
/* Read API: steps a mesh lists in GET .../meshes (evenly spaced, the last kept). */
#define TB_MESH_STEPS_MAX 1000
/* Read API: values of one mesh part answered by GET .../mesh_data (as float32: 120 MB), the
 * page's caps of 5M vertices and 10M faces of three values each. */
#define TB_MESH_VALUES_MAX (30u * 1000 * 1000)
/* Read API: histograms rebinned for drawing (?bins=N); TensorBoard draws 30. */
#define TB_HIST_BINS_MAX 1000
/* Answers: compressed embedded assets kept in memory (one per asset and coding). */
#define TB_ENCODE_CACHE_ENTRIES 128
/* Graphs (GET .../graph, service/graphdef.h): a GraphDef is stored data anyone with the link may
 * have sent. Past a count limit the graph is cut (the answer says "truncated"); a name past
 * TB_GRAPH_NAME_MAX makes the graph an error. */
#define TB_GRAPH_NODES_MAX 50000    /* nodes kept of one graph (the biggest real one: 7,660) */
#define TB_GRAPH_INPUTS_MAX 1000000 /* inputs kept, all nodes together */
#define TB_GRAPH_ATTRS_MAX 1000000  /* attributes kept, all nodes together */
#define TB_GRAPH_NODE_ATTRS_MAX 256 /* attributes kept of one node (real ones have under 20) */
#define TB_GRAPH_FUNCS_MAX 10000    /* library functions listed */
#define TB_GRAPH_NAME_MAX 4096      /* bytes of a node, op, device, input or attribute name */
/* Attribute values longer than this are only named, as TensorBoard's limit_attr_size does. */
#define TB_GRAPH_ATTR_BYTES 1024
#define TB_GRAPH_ATTR_DEPTH_MAX 8 /* functions in attributes in functions... written */
#define TB_GRAPH_MERGE_MAX 256    /* graphs of one RunMetadata merged */
#define TB_GRAPH_VALUES_MAX 64    /* values written of a tensor attribute */
#define TB_GRAPH_SHAPES_MAX 256   /* output shapes written of one node */
#define TB_GRAPH_RANK_MAX 64      /* dims of a shape written; deeper ones are unknown */
#define TB_GRAPH_DEVICES_MAX 256  /* devices listed of a RunMetadata's step stats */
/* Name scopes the page nests; deeper parts stay in the node's own name. */
#define TB_GRAPH_SCOPE_DEPTH_MAX 64
#define TB_GRAPH_CACHE_BYTES (64u << 20) /* decoded graphs (their JSON) kept in memory */
#define TB_GRAPH_CACHE_ENTRIES 32

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

/* Names. */
#define TB_TAG_MAX 1024      /* bytes in a tag; longer tags are an error */
#define TB_RUN_NAME_MAX 1024 /* bytes in a run name (a relative path) */
#define TB_PLUGIN_NAME_MAX 128

/* Logdir discovery. */
#define TB_LOGDIR_DEPTH_MAX 64 /* directory levels walked below the logdir */
#define TB_LOGDIR_RUNS_MAX 100000
#define TB_LOGDIR_FILES_MAX 1000000
#define TB_LOGDIR_DIRS_MAX 100000   /* directories visited, symlinked paths included */
#define TB_LOGDIR_ALIASES_MAX 8     /* times one directory is walked via different symlinks */
#define TB_LOGDIR_PROBLEMS_MAX 1000 /* problems listed; the rest are only counted */

/* Generic growable buffers: nothing grows past this unless its owner sets a smaller cap. */
#define TB_BUF_MAX ((size_t)1 << 31)

/* Read API: histograms rebinned for drawing (?bins=N); TensorBoard draws 30. */
#define TB_HIST_BINS_MAX 1000
/* Answers: compressed embedded assets kept in memory (one per asset and coding). */
#define TB_ENCODE_CACHE_ENTRIES 128

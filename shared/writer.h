/* SPDX-License-Identifier: MIT */
/* Writing event files: TFRecord framing of Event protobufs, as TensorFlow's writers do. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tensorboard/event.pb-c.h"

struct tb_writer;

/*
 * Creates (or truncates) the event file at path and writes the file_version event
 * ("brain.Event:2") with the given wall time. On success *ret is owned by the caller, who
 * must call tb_writer_close. Errors: -errno from open/write, -ENOMEM.
 */
int tb_writer_open(const char *path, double wall_time, struct tb_writer **ret);

/* As tb_writer_open, without the file_version event: for tests that need raw files. */
int tb_writer_open_raw(const char *path, struct tb_writer **ret);

/* Appends one framed record holding len payload bytes. Buffered; see tb_writer_flush. */
int tb_writer_record(struct tb_writer *w, const void *data, size_t len);

/* Packs and appends one Event. */
int tb_writer_event(struct tb_writer *w, const Tensorboard__Event *ev);

/* Appends a TF2-style scalar: a rank-0 DT_FLOAT tensor with the scalars plugin's metadata,
 * as tf.summary.scalar writes it. */
int tb_writer_scalar(struct tb_writer *w, double wall_time, int64_t step, const char *tag,
                     float value);

/* Appends a TF1-style scalar (Summary.Value.simple_value), as PyTorch writes it. */
int tb_writer_simple_value(struct tb_writer *w, double wall_time, int64_t step, const char *tag,
                           float value);

/* Writes buffered records to the file; with sync, fsyncs it too. */
int tb_writer_flush(struct tb_writer *w, int sync);

/* Flushes, closes and frees. NULL-safe. Returns the first error seen, or 0. */
int tb_writer_close(struct tb_writer *w);

/* Formats TensorFlow's file name "events.out.tfevents.<secs>.<host>.<pid>.<n>.v2" into buf. */
int tb_writer_file_name(char *buf, size_t size, double wall_time, unsigned n);

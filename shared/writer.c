/* SPDX-License-Identifier: MIT */
/* Event-file writer; see writer.h. */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "tblimits.h"
#include "tfrecord.h"

#define FLUSH_AT (1u << 20)

struct tb_writer {
    int fd;
    int err;           /* first error seen */
    struct tb_buf out; /* framed records not yet written */
    uint8_t *pack;     /* scratch for packing events */
    size_t pack_cap;
};

static int writer_new(const char *path, struct tb_writer **ret)
{
    struct tb_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int err = -errno;
        free(w);
        return err;
    }
    tb_buf_init(&w->out, 0);
    *ret = w;
    return 0;
}

int tb_writer_open_raw(const char *path, struct tb_writer **ret)
{
    return writer_new(path, ret);
}

int tb_writer_open(const char *path, double wall_time, struct tb_writer **ret)
{
    struct tb_writer *w = NULL;
    int err = writer_new(path, &w);
    if (err < 0)
        return err;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:2";
    err = tb_writer_event(w, &ev);
    if (err < 0) {
        tb_writer_close(w);
        return err;
    }
    *ret = w;
    return 0;
}

int tb_writer_flush(struct tb_writer *w, int sync)
{
    size_t done = 0;
    while (!w->err && done < w->out.len) {
        ssize_t n = write(w->fd, w->out.data + done, w->out.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->err = n < 0 ? -errno : -EIO;
        else
            done += (size_t)n;
    }
    tb_buf_reset(&w->out);
    if (!w->err && sync && fsync(w->fd) < 0)
        w->err = -errno;
    return w->err;
}

int tb_writer_record(struct tb_writer *w, const void *data, size_t len)
{
    if (w->err)
        return w->err;
    if (len > TB_RECORD_MAX)
        return -E2BIG;
    if (tb_tfrecord_append(&w->out, data, len) < 0) {
        w->err = w->out.err;
        return w->err;
    }
    if (w->out.len >= FLUSH_AT)
        return tb_writer_flush(w, 0);
    return 0;
}

int tb_writer_event(struct tb_writer *w, const Tensorboard__Event *ev)
{
    size_t n = tensorboard__event__get_packed_size(ev);
    if (n > w->pack_cap) {
        size_t cap = n < 4096 ? 4096 : n;
        uint8_t *p = realloc(w->pack, cap);
        if (!p)
            return -ENOMEM;
        w->pack = p;
        w->pack_cap = cap;
    }
    tensorboard__event__pack(ev, w->pack);
    return tb_writer_record(w, w->pack, n);
}

static int write_value(struct tb_writer *w, double wall_time, int64_t step,
                       Tensorboard__Summary__Value *v)
{
    Tensorboard__Summary__Value *vals[1] = {v};
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = vals;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time;
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return tb_writer_event(w, &ev);
}

int tb_writer_scalar(struct tb_writer *w, double wall_time, int64_t step, const char *tag,
                     float value)
{
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = "scalars";
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    md.data_class = TENSORBOARD__DATA_CLASS__DATA_CLASS_SCALAR;
    Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    Tensorboard__TensorProto t = TENSORBOARD__TENSOR_PROTO__INIT;
    t.dtype = TENSORBOARD__DATA_TYPE__DT_FLOAT;
    t.tensor_shape = &shape;
    t.n_float_val = 1;
    t.float_val = &value;
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.metadata = &md;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    v.tensor = &t;
    return write_value(w, wall_time, step, &v);
}

int tb_writer_simple_value(struct tb_writer *w, double wall_time, int64_t step, const char *tag,
                           float value)
{
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    v.simple_value = value;
    return write_value(w, wall_time, step, &v);
}

int tb_writer_close(struct tb_writer *w)
{
    if (!w)
        return 0;
    tb_writer_flush(w, 0);
    int err = w->err;
    if (close(w->fd) < 0 && !err)
        err = -errno;
    tb_buf_done(&w->out);
    free(w->pack);
    free(w);
    return err;
}

int tb_writer_file_name(char *buf, size_t size, double wall_time, unsigned n)
{
    char host[256];
    if (gethostname(host, sizeof(host)) < 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        if (*p == '/')
            *p = '_';
    int len = snprintf(buf, size, "events.out.tfevents.%lld.%s.%ld.%u.v2", (long long)wall_time,
                       host, (long)getpid(), n);
    return len < 0 || (size_t)len >= size ? -E2BIG : 0;
}

/* SPDX-License-Identifier: MIT */
/* What the server decodes from plugin data, checked once at ingest and again on every read. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "tensorboard/plugin_custom_scalar.pb-c.h"
#include "tensorboard/plugin_hparams.pb-c.h"
#include "tensorboard/plugin_mesh.pb-c.h"

/*
 * Stored data is read back by anyone with the link, on every later request, so what a read
 * handler decodes is refused at ingest when it could not be decoded safely: today the hparams
 * plugin's content (HParamsPluginData, whose Values nest without limit in the schema) and the
 * custom-scalars plugin's layout (each string of its tensor is a Layout). Both are held to
 * tb_wirescan's depth limit (TB_PB_DEPTH_MAX) and must decode. Every other plugin's content is
 * opaque bytes the server stores and exports but never decodes (Keras writes "1" there, which
 * is not even protobuf), so it is not checked.
 *
 * The read side decodes through svc_plugin_hparams and svc_plugin_layout, which run the same
 * checks, so data stored by an older server (or written into the database by hand) is left out
 * of an answer instead of crashing it.
 */

/* 0 if v may be stored; else -EINVAL with a reason written into why (NUL-terminated), or
 * -ENOMEM. */
int svc_plugin_check(const struct tb_value *v, char *why, size_t why_len);

/* An hparams series' plugin content, decoded: the caller frees it with
 * tensorboard__hparams__hparams_plugin_data__free_unpacked(m, NULL). NULL with *ret_err (may be
 * NULL) -EBADMSG, -E2BIG (nested past the limit) or -ENOMEM. */
Tensorboard__Hparams__HParamsPluginData *svc_plugin_hparams(const uint8_t *content, size_t len,
                                                            int *ret_err);

/* A serialized custom-scalars Layout, decoded; freed with tensorboard__layout__free_unpacked(m,
 * NULL). NULL with *ret_err as above. */
Tensorboard__Layout *svc_plugin_layout(const uint8_t *data, size_t len, int *ret_err);

/* A mesh series' plugin content (MeshPluginData: flat, so it is not checked at ingest), decoded
 * for the Mesh tab; freed with tensorboard__mesh__mesh_plugin_data__free_unpacked(m, NULL). NULL
 * with *ret_err (may be NULL) as above. */
Tensorboard__Mesh__MeshPluginData *svc_plugin_mesh(const uint8_t *content, size_t len,
                                                   int *ret_err);

/* SPDX-License-Identifier: MIT */
/* Checks of the plugin data the server decodes; see plugin_check.h. */
#include "plugin_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wirescan.h"

Tensorboard__Hparams__HParamsPluginData *svc_plugin_hparams(const uint8_t *content, size_t len,
                                                            int *ret_err)
{
    return (Tensorboard__Hparams__HParamsPluginData *)tb_wirescan_unpack(
        &tensorboard__hparams__hparams_plugin_data__descriptor, NULL, len, content, ret_err);
}

Tensorboard__Layout *svc_plugin_layout(const uint8_t *data, size_t len, int *ret_err)
{
    return (Tensorboard__Layout *)tb_wirescan_unpack(&tensorboard__layout__descriptor, NULL, len,
                                                     data, ret_err);
}

Tensorboard__Mesh__MeshPluginData *svc_plugin_mesh(const uint8_t *content, size_t len, int *ret_err)
{
    return (Tensorboard__Mesh__MeshPluginData *)tb_wirescan_unpack(
        &tensorboard__mesh__mesh_plugin_data__descriptor, NULL, len, content, ret_err);
}

int svc_plugin_check(const struct tb_value *v, char *why, size_t why_len)
{
    int err = 0;
    if (!strcmp(v->plugin_name, "hparams")) {
        Tensorboard__Hparams__HParamsPluginData *pd =
            svc_plugin_hparams(v->plugin_content.data, v->plugin_content.len, &err);
        if (pd) {
            tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);
            return 0;
        }
        snprintf(why, why_len, "its hparams plugin data cannot be read: %s", tb_wirescan_why(err));
        return err == -ENOMEM ? -ENOMEM : -EINVAL;
    }
    if (!strcmp(v->plugin_name, "custom_scalars") && v->kind == TB_KIND_TENSOR &&
        v->tensor.dtype == TENSORBOARD__DATA_TYPE__DT_STRING) {
        for (size_t i = 0; i < v->tensor.n_strings; i++) {
            const struct tb_bytes *s = &v->tensor.strings[i];
            Tensorboard__Layout *l = svc_plugin_layout(s->data, s->len, &err);
            if (!l) {
                snprintf(why, why_len, "string %zu of its custom-scalars layout cannot be read: %s",
                         i, tb_wirescan_why(err));
                return err == -ENOMEM ? -ENOMEM : -EINVAL;
            }
            tensorboard__layout__free_unpacked(l, NULL);
        }
    }
    return 0;
}

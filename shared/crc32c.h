/* SPDX-License-Identifier: MIT */
/* CRC32C (Castagnoli) and the TFRecord mask, with a hardware path chosen at run time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC32C of len bytes, continuing from crc (pass 0 to start). Uses the SSE4.2 crc32
 * instruction when the CPU has it, else a slicing-by-8 table. data may be NULL if len is 0. */
uint32_t tb_crc32c(uint32_t crc, const void *data, size_t len);

/* The portable path, always available; used by tests to check the hardware path. */
uint32_t tb_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* The SSE4.2 path. Returns false and leaves *ret_crc alone when the CPU lacks SSE4.2 or
 * the build is not for x86-64. */
bool tb_crc32c_hw(uint32_t crc, const void *data, size_t len, uint32_t *ret_crc);

/* TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8. */
static inline uint32_t tb_crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* Masked CRC32C of a buffer, as stored in TFRecord headers and footers. */
static inline uint32_t tb_crc32c_masked(const void *data, size_t len)
{
    return tb_crc32c_mask(tb_crc32c(0, data, len));
}

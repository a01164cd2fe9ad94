/* SPDX-License-Identifier: MIT */
/* Shortest round-trip number text; see numfmt.h. */
#include "numfmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * How: a finite value is m * 2^q exactly. Its rounding to p significant digits, D * 10^s, is
 * computed exactly in 128-bit integers when the numbers fit (every value a chart shows does),
 * and the candidate is checked the way a reader parses it: when D < 2^53 and |s| <= 22, D and
 * 10^|s| are exact doubles, so one multiplication or division is the correctly rounded value
 * of the decimal, which is what strtod (and JavaScript) return. Precisions are tried upwards
 * from 15 (6 for floats): if a shorter form exists, rounding to 15 digits gives it padded with
 * zeros, because at most one 15-digit decimal lies within half a unit in the last place of a
 * double (6 digits of a float). Outside the fast range (subnormals, |v| past about 1e38),
 * snprintf and strtod do the same search slowly.
 */

__extension__ typedef unsigned __int128 u128;

static const double pow10_dbl[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static u128 pow10_u128(int k)
{
    static const uint64_t small[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};
    if (k < 20)
        return small[k];
    u128 r = small[19];
    for (int i = 19; i < k; i++)
        r *= 10;
    return r;
}

/* av (> 0, finite) rounded to p digits: *ret_d with p digits and *ret_e the decimal exponent
 * of its first digit. mant_bits: 53 for doubles, 24 for floats. False outside the fast range. */
static bool round_digits(double av, int p, int mant_bits, uint64_t *ret_d, int *ret_e)
{
    int bexp;
    double fr = frexp(av, &bexp);
    uint64_t m = (uint64_t)ldexp(fr, mant_bits);
    int q = bexp - mant_bits;
    /* log10(av) from the binary exponent; the loop corrects an estimate that is one off */
    int e = (int)floor((bexp - 1) * 0.30102999566398120);
    const uint64_t lo = (uint64_t)pow10_u128(p - 1), hi = lo * 10;
    for (int tries = 0; tries < 3; tries++) {
        int s = e - p + 1; /* D = round(av / 10^s) */
        u128 d;
        if (s <= 0 && q < 0) {
            /* the common case: av * 10^-s = m * 10^-s / 2^-q, a shift */
            if (-s > 22 || -q > 126)
                return false;
            u128 num = (u128)m * pow10_u128(-s);
            u128 half = (u128)1 << (-q - 1), mask = ((u128)1 << -q) - 1;
            u128 rem = num & mask;
            d = num >> -q;
            if (rem > half || (rem == half && (d & 1)))
                d++;
        } else {
            u128 num = m, den = 1;
            if (s < 0) {
                if (-s > 22)
                    return false;
                num *= pow10_u128(-s);
            } else {
                if (s > 38)
                    return false;
                den = pow10_u128(s);
            }
            if (q >= 0) {
                if (q > 126 || (num >> (127 - q)) != 0)
                    return false;
                num <<= q;
            } else {
                if (-q > 126 || (den >> (127 + q)) != 0)
                    return false;
                den <<= -q;
            }
            if (den >> 126)
                return false; /* 2 * rem must not overflow */
            u128 rem = num % den;
            d = num / den;
            if (2 * rem > den || (2 * rem == den && (d & 1)))
                d++;
        }
        if (d >= hi) {
            e++;
            continue;
        }
        if (d < lo) {
            e--;
            continue;
        }
        *ret_d = (uint64_t)d;
        *ret_e = e;
        return true;
    }
    return false;
}

/* The double a reader gets from D * 10^s, or NAN when it cannot be computed exactly here. */
static double read_back(uint64_t d, int s)
{
    if (d >= (1ull << 53) || s > 22 || s < -22)
        return NAN;
    return s >= 0 ? (double)d * pow10_dbl[s] : (double)d / pow10_dbl[-s];
}

/* Writes sign, digits d (p of them, trailing zeros dropped) and exponent e as JSON text. */
static size_t put(char *out, bool neg, uint64_t d, int p, int e)
{
    char dig[24];
    int k = p;
    for (int i = p - 1; i >= 0; i--) {
        dig[i] = (char)('0' + d % 10);
        d /= 10;
    }
    while (k > 1 && dig[k - 1] == '0')
        k--;
    size_t n = 0;
    if (neg)
        out[n++] = '-';
    /* Fixed notation where JavaScript writes it too, but only below 1e16: past 2^53 the digits
     * padded with zeros are another integer than v, which a reader that parses integers
     * exactly (Python's json) would take instead of the double. */
    if (e >= -6 && e < 16) {
        if (e < 0) {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -e - 1; i++)
                out[n++] = '0';
            memcpy(out + n, dig, (size_t)k);
            n += (size_t)k;
        } else if (k <= e + 1) {
            memcpy(out + n, dig, (size_t)k);
            n += (size_t)k;
            for (int i = k; i < e + 1; i++)
                out[n++] = '0';
        } else {
            memcpy(out + n, dig, (size_t)e + 1);
            n += (size_t)e + 1;
            out[n++] = '.';
            memcpy(out + n, dig + e + 1, (size_t)(k - e - 1));
            n += (size_t)(k - e - 1);
        }
    } else {
        out[n++] = dig[0];
        if (k > 1) {
            out[n++] = '.';
            memcpy(out + n, dig + 1, (size_t)k - 1);
            n += (size_t)k - 1;
        }
        n += (size_t)snprintf(out + n, 8, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
    out[n] = 0;
    return n;
}

size_t tb_numfmt_double(double v, char out[TB_NUMFMT_MAX])
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    bool neg = signbit(v);
    double av = fabs(v);
    if (av == 0) {
        strcpy(out, neg ? "-0" : "0");
        return strlen(out);
    }
    for (int p = 15; p <= 17; p++) {
        uint64_t d;
        int e;
        if (!round_digits(av, p, 53, &d, &e))
            break;
        /* 17 digits always read back: a unit in the 17th digit is under 0.9 ulp */
        if (p == 17)
            return put(out, neg, d, p, e);
        double back = read_back(d, e - p + 1);
        if (back == av)
            return put(out, neg, d, p, e);
        if (isnan(back)) { /* D past 2^53: ask strtod */
            size_t n = put(out, neg, d, p, e);
            if (fabs(strtod(out, NULL)) == av)
                return n;
        }
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, TB_NUMFMT_MAX, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return strlen(out);
}

size_t tb_numfmt_float(float f, char out[TB_NUMFMT_MAX])
{
    if (!isfinite(f)) {
        memcpy(out, "null", 5);
        return 4;
    }
    bool neg = signbit(f);
    float af = fabsf(f);
    if (af == 0) {
        strcpy(out, neg ? "-0" : "0");
        return strlen(out);
    }
    for (int p = 6; p <= 9; p++) {
        uint64_t d;
        int e;
        if (!round_digits((double)af, p, 24, &d, &e))
            break;
        double back = read_back(d, e - p + 1);
        if (isnan(back))
            break;
        if ((float)back == af)
            return put(out, neg, d, p, e);
    }
    for (int p = 1; p <= 9; p++) {
        snprintf(out, TB_NUMFMT_MAX, "%.*g", p, (double)f);
        if ((float)strtod(out, NULL) == f)
            break;
    }
    return strlen(out);
}

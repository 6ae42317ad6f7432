/*
 * Quantized matrix products for wasm32 with SIMD128, linked into gemm.wasm
 * next to gemm.c (freestanding, buffers from the caller, see gemm.h).
 *
 * wasm_rt_qgemm: C = (A - a_zp) . (B - b_zp) in exact int32, A and B uint8 or
 * int8 (MatMulInteger, the integer core of dynamic and QDQ int8 models).
 * Operands minus their zero points lie in [-255, 255], so they are widened to
 * int16 and multiplied with i32x4.dot_i16x8, whose pairwise products and sums
 * cannot overflow or saturate; int32 accumulation then wraps as the int32
 * arithmetic of the ONNX spec does (only for K above 33,000 or so).
 *
 * wasm_rt_matmul_nbits: C = A . W^T with W [N, K] stored as MatMulNBits
 * blocks of 4- or 8-bit integers, W[n, k] = (q[n, k] - zp[n, k / bs]) *
 * scale[n, k / bs]. Each KC x NC block of W^T is dequantized straight into
 * gemm.c's packed-panel layout and multiplied by the float32 micro-kernel, so
 * the weights are never expanded to a whole float32 matrix.
 */

#include <stdint.h>
#include <wasm_simd128.h>

#include "gemm.h"

#define A_SIGNED 1 /* flags of wasm_rt_qgemm: A is int8 (else uint8) */
#define B_SIGNED 2 /* B is int8 (else uint8) */

static inline int qval(const uint8_t *p, int sgn) {
    return sgn ? (int)(int8_t)*p : (int)*p;
}

/* 8 consecutive values of a uint8/int8 row, widened to int16 lanes. */
static inline __attribute__((always_inline)) v128_t load8(const uint8_t *p,
                                                           int sgn) {
    return sgn ? wasm_i16x8_load8x8(p) : wasm_u16x8_load8x8(p);
}

/* b_zp[j:j+8] (int32, each in [-128, 255]) as int16 lanes. */
static inline v128_t zp8(const int32_t *zp) {
    return wasm_i16x8_narrow_i32x4(wasm_v128_load(zp), wasm_v128_load(zp + 4));
}

/*
 * Rows p and p + 1 of 8 columns, minus their zero points, interleaved for
 * dot_i16x8: lo holds (B[p, j], B[p+1, j]) for j = 0..3, hi for j = 4..7.
 */
static inline __attribute__((always_inline)) void
pair8(v128_t r0, v128_t r1, v128_t *lo, v128_t *hi) {
    *lo = wasm_i16x8_shuffle(r0, r1, 0, 8, 1, 9, 2, 10, 3, 11);
    *hi = wasm_i16x8_shuffle(r0, r1, 4, 12, 5, 13, 6, 14, 7, 15);
}

/*
 * Pack A[0:mc, 0:kc] - a_zp into MR-row panels of int16 pairs: for each pair
 * of columns (p, p + 1), the panel holds (A[r, p], A[r, p+1]) for r < MR.
 * Missing rows and the column after an odd kc are zeros.
 */
static void pack_qa(int mc, int kc, const uint8_t *a, int rsa, int zp,
                    int sgn, int16_t *dst) {
    for (int i0 = 0; i0 < mc; i0 += MR) {
        int rows = mc - i0 < MR ? mc - i0 : MR;
        for (int p = 0; p < kc; p += 2) {
            for (int r = 0; r < MR; r++) {
                const uint8_t *x = a + (i0 + r) * rsa + p;
                int in = r < rows;
                dst[2 * r] = in ? qval(x, sgn) - zp : 0;
                dst[2 * r + 1] = in && p + 1 < kc ? qval(x + 1, sgn) - zp : 0;
            }
            dst += 2 * MR;
        }
    }
}

/*
 * Pack B[0:kc, 0:nc] - b_zp into NR-column panels of int16 pairs: for each
 * pair of rows, 2 * NR values laid out as pair8 makes them.
 */
static void pack_qb(int kc, int nc, const uint8_t *b, int rsb,
                    const int32_t *zp, int sgn, int16_t *dst) {
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int cols = nc - j0 < NR ? nc - j0 : NR;
        const uint8_t *src = b + j0;
        if (cols == NR) {
            v128_t z = zp8(zp + j0), lo, hi;
            int p = 0;
            for (; p + 2 <= kc; p += 2) {
                v128_t r0 = wasm_i16x8_sub(load8(src + p * rsb, sgn), z);
                v128_t r1 = wasm_i16x8_sub(load8(src + (p + 1) * rsb, sgn), z);
                pair8(r0, r1, &lo, &hi);
                wasm_v128_store(dst, lo);
                wasm_v128_store(dst + 8, hi);
                dst += 2 * NR;
            }
            if (p < kc) {
                v128_t r0 = wasm_i16x8_sub(load8(src + p * rsb, sgn), z);
                pair8(r0, wasm_i16x8_splat(0), &lo, &hi);
                wasm_v128_store(dst, lo);
                wasm_v128_store(dst + 8, hi);
                dst += 2 * NR;
            }
            continue;
        }
        for (int p = 0; p < kc; p += 2) {
            for (int j = 0; j < NR; j++) {
                int in = j < cols;
                int z = in ? zp[j0 + j] : 0;
                dst[2 * j] = in ? qval(src + p * rsb + j, sgn) - z : 0;
                dst[2 * j + 1] =
                    in && p + 1 < kc ? qval(src + (p + 1) * rsb + j, sgn) - z : 0;
            }
            dst += 2 * NR;
        }
    }
}

/* Write (or add) a ROWS x 4*NVEC int32 accumulator tile, cols valid columns. */
static inline __attribute__((always_inline)) void
store_qtile(int ROWS, int NVEC, v128_t acc[MR][8], int32_t *c, int rsc,
            int rows, int cols, int add) {
    for (int i = 0; i < rows; i++) {
        int32_t *row = c + i * rsc;
        if (cols == 4 * NVEC) {
            for (int v = 0; v < NVEC; v++) {
                v128_t x = acc[i][v];
                if (add)
                    x = wasm_i32x4_add(x, wasm_v128_load(row + 4 * v));
                wasm_v128_store(row + 4 * v, x);
            }
        } else {
            int32_t t[32] __attribute__((aligned(16)));
            for (int v = 0; v < NVEC; v++)
                wasm_v128_store(t + 4 * v, acc[i][v]);
            for (int j = 0; j < cols; j++)
                row[j] = add ? row[j] + t[j] : t[j];
        }
    }
    (void)ROWS;
}

/*
 * MR x NR int32 tile from packed panels: per pair of K, two B vectors and
 * one (A[i, p], A[i, p+1]) splat per row feed eight dot_i16x8.
 */
static void qmicro_kernel(int kp, const int16_t *pa, const int16_t *pb,
                          int32_t *c, int rsc, int rows, int cols, int add) {
    v128_t acc[MR][8];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 2; v++)
            acc[i][v] = wasm_i32x4_splat(0);
    for (int q = 0; q < kp; q++) {
        v128_t b0 = wasm_v128_load(pb), b1 = wasm_v128_load(pb + 8);
        for (int i = 0; i < MR; i++) {
            v128_t ai = wasm_v128_load32_splat(pa + 2 * i);
            acc[i][0] = wasm_i32x4_add(acc[i][0], wasm_i32x4_dot_i16x8(ai, b0));
            acc[i][1] = wasm_i32x4_add(acc[i][1], wasm_i32x4_dot_i16x8(ai, b1));
        }
        pa += 2 * MR;
        pb += 2 * NR;
    }
    store_qtile(MR, 2, acc, c, rsc, rows, cols, add);
}

/* The blocked path: B packed once per KC x NC block, A once per MC x KC. */
static void qgemm_blocked(int m, int n, int k, const uint8_t *a, int rsa,
                          int a_zp, const uint8_t *b, int rsb,
                          const int32_t *b_zp, int32_t *c, int rsc, int flags,
                          float *work) {
    int16_t *pack_a = (int16_t *)work;
    int16_t *pack_b = (int16_t *)(work + MC * KC);
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = k - pc < KC ? k - pc : KC;
            int kp = (kc + 1) / 2;
            pack_qb(kc, nc, b + pc * rsb + jc, rsb, b_zp + jc,
                    flags & B_SIGNED, pack_b);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = m - ic < MC ? m - ic : MC;
                pack_qa(mc, kc, a + ic * rsa + pc, rsa, a_zp, flags & A_SIGNED,
                        pack_a);
                for (int jr = 0; jr < nc; jr += NR) {
                    int cols = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int rows = mc - ir < MR ? mc - ir : MR;
                        qmicro_kernel(kp, pack_a + ir * 2 * kp,
                                      pack_b + jr * 2 * kp,
                                      c + (ic + ir) * rsc + jc + jr, rsc, rows,
                                      cols, pc > 0);
                    }
                }
            }
        }
    }
}

/*
 * Small m (batch-1 dense layers): B is read in place, two rows at a time,
 * widened and paired on the fly; `ap` holds A's rows as int32 words of
 * int16 pairs (A[i, 2q] - a_zp, A[i, 2q+1] - a_zp), kp words per row.
 * C[0:ROWS, 0:8*NG] (+)= (A - a_zp) . B over rows p in [0, kc) (kc even
 * unless last): B's zero points are taken off afterwards, as b_zp[j] times
 * the row sums of A - a_zp, which saves a subtraction per B value.
 */
static inline __attribute__((always_inline)) void
qrows_block(int ROWS, int NG, int kc, const int32_t *ap, int kp,
            const uint8_t *b, int rsb, int sgn, int32_t *c, int rsc, int add) {
    v128_t acc[MR][8], lo, hi;
    for (int i = 0; i < ROWS; i++)
        for (int v = 0; v < 2 * NG; v++)
            acc[i][v] = wasm_i32x4_splat(0);
    int p = 0;
    for (; p + 2 <= kc; p += 2) {
        const uint8_t *r = b + p * rsb;
        v128_t ai[MR];
        for (int i = 0; i < ROWS; i++)
            ai[i] = wasm_i32x4_splat(ap[i * kp + p / 2]);
        for (int g = 0; g < NG; g++) {
            pair8(load8(r + 8 * g, sgn), load8(r + rsb + 8 * g, sgn), &lo, &hi);
            for (int i = 0; i < ROWS; i++) {
                acc[i][2 * g] =
                    wasm_i32x4_add(acc[i][2 * g], wasm_i32x4_dot_i16x8(ai[i], lo));
                acc[i][2 * g + 1] = wasm_i32x4_add(acc[i][2 * g + 1],
                                                   wasm_i32x4_dot_i16x8(ai[i], hi));
            }
        }
    }
    if (p < kc) { /* odd K: the last row pairs with zeros */
        for (int g = 0; g < NG; g++) {
            pair8(load8(b + p * rsb + 8 * g, sgn), wasm_i16x8_splat(0), &lo, &hi);
            for (int i = 0; i < ROWS; i++) {
                v128_t ai = wasm_i32x4_splat(ap[i * kp + p / 2]);
                acc[i][2 * g] =
                    wasm_i32x4_add(acc[i][2 * g], wasm_i32x4_dot_i16x8(ai, lo));
                acc[i][2 * g + 1] = wasm_i32x4_add(acc[i][2 * g + 1],
                                                   wasm_i32x4_dot_i16x8(ai, hi));
            }
        }
    }
    store_qtile(ROWS, 2 * NG, acc, c, rsc, ROWS, 8 * NG, add);
}

#define QSKC 128 /* K rows per pass of the small-m path (even) */
static inline __attribute__((always_inline)) void
qsmall_rows(int ROWS, int NG, int n, int k, const uint8_t *a, int rsa,
            int a_zp, const int32_t *ap, int kp, const uint8_t *b, int rsb,
            const int32_t *zp, int flags, int32_t *c, int rsc) {
    int sb = flags & B_SIGNED, sa = flags & A_SIGNED;
    int j8 = n - n % 8;
    for (int pc = 0; pc < k; pc += QSKC) {
        int kc = k - pc < QSKC ? k - pc : QSKC;
        const int32_t *app = ap + pc / 2;
        const uint8_t *bp = b + pc * rsb;
        int j = 0;
        for (; j + 8 * NG <= n; j += 8 * NG)
            qrows_block(ROWS, NG, kc, app, kp, bp + j, rsb, sb, c + j, rsc, pc > 0);
        for (; j < j8; j += 8)
            qrows_block(ROWS, 1, kc, app, kp, bp + j, rsb, sb, c + j, rsc, pc > 0);
    }
    /* C -= b_zp[j] * sum_p (A[i, p] - a_zp), in wrapping int32 like the sums. */
    for (int i = 0; i < ROWS; i++) {
        uint32_t sum = 0;
        for (int q = 0; q < kp; q++)
            sum += (uint32_t)(ap[i * kp + q] >> 16) + (uint32_t)(int16_t)ap[i * kp + q];
        v128_t sv = wasm_i32x4_splat((int32_t)sum);
        int32_t *row = c + i * rsc;
        for (int j = 0; j < j8; j += 4)
            wasm_v128_store(row + j, wasm_i32x4_sub(wasm_v128_load(row + j),
                                                    wasm_i32x4_mul(wasm_v128_load(zp + j), sv)));
    }
    /* The last n % 8 columns, scalar (few: at most 7 * M * K products). */
    for (int j = j8; j < n; j++)
        for (int i = 0; i < ROWS; i++) {
            int32_t s = 0;
            for (int p = 0; p < k; p++)
                s += (qval(a + i * rsa + p, sa) - a_zp) *
                     (qval(b + p * rsb + j, sb) - zp[j]);
            c[i * rsc + j] = s;
        }
}

/*
 * C[0:m, 0:n] = (A - a_zp) . (B - b_zp) in int32. A (m x k) and B (k x n)
 * have contiguous rows of uint8/int8 (flags: A_SIGNED, B_SIGNED) and row
 * strides rsa, rsb; b_zp holds n zero points (one per column); C (int32) has
 * row stride rsc. `work` is gemm.c's workspace (WORK_FLOATS floats).
 */
void wasm_rt_qgemm(int m, int n, int k, const uint8_t *a, int rsa, int a_zp,
                   const uint8_t *b, int rsb, const int32_t *b_zp, int32_t *c,
                   int rsc, int flags, float *work) {
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[i * rsc + j] = 0;
        return;
    }
    int kp = (k + 1) / 2;
    if (m >= MR || (long long)m * kp > WORK_FLOATS) {
        qgemm_blocked(m, n, k, a, rsa, a_zp, b, rsb, b_zp, c, rsc, flags, work);
        return;
    }
    /* A's rows as int16 pairs, so the kernel splats one word per pair. */
    int32_t *ap = (int32_t *)work;
    for (int i = 0; i < m; i++)
        for (int q = 0; q < kp; q++) {
            const uint8_t *x = a + i * rsa + 2 * q;
            int lo = qval(x, flags & A_SIGNED) - a_zp;
            int hi = 2 * q + 1 < k ? qval(x + 1, flags & A_SIGNED) - a_zp : 0;
            ap[i * kp + q] = (int32_t)(((uint32_t)hi << 16) | (uint16_t)lo);
        }
    switch (m) {
    case 1: qsmall_rows(1, 4, n, k, a, rsa, a_zp, ap, kp, b, rsb, b_zp, flags, c, rsc); break;
    case 2: qsmall_rows(2, 2, n, k, a, rsa, a_zp, ap, kp, b, rsb, b_zp, flags, c, rsc); break;
    default: qsmall_rows(3, 1, n, k, a, rsa, a_zp, ap, kp, b, rsb, b_zp, flags, c, rsc); break;
    }
}

/* ---------------------------------------------------------------- NBits */

/* One MatMulNBits weight: W[n, k] as stored, see wasm_rt_matmul_nbits. */
typedef struct {
    const uint8_t *b;
    const float *scales;
    const uint8_t *zp;
    int zp_kind; /* 0: none (2^(bits-1)), 1: uint8 packed like B, 2: float */
    int bits, bs, n_blocks, blob, zrow;
} nbits_w;

static inline float zero_point(const nbits_w *w, int n, int blk) {
    if (w->zp_kind == 0)
        return (float)(1 << (w->bits - 1));
    if (w->zp_kind == 2)
        return ((const float *)w->zp)[n * w->n_blocks + blk];
    int byte = w->zp[n * w->zrow + (w->bits == 4 ? blk / 2 : blk)];
    return (float)(w->bits == 8 ? byte : (blk & 1) ? byte >> 4 : byte & 15);
}

static inline int qnibble(const uint8_t *blob, int t, int bits) {
    return bits == 8 ? blob[t] : (t & 1) ? blob[t / 2] >> 4 : blob[t / 2] & 15;
}

/*
 * The integers q of elements t..t+15 of a block as 4 x f32x4 (BITS 4: bytes
 * t/2.., low nibble first; 8: bytes t..). For 4 bits the upper half of the
 * 64-bit load is zero, so one shuffle per vector both interleaves the nibbles
 * and zero-extends them to 32-bit lanes.
 */
static inline __attribute__((always_inline)) void
q16(const uint8_t *blob, int t, int BITS, v128_t q[4]) {
    if (BITS == 4) {
        v128_t v = wasm_v128_load64_zero(blob + t / 2);
        v128_t lo = wasm_v128_and(v, wasm_i8x16_splat(15));
        v128_t hi = wasm_u8x16_shr(v, 4);
        q[0] = wasm_i8x16_shuffle(lo, hi, 0, 8, 8, 8, 16, 8, 8, 8, 1, 8, 8, 8, 17, 8, 8, 8);
        q[1] = wasm_i8x16_shuffle(lo, hi, 2, 8, 8, 8, 18, 8, 8, 8, 3, 8, 8, 8, 19, 8, 8, 8);
        q[2] = wasm_i8x16_shuffle(lo, hi, 4, 8, 8, 8, 20, 8, 8, 8, 5, 8, 8, 8, 21, 8, 8, 8);
        q[3] = wasm_i8x16_shuffle(lo, hi, 6, 8, 8, 8, 22, 8, 8, 8, 7, 8, 8, 8, 23, 8, 8, 8);
    } else {
        v128_t x = wasm_v128_load(blob + t);
        v128_t h0 = wasm_u16x8_extend_low_u8x16(x), h1 = wasm_u16x8_extend_high_u8x16(x);
        q[0] = wasm_u32x4_extend_low_u16x8(h0);
        q[1] = wasm_u32x4_extend_high_u16x8(h0);
        q[2] = wasm_u32x4_extend_low_u16x8(h1);
        q[3] = wasm_u32x4_extend_high_u16x8(h1);
    }
    for (int v = 0; v < 4; v++)
        q[v] = wasm_f32x4_convert_i32x4(q[v]);
}

/* W[n, k0:k1] dequantized into dst (k1 - k0 floats). */
static void dq_row(const nbits_w *w, int n, int k0, int k1, float *dst) {
    int k = k0;
    while (k < k1) {
        int blk = k / w->bs, t = k - blk * w->bs;
        int end = (blk + 1) * w->bs < k1 ? (blk + 1) * w->bs : k1;
        float s = w->scales[n * w->n_blocks + blk], z = zero_point(w, n, blk);
        const uint8_t *blob = w->b + (n * w->n_blocks + blk) * w->blob;
        if (!(t & 1)) {
            v128_t sv = wasm_f32x4_splat(s), zv = wasm_f32x4_splat(z), q[4];
            for (; k + 16 <= end; k += 16, t += 16, dst += 16) {
                if (w->bits == 4)
                    q16(blob, t, 4, q);
                else
                    q16(blob, t, 8, q);
                for (int v = 0; v < 4; v++)
                    wasm_v128_store(dst + 4 * v,
                                    wasm_f32x4_mul(wasm_f32x4_sub(q[v], zv), sv));
            }
        }
        for (; k < end; k++, t++)
            *dst++ = ((float)qnibble(blob, t, w->bits) - z) * s;
    }
}

/*
 * W^T[k0:k0+kc, n0:n0+nc] as gemm.c's packed B block: each NR-row group of
 * W is dequantized into `tmp` (NR x KC floats), then transposed into the
 * panel with 4 x 4 register transposes.
 */
static void pack_nbits(const nbits_w *w, int n0, int nc, int k0, int kc,
                       float *tmp, float *dst) {
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int cols = nc - j0 < NR ? nc - j0 : NR;
        for (int j = 0; j < cols; j++)
            dq_row(w, n0 + j0 + j, k0, k0 + kc, tmp + j * KC);
        for (int j = cols; j < NR; j++)
            for (int p = 0; p < kc; p++)
                tmp[j * KC + p] = 0.0f;
        int p = 0;
        for (; p + 4 <= kc; p += 4) {
            for (int h = 0; h < NR; h += 4) {
                const float *r = tmp + h * KC + p;
                v128_t x0 = wasm_v128_load(r), x1 = wasm_v128_load(r + KC);
                v128_t x2 = wasm_v128_load(r + 2 * KC), x3 = wasm_v128_load(r + 3 * KC);
                v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
                v128_t t1 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
                v128_t t2 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
                v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
                float *o = dst + p * NR + h;
                wasm_v128_store(o, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
                wasm_v128_store(o + NR, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
                wasm_v128_store(o + 2 * NR, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
                wasm_v128_store(o + 3 * NR, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
            }
        }
        for (; p < kc; p++)
            for (int j = 0; j < NR; j++)
                dst[p * NR + j] = tmp[j * KC + p];
        dst += NR * kc;
    }
}

/*
 * Small m: rows j..j+COLS-1 of W are dequantized 16 values at a time in
 * registers, (q - zp) * scale, and dotted with the ROWS rows of A (two
 * accumulators per row and column, reduced at the end). The zero points of
 * those rows are first unpacked to floats in `zf` (COLS * n_blocks).
 */
static inline __attribute__((always_inline)) void
nbits_cols(int ROWS, int COLS, int BITS, int j, int k, const float *a, int rsa,
           const nbits_w *w, float *c, int rsc, float *zf) {
    int nb = w->n_blocks, bs = w->bs;
    v128_t acc[3][2][2], q[4];
    float tail[3][2] = {{0.0f}};
    for (int cc = 0; cc < COLS; cc++)
        for (int blk = 0; blk < nb; blk++)
            zf[cc * nb + blk] = zero_point(w, j + cc, blk);
    for (int i = 0; i < ROWS; i++)
        for (int cc = 0; cc < COLS; cc++)
            acc[i][cc][0] = acc[i][cc][1] = wasm_f32x4_splat(0.0f);
    for (int blk = 0; blk < nb; blk++) {
        int k0 = blk * bs, len = k - k0 < bs ? k - k0 : bs;
        v128_t sv[2], zv[2];
        const uint8_t *bp[2];
        for (int cc = 0; cc < COLS; cc++) {
            sv[cc] = wasm_f32x4_splat(w->scales[(j + cc) * nb + blk]);
            zv[cc] = wasm_f32x4_splat(zf[cc * nb + blk]);
            bp[cc] = w->b + ((j + cc) * nb + blk) * w->blob;
        }
        const float *ap = a + k0;
        int t = 0;
        for (; t + 16 <= len; t += 16) {
            for (int cc = 0; cc < COLS; cc++) {
                q16(bp[cc], t, BITS, q);
                for (int v = 0; v < 4; v++) {
                    v128_t wv = wasm_f32x4_mul(wasm_f32x4_sub(q[v], zv[cc]), sv[cc]);
                    for (int i = 0; i < ROWS; i++)
                        acc[i][cc][v & 1] = wasm_f32x4_add(
                            acc[i][cc][v & 1],
                            wasm_f32x4_mul(wasm_v128_load(ap + i * rsa + t + 4 * v), wv));
                }
            }
        }
        for (; t < len; t++) /* the last block's tail when K % 16 != 0 */
            for (int cc = 0; cc < COLS; cc++) {
                float s = w->scales[(j + cc) * nb + blk], z = zf[cc * nb + blk];
                float wk = ((float)qnibble(bp[cc], t, BITS) - z) * s;
                for (int i = 0; i < ROWS; i++)
                    tail[i][cc] += ap[i * rsa + t] * wk;
            }
    }
    for (int i = 0; i < ROWS; i++)
        for (int cc = 0; cc < COLS; cc++) {
            v128_t x = wasm_f32x4_add(acc[i][cc][0], acc[i][cc][1]);
            x = wasm_f32x4_add(x, wasm_i32x4_shuffle(x, x, 2, 3, 0, 1));
            x = wasm_f32x4_add(x, wasm_i32x4_shuffle(x, x, 1, 0, 3, 2));
            c[i * rsc + j + cc] = wasm_f32x4_extract_lane(x, 0) + tail[i][cc];
        }
}

static inline __attribute__((always_inline)) void
nbits_small(int ROWS, int BITS, int n, int k, const float *a, int rsa,
            const nbits_w *w, float *c, int rsc, float *zf) {
    int j = 0;
    if (ROWS == 1)
        for (; j + 2 <= n; j += 2)
            nbits_cols(1, 2, BITS, j, k, a, rsa, w, c, rsc, zf);
    for (; j < n; j++)
        nbits_cols(ROWS, 1, BITS, j, k, a, rsa, w, c, rsc, zf);
}

/*
 * MatMulNBits: C[0:m, 0:n] = A . W^T, A (m x k) float32 with contiguous rows
 * (row stride rsa), C with row stride rsc. W is N rows of n_blocks =
 * ceil(k / bs) blocks of bs (16 or more, even) `bits`-bit integers (4: two
 * per byte, low nibble first; 8: one per byte): b is [n][n_blocks][bs*bits/8]
 * bytes, scales [n][n_blocks] floats; zero points by zp_kind: 0 none
 * (2^(bits-1)), 1 uint8 [n][ceil(n_blocks * bits / 8)] packed like b, 2
 * float [n][n_blocks]. `work` is gemm.c's workspace (WORK_FLOATS floats).
 */
void wasm_rt_matmul_nbits(int m, int n, int k, const float *a, int rsa,
                          const uint8_t *b, const float *scales,
                          const void *zp, int zp_kind, int bits, int bs,
                          float *c, int rsc, float *work) {
    nbits_w w = {b, scales, (const uint8_t *)zp, zp_kind, bits, bs,
                 (k + bs - 1) / bs, bs * bits / 8,
                 ((k + bs - 1) / bs * bits + 7) / 8};
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[i * rsc + j] = 0.0f;
        return;
    }
    if (m < MR && 2LL * w.n_blocks <= WORK_FLOATS) {
        switch (m * 8 + bits) {
        case 12: nbits_small(1, 4, n, k, a, rsa, &w, c, rsc, work); return;
        case 20: nbits_small(2, 4, n, k, a, rsa, &w, c, rsc, work); return;
        case 28: nbits_small(3, 4, n, k, a, rsa, &w, c, rsc, work); return;
        case 16: nbits_small(1, 8, n, k, a, rsa, &w, c, rsc, work); return;
        case 24: nbits_small(2, 8, n, k, a, rsa, &w, c, rsc, work); return;
        case 32: nbits_small(3, 8, n, k, a, rsa, &w, c, rsc, work); return;
        }
    }
    /* The A panels' room holds the dequantized rows while B is packed. */
    float *pack_a = work, *pack_b = work + MC * KC;
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = k - pc < KC ? k - pc : KC;
            pack_nbits(&w, jc, nc, pc, kc, pack_a, pack_b);
            wasm_rt_sgemm_packed_b(m, nc, kc, a + pc, rsa, 1, pack_b, c + jc,
                                   rsc, pc > 0, pack_a);
        }
    }
}

/*
 * float32 GEMM for wasm32 with SIMD128: C = A . B (+ C when accumulating).
 *
 * Freestanding (no libc, no allocator): a wasm side module that Pyodide loads
 * with ctypes.CDLL. Pointers are numpy buffers inside Pyodide's heap.
 *
 * Operands are addressed by element strides, so transposed and sliced numpy
 * views work without copies:
 *     A(i, p) = a[i * rsa + p * csa]      (m x k)
 *     B(p, j) = b[p * rsb + j * csb]      (k x n)
 *     C(i, j) = c[i * rsc + j]            (m x n, rows contiguous)
 *
 * Blocking follows GotoBLAS/BLIS: a KC x NC block of B is packed into NR-wide
 * column panels, an MC x KC block of A into MR-tall row panels (both padded
 * with zeros to whole panels), and a 4 x 8 micro-kernel keeps the C tile in
 * eight v128 registers while it walks K. Partial tiles at the right and bottom
 * edges go through a small buffer, so any m, n, k (0 and 1 included) work.
 */

#include <wasm_simd128.h>

#include "gemm.h"

int wasm_rt_gemm_work_floats(void) { return WORK_FLOATS; }

/* Pack A[0:mc, 0:kc] into MR-row panels: panel r holds, for each p, MR values. */
static void pack_a_block(int mc, int kc, const float *a, int rsa, int csa,
                         float *dst) {
    for (int i0 = 0; i0 < mc; i0 += MR) {
        int rows = mc - i0 < MR ? mc - i0 : MR;
        const float *src = a + i0 * rsa;
#if MR == 4
        if (rows == MR && csa == 1) {
            /* Rows are contiguous: transpose 4 x 4 blocks in registers. */
            const float *r0 = src, *r1 = src + rsa, *r2 = src + 2 * rsa,
                        *r3 = src + 3 * rsa;
            int p = 0;
            for (; p + 4 <= kc; p += 4) {
                v128_t x0 = wasm_v128_load(r0 + p), x1 = wasm_v128_load(r1 + p);
                v128_t x2 = wasm_v128_load(r2 + p), x3 = wasm_v128_load(r3 + p);
                v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
                v128_t t1 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
                v128_t t2 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
                v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
                wasm_v128_store(dst, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
                wasm_v128_store(dst + 4, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
                wasm_v128_store(dst + 8, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
                wasm_v128_store(dst + 12, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
                dst += 16;
            }
            for (; p < kc; p++) {
                dst[0] = r0[p];
                dst[1] = r1[p];
                dst[2] = r2[p];
                dst[3] = r3[p];
                dst += MR;
            }
            continue;
        }
#endif
        if (rows == MR) {
            for (int p = 0; p < kc; p++) {
                for (int r = 0; r < MR; r++)
                    dst[r] = src[r * rsa + p * csa];
                dst += MR;
            }
        } else {
            for (int p = 0; p < kc; p++) {
                for (int r = 0; r < MR; r++)
                    dst[r] = r < rows ? src[r * rsa + p * csa] : 0.0f;
                dst += MR;
            }
        }
    }
}

/* Pack B[0:kc, 0:nc] into NR-column panels: panel j holds, for each p, NR values. */
static void pack_b_block(int kc, int nc, const float *b, int rsb, int csb,
                         float *dst) {
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int cols = nc - j0 < NR ? nc - j0 : NR;
        const float *src = b + j0 * csb;
        if (cols == NR && csb == 1) {
            for (int p = 0; p < kc; p++) {
                const float *row = src + p * rsb;
                for (int v = 0; v < NR; v += 4)
                    wasm_v128_store(dst + v, wasm_v128_load(row + v));
                dst += NR;
            }
        } else {
            for (int p = 0; p < kc; p++) {
                const float *row = src + p * rsb;
                for (int j = 0; j < NR; j++)
                    dst[j] = j < cols ? row[j * csb] : 0.0f;
                dst += NR;
            }
        }
    }
}

/*
 * MR x NR tile: c[0:MR, 0:NR] (+)= pa (kc x MR, packed) . pb (kc x NR, packed).
 * The accumulator arrays have constant bounds, so clang unrolls every loop and
 * keeps the tile in v128 registers. When the tile is partial (rows < MR or
 * cols < NR) it is computed whole (the panels' padding is zero) and only its
 * valid part is written.
 */
#define NV (NR / 4)
static void micro_kernel(int kc, const float *pa, const float *pb, float *c,
                         int rsc, int rows, int cols, int add) {
    v128_t acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            acc[i][v] = wasm_f32x4_splat(0.0f);
    for (int p = 0; p < kc; p++) {
        v128_t bv[NV];
        for (int v = 0; v < NV; v++)
            bv[v] = wasm_v128_load(pb + 4 * v);
        for (int i = 0; i < MR; i++) {
            v128_t ai = wasm_v128_load32_splat(pa + i);
            for (int v = 0; v < NV; v++)
                acc[i][v] = wasm_f32x4_add(acc[i][v], wasm_f32x4_mul(ai, bv[v]));
        }
        pa += MR;
        pb += NR;
    }
    if (rows == MR && cols == NR) {
        for (int i = 0; i < MR; i++) {
            float *row = c + i * rsc;
            for (int v = 0; v < NV; v++) {
                v128_t x = acc[i][v];
                if (add)
                    x = wasm_f32x4_add(x, wasm_v128_load(row + 4 * v));
                wasm_v128_store(row + 4 * v, x);
            }
        }
        return;
    }
    float tile[MR * NR] __attribute__((aligned(16)));
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            wasm_v128_store(tile + i * NR + 4 * v, acc[i][v]);
    for (int i = 0; i < rows; i++) {
        float *row = c + i * rsc;
        for (int j = 0; j < cols; j++)
            row[j] = add ? row[j] + tile[i * NR + j] : tile[i * NR + j];
    }
}

/* C[0:m, 0:n] = 0 unless accumulating (the k == 0 case). */
static void zero_c(int m, int n, float *c, int rsc) {
    for (int i = 0; i < m; i++) {
        float *row = c + i * rsc;
        for (int j = 0; j < n; j++)
            row[j] = 0.0f;
    }
}

/*
 * Small m (m < MR: batch-1 fully connected layers, depthwise convolutions):
 * the 4 x 8 tile would be mostly padding and packing B would cost as much as
 * the product, so these kernels read B in place, GEMV-style.
 */

/* Store a ROWS x (4 * NVEC) block of accumulators to C (cols valid columns). */
static inline __attribute__((always_inline)) void
store_rows(int ROWS, int NVEC, v128_t acc[3][8], float *c, int rsc, int cols,
           int add) {
    for (int i = 0; i < ROWS; i++) {
        float *row = c + i * rsc;
        if (cols == 4 * NVEC) {
            for (int v = 0; v < NVEC; v++) {
                v128_t x = acc[i][v];
                if (add)
                    x = wasm_f32x4_add(x, wasm_v128_load(row + 4 * v));
                wasm_v128_store(row + 4 * v, x);
            }
        } else {
            float tile[32] __attribute__((aligned(16)));
            for (int v = 0; v < NVEC; v++)
                wasm_v128_store(tile + 4 * v, acc[i][v]);
            for (int j = 0; j < cols; j++)
                row[j] = add ? row[j] + tile[j] : tile[j];
        }
    }
}

/*
 * B rows contiguous (csb == 1): C[0:ROWS, j0:j0+4*NVEC] (+)= sum over p of
 * A[i, p] * B[p, j0:...], the C block held in ROWS x NVEC v128 accumulators.
 * `cols` < 4 * NVEC only for the last block, whose B values go through a
 * zero-padded buffer so no load leaves the row.
 */
static inline __attribute__((always_inline)) void
rows_block(int ROWS, int NVEC, int k, const float *a, int rsa, int csa,
           const float *b, int rsb, float *c, int rsc, int cols, int add) {
    v128_t acc[3][8];
    for (int i = 0; i < ROWS; i++)
        for (int v = 0; v < NVEC; v++)
            acc[i][v] = wasm_f32x4_splat(0.0f);
    if (cols == 4 * NVEC) {
        for (int p = 0; p < k; p++) {
            const float *row = b + p * rsb;
            v128_t bv[8];
            for (int v = 0; v < NVEC; v++)
                bv[v] = wasm_v128_load(row + 4 * v);
            for (int i = 0; i < ROWS; i++) {
                v128_t ai = wasm_v128_load32_splat(a + i * rsa + p * csa);
                for (int v = 0; v < NVEC; v++)
                    acc[i][v] = wasm_f32x4_add(acc[i][v], wasm_f32x4_mul(ai, bv[v]));
            }
        }
    } else {
        for (int p = 0; p < k; p++) {
            const float *row = b + p * rsb;
            float t[32] __attribute__((aligned(16)));
            for (int j = 0; j < 4 * NVEC; j++)
                t[j] = j < cols ? row[j] : 0.0f;
            for (int i = 0; i < ROWS; i++) {
                v128_t ai = wasm_v128_load32_splat(a + i * rsa + p * csa);
                for (int v = 0; v < NVEC; v++)
                    acc[i][v] = wasm_f32x4_add(
                        acc[i][v], wasm_f32x4_mul(ai, wasm_v128_load(t + 4 * v)));
            }
        }
    }
    store_rows(ROWS, NVEC, acc, c, rsc, cols, add);
}

/*
 * All of C[0:ROWS, :] for B rows contiguous, K in chunks of SKC rows so that
 * a column block's walk down B stays within few pages.
 */
#define SKC 128
static inline __attribute__((always_inline)) void
small_m_rows(int ROWS, int NVEC, int n, int k, const float *a, int rsa,
             int csa, const float *b, int rsb, float *c, int rsc, int add) {
    int w = 4 * NVEC;
    for (int pc = 0; pc < k; pc += SKC) {
        int kc = k - pc < SKC ? k - pc : SKC;
        int ad = add || pc > 0;
        const float *ap = a + pc * csa, *bp = b + pc * rsb;
        int j = 0;
        for (; j + w <= n; j += w)
            rows_block(ROWS, NVEC, kc, ap, rsa, csa, bp + j, rsb, c + j, rsc, w, ad);
        /* Tail: whole vectors, then the last (partial) one. */
        for (; j + 4 <= n; j += 4)
            rows_block(ROWS, 1, kc, ap, rsa, csa, bp + j, rsb, c + j, rsc, 4, ad);
        if (j < n)
            rows_block(ROWS, 1, kc, ap, rsa, csa, bp + j, rsb, c + j, rsc, n - j, ad);
    }
}

static inline float hsum(v128_t x) {
    x = wasm_f32x4_add(x, wasm_i32x4_shuffle(x, x, 2, 3, 0, 1));
    x = wasm_f32x4_add(x, wasm_i32x4_shuffle(x, x, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(x, 0);
}

/*
 * B columns contiguous (rsb == 1, e.g. a transposed weight), A rows
 * contiguous (csa == 1): C[i, j0:j0+COLS] (+)= dot products of A's rows with
 * B's columns, ROWS x COLS v128 accumulators over p, reduced at the end.
 */
static inline __attribute__((always_inline)) void
cols_block(int ROWS, int COLS, int k, const float *a, int rsa, const float *b,
           int csb, float *c, int rsc, int add) {
    v128_t acc[3][8];
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++)
            acc[i][j] = wasm_f32x4_splat(0.0f);
    int p = 0;
    for (; p + 4 <= k; p += 4) {
        v128_t av[3];
        for (int i = 0; i < ROWS; i++)
            av[i] = wasm_v128_load(a + i * rsa + p);
        for (int j = 0; j < COLS; j++) {
            v128_t bj = wasm_v128_load(b + j * csb + p);
            for (int i = 0; i < ROWS; i++)
                acc[i][j] = wasm_f32x4_add(acc[i][j], wasm_f32x4_mul(av[i], bj));
        }
    }
    for (int i = 0; i < ROWS; i++) {
        float *row = c + i * rsc;
        for (int j = 0; j < COLS; j++) {
            float s = hsum(acc[i][j]);
            for (int q = p; q < k; q++)
                s += a[i * rsa + q] * b[j * csb + q];
            row[j] = add ? row[j] + s : s;
        }
    }
}

static inline __attribute__((always_inline)) void
small_m_cols(int ROWS, int COLS, int n, int k, const float *a, int rsa,
             const float *b, int csb, float *c, int rsc, int add) {
    int j = 0;
    for (; j + COLS <= n; j += COLS)
        cols_block(ROWS, COLS, k, a, rsa, b + j * csb, csb, c + j, rsc, add);
    for (; j < n; j++)
        cols_block(ROWS, 1, k, a, rsa, b + j * csb, csb, c + j, rsc, add);
}

/*
 * The small-m path for m < MR, or 0 when B's layout does not suit it (neither
 * rows nor columns contiguous) and the blocked path should run.
 */
static int small_m(int m, int n, int k, const float *a, int rsa, int csa,
                   const float *b, int rsb, int csb, float *c, int rsc,
                   int add, float *work) {
    /* Both unit strides happens for n == 1 (or k == 1): dot products then. */
    if (csb == 1 && !(rsb == 1 && n < 4)) {
        switch (m) {
        case 1: small_m_rows(1, 8, n, k, a, rsa, csa, b, rsb, c, rsc, add); return 1;
        case 2: small_m_rows(2, 4, n, k, a, rsa, csa, b, rsb, c, rsc, add); return 1;
        case 3: small_m_rows(3, 3, n, k, a, rsa, csa, b, rsb, c, rsc, add); return 1;
        }
        return 0;
    }
    if (rsb != 1)
        return 0;
    if (csa != 1) {
        /* Copy A's rows (m * k floats) to contiguous ones in `work`. */
        if ((long long)m * k > WORK_FLOATS)
            return 0;
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                work[i * k + p] = a[i * rsa + p * csa];
        a = work;
        rsa = k;
    }
    switch (m) {
    case 1: small_m_cols(1, 8, n, k, a, rsa, b, csb, c, rsc, add); return 1;
    case 2: small_m_cols(2, 4, n, k, a, rsa, b, csb, c, rsc, add); return 1;
    case 3: small_m_cols(3, 4, n, k, a, rsa, b, csb, c, rsc, add); return 1;
    }
    return 0;
}

/*
 * C (+)= A . B for one matrix product; see the header for the stride
 * convention. accumulate != 0 adds the product to C's contents; `work` is the
 * packing buffer (see WORK_FLOATS).
 */
void wasm_rt_sgemm(int m, int n, int k, const float *a, int rsa, int csa,
                   const float *b, int rsb, int csb, float *c, int rsc,
                   int accumulate, float *work) {
    float *pack_a = work, *pack_b = work + MC * KC;
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        if (!accumulate)
            zero_c(m, n, c, rsc);
        return;
    }
    if (m < MR && small_m(m, n, k, a, rsa, csa, b, rsb, csb, c, rsc,
                          accumulate, work))
        return;
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = k - pc < KC ? k - pc : KC;
            pack_b_block(kc, nc, b + pc * rsb + jc * csb, rsb, csb, pack_b);
            wasm_rt_sgemm_packed_b(m, nc, kc, a + pc * csa, rsa, csa, pack_b,
                                   c + jc, rsc, accumulate || pc > 0, pack_a);
        }
    }
}

void wasm_rt_sgemm_packed_b(int m, int nc, int kc, const float *a, int rsa,
                            int csa, const float *pack_b, float *c, int rsc,
                            int add, float *pack_a) {
    for (int ic = 0; ic < m; ic += MC) {
        int mc = m - ic < MC ? m - ic : MC;
        pack_a_block(mc, kc, a + ic * rsa, rsa, csa, pack_a);
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = nc - jr < NR ? nc - jr : NR;
            const float *pb = pack_b + jr * kc;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = mc - ir < MR ? mc - ir : MR;
                micro_kernel(kc, pack_a + ir * kc, pb, c + (ic + ir) * rsc + jr,
                             rsc, rows, cols, add);
            }
        }
    }
}

/*
 * `batch` products at once: product t uses a + t * bsa, b + t * bsb and
 * c + t * bsc (a batch stride of 0 broadcasts that operand).
 */
void wasm_rt_sgemm_batched(int batch, int m, int n, int k, const float *a,
                           int bsa, int rsa, int csa, const float *b, int bsb,
                           int rsb, int csb, float *c, int bsc, int rsc,
                           int accumulate, float *work) {
    for (int t = 0; t < batch; t++)
        wasm_rt_sgemm(m, n, k, a + t * bsa, rsa, csa, b + t * bsb, rsb, csb,
                      c + t * bsc, rsc, accumulate, work);
}

/* Bumped whenever the exported signatures change; the loader checks it. */
int wasm_rt_gemm_abi(void) { return 3; }

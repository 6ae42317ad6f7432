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

#define MR 4
#define NR 8
#define KC 256
#define MC 128
#define NC 2048

/*
 * Packing buffers come from the caller (`work`, 16-byte aligned, at least
 * wasm_rt_gemm_work_floats() floats): static arrays in a side module would be
 * stored in the .wasm file as 2 MB of zeros.
 */
#define WORK_FLOATS (MC * KC + KC * NC)

int wasm_rt_gemm_work_floats(void) { return WORK_FLOATS; }

/* Pack A[0:mc, 0:kc] into MR-row panels: panel r holds, for each p, MR values. */
static void pack_a_block(int mc, int kc, const float *a, int rsa, int csa,
                         float *dst) {
    for (int i0 = 0; i0 < mc; i0 += MR) {
        int rows = mc - i0 < MR ? mc - i0 : MR;
        const float *src = a + i0 * rsa;
        if (rows == MR) {
            const float *r0 = src, *r1 = src + rsa, *r2 = src + 2 * rsa,
                        *r3 = src + 3 * rsa;
            for (int p = 0; p < kc; p++) {
                int off = p * csa;
                dst[0] = r0[off];
                dst[1] = r1[off];
                dst[2] = r2[off];
                dst[3] = r3[off];
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
                wasm_v128_store(dst, wasm_v128_load(row));
                wasm_v128_store(dst + 4, wasm_v128_load(row + 4));
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

#define FMA(acc, x, y) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(x, y))

/*
 * 4 x 8 tile: c[0:4, 0:8] (+)= pa (kc x 4, packed) . pb (kc x 8, packed).
 * When the tile is partial (rows < 4 or cols < 8) it is computed whole into a
 * local buffer (the padding of the panels is zero) and only its valid part is
 * written.
 */
static void micro_kernel(int kc, const float *pa, const float *pb, float *c,
                         int rsc, int rows, int cols, int add) {
    v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
    v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int p = 0; p < kc; p++) {
        v128_t b0 = wasm_v128_load(pb);
        v128_t b1 = wasm_v128_load(pb + 4);
        v128_t a0 = wasm_v128_load32_splat(pa);
        v128_t a1 = wasm_v128_load32_splat(pa + 1);
        FMA(c00, a0, b0);
        FMA(c01, a0, b1);
        v128_t a2 = wasm_v128_load32_splat(pa + 2);
        FMA(c10, a1, b0);
        FMA(c11, a1, b1);
        v128_t a3 = wasm_v128_load32_splat(pa + 3);
        FMA(c20, a2, b0);
        FMA(c21, a2, b1);
        FMA(c30, a3, b0);
        FMA(c31, a3, b1);
        pa += MR;
        pb += NR;
    }
    if (rows == MR && cols == NR) {
        float *r0 = c, *r1 = c + rsc, *r2 = c + 2 * rsc, *r3 = c + 3 * rsc;
        if (add) {
            c00 = wasm_f32x4_add(c00, wasm_v128_load(r0));
            c01 = wasm_f32x4_add(c01, wasm_v128_load(r0 + 4));
            c10 = wasm_f32x4_add(c10, wasm_v128_load(r1));
            c11 = wasm_f32x4_add(c11, wasm_v128_load(r1 + 4));
            c20 = wasm_f32x4_add(c20, wasm_v128_load(r2));
            c21 = wasm_f32x4_add(c21, wasm_v128_load(r2 + 4));
            c30 = wasm_f32x4_add(c30, wasm_v128_load(r3));
            c31 = wasm_f32x4_add(c31, wasm_v128_load(r3 + 4));
        }
        wasm_v128_store(r0, c00);
        wasm_v128_store(r0 + 4, c01);
        wasm_v128_store(r1, c10);
        wasm_v128_store(r1 + 4, c11);
        wasm_v128_store(r2, c20);
        wasm_v128_store(r2 + 4, c21);
        wasm_v128_store(r3, c30);
        wasm_v128_store(r3 + 4, c31);
        return;
    }
    float tile[MR * NR] __attribute__((aligned(16)));
    wasm_v128_store(tile + 0, c00);
    wasm_v128_store(tile + 4, c01);
    wasm_v128_store(tile + 8, c10);
    wasm_v128_store(tile + 12, c11);
    wasm_v128_store(tile + 16, c20);
    wasm_v128_store(tile + 20, c21);
    wasm_v128_store(tile + 24, c30);
    wasm_v128_store(tile + 28, c31);
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
    for (int jc = 0; jc < n; jc += NC) {
        int nc = n - jc < NC ? n - jc : NC;
        for (int pc = 0; pc < k; pc += KC) {
            int kc = k - pc < KC ? k - pc : KC;
            int add = accumulate || pc > 0;
            pack_b_block(kc, nc, b + pc * rsb + jc * csb, rsb, csb, pack_b);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = m - ic < MC ? m - ic : MC;
                pack_a_block(mc, kc, a + ic * rsa + pc * csa, rsa, csa, pack_a);
                for (int jr = 0; jr < nc; jr += NR) {
                    int cols = nc - jr < NR ? nc - jr : NR;
                    const float *pb = pack_b + jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int rows = mc - ir < MR ? mc - ir : MR;
                        micro_kernel(kc, pack_a + ir * kc, pb,
                                     c + (ic + ir) * rsc + jc + jr, rsc, rows,
                                     cols, add);
                    }
                }
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
int wasm_rt_gemm_abi(void) { return 2; }

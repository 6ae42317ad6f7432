/*
 * What gemm.c shares with qgemm.c: the float32 blocking and packed-panel
 * layout, and the blocked loop over one packed block of B, so the quantized
 * kernels that dequantize B while packing it reuse the float32 micro-kernel.
 */
#ifndef WASM_RT_GEMM_H
#define WASM_RT_GEMM_H

#define MR 4
#define NR 8
#define KC 256
#define MC 128
#define NC 2048

/*
 * Packing buffers come from the caller (`work`, 16-byte aligned, at least
 * wasm_rt_gemm_work_floats() floats): static arrays in a side module would be
 * stored in the .wasm file as 2 MB of zeros. The A panels take the first
 * MC * KC floats, the B panels the KC * NC after them.
 */
#define WORK_FLOATS (MC * KC + KC * NC)

/*
 * C[0:m, 0:nc] (+)= A[0:m, 0:kc] . B, B given as a block already packed into
 * NR-column panels (panel j holds, for each p < kc, NR floats, padded with
 * zeros), A read through strides and packed into `pack_a` (MC * KC floats).
 */
void wasm_rt_sgemm_packed_b(int m, int nc, int kc, const float *a, int rsa,
                            int csa, const float *pack_b, float *c, int rsc,
                            int add, float *pack_a);

#endif

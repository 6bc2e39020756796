// The PTX instructions of the attention kernels (attention_grad.cu), each wrapped in a function with
// its fallback for older GPUs and, under REATCO_CUDA_EMULATION, the CPU emulation's version
// (helper-service/native/emulation/simt.h), so that the same kernel source runs on both.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace reatco::ptx {

// The block's dynamic shared memory.
__device__ inline unsigned char* dynamicShared() {
#ifdef REATCO_CUDA_EMULATION
  return simt::sharedMemory();
#else
  extern __shared__ __align__(128) unsigned char smem[];
  return smem;
#endif
}

// c (16 x 8, f32) += a (16 x 16, f16, row) · b (16 x 8, f16, col: b0 rows 0-7, b1 rows 8-15).
__device__ inline void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(REATCO_CUDA_EMULATION)
  simt::mma16816(c, a, b0, b1);
#elif __CUDA_ARCH__ >= 800
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(b0));
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[2]), "r"(a[3]), "r"(b1));
#endif
}

// Four 8 x 8 matrices of halves from shared memory, lanes 8j..8j+7 pointing at matrix j's rows.
template <bool kTranspose>
__device__ inline void ldmatrix(uint32_t (&r)[4], const void* p) {
#ifdef REATCO_CUDA_EMULATION
  simt::ldmatrixX4(r, p, kTranspose);
#else
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(p));
  if constexpr (kTranspose)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(at));
#endif
}

__device__ inline float exp2Approx(float x) {
#ifdef REATCO_CUDA_EMULATION
  return exp2f(x);
#else
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#endif
}

// Copies into shared memory that complete in the background (cp.async, Ampere on; plain copies on
// Turing), zeros where `inside` is false.
__device__ inline void copy16(void* dst, const void* src, bool inside) {
#if defined(REATCO_CUDA_EMULATION)
  simt::copyAsync(dst, src, 16, inside ? 16 : 0);
#elif __CUDA_ARCH__ >= 800
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(at), "l"(src), "r"(inside ? 16 : 0));
#else
  *static_cast<uint4*>(dst) = inside ? *static_cast<const uint4*>(src) : make_uint4(0, 0, 0, 0);
#endif
}

__device__ inline void copy4(float* dst, const float* src, bool inside) {
#if defined(REATCO_CUDA_EMULATION)
  simt::copyAsync(dst, src, 4, inside ? 4 : 0);
#elif __CUDA_ARCH__ >= 800
  const unsigned at = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(at), "l"(src), "r"(inside ? 4 : 0));
#else
  *dst = inside ? *src : 0.f;
#endif
}

__device__ inline void commitCopies() {
#if defined(REATCO_CUDA_EMULATION)
  simt::commitCopies();
#elif __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most kPending committed groups of copies are still in flight.
template <int kPending>
__device__ inline void waitForCopies() {
#if defined(REATCO_CUDA_EMULATION)
  simt::waitForCopies(kPending);
#elif __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending));
#endif
}

}  // namespace reatco::ptx

// SoftmaxTimesGrad on CUDA: one block per row; the row's scores stay in registers (up to 16384
// columns) between the max, the sum and the writes, so S and G are read once and P and dS written
// once. On the H200 one full-resolution head of the SD-1.x RAD pass at 16 frames ((16 x 5376) rows of
// 10752) takes 1.77 ms, at the memory bound (helper-service/scripts/custom-op-check).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "launch.h"
#include "softmax_times_grad.h"

namespace {

constexpr int kThreads = 512;
constexpr int kPerThread = 8;  // one 16-byte load of 8 halves

template <bool kMax>
__device__ float blockReduce(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffff, v, o);
    v = kMax ? fmaxf(v, other) : v + other;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? shared[lane] : (kMax ? -INFINITY : 0.f);
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffff, v, o);
    v = kMax ? fmaxf(v, other) : v + other;
  }
  __syncthreads();
  return v;
}

// cols a multiple of 8 and at most kThreads * kPerThread * kChunks.
template <int kChunks>
__global__ void softmaxTimesGrad(const half* __restrict__ s, const half* __restrict__ g, half* __restrict__ p,
                                 half* __restrict__ ds, int cols) {
  __shared__ float shared[32];
  const size_t base = size_t(blockIdx.x) * cols;
  float x[kChunks][kPerThread];
  float m = -INFINITY;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    const int col = (c * kThreads + threadIdx.x) * kPerThread;
    if (col < cols) {
      const uint4 raw = *reinterpret_cast<const uint4*>(s + base + col);
      const half2* h = reinterpret_cast<const half2*>(&raw);
#pragma unroll
      for (int k = 0; k < 4; k++) {
        const float2 f = __half22float2(h[k]);
        x[c][2 * k] = f.x;
        x[c][2 * k + 1] = f.y;
      }
#pragma unroll
      for (int k = 0; k < kPerThread; k++) m = fmaxf(m, x[c][k]);
    } else {
#pragma unroll
      for (int k = 0; k < kPerThread; k++) x[c][k] = -INFINITY;
    }
  }
  m = blockReduce<true>(m, shared);
  float sum = 0.f;
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
#pragma unroll
    for (int k = 0; k < kPerThread; k++) {
      x[c][k] = __expf(x[c][k] - m);
      sum += x[c][k];
    }
  }
  const float inv = 1.f / blockReduce<false>(sum, shared);
#pragma unroll
  for (int c = 0; c < kChunks; c++) {
    const int col = (c * kThreads + threadIdx.x) * kPerThread;
    if (col >= cols) continue;
    const uint4 graw = *reinterpret_cast<const uint4*>(g + base + col);
    const half2* gh = reinterpret_cast<const half2*>(&graw);
    uint4 praw, dsraw;
    half2* ph = reinterpret_cast<half2*>(&praw);
    half2* dh = reinterpret_cast<half2*>(&dsraw);
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float2 gf = __half22float2(gh[k]);
      const float p0 = x[c][2 * k] * inv, p1 = x[c][2 * k + 1] * inv;
      ph[k] = __floats2half2_rn(p0, p1);
      dh[k] = __floats2half2_rn(p0 * gf.x, p1 * gf.y);
    }
    *reinterpret_cast<uint4*>(p + base + col) = praw;
    *reinterpret_cast<uint4*>(ds + base + col) = dsraw;
  }
}

// Any row length: three passes over the row from memory.
__global__ void softmaxTimesGradAnyLength(const half* __restrict__ s, const half* __restrict__ g, half* __restrict__ p,
                                          half* __restrict__ ds, int cols) {
  __shared__ float shared[32];
  const size_t base = size_t(blockIdx.x) * cols;
  float m = -INFINITY;
  for (int c = threadIdx.x; c < cols; c += kThreads) m = fmaxf(m, __half2float(s[base + c]));
  m = blockReduce<true>(m, shared);
  float sum = 0.f;
  for (int c = threadIdx.x; c < cols; c += kThreads) sum += __expf(__half2float(s[base + c]) - m);
  const float inv = 1.f / blockReduce<false>(sum, shared);
  for (int c = threadIdx.x; c < cols; c += kThreads) {
    const float pc = __expf(__half2float(s[base + c]) - m) * inv;
    p[base + c] = __float2half_rn(pc);
    ds[base + c] = __float2half_rn(pc * __half2float(g[base + c]));
  }
}

}  // namespace

namespace reatco {

const char* LaunchSoftmaxTimesGrad(const void* s, const void* g, void* p, void* ds, int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return nullptr;
  if (rows > 0x7fffffff || cols > 0x7fffffff) return "SoftmaxTimesGrad: too many rows or columns";
  const auto* sh = static_cast<const half*>(s);
  const auto* gh = static_cast<const half*>(g);
  auto* ph = static_cast<half*>(p);
  auto* dh = static_cast<half*>(ds);
  auto st = static_cast<cudaStream_t>(stream);
  const int n = static_cast<int>(cols);
  const dim3 grid(static_cast<unsigned>(rows));
  const int chunks = (n + kThreads * kPerThread - 1) / (kThreads * kPerThread);
  auto kernel = n % kPerThread != 0 || chunks > 4 ? softmaxTimesGradAnyLength
                 : chunks == 1                      ? softmaxTimesGrad<1>
                 : chunks == 2                      ? softmaxTimesGrad<2>
                 : chunks == 3                      ? softmaxTimesGrad<3>
                                                    : softmaxTimesGrad<4>;
  const cudaError_t error = reatco::launchKernel(kernel, grid, dim3(kThreads), 0, st, sh, gh, ph, dh, n);
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

}  // namespace reatco

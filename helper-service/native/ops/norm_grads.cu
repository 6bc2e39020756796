// The norm and activation backwards of the RAD graph on CUDA (norm_grads.h). They are memory-bound:
// each thread moves 16 bytes per load where a row's length allows it, and does its arithmetic in
// float32. A row's reduction belongs to one block.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "launch.h"
#include "norm_grads.h"

namespace {

// V consecutive halves as floats; V = 8 needs 16-byte alignment, V = 2 4-byte alignment.
template <int V>
__device__ inline void load(const half* p, float (&out)[V]) {
  if constexpr (V == 8) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const half2* h = reinterpret_cast<const half2*>(&raw);
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float2 f = __half22float2(h[k]);
      out[2 * k] = f.x;
      out[2 * k + 1] = f.y;
    }
  } else if constexpr (V == 2) {
    const float2 f = __half22float2(*reinterpret_cast<const half2*>(p));
    out[0] = f.x;
    out[1] = f.y;
  } else {
    out[0] = __half2float(*p);
  }
}

template <int V>
__device__ inline void store(half* p, const float (&in)[V]) {
  if constexpr (V == 8) {
    uint4 raw;
    half2* h = reinterpret_cast<half2*>(&raw);
#pragma unroll
    for (int k = 0; k < 4; k++) h[k] = __floats2half2_rn(in[2 * k], in[2 * k + 1]);
    *reinterpret_cast<uint4*>(p) = raw;
  } else if constexpr (V == 2) {
    *reinterpret_cast<half2*>(p) = __floats2half2_rn(in[0], in[1]);
  } else {
    *p = __float2half_rn(in[0]);
  }
}

// Sums over the block (blockDim.x a multiple of 32, at most 1024) of two values.
__device__ inline float2 blockSum(float a, float b) {
  __shared__ float2 shared[32];
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(0xffffffff, a, o);
    b += __shfl_xor_sync(0xffffffff, b, o);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = make_float2(a, b);
  __syncthreads();
  const float2 v = lane < blockDim.x / 32 ? shared[lane] : make_float2(0.f, 0.f);
  a = v.x;
  b = v.y;
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(0xffffffff, a, o);
    b += __shfl_xor_sync(0xffffffff, b, o);
  }
  return make_float2(a, b);
}

__device__ inline float siluGrad(float y) {
  const float s = 1.f / (1.f + __expf(-y));
  return s * (1.f + y * (1.f - s));
}

template <int V>
__device__ inline void gradThroughSilu(const half* grad, const half* y, size_t at, bool silu, float (&g)[V]) {
  load<V>(grad + at, g);
  if (silu) {
    float yv[V];
    load<V>(y + at, yv);
#pragma unroll
    for (int k = 0; k < V; k++) g[k] *= siluGrad(yv[k]);
  }
}

template <int V>
__global__ void normGradRowMeans(const half* __restrict__ grad, const half* __restrict__ x, const half* __restrict__ y,
                                 float* __restrict__ mean_g, float* __restrict__ mean_gx, int cols, bool silu) {
  const size_t base = size_t(blockIdx.x) * cols;
  float sg = 0.f, sgx = 0.f;
  for (int c = threadIdx.x * V; c < cols; c += blockDim.x * V) {
    float g[V], xv[V];
    gradThroughSilu<V>(grad, y, base + c, silu, g);
    load<V>(x + base + c, xv);
#pragma unroll
    for (int k = 0; k < V; k++) {
      sg += g[k];
      sgx += g[k] * xv[k];
    }
  }
  const float2 sums = blockSum(sg, sgx);
  if (threadIdx.x == 0) {
    mean_g[blockIdx.x] = sums.x / cols;
    mean_gx[blockIdx.x] = sums.y / cols;
  }
}

template <int V>
__global__ void normGradApply(const half* __restrict__ grad, const half* __restrict__ x, const half* __restrict__ y,
                              const float* __restrict__ a, const float* __restrict__ p, const float* __restrict__ q,
                              half* __restrict__ dx, int cols, bool silu) {
  const size_t base = size_t(blockIdx.x) * cols;
  const float av = a[blockIdx.x], pv = p[blockIdx.x], qv = q[blockIdx.x];
  for (int c = threadIdx.x * V; c < cols; c += blockDim.x * V) {
    float g[V], xv[V];
    gradThroughSilu<V>(grad, y, base + c, silu, g);
    load<V>(x + base + c, xv);
#pragma unroll
    for (int k = 0; k < V; k++) g[k] = g[k] * av + xv[k] * pv + qv;
    store<V>(dx + base + c, g);
  }
}

// d = weight grad and x̂ = (x - mean) rstd at columns c.. c + V of a row.
template <int V>
__device__ inline void layerNormTerms(const half* grad, const half* x, const half* weight, size_t base, int c, float mean, float rstd,
                                      float (&d)[V], float (&xhat)[V]) {
  float w[V];
  load<V>(grad + base + c, d);
  load<V>(x + base + c, xhat);
  load<V>(weight + c, w);
#pragma unroll
  for (int k = 0; k < V; k++) {
    d[k] *= w[k];
    xhat[k] = (xhat[k] - mean) * rstd;
  }
}

// Two passes over the row; the second finds it in L1 (a row is at most a few kilobytes).
template <int V>
__global__ void layerNormGrad(const half* __restrict__ grad, const half* __restrict__ x, const float* __restrict__ mean,
                              const float* __restrict__ rstd, const half* __restrict__ weight, half* __restrict__ dx, int cols) {
  const size_t base = size_t(blockIdx.x) * cols;
  const float m = mean[blockIdx.x], r = rstd[blockIdx.x];
  float sd = 0.f, sdx = 0.f;
  for (int c = threadIdx.x * V; c < cols; c += blockDim.x * V) {
    float d[V], xhat[V];
    layerNormTerms<V>(grad, x, weight, base, c, m, r, d, xhat);
#pragma unroll
    for (int k = 0; k < V; k++) {
      sd += d[k];
      sdx += d[k] * xhat[k];
    }
  }
  const float2 sums = blockSum(sd, sdx);
  const float mean_d = sums.x / cols, mean_dx = sums.y / cols;
  for (int c = threadIdx.x * V; c < cols; c += blockDim.x * V) {
    float d[V], xhat[V];
    layerNormTerms<V>(grad, x, weight, base, c, m, r, d, xhat);
#pragma unroll
    for (int k = 0; k < V; k++) d[k] = r * (d[k] - mean_d - xhat[k] * mean_dx);
    store<V>(dx + base + c, d);
  }
}

template <int V>
__global__ void gatedGeluGrad(const half* __restrict__ grad, const half* __restrict__ projected, half* __restrict__ out,
                              int64_t rows, int half_cols) {
  const int64_t chunks = rows * (half_cols / V);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < chunks; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / (half_cols / V);
    const int col = int(i - row * (half_cols / V)) * V;
    const size_t in = size_t(row) * half_cols + col, at = size_t(row) * 2 * half_cols + col;
    float g[V], h[V], gate[V];
    load<V>(grad + in, g);
    load<V>(projected + at, h);
    load<V>(projected + at + half_cols, gate);
#pragma unroll
    for (int k = 0; k < V; k++) {
      const float cdf = 0.5f + 0.5f * erff(gate[k] * 0.70710678118654752f);
      const float pdf = __expf(-0.5f * gate[k] * gate[k]) * 0.39894228040143268f;
      const float dy = g[k];
      g[k] = dy * gate[k] * cdf;
      h[k] = dy * h[k] * (cdf + gate[k] * pdf);
    }
    store<V>(out + at, g);
    store<V>(out + at + half_cols, h);
  }
}

// The widest load a row of `cols` halves allows (rows start at multiples of cols; ONNX Runtime's
// buffers are 256-byte aligned).
int vectorWidth(int64_t cols) { return cols % 8 == 0 ? 8 : cols % 2 == 0 ? 2 : 1; }

// Threads for one block per row: enough for one vector each, a multiple of 32 from 32 to 256 (an
// empty row still gets its block, whose mean is then 0 / 0 as on the CPU).
unsigned rowThreads(int64_t cols, int v) {
  const int64_t vectors = (cols + v - 1) / v;
  return static_cast<unsigned>(vectors >= 256 ? 256 : vectors <= 32 ? 32 : ((vectors + 31) / 32) * 32);
}

const char* checkRows(int64_t rows, int64_t cols) {
  return rows > 0x7fffffff || cols > 0x7fffffff ? "too many rows or columns for one launch" : nullptr;
}

const char* launched() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? nullptr : cudaGetErrorString(error);
}

#define REATCO_BY_WIDTH(v, kernel, grid, block, stream, ...)                                      \
  switch (v) {                                                                                     \
    case 8: reatco::launchKernel(kernel<8>, dim3(grid), dim3(block), 0, stream, __VA_ARGS__); break;  \
    case 2: reatco::launchKernel(kernel<2>, dim3(grid), dim3(block), 0, stream, __VA_ARGS__); break;  \
    default: reatco::launchKernel(kernel<1>, dim3(grid), dim3(block), 0, stream, __VA_ARGS__); break; \
  }

}  // namespace

namespace reatco {

const char* LaunchNormGradRowMeans(const void* grad, const void* x, const void* y, float* mean_g, float* mean_gx, int64_t rows,
                                   int64_t cols, bool silu, void* stream) {
  if (rows == 0) return nullptr;
  if (const char* error = checkRows(rows, cols)) return error;
  const int v = vectorWidth(cols);
  REATCO_BY_WIDTH(v, normGradRowMeans, unsigned(rows), rowThreads(cols, v), static_cast<cudaStream_t>(stream),
                  static_cast<const half*>(grad), static_cast<const half*>(x), static_cast<const half*>(y), mean_g, mean_gx,
                  int(cols), silu);
  return launched();
}

const char* LaunchNormGradApply(const void* grad, const void* x, const void* y, const float* a, const float* p, const float* q,
                                void* dx, int64_t rows, int64_t cols, bool silu, void* stream) {
  if (rows == 0 || cols == 0) return nullptr;
  if (const char* error = checkRows(rows, cols)) return error;
  const int v = vectorWidth(cols);
  REATCO_BY_WIDTH(v, normGradApply, unsigned(rows), rowThreads(cols, v), static_cast<cudaStream_t>(stream),
                  static_cast<const half*>(grad), static_cast<const half*>(x), static_cast<const half*>(y), a, p, q,
                  static_cast<half*>(dx), int(cols), silu);
  return launched();
}

const char* LaunchLayerNormGrad(const void* grad, const void* x, const float* mean, const float* rstd, const void* weight, void* dx,
                                int64_t rows, int64_t cols, void* stream) {
  if (rows == 0 || cols == 0) return nullptr;
  if (const char* error = checkRows(rows, cols)) return error;
  const int v = vectorWidth(cols);
  REATCO_BY_WIDTH(v, layerNormGrad, unsigned(rows), rowThreads(cols, v), static_cast<cudaStream_t>(stream),
                  static_cast<const half*>(grad), static_cast<const half*>(x), mean, rstd, static_cast<const half*>(weight),
                  static_cast<half*>(dx), int(cols));
  return launched();
}

const char* LaunchGatedGeluGrad(const void* grad, const void* projected, void* out, int64_t rows, int64_t half_cols, void* stream) {
  if (rows == 0 || half_cols == 0) return nullptr;
  if (half_cols > 0x3fffffff) return "GatedGeluGrad: rows too long";
  const int v = vectorWidth(half_cols);
  const int64_t chunks = rows * (half_cols / v);
  const unsigned blocks = static_cast<unsigned>(chunks / 256 + 1 < 65536 ? chunks / 256 + 1 : 65536);
  REATCO_BY_WIDTH(v, gatedGeluGrad, blocks, 256u, static_cast<cudaStream_t>(stream), static_cast<const half*>(grad),
                  static_cast<const half*>(projected), static_cast<half*>(out), rows, int(half_cols));
  return launched();
}

}  // namespace reatco

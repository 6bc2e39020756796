// What one fused kernel would save in the RAD graph's attention backward (issue 7): per head of a
// full-resolution self-attention layer the graph runs Softmax (2.2 ms) and then P * dP' (1.6 ms) on
// (16 x 5376) rows of 10752 fp16 values (H200 profile, helper-service/results/gpu-2026-12-01g). The
// custom-operator library's kernel (helper-service/native/ops/softmax_times_grad.cu, compiled in here)
// does both in one pass over the rows, P = softmax(S) and dS = P * G. This times it at that shape
// against a plain copy of the same bytes (the memory bound); softmax_times_grad_check.cu checks it.
// Build and run on the GPU machine: bash helper-service/scripts/gpu-session.sh kernels
#include "../../native/ops/softmax_times_grad.cu"

#include <cstdio>
#include <cstdlib>

__global__ void copyTwo(const uint4* a, const uint4* b, uint4* c, uint4* d, size_t n) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    c[i] = a[i];
    d[i] = b[i];
  }
}

// Deterministic pseudo-random fill: scores in [-4, 4), incoming gradients in [-1, 1).
__device__ float unitHash(size_t i, unsigned salt) {
  unsigned x = unsigned(i) * 0x9e3779b9u ^ unsigned(i >> 32) ^ salt;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x / 4294967296.f;
}

__global__ void fill(half* s, half* g, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    s[i] = __float2half(8.f * unitHash(i, 1u) - 4.f);
    g[i] = __float2half(2.f * unitHash(i, 2u) - 1.f);
  }
}

#define CHECK(x)                                                              \
  do {                                                                        \
    cudaError_t e = (x);                                                      \
    if (e != cudaSuccess) {                                                   \
      std::printf("%s: %s\n", #x, cudaGetErrorString(e));                     \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

int main() {
  const int rows = 16 * 5376, cols = 10752;  // one head of a full-resolution layer at 16 frames
  const size_t n = size_t(rows) * cols;
  half *s, *g, *p, *ds;
  CHECK(cudaMalloc(&s, n * 2));
  CHECK(cudaMalloc(&g, n * 2));
  CHECK(cudaMalloc(&p, n * 2));
  CHECK(cudaMalloc(&ds, n * 2));
  fill<<<4096, 256>>>(s, g, n);
  CHECK(cudaGetLastError());
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  auto time = [&](auto launch) {
    launch();
    CHECK(cudaDeviceSynchronize());
    cudaEventRecord(a);
    for (int r = 0; r < 20; r++) launch();
    cudaEventRecord(b);
    CHECK(cudaEventSynchronize(b));
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    return ms / 20;
  };
  float fused = time([&] {
    const char* error = reatco::LaunchSoftmaxTimesGrad(s, g, p, ds, rows, cols, nullptr);
    if (error) {
      std::printf("%s\n", error);
      std::exit(1);
    }
  });
  float copy = time([&] { copyTwo<<<4096, 256>>>((uint4*)s, (uint4*)g, (uint4*)p, (uint4*)ds, n / 8); });
  const double gb = 4.0 * n * 2 / 1e9;
  std::printf("{\"rows\": %d, \"cols\": %d, \"fused_ms\": %.3f, \"copy_same_bytes_ms\": %.3f, \"fused_TBps\": %.2f, "
              "\"ort_softmax_plus_mul_ms\": 3.8}\n",
              rows, cols, fused, copy, gb / fused);
  return 0;
}

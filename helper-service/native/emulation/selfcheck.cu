// The CPU emulation's own checks (simt.h): shared memory, barriers and shuffles give a block sum;
// copies land only when a wait lets them; a warp whose lanes diverge at a warp instruction, a thread
// that returns while the others wait for it at a barrier, and a barrier that some threads never reach
// stop the launch with a message. Prints one JSON object; compiled and run by the tests
// (helper-service/tests/native/cuda-emulation.test.ts).
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "../ops/ptx.h"

namespace {

__global__ void blockSum(const float* in, float* out) {
  __shared__ float partial[4];
  float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  for (int o = 16; o >= 1; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0] + partial[1] + partial[2] + partial[3];
}

// What a thread reads of a cp.async destination before and after waiting for it.
__global__ void readsAroundWait(const float* in, float* out) {
  float* staged = reinterpret_cast<float*>(reatco::ptx::dynamicShared()) + threadIdx.x;
  *staged = -1.f;
  reatco::ptx::copy4(staged, in + threadIdx.x, true);
  reatco::ptx::commitCopies();
  out[2 * threadIdx.x] = *staged;
  reatco::ptx::waitForCopies<0>();
  out[2 * threadIdx.x + 1] = *staged;
}

__global__ void divergentShuffle(float* out) {
  if (threadIdx.x % 32 < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffff, 1.f, 1);
  else __syncthreads();
}

__global__ void returnsEarly(float* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void barrierInOneWarp(float* out) {
  if (threadIdx.x < 32) __syncthreads();
  out[threadIdx.x] = 1.f;
}

template <typename... Params, typename... Args>
std::string launch(void (*kernel)(Params...), unsigned blocks, unsigned threads, size_t shared, Args... args) {
  void* pointers[] = {&args...};
  cudaLaunchKernel(kernel, dim3(blocks), dim3(threads), pointers, shared);
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? "" : cudaGetErrorString(error);
}

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

int main() {
  float in[256], sums[2], reads[256], scratch[128];
  for (int i = 0; i < 256; i++) in[i] = float(i);
  const std::string sumError = launch(blockSum, 2, 128, 0, (const float*)in, (float*)sums);
  const std::string copyError = launch(readsAroundWait, 1, 128, 512, (const float*)in, (float*)reads);
  bool staleThenFresh = copyError.empty();
  for (int i = 0; i < 128; i++) staleThenFresh = staleThenFresh && reads[2 * i] == -1.f && reads[2 * i + 1] == in[i];
  std::printf("{\"sums\": [%g, %g], \"sum_error\": %s, \"stale_then_fresh\": %s, \"divergent\": %s, \"returns_early\": %s, \"barrier_in_one_warp\": %s}\n",
              sums[0], sums[1], quoted(sumError).c_str(), staleThenFresh ? "true" : "false", quoted(launch(divergentShuffle, 1, 64, 0, (float*)scratch)).c_str(),
              quoted(launch(returnsEarly, 1, 64, 0, (float*)scratch)).c_str(), quoted(launch(barrierInOneWarp, 1, 64, 0, (float*)scratch)).c_str());
  return 0;
}

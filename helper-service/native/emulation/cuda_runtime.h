// The part of the CUDA runtime and device language that the library's kernels and their checks use,
// for compiling them with g++ (build.sh) and running them on the CPU emulation (simt.h). Device
// memory is host memory; launches run to completion before they return.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "cuda_fp16.h"
#include "simt.h"
#include "vector_types.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static  // blocks run one at a time on one OS thread: a static is the block's

using dim3 = simt::Dim3;
using simt::blockDim;
using simt::blockIdx;
using simt::gridDim;
using simt::threadIdx;

inline int min(int a, int b) { return a < b ? a : b; }
inline float __expf(float v) { return std::exp(v); }
inline float __logf(float v) { return std::log(v); }
inline float __log2f(float v) { return std::log2(v); }

inline void __syncthreads() { simt::syncBlock(); }
inline float __shfl_xor_sync(unsigned, float value, int laneMask) { return simt::shuffleXor(value, laneMask); }

enum cudaError_t { cudaSuccess = 0, cudaErrorLaunchFailure = 719 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
using cudaStream_t = struct CUstream_st*;

namespace simt {
// Why the last launch failed (null if it did not), and whether cudaGetLastError has reported it.
struct LaunchError {
  const char* why = nullptr;
  bool reported = true;
};
inline LaunchError& lastLaunch() {
  static LaunchError error;
  return error;
}

template <typename... Params, size_t... I>
void callKernel(void (*kernel)(Params...), void** args, std::index_sequence<I...>) {
  kernel(*static_cast<std::remove_reference_t<Params>*>(args[I])...);
}
}  // namespace simt

inline cudaError_t cudaGetLastError() {
  const bool fresh = !std::exchange(simt::lastLaunch().reported, true);
  return fresh && simt::lastLaunch().why ? cudaErrorLaunchFailure : cudaSuccess;
}
inline cudaError_t cudaDeviceSynchronize() { return simt::lastLaunch().why ? cudaErrorLaunchFailure : cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t error) {
  return error == cudaSuccess ? "no error" : simt::lastLaunch().why ? simt::lastLaunch().why : "unspecified launch failure";
}

// Runs the whole grid before it returns; a failure is what cudaGetLastError reports next.
template <typename... Params>
cudaError_t cudaLaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, void** args, size_t sharedBytes = 0, cudaStream_t = nullptr) {
  const char* why = simt::launch(grid, block, sharedBytes, [&] { simt::callKernel(kernel, args, std::index_sequence_for<Params...>{}); });
  simt::lastLaunch() = {why, false};
  return cudaSuccess;
}

template <typename T>
cudaError_t cudaMalloc(T** pointer, size_t bytes) {
  *pointer = static_cast<T*>(std::malloc(bytes ? bytes : 1));
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

// What the kernel checks of this folder share: a seeded generator, copies to and from the GPU, fp16
// spacing, and one way to stop with an error (a JSON line) when a launch or the GPU fails.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace support {

struct Random {
  unsigned x;
  double next() {  // uniform in [0, 1)
    x = x * 1664525u + 1013904223u;
    return (x >> 8) / 16777216.0;
  }
  std::vector<half> halves(size_t n, double scale, double offset = 0) {
    std::vector<half> v(n);
    for (auto& h : v) h = __float2half(float(offset + scale * (2 * next() - 1)));
    return v;
  }
};

template <typename T>
T* device(const std::vector<T>& host) {
  T* p;
  cudaMalloc(&p, host.size() * sizeof(T));
  cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  return p;
}

template <typename T>
std::vector<T> fetch(const T* p, size_t n) {
  std::vector<T> host(n);
  cudaMemcpy(host.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
  return host;
}

// The spacing of fp16 values around |v| (subnormal spacing below the smallest normal).
inline double halfUlp(double v) {
  const double a = std::fabs(v);
  if (a < 6.103515625e-05) return 5.9604644775390625e-08;
  return std::ldexp(1.0, std::ilogb(a) - 10);
}

// The rows a check runs of a case: all on a GPU; on the CPU emulation (helper-service/native/
// emulation), which runs every thread as a fiber, a few, enough for every path of the kernels.
inline int rowsToCheck(int rows) {
#ifdef REATCO_CUDA_EMULATION
  return rows < 8 ? rows : 8;
#else
  return rows;
#endif
}

// Returns when `what` launched (error null) and the GPU finished it; otherwise prints why and exits.
inline void ran(const char* what, const char* error) {
  if (!error && cudaDeviceSynchronize() == cudaSuccess) return;
  std::printf("{\"error\": \"%s: %s\"}\n", what, error ? error : cudaGetErrorString(cudaGetLastError()));
  std::exit(1);
}

}  // namespace support

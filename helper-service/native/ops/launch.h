// Launches a kernel with its arguments through cudaLaunchKernel, which the CPU emulation
// (helper-service/native/emulation) provides too, where the <<<>>> syntax needs nvcc.
#pragma once
#include <cuda_runtime.h>

#include <tuple>
#include <type_traits>
#include <utility>

namespace reatco {

template <typename... Params, typename... Args>
cudaError_t launchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t sharedBytes, cudaStream_t stream, Args&&... args) {
  std::tuple<std::decay_t<Params>...> values(std::forward<Args>(args)...);
  return std::apply(
      [&](auto&... value) {
        void* pointers[] = {&value...};
        return cudaLaunchKernel(kernel, grid, block, pointers, sharedBytes, stream);
      },
      values);
}

}  // namespace reatco

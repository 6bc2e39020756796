// Checks the custom-operator library's CUDA kernel (helper-service/native/ops/softmax_times_grad.cu,
// compiled in here) against a float64 reference on the CPU, at the RAD graph's row lengths and at
// lengths that take its other path (not a multiple of 8, longer than 16384). Errors are counted in
// fp16 steps (ulps) of the reference value, so subnormal probabilities are judged by fp16's own
// resolution. Run on the GPU machine: bash helper-service/scripts/gpu-session.sh kernels
#include "../../native/ops/softmax_times_grad.cu"
#include "check_support.h"

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using support::halfUlp;

struct Worst {
  double p = 0, ds = 0;
};

Worst check(int rows, int cols, unsigned seed) {
  const size_t n = size_t(rows) * cols;
  std::vector<half> s(n), g(n), p(n), ds(n);
  support::Random random{seed};
  for (size_t i = 0; i < n; i++) {
    s[i] = __float2half(float(8 * random.next() - 4));
    g[i] = __float2half(float(2 * random.next() - 1));
  }
  half *dev_s, *dev_g, *dev_p, *dev_ds;
  cudaMalloc(&dev_s, n * 2);
  cudaMalloc(&dev_g, n * 2);
  cudaMalloc(&dev_p, n * 2);
  cudaMalloc(&dev_ds, n * 2);
  cudaMemcpy(dev_s, s.data(), n * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dev_g, g.data(), n * 2, cudaMemcpyHostToDevice);
  support::ran("SoftmaxTimesGrad", reatco::LaunchSoftmaxTimesGrad(dev_s, dev_g, dev_p, dev_ds, rows, cols, nullptr));
  cudaMemcpy(p.data(), dev_p, n * 2, cudaMemcpyDeviceToHost);
  cudaMemcpy(ds.data(), dev_ds, n * 2, cudaMemcpyDeviceToHost);
  cudaFree(dev_s);
  cudaFree(dev_g);
  cudaFree(dev_p);
  cudaFree(dev_ds);
  Worst worst;
  for (int r = 0; r < rows; r++) {
    const size_t at = size_t(r) * cols;
    double m = -1e300, sum = 0;
    for (int c = 0; c < cols; c++) m = std::fmax(m, __half2float(s[at + c]));
    for (int c = 0; c < cols; c++) sum += std::exp(__half2float(s[at + c]) - m);
    for (int c = 0; c < cols; c++) {
      const double want = std::exp(__half2float(s[at + c]) - m) / sum;
      const double wantDs = want * __half2float(g[at + c]);
      worst.p = std::fmax(worst.p, std::fabs(__half2float(p[at + c]) - want) / halfUlp(want));
      worst.ds = std::fmax(worst.ds, std::fabs(__half2float(ds[at + c]) - wantDs) / halfUlp(wantDs));
    }
  }
  return worst;
}

}  // namespace

int main() {
  const int shapes[][2] = {{64, 10752}, {64, 2688}, {64, 77}, {8, 16392}, {3, 8}};
  std::printf("{\"worst_error_in_fp16_ulps\": [");
  bool first = true, ok = true;
  for (const auto& shape : shapes) {
    const int rows = support::rowsToCheck(shape[0]);
    const Worst w = check(rows, shape[1], 12345u + shape[1]);
    ok = ok && w.p <= 2 && w.ds <= 2;  // float32 arithmetic, __expf, one rounding to fp16
    std::printf("%s{\"rows\": %d, \"cols\": %d, \"p\": %.2f, \"ds\": %.2f}", first ? "" : ", ", rows, shape[1], w.p, w.ds);
    first = false;
  }
  std::printf("], \"within_2_ulps\": %s}\n", ok ? "true" : "false");
  return ok ? 0 : 1;
}

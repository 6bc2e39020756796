// Checks the attention backward's CUDA kernels (helper-service/native/ops/attention_grad.cu, compiled
// in here) against a float64 reference on the CPU, for head sizes of each tile width, lengths that
// are not multiples of the 64-row tiles, and head sizes that are not multiples of 8 (the scalar
// loads); then times them on the SD-1.x RAD pass's self-attention at 16 frames (its first two levels).
// The kernels round P and dS to fp16 for their products (as flash attention does), so the check is
// normwise: |got - want| / |want| over each output. Run on the GPU machine:
// bash helper-service/scripts/gpu-session.sh kernels; on the CPU emulation (checks only, no times):
// bash helper-service/native/emulation/build.sh helper-service/scripts/custom-op-check/attention_grad_check.cu /tmp/check && /tmp/check
#include "../../native/ops/attention_grad.cu"
#include "check_support.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using support::device, support::fetch, support::ran, support::Random;

struct Case {
  int batch, heads, lq, lk, d;
};

struct Device {
  half *q, *k, *v, *o, *go, *dq, *dk, *dv;
  float *lse, *rowdot, *scale;
};

reatco::AttentionShape shapeOf(const Case& c) { return {c.batch, c.heads, c.lq, c.lk, c.d}; }

void run(const Device& dev, const Case& c) {
  ran("AttentionRowStats", reatco::LaunchAttentionRowStats(dev.q, dev.k, dev.o, dev.go, dev.lse, dev.rowdot, shapeOf(c), nullptr));
  ran("AttentionGrad", reatco::LaunchAttentionGrad(dev.q, dev.k, dev.v, dev.go, dev.lse, dev.rowdot, dev.scale, dev.dq, dev.dk, dev.dv, shapeOf(c), nullptr));
}

Device allocate(const Case& c, std::vector<half> (&inputs)[5]) {
  const size_t nq = size_t(c.batch) * c.lq * c.heads * c.d, nk = size_t(c.batch) * c.lk * c.heads * c.d;
  // SD-1.x-like magnitudes: activations ~0.5, the incoming gradient gain-scaled to ~1.
  inputs[0] = Random{1 + unsigned(c.d)}.halves(nq, 1.5);
  inputs[1] = Random{2 + unsigned(c.lk)}.halves(nk, 1.5);
  inputs[2] = Random{3 + unsigned(c.lq)}.halves(nk, 1.0);
  inputs[3] = Random{4}.halves(nq, 1.0);
  inputs[4] = Random{5}.halves(nq, 1.0);
  Device dev{};
  dev.q = device(inputs[0]);
  dev.k = device(inputs[1]);
  dev.v = device(inputs[2]);
  dev.o = device(inputs[3]);
  dev.go = device(inputs[4]);
  cudaMalloc(&dev.dq, nq * 2);
  cudaMalloc(&dev.dk, nk * 2);
  cudaMalloc(&dev.dv, nk * 2);
  cudaMalloc(&dev.lse, size_t(c.batch) * c.heads * c.lq * 4);
  cudaMalloc(&dev.rowdot, size_t(c.batch) * c.heads * c.lq * 4);
  dev.scale = device(std::vector<float>{0.5f});
  return dev;
}

void release(Device& dev) {
  for (void* p : {(void*)dev.q, (void*)dev.k, (void*)dev.v, (void*)dev.o, (void*)dev.go, (void*)dev.dq, (void*)dev.dk, (void*)dev.dv,
                  (void*)dev.lse, (void*)dev.rowdot, (void*)dev.scale})
    cudaFree(p);
}

struct Errors {
  double lse = 0, rowdot = 0, dq = 0, dk = 0, dv = 0;
};

double normwise(const std::vector<half>& got, const std::vector<double>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); i++) {
    const double e = __half2float(got[i]) - want[i];
    diff += e * e;
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

Errors check(const Case& c) {
  std::vector<half> in[5];
  Device dev = allocate(c, in);
  run(dev, c);
  const size_t nq = in[0].size(), nk = in[1].size(), rows = size_t(c.batch) * c.heads * c.lq;
  const auto dq = fetch(dev.dq, nq), dk = fetch(dev.dk, nk), dv = fetch(dev.dv, nk);
  const auto lse = fetch(dev.lse, rows), rowdot = fetch(dev.rowdot, rows);
  release(dev);
  const int channels = c.heads * c.d;
  const double scale = 1 / std::sqrt(double(c.d)), g = 0.5;
  auto at = [&](const std::vector<half>& t, int b, int tokens, int row, int h, int col) {
    return double(__half2float(t[(size_t(b) * tokens + row) * channels + h * c.d + col]));
  };
  std::vector<double> wdq(nq), wdk(nk), wdv(nk), s(c.lk);
  Errors e;
  for (int b = 0; b < c.batch; b++) {
    for (int h = 0; h < c.heads; h++) {
      for (int i = 0; i < c.lq; i++) {
        double m = -1e300, sum = 0, dot = 0;
        for (int j = 0; j < c.lk; j++) {
          double x = 0;
          for (int col = 0; col < c.d; col++) x += at(in[0], b, c.lq, i, h, col) * at(in[1], b, c.lk, j, h, col);
          s[j] = x * scale;
          m = std::max(m, s[j]);
        }
        for (int j = 0; j < c.lk; j++) sum += std::exp(s[j] - m);
        const double want_lse = m + std::log(sum);
        for (int col = 0; col < c.d; col++) dot += at(in[4], b, c.lq, i, h, col) * at(in[3], b, c.lq, i, h, col);
        const size_t row = (size_t(b) * c.heads + h) * c.lq + i;
        e.lse = std::max(e.lse, std::fabs(lse[row] - want_lse));
        e.rowdot = std::max(e.rowdot, std::fabs(rowdot[row] - dot) / std::max(std::fabs(dot), 1.0));
        for (int j = 0; j < c.lk; j++) {
          const double p = std::exp(s[j] - want_lse);
          double dp = 0;
          for (int col = 0; col < c.d; col++) dp += at(in[4], b, c.lq, i, h, col) * at(in[2], b, c.lk, j, h, col);
          const double ds = p * (dp - dot);
          for (int col = 0; col < c.d; col++) {
            wdq[(size_t(b) * c.lq + i) * channels + h * c.d + col] += g * scale * ds * at(in[1], b, c.lk, j, h, col);
            wdk[(size_t(b) * c.lk + j) * channels + h * c.d + col] += g * scale * ds * at(in[0], b, c.lq, i, h, col);
            wdv[(size_t(b) * c.lk + j) * channels + h * c.d + col] += g * p * at(in[4], b, c.lq, i, h, col);
          }
        }
      }
    }
  }
  e.dq = normwise(dq, wdq);
  e.dk = normwise(dk, wdk);
  e.dv = normwise(dv, wdv);
  return e;
}

double medianMs(const Device& dev, const Case& c, bool statsOnly) {
  std::vector<double> times;
  for (int i = 0; i < 6; i++) {
    cudaDeviceSynchronize();
    const auto t0 = std::chrono::steady_clock::now();
    const char* error = statsOnly ? reatco::LaunchAttentionRowStats(dev.q, dev.k, dev.o, dev.go, dev.lse, dev.rowdot, shapeOf(c), nullptr)
                                  : reatco::LaunchAttentionGrad(dev.q, dev.k, dev.v, dev.go, dev.lse, dev.rowdot, dev.scale, dev.dq, dev.dk,
                                                                dev.dv, shapeOf(c), nullptr);
    ran(statsOnly ? "AttentionRowStats" : "AttentionGrad", error);
    if (i > 0) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main() {
  const Case cases[] = {{2, 2, 100, 77, 40}, {1, 3, 64, 128, 16}, {1, 2, 70, 200, 33}, {1, 1, 5, 3, 64},
                        {2, 2, 130, 260, 48}, {1, 2, 64, 64, 8},   {1, 1, 129, 1, 24}, {2, 2, 90, 180, 80}, {1, 1, 70, 77, 72}};
  bool ok = true;
  std::printf("{\"cases\": [");
  for (size_t n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
    const Case& c = cases[n];
    const Errors e = check(c);
    // fp16 P and dS in the products: a few 2^-11 relative; __expf and __logf in the statistics.
    const bool good = e.dq < 4e-3 && e.dk < 4e-3 && e.dv < 4e-3 && e.lse < 1e-4 && e.rowdot < 1e-5;
    ok = ok && good;
    std::printf("%s{\"batch\": %d, \"heads\": %d, \"lq\": %d, \"lk\": %d, \"d\": %d, \"lse_abs\": %.2e, \"rowdot_rel\": %.2e, "
                "\"dq\": %.2e, \"dk\": %.2e, \"dv\": %.2e, \"ok\": %s}",
                n ? ", " : "", c.batch, c.heads, c.lq, c.lk, c.d, e.lse, e.rowdot, e.dq, e.dk, e.dv, good ? "true" : "false");
  }
  std::printf("], \"within_tolerance\": %s, \"timed\": [", ok ? "true" : "false");
#ifndef REATCO_CUDA_EMULATION  // times are a GPU's
  // SD-1.x's self-attention at 16 frames of 448x768: full resolution (5376 queries over 2 x 5376
  // keys, head size 40) and the second level (1344 over 2 x 1344, head size 80).
  const Case timed[] = {{16, 8, 5376, 10752, 40}, {16, 8, 1344, 2688, 80}};
  for (size_t n = 0; n < 2; n++) {
    const Case& c = timed[n];
    std::vector<half> in[5];
    Device dev = allocate(c, in);
    const double statsMs = medianMs(dev, c, true), gradMs = medianMs(dev, c, false);
    release(dev);
    const double product = 2.0 * c.batch * c.heads * c.lq * c.lk * c.d;  // one (lq x lk x d) matmul
    std::printf("%s{\"lq\": %d, \"lk\": %d, \"d\": %d, \"stats_ms\": %.3f, \"grad_ms\": %.3f, \"total_ms\": %.3f, "
                "\"tflops_done\": %.1f, \"tflops_of_5_products\": %.1f}",
                n ? ", " : "", c.lq, c.lk, c.d, statsMs, gradMs, statsMs + gradMs, 8 * product / (statsMs + gradMs) * 1e-9,
                5 * product / (statsMs + gradMs) * 1e-9);
  }
#endif
  std::printf("]}\n");
  return ok ? 0 : 1;
}

// Checks the custom-operator library's norm and activation backwards (helper-service/native/ops/
// norm_grads.cu, compiled in here) against float64 references on the CPU, at row lengths that take
// each load width (8, 2 and 1 halves), and times them at the SD-1.x RAD pass's full-resolution sizes
// at 16 frames. An fp16 output's error counts in fp16 ulps of the reference, but a difference below
// 2^-16 of the magnitude of the terms it sums (where they cancel) counts as none; a float32 mean's
// error counts relative to the mean of its terms' magnitudes. Run on the GPU machine:
// bash helper-service/scripts/gpu-session.sh kernels; the tests run it on the CPU emulation (a few
// rows of each case, no times).
#include "../../native/ops/norm_grads.cu"
#include "check_support.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using support::device, support::fetch, support::halfUlp, support::ran, support::Random;

// Error of one fp16 output against its reference; `terms` is the sum of the magnitudes it combines.
double ulps(half got, double want, double terms) {
  const double error = std::fabs(double(__half2float(got)) - want);
  return error <= terms * 1.52587890625e-05 ? 0 : error / halfUlp(want);
}

double f(half h) { return __half2float(h); }

double siluGradRef(double y) {
  const double s = 1 / (1 + std::exp(-y));
  return s * (1 + y * (1 - s));
}

struct Worst {
  double means = 0, dx = 0;
};

// GroupNorm's backward: the row means, then dx = g a + x p + q.
Worst groupNorm(int rows, int cols, bool silu, unsigned seed) {
  Random r{seed};
  const size_t n = size_t(rows) * cols;
  auto grad = r.halves(n, 1e-2), x = r.halves(n, 3, 0.5), y = r.halves(n, 4);
  std::vector<float> a(rows), p(rows), q(rows);
  for (int i = 0; i < rows; i++) a[i] = float(2 * r.next() - 1), p[i] = float(1e-3 * (2 * r.next() - 1)), q[i] = float(1e-3 * (2 * r.next() - 1));
  half *dg = device(grad), *dxin = device(x), *dy = device(y), *ddx;
  float *dmg, *dmgx, *da = device(a), *dp = device(p), *dq = device(q);
  cudaMalloc(&dmg, rows * 4);
  cudaMalloc(&dmgx, rows * 4);
  cudaMalloc(&ddx, n * 2);
  ran("NormGradRowMeans", reatco::LaunchNormGradRowMeans(dg, dxin, dy, dmg, dmgx, rows, cols, silu, nullptr));
  ran("NormGradApply", reatco::LaunchNormGradApply(dg, dxin, dy, da, dp, dq, ddx, rows, cols, silu, nullptr));
  const auto mg = fetch(dmg, rows), mgx = fetch(dmgx, rows);
  const auto dx = fetch(ddx, n);
  for (void* ptr : {(void*)dg, (void*)dxin, (void*)dy, (void*)ddx, (void*)dmg, (void*)dmgx, (void*)da, (void*)dp, (void*)dq}) cudaFree(ptr);
  Worst w;
  for (int row = 0; row < rows; row++) {
    double sg = 0, sgx = 0, ag = 0, agx = 0;
    for (int c = 0; c < cols; c++) {
      const size_t i = size_t(row) * cols + c;
      const double g = f(grad[i]) * (silu ? siluGradRef(f(y[i])) : 1);
      sg += g, sgx += g * f(x[i]), ag += std::fabs(g), agx += std::fabs(g * f(x[i]));
      const double want = g * a[row] + f(x[i]) * p[row] + q[row];
      w.dx = std::fmax(w.dx, ulps(dx[i], want, std::fabs(g * a[row]) + std::fabs(f(x[i]) * p[row]) + std::fabs(q[row])));
    }
    w.means = std::fmax(w.means, std::fabs(mg[row] - sg / cols) / (ag / cols));
    w.means = std::fmax(w.means, std::fabs(mgx[row] - sgx / cols) / (agx / cols));
  }
  return w;
}

double layerNorm(int rows, int cols, unsigned seed) {
  Random r{seed};
  const size_t n = size_t(rows) * cols;
  auto grad = r.halves(n, 1e-2), x = r.halves(n, 3, 0.5), weight = r.halves(cols, 1, 1);
  std::vector<float> mean(rows), rstd(rows);
  for (int row = 0; row < rows; row++) {
    double s = 0, s2 = 0;
    for (int c = 0; c < cols; c++) s += f(x[size_t(row) * cols + c]), s2 += f(x[size_t(row) * cols + c]) * f(x[size_t(row) * cols + c]);
    mean[row] = float(s / cols);
    rstd[row] = float(1 / std::sqrt(s2 / cols - (s / cols) * (s / cols) + 1e-5));
  }
  half *dg = device(grad), *dxin = device(x), *dw = device(weight), *ddx;
  float *dm = device(mean), *dr = device(rstd);
  cudaMalloc(&ddx, n * 2);
  ran("LayerNormGrad", reatco::LaunchLayerNormGrad(dg, dxin, dm, dr, dw, ddx, rows, cols, nullptr));
  const auto dx = fetch(ddx, n);
  for (void* ptr : {(void*)dg, (void*)dxin, (void*)dw, (void*)ddx, (void*)dm, (void*)dr}) cudaFree(ptr);
  double worst = 0;
  for (int row = 0; row < rows; row++) {
    const size_t at = size_t(row) * cols;
    double sd = 0, sdx = 0;
    for (int c = 0; c < cols; c++) {
      const double d = f(grad[at + c]) * f(weight[c]), xhat = (f(x[at + c]) - mean[row]) * rstd[row];
      sd += d, sdx += d * xhat;
    }
    for (int c = 0; c < cols; c++) {
      const double d = f(grad[at + c]) * f(weight[c]), xhat = (f(x[at + c]) - mean[row]) * rstd[row];
      const double want = rstd[row] * (d - sd / cols - xhat * sdx / cols);
      worst = std::fmax(worst, ulps(dx[at + c], want, rstd[row] * (std::fabs(d) + std::fabs(sd / cols) + std::fabs(xhat * sdx / cols))));
    }
  }
  return worst;
}

double gatedGelu(int rows, int half_cols, unsigned seed) {
  Random r{seed};
  auto grad = r.halves(size_t(rows) * half_cols, 1e-2), projected = r.halves(size_t(rows) * 2 * half_cols, 4);
  half *dg = device(grad), *dp = device(projected), *dout;
  cudaMalloc(&dout, projected.size() * 2);
  ran("GatedGeluGrad", reatco::LaunchGatedGeluGrad(dg, dp, dout, rows, half_cols, nullptr));
  const auto out = fetch(dout, projected.size());
  for (void* ptr : {(void*)dg, (void*)dp, (void*)dout}) cudaFree(ptr);
  double worst = 0;
  for (int row = 0; row < rows; row++) {
    for (int c = 0; c < half_cols; c++) {
      const size_t at = size_t(row) * 2 * half_cols + c;
      const double dy = f(grad[size_t(row) * half_cols + c]), h = f(projected[at]), g = f(projected[at + half_cols]);
      const double cdf = 0.5 + 0.5 * std::erf(g / std::sqrt(2.0)), pdf = std::exp(-0.5 * g * g) / std::sqrt(2 * M_PI);
      worst = std::fmax(worst, ulps(out[at], dy * g * cdf, 0));
      worst = std::fmax(worst, ulps(out[at + half_cols], dy * h * (cdf + g * pdf), std::fabs(dy * h) * (cdf + std::fabs(g * pdf))));
    }
  }
  return worst;
}

#ifndef REATCO_CUDA_EMULATION  // times are a GPU's
// Median time of `launch` over 20 runs, in ms.
template <typename F>
float timed(F launch) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<float> ms;
  for (int i = 0; i < 21; i++) {
    cudaEventRecord(start);
    launch();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t;
    cudaEventElapsedTime(&t, start, stop);
    if (i) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The full-resolution tensors of the SD-1.x RAD pass at 16 frames of 448x768 (56 x 96 latents):
// GroupNorm over (16 x 320) rows of 5376, LayerNorm over (16 x 5376) rows of 320, GEGLU's 1280 + 1280.
void timings() {
  const int64_t gn_rows = 16 * 320, gn_cols = 5376, ln_rows = 16 * 5376, ln_cols = 320, geglu_half = 1280;
  const size_t n = size_t(gn_rows) * gn_cols;
  const size_t geglu = size_t(ln_rows) * geglu_half;
  half *a, *b, *c, *d, *e, *g;
  float *stats1, *stats2;
  cudaMalloc(&g, geglu * 2);
  cudaMalloc(&a, n * 2);
  cudaMalloc(&b, n * 2);
  cudaMalloc(&c, n * 2);
  cudaMalloc(&d, geglu * 2 * 2);
  cudaMalloc(&e, geglu * 2 * 2);
  cudaMalloc(&stats1, ln_rows * 4);
  cudaMalloc(&stats2, ln_rows * 4);
  cudaMemset(a, 0, n * 2), cudaMemset(b, 0, n * 2), cudaMemset(c, 0, n * 2), cudaMemset(d, 0, geglu * 4), cudaMemset(g, 0, geglu * 2);
  cudaMemset(stats1, 0, ln_rows * 4);
  cudaMemset(stats2, 0, ln_rows * 4);
  const double mb = n * 2 / 1e6;
  const float means = timed([&] { reatco::LaunchNormGradRowMeans(a, b, c, stats1, stats2, gn_rows, gn_cols, true, nullptr); });
  const float apply = timed([&] { reatco::LaunchNormGradApply(a, b, c, stats1, stats1, stats2, d, gn_rows, gn_cols, true, nullptr); });
  const float layer = timed([&] { reatco::LaunchLayerNormGrad(a, b, stats1, stats2, c, d, ln_rows, ln_cols, nullptr); });
  const float gelu = timed([&] { reatco::LaunchGatedGeluGrad(g, d, e, ln_rows, geglu_half, nullptr); });
  ran("timings", nullptr);
  // Bytes moved over time: 3 reads; 3 reads + 1 write; 2 reads + 1 write; 3 + 2 halves per gradient element.
  std::printf(
      "{\"activation_mb\": %.1f, \"norm_grad_row_means_ms\": %.3f, \"norm_grad_apply_ms\": %.3f, \"layer_norm_grad_ms\": %.3f, "
      "\"gated_gelu_grad_ms\": %.3f, \"TBps\": [%.2f, %.2f, %.2f, %.2f]}\n",
      mb, means, apply, layer, gelu, 3 * mb / means / 1e3, 4 * mb / apply / 1e3, 3 * mb / layer / 1e3,
      5 * geglu * 2 / 1e6 / gelu / 1e3);
  for (void* ptr : {(void*)a, (void*)b, (void*)c, (void*)d, (void*)e, (void*)g, (void*)stats1, (void*)stats2}) cudaFree(ptr);
}
#endif

}  // namespace

int main() {
  bool ok = true;
  std::printf("{\"group_norm\": [");
  const int gn[][2] = {{5120, 5376}, {640, 84}, {64, 7}};
  for (int i = 0; i < 3; i++) {
    for (int silu = 0; silu < 2; silu++) {
      const Worst w = groupNorm(support::rowsToCheck(gn[i][0]), gn[i][1], silu, 100u + i);
      ok = ok && w.means <= 1e-5 && w.dx <= 2;
      std::printf("%s{\"rows\": %d, \"cols\": %d, \"silu\": %d, \"means_relative\": %.2e, \"dx_ulps\": %.2f}", i || silu ? ", " : "", support::rowsToCheck(gn[i][0]),
                  gn[i][1], silu, w.means, w.dx);
    }
  }
  std::printf("], \"layer_norm\": [");
  const int ln[][2] = {{4096, 320}, {1024, 1280}, {256, 36}, {64, 33}};
  for (int i = 0; i < 4; i++) {
    const double w = layerNorm(support::rowsToCheck(ln[i][0]), ln[i][1], 200u + i);
    ok = ok && w <= 2;
    std::printf("%s{\"rows\": %d, \"cols\": %d, \"dx_ulps\": %.2f}", i ? ", " : "", support::rowsToCheck(ln[i][0]), ln[i][1], w);
  }
  std::printf("], \"gated_gelu\": [");
  const int gg[][2] = {{4096, 1280}, {256, 10}, {64, 5}};
  for (int i = 0; i < 3; i++) {
    const double w = gatedGelu(support::rowsToCheck(gg[i][0]), gg[i][1], 300u + i);
    ok = ok && w <= 2;
    std::printf("%s{\"rows\": %d, \"half\": %d, \"ulps\": %.2f}", i ? ", " : "", support::rowsToCheck(gg[i][0]), gg[i][1], w);
  }
  std::printf("], \"within_tolerance\": %s}\n", ok ? "true" : "false");
#ifndef REATCO_CUDA_EMULATION
  timings();
#endif
  return ok ? 0 : 1;
}

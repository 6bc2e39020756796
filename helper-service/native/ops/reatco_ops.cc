// The "reatco" custom-operator domain for ONNX Runtime: fused kernels for the RAD gradient graph,
// which ONNX Runtime's inference build lacks (helper-service/results/gpu.md). Loaded as a library
// (RegisterCustomOps below) by a session's options: ONNX Runtime's RegisterCustomOpsLibrary_V2 from
// C, register_custom_ops_library from Python.
//
// Each operator has a CPU kernel, float32, for tests and the CPU provider, and when built with
// REATCO_CUDA a CUDA one, float16 (statistics float32), in softmax_times_grad.cu and norm_grads.cu:
// - SoftmaxTimesGrad(S, G) -> (P, dS): P = softmax(S) over the last axis and dS = P * G, G shaped like
//   S. The attention backward recomputes P and needs both; one pass over the rows reads S and G once
//   (models/reatco_models/fused_ops.py puts it into the graph).
// - NormGradRowMeans(grad, x, y; silu) -> (mean_g, mean_gx) and NormGradApply(grad, x, y, a, p, q;
//   silu) -> dx: GroupNorm's backward over rows (n, c) of (n, c, spatial...) tensors, g = grad silu'(y)
//   with silu = 1; the float32 means of g and g x by row, then dx = g a + x p + q with per-row
//   coefficients (models/reatco_models/gradient_norms.py combines rows into groups in between).
// - LayerNormGrad(grad, x, mean, rstd, weight) -> dx: a layer norm's input gradient over the last axis.
// - GatedGeluGrad(grad, projected) -> dprojected: the gradient of hidden * gelu(gate), projected =
//   [hidden, gate] along the last axis.
// - AttentionRowStats(q, k, out, grad_out; heads) -> (lse, rowdot) and AttentionGrad(q, k, v, grad_out,
//   lse, rowdot, grad_scale; heads) -> (dq, dk, dv): attention's backward in the manner of flash
//   attention's, the probabilities recomputed from each query's log-sum-exp (attention_grad.cu on
//   CUDA, head sizes up to 80).
// The Python definitions (models/reatco_models/fused_backwards.py) are the reference of these maths.
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#include "onnxruntime_lite_custom_op.h"
#undef ORT_API_MANUAL_INIT

#include <algorithm>
#include <initializer_list>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#ifdef REATCO_CUDA
#include "attention_grad.h"
#include "norm_grads.h"
#include "softmax_times_grad.h"
#endif

namespace {

using Ort::Custom::Tensor;

void SoftmaxTimesGradCpu(const Tensor<float>& s, const Tensor<float>& g, Tensor<float>& p, Tensor<float>& ds) {
  const std::vector<int64_t> shape = s.Shape();
  if (shape.empty() || g.Shape() != shape) ORT_CXX_API_THROW("SoftmaxTimesGrad: G must have the shape of S", ORT_INVALID_ARGUMENT);
  const int64_t cols = shape.back();
  const int64_t rows = cols ? s.NumberOfElement() / cols : 0;
  const float* sv = s.Data();
  const float* gv = g.Data();
  float* pv = p.Allocate(shape);
  float* dv = ds.Allocate(shape);
  for (int64_t r = 0; r < rows; r++) {
    const float* sr = sv + r * cols;
    const float m = *std::max_element(sr, sr + cols);
    double sum = 0;
    for (int64_t c = 0; c < cols; c++) sum += pv[r * cols + c] = std::exp(sr[c] - m);
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t c = 0; c < cols; c++) {
      const int64_t i = r * cols + c;
      pv[i] *= inv;
      dv[i] = pv[i] * gv[i];
    }
  }
}


void Require(bool condition, const char* message) {
  if (!condition) ORT_CXX_API_THROW(message, ORT_INVALID_ARGUMENT);
}

bool SiluAttribute(const OrtKernelInfo* info) { return Ort::ConstKernelInfo(info).GetAttribute<int64_t>("silu") != 0; }

// Rows (n, c) and their length for a GroupNorm backward's (n, c, spatial...) tensor.
std::pair<int64_t, int64_t> NormRows(const std::vector<int64_t>& shape, int64_t elements) {
  Require(shape.size() >= 2, "the norm backwards need (n, c, ...) tensors");
  const int64_t rows = shape[0] * shape[1];
  return {rows, rows ? elements / rows : 0};
}

template <typename T>
void RequireSameShapes(const Tensor<T>& a, const Tensor<T>& b, const Tensor<T>& c, const char* message) {
  Require(a.Shape() == b.Shape() && b.Shape() == c.Shape(), message);
}

template <typename S>
void RequireRowCoefficients(const Tensor<S>& t, int64_t rows, const char* message) {
  Require(t.NumberOfElement() == rows, message);
}

float SiluGrad(float y) {
  const float s = 1.f / (1.f + std::exp(-y));
  return s * (1.f + y * (1.f - s));
}

struct NormGradRowMeansCpu {
  NormGradRowMeansCpu(const OrtApi*, const OrtKernelInfo* info) : silu(SiluAttribute(info)) {}
  void Compute(const Tensor<float>& grad, const Tensor<float>& x, const Tensor<float>& y, Tensor<float>& mean_g, Tensor<float>& mean_gx) {
    RequireSameShapes(grad, x, y, "NormGradRowMeans: grad, x and y must have one shape");
    const std::vector<int64_t> shape = x.Shape();
    const auto [rows, cols] = NormRows(shape, x.NumberOfElement());
    float* mg = mean_g.Allocate({shape[0], shape[1]});
    float* mgx = mean_gx.Allocate({shape[0], shape[1]});
    const float *gv = grad.Data(), *xv = x.Data(), *yv = y.Data();
    for (int64_t r = 0; r < rows; r++) {
      double sg = 0, sgx = 0;
      for (int64_t i = r * cols; i < (r + 1) * cols; i++) {
        const double g = silu ? gv[i] * SiluGrad(yv[i]) : gv[i];
        sg += g;
        sgx += g * xv[i];
      }
      mg[r] = static_cast<float>(sg / cols);
      mgx[r] = static_cast<float>(sgx / cols);
    }
  }
  bool silu;
};

struct NormGradApplyCpu {
  NormGradApplyCpu(const OrtApi*, const OrtKernelInfo* info) : silu(SiluAttribute(info)) {}
  void Compute(const Tensor<float>& grad, const Tensor<float>& x, const Tensor<float>& y, const Tensor<float>& a, const Tensor<float>& p,
               const Tensor<float>& q, Tensor<float>& dx) {
    RequireSameShapes(grad, x, y, "NormGradApply: grad, x and y must have one shape");
    const std::vector<int64_t> shape = x.Shape();
    const auto [rows, cols] = NormRows(shape, x.NumberOfElement());
    for (const Tensor<float>* t : {&a, &p, &q}) RequireRowCoefficients(*t, rows, "NormGradApply: a, p and q need one value per row (n, c)");
    float* out = dx.Allocate(shape);
    const float *gv = grad.Data(), *xv = x.Data(), *yv = y.Data(), *av = a.Data(), *pv = p.Data(), *qv = q.Data();
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t i = r * cols; i < (r + 1) * cols; i++) {
        const float g = silu ? gv[i] * SiluGrad(yv[i]) : gv[i];
        out[i] = g * av[r] + xv[i] * pv[r] + qv[r];
      }
    }
  }
  bool silu;
};

// (rows, columns) of LayerNormGrad's x, checked against its other inputs.
template <typename T>
std::pair<int64_t, int64_t> LayerNormRows(const Tensor<T>& grad, const Tensor<T>& x, const Tensor<float>& mean, const Tensor<float>& rstd,
                                          const Tensor<T>& weight) {
  const std::vector<int64_t> shape = x.Shape();
  Require(!shape.empty() && grad.Shape() == shape, "LayerNormGrad: grad must have the shape of x");
  const int64_t cols = shape.back();
  const int64_t rows = cols ? x.NumberOfElement() / cols : 0;
  Require(mean.NumberOfElement() == rows && rstd.NumberOfElement() == rows, "LayerNormGrad: mean and rstd need one value per row");
  Require(weight.NumberOfElement() == cols, "LayerNormGrad: weight needs one value per column");
  return {rows, cols};
}

void LayerNormGradCpu(const Tensor<float>& grad, const Tensor<float>& x, const Tensor<float>& mean, const Tensor<float>& rstd,
                      const Tensor<float>& weight, Tensor<float>& dx) {
  const auto [rows, cols] = LayerNormRows(grad, x, mean, rstd, weight);
  float* out = dx.Allocate(x.Shape());
  const float *gv = grad.Data(), *xv = x.Data(), *mv = mean.Data(), *rv = rstd.Data(), *wv = weight.Data();
  for (int64_t r = 0; r < rows; r++) {
    const float* gr = gv + r * cols;
    const float* xr = xv + r * cols;
    double sd = 0, sdx = 0;
    for (int64_t c = 0; c < cols; c++) {
      const double d = gr[c] * wv[c];
      sd += d;
      sdx += d * (xr[c] - mv[r]) * rv[r];
    }
    const float mean_d = static_cast<float>(sd / cols), mean_dx = static_cast<float>(sdx / cols);
    for (int64_t c = 0; c < cols; c++) out[r * cols + c] = rv[r] * (gr[c] * wv[c] - mean_d - (xr[c] - mv[r]) * rv[r] * mean_dx);
  }
}

// (rows, half columns) of GatedGeluGrad's gradient, checked against projected's (rows, 2 half).
template <typename T>
std::pair<int64_t, int64_t> GatedGeluRows(const Tensor<T>& grad, const Tensor<T>& projected) {
  std::vector<int64_t> shape = projected.Shape();
  Require(!shape.empty() && shape.back() % 2 == 0, "GatedGeluGrad: projected's last axis must be even");
  shape.back() /= 2;
  Require(grad.Shape() == shape, "GatedGeluGrad: grad must have projected's shape with half its last axis");
  const int64_t half = shape.back();
  return {half ? grad.NumberOfElement() / half : 0, half};
}

void GatedGeluGradCpu(const Tensor<float>& grad, const Tensor<float>& projected, Tensor<float>& dprojected) {
  const auto [rows, half] = GatedGeluRows(grad, projected);
  float* out = dprojected.Allocate(projected.Shape());
  const float *gv = grad.Data(), *pv = projected.Data();
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < half; c++) {
      const float dy = gv[r * half + c], hidden = pv[r * 2 * half + c], gate = pv[r * 2 * half + half + c];
      const float cdf = 0.5f + 0.5f * std::erf(gate * 0.70710678118654752f);
      const float pdf = std::exp(-0.5f * gate * gate) * 0.39894228040143268f;
      out[r * 2 * half + c] = dy * gate * cdf;
      out[r * 2 * half + half + c] = dy * hidden * (cdf + gate * pdf);
    }
  }
}

int64_t HeadsAttribute(const OrtKernelInfo* info) { return Ort::ConstKernelInfo(info).GetAttribute<int64_t>("heads"); }

// Attention's sizes from q (batch, lq, heads * d) and k (batch, lk, heads * d), checked against the
// other inputs of the same length as each.
struct AttentionSizes {
  int64_t batch, heads, lq, lk, d;
  int64_t channels() const { return heads * d; }
};

template <typename T>
AttentionSizes AttentionSizesOf(int64_t heads, const Tensor<T>& q, const Tensor<T>& k, std::initializer_list<const Tensor<T>*> like_q,
                                std::initializer_list<const Tensor<T>*> like_k) {
  const std::vector<int64_t> qs = q.Shape(), ks = k.Shape();
  Require(qs.size() == 3 && ks.size() == 3, "attention backward: q and k must be (batch, tokens, heads * d)");
  Require(heads > 0 && qs[2] % heads == 0 && ks[2] == qs[2] && ks[0] == qs[0], "attention backward: q and k need one batch and heads * d columns");
  for (const auto* t : like_q) Require(t->Shape() == qs, "attention backward: out and grad_out must have q's shape");
  for (const auto* t : like_k) Require(t->Shape() == ks, "attention backward: v must have k's shape");
  return {qs[0], heads, qs[1], ks[1], qs[2] / heads};
}

template <typename S>
void RequireRowStatistics(const Tensor<S>& t, const AttentionSizes& n) {
  Require(t.NumberOfElement() == n.batch * n.heads * n.lq, "attention backward: lse and rowdot need one value per (batch, head, query)");
}

// Σ_c a[i, c] b[j, c] over one head's d columns of two (tokens, channels) rows.
float HeadDot(const float* a, const float* b, int64_t d) {
  double sum = 0;
  for (int64_t c = 0; c < d; c++) sum += double(a[c]) * b[c];
  return static_cast<float>(sum);
}

struct AttentionRowStatsCpu {
  AttentionRowStatsCpu(const OrtApi*, const OrtKernelInfo* info) : heads(HeadsAttribute(info)) {}
  void Compute(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& out, const Tensor<float>& grad_out, Tensor<float>& lse,
               Tensor<float>& rowdot) {
    const AttentionSizes n = AttentionSizesOf(heads, q, k, {&out, &grad_out}, {});
    Require(n.lk > 0, "attention backward: no keys");
    float* lv = lse.Allocate({n.batch, n.heads, n.lq});
    float* rv = rowdot.Allocate({n.batch, n.heads, n.lq});
    const float scale = 1.f / std::sqrt(static_cast<float>(n.d));
    std::vector<float> scores(n.lk);
    for (int64_t b = 0; b < n.batch; b++) {
      for (int64_t h = 0; h < n.heads; h++) {
        for (int64_t i = 0; i < n.lq; i++) {
          const int64_t at = (b * n.lq + i) * n.channels() + h * n.d;
          for (int64_t j = 0; j < n.lk; j++) scores[j] = scale * HeadDot(q.Data() + at, k.Data() + (b * n.lk + j) * n.channels() + h * n.d, n.d);
          const float m = *std::max_element(scores.begin(), scores.end());
          double sum = 0;
          for (float s : scores) sum += std::exp(s - m);
          const int64_t row = (b * n.heads + h) * n.lq + i;
          lv[row] = m + static_cast<float>(std::log(sum));
          rv[row] = HeadDot(grad_out.Data() + at, out.Data() + at, n.d);
        }
      }
    }
  }
  int64_t heads;
};

struct AttentionGradCpu {
  AttentionGradCpu(const OrtApi*, const OrtKernelInfo* info) : heads(HeadsAttribute(info)) {}
  void Compute(const Tensor<float>& q, const Tensor<float>& k, const Tensor<float>& v, const Tensor<float>& grad_out, const Tensor<float>& lse,
               const Tensor<float>& rowdot, const Tensor<float>& grad_scale, Tensor<float>& dq, Tensor<float>& dk, Tensor<float>& dv) {
    const AttentionSizes n = AttentionSizesOf(heads, q, k, {&grad_out}, {&v});
    RequireRowStatistics(lse, n);
    RequireRowStatistics(rowdot, n);
    Require(grad_scale.NumberOfElement() == 1, "AttentionGrad: grad_scale must be one value");
    float* gq = dq.Allocate(q.Shape());
    float* gk = dk.Allocate(k.Shape());
    float* gv = dv.Allocate(v.Shape());
    std::fill(gq, gq + q.NumberOfElement(), 0.f);
    std::fill(gk, gk + k.NumberOfElement(), 0.f);
    std::fill(gv, gv + v.NumberOfElement(), 0.f);
    const float scale = 1.f / std::sqrt(static_cast<float>(n.d)), g = grad_scale.Data()[0];
    const float *qv = q.Data(), *kv = k.Data(), *vv = v.Data(), *ov = grad_out.Data();
    for (int64_t b = 0; b < n.batch; b++) {
      for (int64_t h = 0; h < n.heads; h++) {
        for (int64_t i = 0; i < n.lq; i++) {
          const int64_t qi = (b * n.lq + i) * n.channels() + h * n.d, row = (b * n.heads + h) * n.lq + i;
          for (int64_t j = 0; j < n.lk; j++) {
            const int64_t kj = (b * n.lk + j) * n.channels() + h * n.d;
            const float p = std::exp(scale * HeadDot(qv + qi, kv + kj, n.d) - lse.Data()[row]);
            const float ds = p * (HeadDot(ov + qi, vv + kj, n.d) - rowdot.Data()[row]);
            for (int64_t c = 0; c < n.d; c++) {
              gq[qi + c] += g * scale * ds * kv[kj + c];
              gk[kj + c] += g * scale * ds * qv[qi + c];
              gv[kj + c] += g * p * ov[qi + c];
            }
          }
        }
      }
    }
  }
  int64_t heads;
};

#ifdef REATCO_CUDA
using Half = Ort::Float16_t;

void* Stream(OrtKernelContext* context) { return Ort::KernelContext(context).GetGPUComputeStream(); }

void Launched(const char* error) {
  if (error) ORT_CXX_API_THROW(error, ORT_RUNTIME_EXCEPTION);
}

void SoftmaxTimesGradCuda(OrtKernelContext* context, const Tensor<Half>& s, const Tensor<Half>& g, Tensor<Half>& p, Tensor<Half>& ds) {
  const std::vector<int64_t> shape = s.Shape();
  if (shape.empty() || g.Shape() != shape) ORT_CXX_API_THROW("SoftmaxTimesGrad: G must have the shape of S", ORT_INVALID_ARGUMENT);
  const int64_t cols = shape.back();
  const int64_t rows = cols ? s.NumberOfElement() / cols : 0;
  Launched(reatco::LaunchSoftmaxTimesGrad(s.Data(), g.Data(), p.Allocate(shape), ds.Allocate(shape), rows, cols, Stream(context)));
}

struct NormGradRowMeansCuda {
  NormGradRowMeansCuda(const OrtApi*, const OrtKernelInfo* info) : silu(SiluAttribute(info)) {}
  void Compute(OrtKernelContext* context, const Tensor<Half>& grad, const Tensor<Half>& x, const Tensor<Half>& y, Tensor<float>& mean_g,
               Tensor<float>& mean_gx) {
    RequireSameShapes(grad, x, y, "NormGradRowMeans: grad, x and y must have one shape");
    const std::vector<int64_t> shape = x.Shape();
    const auto [rows, cols] = NormRows(shape, x.NumberOfElement());
    Launched(reatco::LaunchNormGradRowMeans(grad.Data(), x.Data(), y.Data(), mean_g.Allocate({shape[0], shape[1]}),
                                            mean_gx.Allocate({shape[0], shape[1]}), rows, cols, silu, Stream(context)));
  }
  bool silu;
};

struct NormGradApplyCuda {
  NormGradApplyCuda(const OrtApi*, const OrtKernelInfo* info) : silu(SiluAttribute(info)) {}
  void Compute(OrtKernelContext* context, const Tensor<Half>& grad, const Tensor<Half>& x, const Tensor<Half>& y, const Tensor<float>& a,
               const Tensor<float>& p, const Tensor<float>& q, Tensor<Half>& dx) {
    RequireSameShapes(grad, x, y, "NormGradApply: grad, x and y must have one shape");
    const std::vector<int64_t> shape = x.Shape();
    const auto [rows, cols] = NormRows(shape, x.NumberOfElement());
    for (const Tensor<float>* t : {&a, &p, &q}) RequireRowCoefficients(*t, rows, "NormGradApply: a, p and q need one value per row (n, c)");
    Launched(reatco::LaunchNormGradApply(grad.Data(), x.Data(), y.Data(), a.Data(), p.Data(), q.Data(), dx.Allocate(shape), rows, cols,
                                         silu, Stream(context)));
  }
  bool silu;
};

void LayerNormGradCuda(OrtKernelContext* context, const Tensor<Half>& grad, const Tensor<Half>& x, const Tensor<float>& mean,
                       const Tensor<float>& rstd, const Tensor<Half>& weight, Tensor<Half>& dx) {
  const auto [rows, cols] = LayerNormRows(grad, x, mean, rstd, weight);
  Launched(reatco::LaunchLayerNormGrad(grad.Data(), x.Data(), mean.Data(), rstd.Data(), weight.Data(), dx.Allocate(x.Shape()), rows, cols,
                                       Stream(context)));
}

void GatedGeluGradCuda(OrtKernelContext* context, const Tensor<Half>& grad, const Tensor<Half>& projected, Tensor<Half>& dprojected) {
  const auto [rows, half] = GatedGeluRows(grad, projected);
  Launched(reatco::LaunchGatedGeluGrad(grad.Data(), projected.Data(), dprojected.Allocate(projected.Shape()), rows, half, Stream(context)));
}
reatco::AttentionShape CudaShape(const AttentionSizes& n) {
  Require(n.d <= reatco::kAttentionMaxHeadSize, "attention backward: the CUDA kernels take head sizes up to 80");
  return {n.batch, n.heads, n.lq, n.lk, n.d};
}

struct AttentionRowStatsCuda {
  AttentionRowStatsCuda(const OrtApi*, const OrtKernelInfo* info) : heads(HeadsAttribute(info)) {}
  void Compute(OrtKernelContext* context, const Tensor<Half>& q, const Tensor<Half>& k, const Tensor<Half>& out, const Tensor<Half>& grad_out,
               Tensor<float>& lse, Tensor<float>& rowdot) {
    const AttentionSizes n = AttentionSizesOf(heads, q, k, {&out, &grad_out}, {});
    Launched(reatco::LaunchAttentionRowStats(q.Data(), k.Data(), out.Data(), grad_out.Data(), lse.Allocate({n.batch, n.heads, n.lq}),
                                             rowdot.Allocate({n.batch, n.heads, n.lq}), CudaShape(n), Stream(context)));
  }
  int64_t heads;
};

struct AttentionGradCuda {
  AttentionGradCuda(const OrtApi*, const OrtKernelInfo* info) : heads(HeadsAttribute(info)) {}
  void Compute(OrtKernelContext* context, const Tensor<Half>& q, const Tensor<Half>& k, const Tensor<Half>& v, const Tensor<Half>& grad_out,
               const Tensor<float>& lse, const Tensor<float>& rowdot, const Tensor<float>& grad_scale, Tensor<Half>& dq, Tensor<Half>& dk,
               Tensor<Half>& dv) {
    const AttentionSizes n = AttentionSizesOf(heads, q, k, {&grad_out}, {&v});
    RequireRowStatistics(lse, n);
    RequireRowStatistics(rowdot, n);
    Require(grad_scale.NumberOfElement() == 1, "AttentionGrad: grad_scale must be one value");
    Launched(reatco::LaunchAttentionGrad(q.Data(), k.Data(), v.Data(), grad_out.Data(), lse.Data(), rowdot.Data(), grad_scale.Data(),
                                         dq.Allocate(q.Shape()), dk.Allocate(k.Shape()), dv.Allocate(v.Shape()), CudaShape(n), Stream(context)));
  }
  int64_t heads;
};
#endif

struct Domain {
  Ort::CustomOpDomain domain{"reatco"};
  std::vector<std::unique_ptr<Ort::Custom::OrtLiteCustomOp>> ops;
};

}  // namespace

extern "C" OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api) {
  Ort::InitApi(api->GetApi(ORT_API_VERSION));
  // One domain for the process, whose ops outlive every session that uses them.
  static std::mutex mutex;
  static std::unique_ptr<Domain> shared;
  std::lock_guard<std::mutex> lock(mutex);
  try {
    if (!shared) {
      auto domain = std::make_unique<Domain>();
      constexpr const char* kCpu = "CPUExecutionProvider";
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("SoftmaxTimesGrad", kCpu, SoftmaxTimesGradCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradRowMeansCpu>("NormGradRowMeans", kCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradApplyCpu>("NormGradApply", kCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("LayerNormGrad", kCpu, LayerNormGradCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("GatedGeluGrad", kCpu, GatedGeluGradCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<AttentionRowStatsCpu>("AttentionRowStats", kCpu));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<AttentionGradCpu>("AttentionGrad", kCpu));
#ifdef REATCO_CUDA
      constexpr const char* kCuda = "CUDAExecutionProvider";
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("SoftmaxTimesGrad", kCuda, SoftmaxTimesGradCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradRowMeansCuda>("NormGradRowMeans", kCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradApplyCuda>("NormGradApply", kCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("LayerNormGrad", kCuda, LayerNormGradCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("GatedGeluGrad", kCuda, GatedGeluGradCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<AttentionRowStatsCuda>("AttentionRowStats", kCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<AttentionGradCuda>("AttentionGrad", kCuda));
#endif
      for (auto& op : domain->ops) domain->domain.Add(op.get());
      shared = std::move(domain);
    }
    Ort::UnownedSessionOptions(options).Add(shared->domain);
  } catch (const Ort::Exception& error) {
    return Ort::GetApi().CreateStatus(error.GetOrtErrorCode(), error.what());
  } catch (const std::exception& error) {
    return Ort::GetApi().CreateStatus(ORT_FAIL, error.what());
  }
  return nullptr;
}

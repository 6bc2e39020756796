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
// The Python definitions (models/reatco_models/fused_backwards.py) are the reference of these maths.
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#include "onnxruntime_lite_custom_op.h"
#undef ORT_API_MANUAL_INIT

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <vector>

#ifdef REATCO_CUDA
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
#ifdef REATCO_CUDA
      constexpr const char* kCuda = "CUDAExecutionProvider";
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("SoftmaxTimesGrad", kCuda, SoftmaxTimesGradCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradRowMeansCuda>("NormGradRowMeans", kCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp<NormGradApplyCuda>("NormGradApply", kCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("LayerNormGrad", kCuda, LayerNormGradCuda));
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("GatedGeluGrad", kCuda, GatedGeluGradCuda));
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

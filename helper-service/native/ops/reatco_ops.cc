// The "reatco" custom-operator domain for ONNX Runtime: fused kernels for the RAD gradient graph,
// which ONNX Runtime's inference build lacks (helper-service/results/gpu.md). Loaded as a library
// (RegisterCustomOps below) by a session's options: ONNX Runtime's RegisterCustomOpsLibrary_V2 from
// C, register_custom_ops_library from Python.
//
// SoftmaxTimesGrad(S, G) -> (P, dS): P = softmax(S) over the last axis and dS = P * G, G shaped like S.
// The attention backward recomputes P and needs both; one pass over the rows reads S and G once
// (models/reatco_models/fused_ops.py puts it into the graph). CPU: float32, for tests and the CPU
// provider; CUDA (built with REATCO_CUDA): float16, the kernel of softmax_times_grad.cu.
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

#ifdef REATCO_CUDA
void SoftmaxTimesGradCuda(OrtKernelContext* context, const Tensor<Ort::Float16_t>& s, const Tensor<Ort::Float16_t>& g,
                          Tensor<Ort::Float16_t>& p, Tensor<Ort::Float16_t>& ds) {
  const std::vector<int64_t> shape = s.Shape();
  if (shape.empty() || g.Shape() != shape) ORT_CXX_API_THROW("SoftmaxTimesGrad: G must have the shape of S", ORT_INVALID_ARGUMENT);
  const int64_t cols = shape.back();
  const int64_t rows = cols ? s.NumberOfElement() / cols : 0;
  void* stream = Ort::KernelContext(context).GetGPUComputeStream();
  const char* error = reatco::LaunchSoftmaxTimesGrad(s.Data(), g.Data(), p.Allocate(shape), ds.Allocate(shape), rows, cols, stream);
  if (error) ORT_CXX_API_THROW(error, ORT_RUNTIME_EXCEPTION);
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
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("SoftmaxTimesGrad", "CPUExecutionProvider", SoftmaxTimesGradCpu));
#ifdef REATCO_CUDA
      domain->ops.emplace_back(Ort::Custom::CreateLiteCustomOp("SoftmaxTimesGrad", "CUDAExecutionProvider", SoftmaxTimesGradCuda));
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

// Toy N-API addon of the custom-operator check (check.sh): run(modelPath, Float32Array) opens a session
// whose options carry the custom-operator domain "reatco" (Scale2: y = 2x on the CPU) and runs it once.
// The real thing would register fused CUDA kernels the same way (KernelContext_GetGPUComputeStream
// gives ONNX Runtime's stream) and append the CUDA provider with its V2 options.
#define ORT_API_MANUAL_INIT
#include "ortinc/onnxruntime_cxx_api.h"
#include "ortinc/onnxruntime_lite_custom_op.h"
#include <node_api.h>

#include <cstring>
#include <memory>

static void Scale2(const Ort::Custom::Tensor<float>& x, Ort::Custom::Tensor<float>& y) {
  float* out = y.Allocate(x.Shape());
  const float* in = x.Data();
  for (int64_t i = 0; i < x.NumberOfElement(); i++) out[i] = 2 * in[i];
}

// onnxruntime-node's OrtEnv is the process's: ONNX Runtime hands the same one to this addon.
static std::unique_ptr<Ort::Env> env;
static std::unique_ptr<Ort::Custom::OrtLiteCustomOp> scale2;
static std::unique_ptr<Ort::CustomOpDomain> domain;

static napi_value Run(napi_env e, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  char path[4096];
  size_t pathLength;
  napi_get_value_string_utf8(e, argv[0], path, sizeof path, &pathLength);
  void* data;
  size_t count;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  napi_get_typedarray_info(e, argv[1], &type, &count, &data, &buffer, &offset);
  if (type != napi_float32_array) {
    napi_throw_type_error(e, nullptr, "run(modelPath, Float32Array)");
    return nullptr;
  }
  try {
    Ort::InitApi(OrtGetApiBase()->GetApi(ORT_API_VERSION));
    if (!env) env = std::make_unique<Ort::Env>(ORT_LOGGING_LEVEL_WARNING, "reatco");
    if (!domain) {
      scale2.reset(Ort::Custom::CreateLiteCustomOp("Scale2", "CPUExecutionProvider", Scale2));
      domain = std::make_unique<Ort::CustomOpDomain>("reatco");
      domain->Add(scale2.get());
    }
    Ort::SessionOptions options;
    options.Add(*domain);
    Ort::Session session(*env, path, options);
    auto memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    int64_t length = static_cast<int64_t>(count);
    Ort::Value x = Ort::Value::CreateTensor<float>(memory, static_cast<float*>(data), count, &length, 1);
    const char* inputs[] = {"x"};
    const char* outputs[] = {"y"};
    auto out = session.Run(Ort::RunOptions{nullptr}, inputs, &x, 1, outputs, 1);
    napi_value result, resultBuffer;
    void* resultData;
    napi_create_arraybuffer(e, count * sizeof(float), &resultData, &resultBuffer);
    std::memcpy(resultData, out[0].GetTensorData<float>(), count * sizeof(float));
    napi_create_typedarray(e, napi_float32_array, count, resultBuffer, 0, &result);
    return result;
  } catch (const std::exception& error) {
    napi_throw_error(e, nullptr, error.what());
    return nullptr;
  }
}

NAPI_MODULE_INIT() {
  napi_value run;
  napi_create_function(env, "run", NAPI_AUTO_LENGTH, Run, nullptr, &run);
  napi_set_named_property(env, exports, "run", run);
  return exports;
}

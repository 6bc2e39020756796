// reatco_session.node: ONNX Runtime sessions opened through its C++ API, for what onnxruntime-node's
// binding cannot do: load a custom-operator library (helper-service/native/ops) into a session's
// options. Same libonnxruntime.so.1 as onnxruntime-node (linked with its path), so both share the
// process's OrtEnv. helper-service/src/engine/sessions/native.ts wraps it as a GraphRunner.
//
//   open(path, provider, deviceId, threads, library, profilePrefix) -> session   ('' for none)
//   inputNames(session) -> string[]
//   run(session, names, types, dims, data) -> [names, types, dims, data]   (float32 and int64)
//   release(session)   (writes the node profile of a session opened with a profile prefix)
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT
#include <node_api.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Session {
  std::unique_ptr<Ort::Session> session;
  std::vector<std::string> inputs, outputs;
  bool profiling = false;
};

Ort::Env& Environment() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "reatco");
  return env;
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_error(env, nullptr, message);
  return nullptr;
}

std::string StringArg(napi_env env, napi_value value) {
  size_t length = 0;
  napi_get_value_string_utf8(env, value, nullptr, 0, &length);
  std::vector<char> buffer(length + 1);
  napi_get_value_string_utf8(env, value, buffer.data(), buffer.size(), &length);
  return std::string(buffer.data(), length);
}

int64_t IntArg(napi_env env, napi_value value) {
  int64_t out = 0;
  napi_get_value_int64(env, value, &out);
  return out;
}

std::vector<napi_value> Args(napi_env env, napi_callback_info info, size_t count) {
  std::vector<napi_value> args(count);
  napi_get_cb_info(env, info, &count, args.data(), nullptr, nullptr);
  return args;
}

Session* SessionArg(napi_env env, napi_value value) {
  void* data = nullptr;
  napi_get_value_external(env, value, &data);
  return static_cast<Session*>(data);
}

napi_value Strings(napi_env env, const std::vector<std::string>& strings) {
  napi_value array;
  napi_create_array_with_length(env, strings.size(), &array);
  for (size_t i = 0; i < strings.size(); i++) {
    napi_value s;
    napi_create_string_utf8(env, strings[i].c_str(), strings[i].size(), &s);
    napi_set_element(env, array, i, s);
  }
  return array;
}

napi_value Open(napi_env env, napi_callback_info info) {
  auto args = Args(env, info, 6);
  const std::string path = StringArg(env, args[0]), provider = StringArg(env, args[1]), library = StringArg(env, args[4]);
  const std::string profile = StringArg(env, args[5]);
  const int64_t device = IntArg(env, args[2]), threads = IntArg(env, args[3]);
  try {
    Ort::InitApi(OrtGetApiBase()->GetApi(ORT_API_VERSION));
    Ort::SessionOptions options;
    options.SetGraphOptimizationLevel(ORT_ENABLE_ALL);
    if (threads > 0) options.SetIntraOpNumThreads(static_cast<int>(threads));
    if (!library.empty()) options.RegisterCustomOpsLibrary(library.c_str());
    if (!profile.empty()) options.EnableProfiling(profile.c_str());
    if (provider == "cuda") {
      OrtCUDAProviderOptionsV2* cuda = nullptr;
      Ort::ThrowOnError(Ort::GetApi().CreateCUDAProviderOptions(&cuda));
      std::unique_ptr<OrtCUDAProviderOptionsV2, decltype(Ort::GetApi().ReleaseCUDAProviderOptions)> owned(cuda, Ort::GetApi().ReleaseCUDAProviderOptions);
      const std::string id = std::to_string(device);
      const char* keys[] = {"device_id"};
      const char* values[] = {id.c_str()};
      Ort::ThrowOnError(Ort::GetApi().UpdateCUDAProviderOptions(cuda, keys, values, 1));
      options.AppendExecutionProvider_CUDA_V2(*cuda);
    }
    auto session = std::make_unique<Session>();
    session->session = std::make_unique<Ort::Session>(Environment(), path.c_str(), options);
    session->profiling = !profile.empty();
    Ort::AllocatorWithDefaultOptions allocator;
    for (size_t i = 0; i < session->session->GetInputCount(); i++) session->inputs.emplace_back(session->session->GetInputNameAllocated(i, allocator).get());
    for (size_t i = 0; i < session->session->GetOutputCount(); i++) session->outputs.emplace_back(session->session->GetOutputNameAllocated(i, allocator).get());
    napi_value external;
    napi_create_external(env, session.release(), [](napi_env, void* data, void*) { delete static_cast<Session*>(data); }, nullptr, &external);
    return external;
  } catch (const std::exception& error) {
    return Throw(env, error.what());
  }
}

napi_value InputNames(napi_env env, napi_callback_info info) {
  Session* s = SessionArg(env, Args(env, info, 1)[0]);
  return s && s->session ? Strings(env, s->inputs) : Throw(env, "the session was released");
}

napi_value Element(napi_env env, napi_value array, uint32_t i) {
  napi_value out;
  napi_get_element(env, array, i, &out);
  return out;
}

uint32_t Length(napi_env env, napi_value array) {
  uint32_t n = 0;
  napi_get_array_length(env, array, &n);
  return n;
}

napi_value Run(napi_env env, napi_callback_info info) {
  auto args = Args(env, info, 5);
  Session* s = SessionArg(env, args[0]);
  if (!s || !s->session) return Throw(env, "the session was released");
  try {
    const uint32_t count = Length(env, args[1]);
    std::vector<std::string> names;
    std::vector<Ort::Value> values;
    auto memory = Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
    for (uint32_t i = 0; i < count; i++) {
      names.push_back(StringArg(env, Element(env, args[1], i)));
      const std::string type = StringArg(env, Element(env, args[2], i));
      napi_value dimsArray = Element(env, args[3], i);
      std::vector<int64_t> dims(Length(env, dimsArray));
      for (uint32_t d = 0; d < dims.size(); d++) dims[d] = IntArg(env, Element(env, dimsArray, d));
      napi_typedarray_type arrayType;
      size_t length;
      void* data;
      napi_value buffer;
      size_t offset;
      if (napi_get_typedarray_info(env, Element(env, args[4], i), &arrayType, &length, &data, &buffer, &offset) != napi_ok) return Throw(env, "feeds must be typed arrays");
      if (type == "float32" && arrayType == napi_float32_array) {
        values.push_back(Ort::Value::CreateTensor<float>(memory, static_cast<float*>(data), length, dims.data(), dims.size()));
      } else if (type == "int64" && arrayType == napi_bigint64_array) {
        values.push_back(Ort::Value::CreateTensor<int64_t>(memory, static_cast<int64_t*>(data), length, dims.data(), dims.size()));
      } else {
        return Throw(env, ("unsupported feed type " + type + " for " + names.back()).c_str());
      }
    }
    std::vector<const char*> inputNames, outputNames;
    for (auto& n : names) inputNames.push_back(n.c_str());
    for (auto& n : s->outputs) outputNames.push_back(n.c_str());
    auto outputs = s->session->Run(Ort::RunOptions{nullptr}, inputNames.data(), values.data(), values.size(), outputNames.data(), outputNames.size());
    napi_value outTypes, outDims, outData;
    napi_create_array_with_length(env, outputs.size(), &outTypes);
    napi_create_array_with_length(env, outputs.size(), &outDims);
    napi_create_array_with_length(env, outputs.size(), &outData);
    for (size_t i = 0; i < outputs.size(); i++) {
      auto shape = outputs[i].GetTensorTypeAndShapeInfo();
      const auto element = shape.GetElementType();
      const size_t n = shape.GetElementCount();
      const bool isFloat = element == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
      if (!isFloat && element != ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64) return Throw(env, ("unsupported output type of " + s->outputs[i]).c_str());
      const size_t bytes = n * (isFloat ? 4 : 8);
      void* target;
      napi_value buffer, array, type, dims;
      napi_create_arraybuffer(env, bytes, &target, &buffer);
      if (bytes) std::memcpy(target, outputs[i].GetTensorRawData(), bytes);
      napi_create_typedarray(env, isFloat ? napi_float32_array : napi_bigint64_array, n, buffer, 0, &array);
      napi_create_string_utf8(env, isFloat ? "float32" : "int64", NAPI_AUTO_LENGTH, &type);
      const auto shapeDims = shape.GetShape();
      napi_create_array_with_length(env, shapeDims.size(), &dims);
      for (size_t d = 0; d < shapeDims.size(); d++) {
        napi_value v;
        napi_create_int64(env, shapeDims[d], &v);
        napi_set_element(env, dims, d, v);
      }
      napi_set_element(env, outTypes, i, type);
      napi_set_element(env, outDims, i, dims);
      napi_set_element(env, outData, i, array);
    }
    napi_value result;
    napi_create_array_with_length(env, 4, &result);
    napi_set_element(env, result, 0, Strings(env, s->outputs));
    napi_set_element(env, result, 1, outTypes);
    napi_set_element(env, result, 2, outDims);
    napi_set_element(env, result, 3, outData);
    return result;
  } catch (const std::exception& error) {
    return Throw(env, error.what());
  }
}

napi_value Release(napi_env env, napi_callback_info info) {
  Session* s = SessionArg(env, Args(env, info, 1)[0]);
  if (!s || !s->session) return nullptr;
  try {
    if (s->profiling) s->session->EndProfilingAllocated(Ort::AllocatorWithDefaultOptions());
  } catch (const std::exception& error) {
    s->session.reset();
    return Throw(env, error.what());
  }
  s->session.reset();
  return nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"inputNames", nullptr, InputNames, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, Run, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

//===- gpu-check-model.cpp - A whole model on the GPU ---------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Runs a language model compiled ahead of time for the GPU (quant-compile:
// `forward`, [1, S] i32 ids -> [1, S, V] f32 logits) over consecutive
// windows of a token file, as quant-run does (window k is ids[S k, S k + S]
// and predicts ids[S k + 1, S k + S + 1]), and compares the perplexity with
// the CPU lowering's value measured when the bundle was built.
//
//   gpu-check-model TOKENS WINDOWS SEQ_LEN [EXPECTED_PERPLEXITY | --smoke]
//
// Exit status: 0 within 1e-4 relative, 1 otherwise, 2 on errors.
//
//===----------------------------------------------------------------------===//

#include "GpuCheckSupport.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

using namespace gpucheck;

extern "C" void _mlir_ciface_forward(Descriptor<3> *result, Descriptor<2> *ids);

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s TOKENS WINDOWS SEQ_LEN EXPECTED|--smoke\n",
                 argv[0]);
    return 2;
  }
  bool smoke = std::strcmp(argv[4], "--smoke") == 0;
  double expected = smoke ? 0.0 : std::atof(argv[4]);
  int64_t windows = std::atoll(argv[2]), seqLen = std::atoll(argv[3]);
  std::ifstream file(argv[1], std::ios::binary);
  std::vector<int32_t> ids;
  int32_t id;
  while (file.read(reinterpret_cast<char *>(&id), 4))
    ids.push_back(id);
  if (windows <= 0 || seqLen <= 0 ||
      int64_t(ids.size()) < windows * seqLen + 1) {
    std::fprintf(stderr, "%s: need %ld ids, the file has %zu\n", argv[1],
                 long(windows * seqLen + 1), ids.size());
    return 2;
  }
  if (quantGpuInitialize() != 0) {
    checkRuntime("initialising the GPU");
    return 2;
  }
  std::printf("device: %s\n", quantGpuDeviceDescription());

  double nll = 0;
  int64_t scored = 0;
  double start = now();
  for (int64_t w = 0; w < windows; ++w) {
    std::vector<int32_t> window(ids.begin() + w * seqLen,
                                ids.begin() + w * seqLen + seqLen);
    Descriptor<2> input = describe<2>(window.data(), {1, seqLen});
    Descriptor<3> logits;
    _mlir_ciface_forward(&logits, &input);
    checkRuntime("forward");
    int64_t vocab = logits.sizes[2];
    const float *data = static_cast<const float *>(logits.aligned);
    for (int64_t t = 0; t < seqLen; ++t) {
      const float *row = data + t * vocab;
      double top = row[0];
      for (int64_t v = 1; v < vocab; ++v)
        top = std::max(top, double(row[v]));
      double sum = 0;
      for (int64_t v = 0; v < vocab; ++v)
        sum += std::exp(double(row[v]) - top);
      int32_t target = ids[w * seqLen + t + 1];
      nll += std::log(sum) + top - double(row[target]);
      ++scored;
    }
    std::free(logits.allocated);
  }
  double seconds = now() - start;
  double perplexity = std::exp(nll / double(scored));
  std::printf("windows %ld x %ld tokens: perplexity %.6f (%.1f tokens/s)\n",
              long(windows), long(seqLen), perplexity,
              double(scored) / seconds);
  if (smoke)
    return 0;
  double relative = std::fabs(perplexity - expected) / expected;
  std::printf("CPU lowering: %.6f, relative difference %.2e: %s\n", expected,
              relative, relative <= 1e-4 ? "PASS" : "FAIL");
  return relative <= 1e-4 ? 0 : 1;
}

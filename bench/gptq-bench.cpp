//===- gptq-bench.cpp - Benchmark of the GPTQ layer solver ----------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Quantizes one synthetic N x K layer (correlated activations with outlier
// channels) with GPTQ and reports the solver's time and the process's peak
// memory. With --reference-script, the same W and H are written as .npy and
// the given PyTorch implementation of the reference algorithm runs on them
// in the same process tree, so the ratio compares like with like on this
// machine. Not a test: timings are printed, never asserted.
//
//===----------------------------------------------------------------------===//

#include "quant/Numerics/BLASKernels.h"
#include "quant/Numerics/GPTQ.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

using namespace quantopt::numerics;

static void writeNpy(const std::string &path, const void *data, size_t bytes,
                     const char *descr, const std::string &shape) {
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = uint16_t(header.size());
  out.write(reinterpret_cast<const char *>(&len), 2);
  out << header;
  out.write(static_cast<const char *>(data), bytes);
}

static double peakMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

int main(int argc, char **argv) {
  quantopt::numerics::reexecWithNativeBLASKernels(argv);
  int64_t n = 4096, k = 4096, tokens = 4096, group = 128;
  bool actOrder = true;
  std::string referenceScript;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (a == "--rows")
      n = value();
    else if (a == "--cols")
      k = value();
    else if (a == "--tokens")
      tokens = value();
    else if (a == "--group-size")
      group = value();
    else if (a == "--no-act-order")
      actOrder = false;
    else if (a == "--reference-script" && i + 1 < argc)
      referenceScript = argv[++i];
    else {
      std::fprintf(stderr,
                   "usage: %s [--rows N] [--cols K] [--tokens T] "
                   "[--group-size G] [--no-act-order] "
                   "[--reference-script gptq_reference.py]\n",
                   argv[0]);
      return 2;
    }
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> w(n * k);
  for (float &v : w)
    v = 0.02f * n01(rng);
  // Activations: 8 shared factors plus noise, every 97th channel x10.
  std::vector<float> mix(8 * k), x(tokens * k);
  for (float &v : mix)
    v = n01(rng);
  for (int64_t t = 0; t < tokens; ++t) {
    float f[8];
    for (float &v : f)
      v = n01(rng);
    for (int64_t c = 0; c < k; ++c) {
      float v = 0.5f * n01(rng);
      for (int j = 0; j < 8; ++j)
        v += f[j] * mix[j * k + c];
      x[t * k + c] = c % 97 == 3 ? 10.0f * v : v;
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  HessianAccumulator acc(k);
  for (int64_t t = 0; t < tokens; t += 2048)
    acc.addBatch(x.data() + t * k, std::min<int64_t>(2048, tokens - t), 1);
  auto t1 = std::chrono::steady_clock::now();
  GPTQOptions opts;
  opts.bits = 4;
  opts.groupSize = group;
  opts.actOrder = actOrder;
  // The solve alone (what the reference does), then again with the
  // relative-output-error metric the pass reports.
  opts.outputError = false;
  GPTQResult result;
  std::string error;
  if (!gptqQuantize(w.data(), n, k, acc.hessian(), opts, result, error)) {
    std::fprintf(stderr, "gptq-bench: %s\n", error.c_str());
    return 1;
  }
  auto t2 = std::chrono::steady_clock::now();
  opts.outputError = true;
  if (!gptqQuantize(w.data(), n, k, acc.hessian(), opts, result, error))
    return 1;
  auto t3 = std::chrono::steady_clock::now();
  double hSeconds = std::chrono::duration<double>(t1 - t0).count();
  double solveSeconds = std::chrono::duration<double>(t2 - t1).count();
  double withMetric = std::chrono::duration<double>(t3 - t2).count();
  std::printf("layer %lldx%lld, group %lld, act-order %s, %lld calibration "
              "tokens\n",
              (long long)n, (long long)k, (long long)group,
              actOrder ? "on" : "off", (long long)tokens);
  std::printf("quant-opt: Hessian %.2f s, GPTQ solve %.2f s (%.2f s with "
              "the relative-error metric), peak RSS %.0f MiB, relative "
              "output error %.3e\n",
              hSeconds, solveSeconds, withMetric, peakMiB(),
              result.relativeOutputError);
  if (referenceScript.empty())
    return 0;
  std::string dir = "/tmp/quant-gptq-bench";
  std::system(("mkdir -p " + dir).c_str());
  std::vector<float> hf(acc.hessian().begin(), acc.hessian().end());
  std::string shapeW = std::to_string(n) + ", " + std::to_string(k);
  std::string shapeH = std::to_string(k) + ", " + std::to_string(k);
  writeNpy(dir + "/w.npy", w.data(), w.size() * 4, "<f4", shapeW);
  writeNpy(dir + "/h.npy", hf.data(), hf.size() * 4, "<f4", shapeH);
  std::string cmd = "/usr/bin/python3 " + referenceScript + " " + dir +
                    "/w.npy " + dir + "/h.npy " + std::to_string(group) +
                    (actOrder ? " 1" : " 0");
  FILE *pipe = popen(cmd.c_str(), "r");
  if (!pipe)
    return 1;
  char line[256];
  double refSeconds = -1;
  while (std::fgets(line, sizeof(line), pipe)) {
    std::fputs(line, stdout);
    std::sscanf(line, "reference: GPTQ solve %lf", &refSeconds);
  }
  pclose(pipe);
  if (refSeconds > 0)
    std::printf("ratio: quant-opt solve is %.2fx the speed of the PyTorch "
                "reference on this machine\n",
                refSeconds / solveSeconds);
  return 0;
}

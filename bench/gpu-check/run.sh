#!/bin/sh
# The GPU check of quant-opt's NVVM lowering. Runs on a machine with an
# NVIDIA GPU, its driver and CUDA, and no LLVM: every binary here was
# compiled ahead of time (quant-compile -> object -> linked with
# QuantCudaRuntime, static libstdc++). Prints the card, the whole
# stories260K model's perplexity on the GPU against the CPU lowering's, the
# kernels' correctness and timings against the copy bandwidth and cuBLAS
# f16, a compute-sanitizer run and a SASS histogram, then
# "overall: PASS" or "overall: FAIL".
cd "$(dirname "$0")" || exit 2
PATH="$PATH:/usr/local/cuda/bin"
status=0

echo "== card"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
  --format=csv 2>/dev/null || echo "nvidia-smi not found"

echo "== stories260K on the GPU against the CPU lowering (32 windows x 64 tokens)"
for variant in fp32 rtn4; do
  expected=$(sed -n 's/.*"perplexity": *\([0-9.eE+-]*\).*/\1/p' "expected-$variant.json")
  echo "-- $variant"
  ./gpu-check-model-$variant tokens.i32 32 64 "$expected" || status=1
done

echo "== GEMV kernels: correctness against double CPU products, timings"
./gpu-check-gemv || status=1

echo "== compute-sanitizer memcheck on the quantized model (2 windows)"
if command -v compute-sanitizer >/dev/null 2>&1; then
  compute-sanitizer --tool memcheck --error-exitcode 3 \
    ./gpu-check-model-rtn4 tokens.i32 2 64 --smoke || status=1
else
  echo "compute-sanitizer not found: skipped"
fi

if command -v ptxas >/dev/null 2>&1 && command -v cuobjdump >/dev/null 2>&1; then
  for kernels in gemv gemv-f16; do
    echo "== SASS instruction histogram of $kernels.ptx (sm_90)"
    ptxas -arch=sm_90 -v "$kernels.ptx" -o "$kernels.cubin" 2>"$kernels.ptxas.log" &&
      grep -c "0 bytes spill stores" "$kernels.ptxas.log" |
      sed 's/^/kernels without spills: /' &&
      cuobjdump -sass "$kernels.cubin" |
      sed -n 's/^ *\/\*[0-9a-f]*\*\/ *\([A-Z][A-Z0-9_]*\).*/\1/p' |
      sort | uniq -c | sort -rn | head -25
  done
else
  echo "== SASS instruction histograms: ptxas or cuobjdump not found, skipped"
fi

if [ "$status" -eq 0 ]; then
  echo "overall: PASS"
else
  echo "overall: FAIL"
fi
exit "$status"

// Times llama.cpp's decoding of a GGUF file through the node-llama-cpp
// package, to compare with `quant-run --generate` on the module the file
// was exported from. Greedy decoding from BOS, one token per evaluation,
// CPU only; prints tokens/s over the generated tokens (the first one, which
// includes context setup, excluded) and the token ids as JSON.
//
//   node bench/llama-cpp-decode.mjs model.gguf [--steps 200] [--threads 1]
//        [--module /path/to/node_modules/node-llama-cpp]
//
// A benchmark, not a test: without node-llama-cpp (npm install
// node-llama-cpp) it says so and exits 0.
import {pathToFileURL} from "node:url";
import path from "node:path";

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const modelPath = process.argv[2];
if (!modelPath || modelPath.startsWith("--")) {
  console.error("usage: node llama-cpp-decode.mjs model.gguf [--steps N] " +
                "[--threads N] [--module DIR]");
  process.exit(2);
}
const steps = Number(option("--steps", "200"));
const threads = Number(option("--threads", "1"));
const moduleDir = option("--module", "");

let nlc;
try {
  nlc = await import(moduleDir
      ? pathToFileURL(path.join(moduleDir, "dist", "index.js")).href
      : "node-llama-cpp");
} catch (error) {
  console.log("llama-cpp-decode: node-llama-cpp is not available (" +
              String(error.message).split("\n")[0] + "); skipped");
  process.exit(0);
}

const llama = await nlc.getLlama({gpu: false, build: "never"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: steps + 1, threads,
                                           batchSize: 1});
const sequence = context.getSequence();
const ids = [];
let first = 0;
for await (const token of sequence.evaluate([model.tokens.bos],
                                           {temperature: 0})) {
  ids.push(token);
  if (ids.length === 1)
    first = performance.now();
  if (ids.length === steps)
    break;
}
const seconds = (performance.now() - first) / 1000;
console.log(JSON.stringify({
  steps: ids.length,
  threads,
  tokens_per_second: (ids.length - 1) / seconds,
  ids,
}));
await context.dispose();
await model.dispose();

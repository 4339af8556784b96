"""GPTQ over a whole Hugging Face Llama checkpoint the way the reference
driver does it (IST-DASLab gptq, llama.py with --true-sequential; the solver
of docs/Numerics.md section 3), in PyTorch f32 on the CPU: layer by layer,
the groups [k, v, q] -> [o] -> [up, gate] -> [down] each calibrated with the
earlier ones quantized, the layer's quantized outputs feeding the next one.
lm_head is quantized too (llama.py leaves it in float) so that the work is
the same as `quant-opt --gptq-quantize`'s.

quant-bench-scale runs it as the baseline of its GPTQ step:
    gptq_llama_reference.py CHECKPOINT_DIR IDS_FILE WINDOWS [BITS GROUP]
IDS_FILE holds raw little-endian int32 ids, read as consecutive windows of
512. Prints one line per linear and a summary on stderr; exits 3 when torch
is absent.
"""
import json
import math
import mmap
import os
import resource
import struct
import sys
import time


def native_blas_kernels():
    """Debian's OpenBLAS falls back to its SSE3 kernels on CPUs it does not
    know; name the kernels the CPU has before torch loads it (quant-opt
    does the same, numerics::reexecWithNativeBLASKernels)."""
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return
    if "avx512f" in flags:
        os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    elif "avx2" in flags:
        os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")


native_blas_kernels()
try:
    import torch
except ImportError:
    print("gptq-reference: python3-torch is not installed")
    sys.exit(3)

SEQ = 512
DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def load_checkpoint(directory):
    """Tensors of model.safetensors as views of the mapped file."""
    f = open(directory + "/model.safetensors", "rb")
    data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        width = torch.finfo(dtype).bits // 8
        tensors[name] = torch.frombuffer(
            data, dtype=dtype, count=(end - begin) // width, offset=8 + length + begin
        ).view(entry["shape"])
    return tensors


class GPTQ:
    """Hessian accumulation (add_batch) and fasterquant, as gptq.py."""

    def __init__(self, columns):
        self.H = torch.zeros(columns, columns)
        self.n = 0

    def add_batch(self, x):  # one sequence: x is [T, C]
        self.H *= self.n / (self.n + 1)
        self.n += 1
        xs = math.sqrt(2 / self.n) * x.t().float()
        self.H += xs.matmul(xs.t())

    def quantize(self, weight, bits, group, blocksize=128, percdamp=0.01):
        W = weight.clone().float()
        H = self.H
        maxq = 2**bits - 1
        cols = W.shape[1]

        def params(x):
            zeros = torch.zeros(x.shape[0])
            xmin = torch.minimum(x.min(1).values, zeros)
            xmax = torch.maximum(x.max(1).values, zeros)
            both = (xmin == 0) & (xmax == 0)
            xmin[both], xmax[both] = -1, 1
            scale = (xmax - xmin) / maxq
            return scale.unsqueeze(1), torch.round(-xmin / scale).unsqueeze(1)

        dead = torch.diag(H) == 0
        H[dead, dead] = 1
        W[:, dead] = 0
        damp = percdamp * torch.mean(torch.diag(H))
        H[range(cols), range(cols)] += damp
        H = torch.linalg.cholesky(H)
        H = torch.cholesky_inverse(H)
        Hinv = torch.linalg.cholesky(H, upper=True)
        Q = torch.zeros_like(W)
        losses = torch.zeros_like(W)
        scale, zero = params(W)
        for i1 in range(0, cols, blocksize):
            i2 = min(i1 + blocksize, cols)
            W1 = W[:, i1:i2].clone()
            Err1 = torch.zeros_like(W1)
            Hinv1 = Hinv[i1:i2, i1:i2]
            for i in range(i2 - i1):
                if group > 0 and (i1 + i) % group == 0:
                    scale, zero = params(W[:, i1 + i : i1 + i + group])
                w = W1[:, i]
                d = Hinv1[i, i]
                q = torch.clamp(torch.round(w.unsqueeze(1) / scale) + zero, 0, maxq)
                q = (scale * (q - zero)).flatten()
                Q[:, i1 + i] = q
                losses[:, i1 + i] = (w - q) ** 2 / d**2 / 2
                err = (w - q) / d
                W1[:, i:] -= err.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
                Err1[:, i] = err
            W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
        return Q, float(losses.sum())


class Model:
    def __init__(self, directory):
        self.config = json.load(open(directory + "/config.json"))
        self.t = load_checkpoint(directory)
        c = self.config
        self.dim, self.heads = c["hidden_size"], c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads", self.heads)
        self.head_dim = self.dim // self.heads
        self.eps = c.get("rms_norm_eps", 1e-6)
        theta = c.get("rope_theta", 10000.0)
        inv = 1.0 / theta ** (torch.arange(0, self.head_dim, 2).float() / self.head_dim)
        angles = torch.outer(torch.arange(SEQ).float(), inv)
        angles = torch.cat((angles, angles), -1)
        self.cos, self.sin = angles.cos(), angles.sin()
        self.mask = torch.full((SEQ, SEQ), float("-inf")).triu(1)
        self.watch = {}

    def norm(self, x, name):
        w = self.t[name].float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def linear(self, weights, name, x):
        if name in self.watch:
            self.watch[name].add_batch(x)
        return x.matmul(weights[name].t())

    def rope(self, x):  # [heads, T, head_dim], rotate-half layout
        half = self.head_dim // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), -1)
        return x * self.cos + rotated * self.sin

    def layer(self, w, p, x):
        T, hd = x.shape[0], self.head_dim
        h = self.norm(x, p + "input_layernorm.weight")
        q = self.linear(w, "q", h).view(T, self.heads, hd).transpose(0, 1)
        k = self.linear(w, "k", h).view(T, self.kv_heads, hd).transpose(0, 1)
        v = self.linear(w, "v", h).view(T, self.kv_heads, hd).transpose(0, 1)
        q, k = self.rope(q), self.rope(k)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, 0), v.repeat_interleave(repeat, 0)
        scores = q.matmul(k.transpose(1, 2)) / math.sqrt(hd) + self.mask
        attn = torch.softmax(scores, -1).matmul(v).transpose(0, 1).reshape(T, -1)
        x = x + self.linear(w, "o", attn)
        h = self.norm(x, p + "post_attention_layernorm.weight")
        gate = self.linear(w, "gate", h)
        up = self.linear(w, "up", h)
        return x + self.linear(w, "down", torch.nn.functional.silu(gate) * up)


def main():
    directory, ids_path, windows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    bits = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    group = int(sys.argv[5]) if len(sys.argv) > 5 else 128
    start = time.perf_counter()
    torch.set_grad_enabled(False)
    # Debian's torch starts with one OpenMP thread; quant-opt uses them all.
    torch.set_num_threads(os.cpu_count())
    model = Model(directory)
    ids = torch.frombuffer(bytearray(open(ids_path, "rb").read()), dtype=torch.int32)
    if ids.numel() < windows * SEQ:
        sys.exit("gptq-reference: %s has %d ids, fewer than %d windows of %d"
                 % (ids_path, ids.numel(), windows, SEQ))
    embed = model.t["model.embed_tokens.weight"]
    inps = [embed[ids[s * SEQ : (s + 1) * SEQ].long()].float() for s in range(windows)]
    names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
             "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj",
             "down": "mlp.down_proj"}
    sequential = [["k", "v", "q"], ["o"], ["up", "gate"], ["down"]]

    def report(name, weight, loss, seconds):
        print("%s %dx%d: loss %.3e, %.2f s" % (name, weight.shape[0], weight.shape[1],
                                              loss, seconds), file=sys.stderr)

    for l in range(model.config["num_hidden_layers"]):
        p = "model.layers.%d." % l
        w = {short: model.t[p + full + ".weight"].float() for short, full in names.items()}
        for subset in sequential:
            model.watch = {n: GPTQ(w[n].shape[1]) for n in subset}
            for x in inps:
                model.layer(w, p, x)
            states, model.watch = model.watch, {}
            for n in subset:
                t0 = time.perf_counter()
                w[n], loss = states[n].quantize(w[n], bits, group)
                report(p + names[n], w[n], loss, time.perf_counter() - t0)
        inps = [model.layer(w, p, x) for x in inps]
    head = model.t["lm_head.weight"].float()
    state = GPTQ(head.shape[1])
    for x in inps:
        state.add_batch(model.norm(x, "model.norm.weight"))
    t0 = time.perf_counter()
    head, loss = state.quantize(head, bits, group)
    report("lm_head", head, loss, time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("gptq-reference: %.1f s, peak RSS %.0f MiB (torch %s, %d threads)"
          % (time.perf_counter() - start, peak, torch.__version__, torch.get_num_threads()),
          file=sys.stderr)


if __name__ == "__main__":
    main()

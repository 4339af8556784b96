"""The reference GPTQ layer solve (docs/Numerics.md §3, the IST-DASLab
algorithm) in PyTorch, f32, timed on the W and H that gptq-bench writes.
Used only as the benchmark's baseline; skipped when torch is absent."""
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("reference: torch is not installed; no baseline")
    sys.exit(0)

w = torch.from_numpy(np.load(sys.argv[1]))
h = torch.from_numpy(np.load(sys.argv[2]))
group, act_order = int(sys.argv[3]), sys.argv[4] == "1"
maxq = 15.0


def params(x):
    xmin = torch.minimum(x.min(1).values, torch.zeros(x.shape[0]))
    xmax = torch.maximum(x.max(1).values, torch.zeros(x.shape[0]))
    both = (xmin == 0) & (xmax == 0)
    xmin[both], xmax[both] = -1, 1
    scale = (xmax - xmin) / maxq
    return scale.unsqueeze(1), torch.round(-xmin / scale).unsqueeze(1)


start = time.time()
W, H = w.clone(), h.clone()
cols = W.shape[1]
dead = torch.diag(H) == 0
H[dead, dead] = 1
W[:, dead] = 0
if act_order:
    perm = torch.argsort(torch.diag(H), descending=True)
    W, H = W[:, perm], H[perm][:, perm]
H[range(cols), range(cols)] += 0.01 * torch.mean(torch.diag(H))
L = torch.linalg.cholesky(H)
Hinv = torch.linalg.cholesky(torch.cholesky_inverse(L), upper=True)
Q = torch.zeros_like(W)
scale, zero = params(W)
for i1 in range(0, cols, 128):
    i2 = min(i1 + 128, cols)
    W1, Err1, Hinv1 = W[:, i1:i2].clone(), torch.zeros_like(W[:, i1:i2]), Hinv[i1:i2, i1:i2]
    for i in range(i2 - i1):
        if (i1 + i) % group == 0:
            scale, zero = params(W[:, i1 + i : i1 + i + group])
        col = W1[:, i].unsqueeze(1)
        q = scale * (torch.clamp(torch.round(col / scale) + zero, 0, maxq) - zero)
        Q[:, i1 + i] = q.flatten()
        err = (col.flatten() - q.flatten()) / Hinv1[i, i]
        W1[:, i:] -= err.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
        Err1[:, i] = err
    W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
print("reference: GPTQ solve %.2f s (torch %s, %d threads)" % (time.time() - start, torch.__version__, torch.get_num_threads()))

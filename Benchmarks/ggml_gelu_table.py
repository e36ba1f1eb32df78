"""Prints the SHA-256 of ggml's GELU table (`ggml_table_gelu_f16`, 65,536 Float16 values filled
by `ggml_cpu_init`), which Tests/RecQuantTests/GELUTableTests.swift checks RecLab's rebuilt
table against. Needs llama.cpp's libraries from ../shared/peers/setup.sh:

    LD_LIBRARY_PATH=/tmp/peer/llama/bin python3 Benchmarks/ggml_gelu_table.py /tmp/peer/llama/bin
"""
import ctypes
import hashlib
import os
import sys

folder = sys.argv[1]
ctypes.CDLL(os.path.join(folder, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
cpu = ctypes.CDLL(os.path.join(folder, "libggml-cpu.so"))
cpu.ggml_cpu_init()
print(hashlib.sha256(bytes((ctypes.c_uint16 * 65536).in_dll(cpu, "ggml_table_gelu_f16"))).hexdigest())

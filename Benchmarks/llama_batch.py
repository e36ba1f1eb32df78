"""llama-server's side of `reclab bench lm --batch N`: the same N prompts (prompt i lists the
ML-1M titles 20i+1 to 20i+20 of movies.dat in file order), sent at once on N connections to a
server started with `-np N -cb`, each generating 96 tokens past end-of-text (ignore_eos), no
prompt cache. Per run it prints, from the server's own per-request timings:
  decode      N x 96 generated tokens over the longest request's predicted_ms (slots decode
              side by side, so that is the decoding span);
  prompt      all prompt tokens over the longest request's prompt_ms;
  end-to-end  generated tokens per second of the client's wall time.
Usage: python3 llama_batch.py BASE_URL MOVIES_DAT N [ROUNDS]   (standard library only)"""
import json, statistics, sys, threading, time, urllib.request

base, movies, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
titles = [line.split('::')[1] for line in open(movies, encoding='latin-1')]


def prompt(i):
    chosen = [titles[(20 * i + j) % len(titles)] for j in range(20)]
    return ("A user watched these movies in order: " + "; ".join(chosen)
            + ". Describe the user's taste in films, then suggest three more movies:")


def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(request, timeout=1200).read())


prompts = [prompt(i) for i in range(n)]
tokens = sum(len(post('/tokenize', {'content': p, 'add_special': True})['tokens']) for p in prompts)
decode, prefill, wall = [], [], []
for _ in range(rounds):
    replies = [None] * n

    def run(i):
        replies[i] = post('/completion', {'prompt': prompts[i], 'n_predict': 96, 'temperature': 0, 'ignore_eos': True, 'cache_prompt': False})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    started = time.time()
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    seconds = time.time() - started
    generated = sum(r['timings']['predicted_n'] for r in replies)
    decode.append(generated / (max(r['timings']['predicted_ms'] for r in replies) / 1000))
    prefill.append(sum(r['timings']['prompt_n'] for r in replies) / (max(r['timings']['prompt_ms'] for r in replies) / 1000))
    wall.append(generated / seconds)
print(f"llama-server N={n:<3d} decode {statistics.median(decode):7.1f} tokens/s  prompt {statistics.median(prefill):7.1f} tokens/s"
      f"  end-to-end {statistics.median(wall):7.1f} tokens/s  ({tokens} prompt tokens)")

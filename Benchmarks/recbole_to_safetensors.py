"""Converts a trained RecBole 1.2.1 SASRec checkpoint into a safetensors file that RecLab's
SASRec loads with `initial_weights:` (and `epochs: 0` to evaluate it as it is), so that both
tools can be evaluated on one set of weights. It separates the two halves of an accuracy gap:
if RecLab scores RecBole's weights as RecBole does, the networks and the evaluation agree and
any gap comes from training.

Names follow RecLab's SASRecModel; PyTorch's Linear weights ([out, in]) are transposed to
RecLab's [in, out]. Row 0 of the item table is padding in both. The metadata key `item_ids`
holds the original item id of every other row (a JSON list), and RecLab reorders the rows to
its own catalogue by those ids. Run by a developer with the peer venv:
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/peer/venv/bin/python Benchmarks/recbole_to_safetensors.py \
        /tmp/peer/data /tmp/recbole-ckpt/SASRec-....pth /tmp/recbole-sasrec.safetensors
"""
import json, struct, sys
import numpy as np
import torch
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
from recbole.config import Config
from recbole.data import create_dataset

recbole_data, checkpoint, out = sys.argv[1:4]
state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
config = Config(model='SASRec', config_dict=recbole_common.ml100k_config(recbole_data, train_neg_sample_args=None, loss_type='CE'))
tokens = list(create_dataset(config).field2id_token['item_id'])
assert tokens[0] == '[PAD]' and len(tokens) == state['item_embedding.weight'].shape[0], 'item table and dataset disagree'

def array(name, transpose=False):
    value = state[name].detach().float().numpy()
    return np.ascontiguousarray(value.T if transpose else value)

tensors = {
    'item_embedding': array('item_embedding.weight'),
    'position_embedding': array('position_embedding.weight'),
    'input_norm.weight': array('LayerNorm.weight'),
    'input_norm.bias': array('LayerNorm.bias'),
}
layers = sorted({int(k.split('.')[2]) for k in state if k.startswith('trm_encoder.layer.')})
for layer in layers:
    theirs, ours = f'trm_encoder.layer.{layer}.', f'layers.{layer}.'
    for source, target in (('query', 'query'), ('key', 'key'), ('value', 'value'), ('dense', 'output')):
        tensors[ours + target + '.weight'] = array(theirs + 'multi_head_attention.' + source + '.weight', transpose=True)
        tensors[ours + target + '.bias'] = array(theirs + 'multi_head_attention.' + source + '.bias')
    tensors[ours + 'attention_norm.weight'] = array(theirs + 'multi_head_attention.LayerNorm.weight')
    tensors[ours + 'attention_norm.bias'] = array(theirs + 'multi_head_attention.LayerNorm.bias')
    for source, target in (('dense_1', 'ffn_in'), ('dense_2', 'ffn_out')):
        tensors[ours + target + '.weight'] = array(theirs + 'feed_forward.' + source + '.weight', transpose=True)
        tensors[ours + target + '.bias'] = array(theirs + 'feed_forward.' + source + '.bias')
    tensors[ours + 'ffn_norm.weight'] = array(theirs + 'feed_forward.LayerNorm.weight')
    tensors[ours + 'ffn_norm.bias'] = array(theirs + 'feed_forward.LayerNorm.bias')

# safetensors: an 8-byte little-endian header length, the JSON header, then the raw data.
header, blobs, offset = {'__metadata__': {'item_ids': json.dumps(tokens[1:]), 'source': checkpoint}}, [], 0
for name in sorted(tensors):
    blob = tensors[name].astype('<f4').tobytes()
    header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(blob)]}
    blobs.append(blob)
    offset += len(blob)
text = json.dumps(header).encode()
text += b' ' * (-len(text) % 8)
with open(out, 'wb') as f:
    f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
print(f'{out}: {len(tensors)} tensors, {len(tokens) - 1} items, {len(layers)} layers')

"""Writes a user_sequence.txt dataset (one line per user: user item item ..., in time order; the
P5/TIGER Amazon files) as a RecBole atomic dataset OUT/NAME/NAME.inter, with the position in the
sequence as timestamp, so RecBole's leave-one-out by time holds out the same last two items as
RecLab's. Run by a developer, for peer measurements only:
    python3 Benchmarks/sequences_to_recbole.py ../shared/data/amazon-beauty/user_sequence.txt /tmp/peer/data amazon-beauty
"""
import os, sys

source, out, name = sys.argv[1:4]
os.makedirs(os.path.join(out, name), exist_ok=True)
rows = 0
with open(source, encoding='utf-8') as lines, open(os.path.join(out, name, name + '.inter'), 'w', encoding='utf-8') as inter:
    inter.write('user_id:token\titem_id:token\ttimestamp:float\n')
    for line in lines:
        user, *items = line.split()
        for position, item in enumerate(items):
            inter.write(f'{user}\t{item}\t{position}\n')
            rows += 1
print(f'{rows} interactions written to {out}/{name}/{name}.inter')

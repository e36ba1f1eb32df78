"""Runs one of ../shared/peers/*.py with the NumPy-2 aliases RecBole 1.2.1 and its Ray
dependency still use (np.float_, np.bool8, ...). Run by a developer with the peer venv:
    /tmp/peer/venv/bin/python Benchmarks/recbole_peer.py ../shared/peers/recbole_sasrec.py ARGS...
RECBOLE_SEED=N replaces the peer script's fixed seed (2020), for seed-to-seed spread."""
import os, runpy, sys
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
import recbole.quick_start

seed = os.environ.get('RECBOLE_SEED')
if seed is not None:
    _run = recbole.quick_start.run_recbole
    def run_with_seed(*args, config_dict=None, **kwargs):
        return _run(*args, config_dict={**(config_dict or {}), 'seed': int(seed)}, **kwargs)
    recbole.quick_start.run_recbole = run_with_seed

script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name='__main__')

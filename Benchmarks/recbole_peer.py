"""Runs one of ../shared/peers/*.py with the NumPy-2 aliases RecBole 1.2.1 and its Ray
dependency still use (np.float_, np.bool8, ...). Run by a developer with the peer venv:
    /tmp/peer/venv/bin/python Benchmarks/recbole_peer.py ../shared/peers/recbole_sasrec.py ARGS..."""
import runpy, sys
import numpy as np
for _n, _t in (('float', float), ('int', int), ('bool', bool), ('bool8', np.bool_), ('float_', np.float64),
               ('complex_', np.complex128), ('unicode_', np.str_)):
    if not hasattr(np, _n): setattr(np, _n, _t)
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name='__main__')

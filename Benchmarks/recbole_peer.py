"""Runs one of ../shared/peers/*.py with the NumPy-2 aliases RecBole 1.2.1 and its Ray
dependency still use (np.float_, np.bool8, ...). Run by a developer with the peer venv:
    /tmp/peer/venv/bin/python Benchmarks/recbole_peer.py ../shared/peers/recbole_sasrec.py ARGS..."""
import runpy, sys
import recbole_common  # NumPy aliases for RecBole 1.2.1; import before recbole
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name='__main__')

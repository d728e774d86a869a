import os
import sys

# `python -m invcheck` puts the working directory first on sys.path: a numpy.py or yaml.py there
# must not stand in for the real one (user code's folders are appended later, with permission).
sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]

from invcheck.cli import main  # noqa: E402

main()

import os
import sys

# `python -m invcheck` puts the working directory first on sys.path: a numpy.py or yaml.py there
# must not stand in for the real one (user code's folders are appended later, with permission).
try:
    _here: str | None = os.getcwd()
except OSError:  # the working folder was deleted: relative entries name nothing
    _here = None
sys.path[:] = [p for p in sys.path if p and (os.path.abspath(p) != _here if _here else os.path.isabs(p))]

from invcheck.cli import console  # noqa: E402

console()

import os

# The tests run thousands of tiny tensor ops: one intra-op thread each avoids the oversubscription
# stalls seen on a loaded 2-core machine (a 3x3 conv taking 16 ms instead of 0.1 ms). Set before
# torch is imported; CLI subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

pytest_plugins = ["pytester"]

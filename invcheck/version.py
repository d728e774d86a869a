"""The package's version, in a module of its own: what reports stamp on their output imports it
from here, not from the package, whose __init__ loads the API on first use (a circle otherwise)."""

__version__ = "0.3.0"

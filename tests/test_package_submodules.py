"""`import invcheck` then `invcheck.api.layer_row(...)`, as the docs write it: the package's lazy
`__getattr__` imports the submodule (it raised AttributeError: module 'invcheck' has no attribute
'api'). In a fresh process: in this one another test imported invcheck.api already."""

from __future__ import annotations

import subprocess
import sys


def test_the_api_module_is_an_attribute_of_the_package() -> None:
    code = (
        "import sys, invcheck\n"
        "print('torch' in sys.modules)\n"  # importing the package stays torch-free
        "print(invcheck.api.layer_row.__name__, invcheck.api is sys.modules['invcheck.api'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "layer_row", "True"]


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    code = "import invcheck\ntry:\n    invcheck.apis\nexcept AttributeError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "module 'invcheck' has no attribute 'apis'"

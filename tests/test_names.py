"""names.py is the vocabulary; the registries must list exactly its ids, in its order."""

from __future__ import annotations

import pytest

from invcheck import names
from invcheck.norms import NORMS, get_norm
from invcheck.transforms import TRANSFORMS, get_transform


def test_norm_registry_ids_are_names_norms_in_order():
    assert tuple(NORMS) == names.NORMS


def test_transform_registry_ids_are_names_transforms_in_order():
    assert tuple(TRANSFORMS) == names.TRANSFORMS


@pytest.mark.parametrize("norm_id", names.NORMS)
def test_each_norm_knows_its_own_id(norm_id):
    assert get_norm(norm_id).id == norm_id


@pytest.mark.parametrize("transform_id", names.TRANSFORMS)
def test_each_transform_knows_its_own_id_and_target(transform_id):
    t = get_transform(transform_id)
    assert t.id == transform_id
    assert t.target == ("weights" if transform_id.startswith("weight_") else "data")
    assert t.doc


def test_unknown_ids_raise():
    with pytest.raises(KeyError):
        get_norm("layernorm")
    with pytest.raises(KeyError):
        get_transform("dataset_shift")


def test_labels_cover_every_transform():
    assert set(names.TRANSFORM_LABELS) == set(names.TRANSFORMS)


def test_vocabularies_have_no_duplicates():
    for vocab in (
        names.LAYERS,
        names.NORMS,
        names.TRANSFORMS,
        names.VERDICTS,
        names.DTYPES,
        names.DEVICES,
        names.MODES,
        names.IMPLS,
    ):
        assert len(set(vocab)) == len(vocab)


def test_dtype_names_match_runtime_and_tolerance_tables():
    from invcheck.runtime import DTYPES
    from invcheck.tolerance import ROUNDOFF

    assert tuple(DTYPES) == names.DTYPES
    assert tuple(ROUNDOFF) == names.DTYPES


def test_names_import_no_torch():
    """`--help` and spec validation stay fast: names.py must not pull torch in."""
    import subprocess
    import sys

    code = "import sys, invcheck.names; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

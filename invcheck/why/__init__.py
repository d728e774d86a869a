"""Why a cell holds or breaks: exact counterexamples (explain), exact proofs (prove) and sweeps of
the deviation against the scale factor (sweep), all derived from the registries' own definitions."""

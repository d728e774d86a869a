"""The bad-input corpus: each case is a few small files, a command, and the one line it must print.

Every case runs `invcheck ARGS` in a fresh folder holding its files and must exit 2 with exactly
its `line` on stderr (nothing else), an empty stdout, no traceback, within the timeout. The
expected lines live in expected.txt (`name<TAB>line`), so that a changed message is one visible
diff. Classes: yaml (conversion, tags, depth, aliases, encodings), file (what a spec path may be),
size (bounds before allocation), mapping (keys that make no sense together), cli (options and
output paths), user (user code only with permission, contained, timed out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

P = "norm: layer_norm\ntransform: dataset_rescale\n"  # a valid check; cases add one bad line 3
BOMB = "".join(
    f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9 if i else ["lol"] * 9) + "]\n" for i in range(9)
)


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes]
    args: tuple[str, ...] = ("validate", "spec.yaml")
    setup: str | None = None  # fifo | dangling | loop | chmod000 | devzero (see test_corpus.py)
    intact: tuple[str, ...] = field(default=())  # files that must be unchanged afterwards


def spec(name: str, text: str, *args: str) -> Case:
    return Case(name, {"spec.yaml": text}, args or ("validate", "spec.yaml"))


def run(name: str, text: str, *args: str) -> Case:
    return Case(name, {"spec.yaml": text}, ("run", "spec.yaml", *args))


CASES = [
    # yaml: values PyYAML accepts but cannot convert, and shapes no spec has
    spec("yaml-float-tag", P + "trials: !!float abc\n"),
    spec("yaml-int-tag", P + "trials: !!int x\n"),
    spec("yaml-bool-tag", P + "tf32: !!bool maybe\n"),
    spec("yaml-timestamp-tag", P + "name: !!timestamp 2024-13-45\n"),
    spec("yaml-implicit-date", P + "name: 2024-13-45\n"),
    spec("yaml-feb-30", P + "expect: 2023-02-30\n"),
    spec("yaml-date-key", P + "2024-13-45: x\n"),
    spec("yaml-bad-hour", P + "name: 2024-01-01 25:61:61\n"),
    spec("yaml-map-tag-on-seq", P + "layer: !!map [1, 2]\n"),
    spec("yaml-seq-tag-on-map", P + "layer: !!seq {kind: dense}\n"),
    spec("yaml-str-tag-on-map", P + "name: !!str {a: 1}\n"),
    spec("yaml-binary", P + "name: !!binary 'abcde'\n"),
    spec("yaml-python-tag", P + "name: !!python/object/apply:os.system ['true']\n"),
    spec("yaml-local-tag", P + "name: !mine x\n"),
    spec("yaml-bigint", P + "trials: " + "9" * 5000 + "\n"),
    spec("yaml-bigint-hex", P + "seed: 0x" + "f" * 5000 + "\n"),
    spec("yaml-float-overflow", P + "tolerance: 1.0e400\n"),
    spec("yaml-nan", "norm: {id: layer_norm, eps: .nan}\ntransform: dataset_rescale\n"),
    spec("yaml-deep-flow", P + "name: " + "[" * 5000 + "]" * 5000 + "\n"),
    spec("yaml-deep-map", P + "name: " + "{a: " * 500 + "1" + "}" * 500 + "\n"),
    spec("yaml-alias-bomb-name", P + "x:\n" + BOMB + "name: *a8\n"),
    spec("yaml-alias-bomb-checks", "x:\n" + BOMB + "checks: *a8\n"),
    spec("yaml-recursive-alias", P + "name: &r [*r]\n"),
    spec("yaml-merge-scalar", P + "layer: {<<: 3}\n"),
    spec("yaml-duplicate-key", P + "layer:\n  units: 4\n  units: 8\n"),
    spec("yaml-duplicate-null", P + "~: 1\nnull: 2\n"),
    spec("yaml-complex-key", P + "? [a, b]\n: x\n"),
    spec("yaml-two-documents", P + "---\n" + P),
    spec("yaml-tab", "norm: layer_norm\n\ttransform: dataset_rescale\n"),
    spec("yaml-surrogate", P + 'name: "\\ud800"\n'),
    spec("yaml-control-in-name", P + 'name: "two\\nlines"\n'),
    Case("yaml-latin1", {"spec.yaml": P.encode() + b"name: caf\xe9\n"}),
    Case("yaml-utf16", {"spec.yaml": P.encode("utf-16")}),
    Case("yaml-nul", {"spec.yaml": P.encode() + b"name: a\x00b\n"}),
    spec("yaml-empty", ""),
    spec("yaml-comments-only", "# nothing\n"),
    spec("yaml-top-level-list", "- norm: layer_norm\n"),
    # file: what a spec path may be
    Case("file-fifo", {}, ("validate", "spec.yaml"), setup="fifo"),
    Case("file-fifo-run", {}, ("run", "spec.yaml"), setup="fifo"),
    Case("file-dev-zero", {}, ("validate", "spec.yaml"), setup="devzero"),
    Case("file-directory", {"x.yaml/a.txt": "x"}, ("validate", "x.yaml")),
    Case("file-dangling-link", {}, ("validate", "spec.yaml"), setup="dangling"),
    Case("file-link-loop", {}, ("validate", "spec.yaml"), setup="loop"),
    Case("file-huge", {"spec.yaml": P + "#" * (1 << 21) + "\n"}),
    Case("file-missing", {}, ("validate", "nope.yaml")),
    Case("file-fifo-in-folder", {"specs/good.yaml": P}, ("validate", "specs"), setup="fifo-in-folder"),
    # size: bounds before anything is allocated
    spec("size-trials", P + "trials: 1000000000\n"),
    spec("size-trials-float", P + "trials: 8.5\n"),
    spec("size-trials-text", P + "trials: '1e3'\n"),
    spec("size-seed-2pow64", P + "seed: 18446744073709551616\n"),
    spec("size-seed-negative", P + "seed: -1\n"),
    spec("size-units", P + "layer: {units: 1000000000}\n"),
    spec("size-conv-size", P + "layer: {kind: conv, size: 3000}\n"),
    spec("size-budget", P + "trials: 100000\nlayer: {units: 512, inputs: 512}\n"),
    spec(
        "size-warmup",
        "norm: {id: batch_norm, mode: eval, warmup_batches: 1000000000}\ntransform: dataset_rescale\n",
    ),
    spec("size-padding-bool", P + "layer: {kind: conv, padding: true}\n"),
    spec("size-sexagesimal", P + "trials: 190:20:30:15\n"),
    spec("size-work", P + "layer: {kind: conv, size: 64, in_channels: 64, out_channels: 64, kernel: 7}\n"),
    spec("size-long-name", P + "name: " + "x" * 5000 + "\n"),
    spec(
        "size-seed-user-code",
        'norm: {module: "m:N"}\ntransform: dataset_rescale\nseed: 9223372036854775808\n',
    ),
    # mapping: settings that make no sense
    spec("map-norm-empty", "norm: {}\ntransform: dataset_rescale\n"),
    spec("map-norm-only-eps", "norm: {eps: 1.0e-5}\ntransform: dataset_rescale\n"),
    spec("map-groups-on-layer-norm", "norm: {id: layer_norm, groups: 2}\ntransform: dataset_rescale\n"),
    spec("map-shift-on-rescale", "norm: layer_norm\ntransform: {id: dataset_rescale, shift: 2.0}\n"),
    spec("map-scale-on-recenter", "norm: layer_norm\ntransform: {id: dataset_recenter, scale: [0.5, 2]}\n"),
    spec("map-momentum-train", "norm: {id: batch_norm, momentum: 0.5}\ntransform: dataset_rescale\n"),
    spec(
        "map-placeholder",
        'norm: {module: "mynorms:N", kwargs: {features: "{unitz}"}}\ntransform: dataset_rescale\n',
    ),
    spec("map-kwargs-builtin", "norm: {id: layer_norm, kwargs: {a: 1}}\ntransform: dataset_rescale\n"),
    spec("map-module-keyword", 'norm: {module: "class.def:import"}\ntransform: dataset_rescale\n'),
    spec("map-module-no-colon", 'norm: {module: "os.system"}\ntransform: dataset_rescale\n'),
    spec("map-conv-key-on-dense", P + "layer: {kind: dense, kernel: 3}\n"),
    spec("map-tf32-cpu", P + "tf32: true\n"),
    spec("map-shift-tiny", "norm: rms_norm\ntransform: {id: dataset_recenter, shift: 1.0e-300}\n"),
    spec(
        "map-matrix-layer-and-layers",
        "matrix:\n  layer: {kind: conv}\n  layers: [dense]\n  norms: [layer_norm]\n",
    ),
    # cli: options and output paths, refused before the work
    Case(
        "cli-output-is-spec", {"spec.yaml": P}, ("run", "spec.yaml", "-o", "spec.yaml"), intact=("spec.yaml",)
    ),
    Case(
        "cli-junit-is-spec",
        {"spec.yaml": P},
        ("run", "spec.yaml", "--junit-xml", "./spec.yaml"),
        intact=("spec.yaml",),
    ),
    Case(
        "cli-output-link-to-spec",
        {"spec.yaml": P},
        ("run", "spec.yaml", "-o", "out.txt"),
        setup="link-out",
        intact=("spec.yaml",),
    ),
    Case("cli-output-twice", {"spec.yaml": P}, ("run", "spec.yaml", "-o", "r.txt", "--junit-xml", "r.txt")),
    Case("cli-output-directory", {"outdir/x": ""}, ("table", "-o", "outdir")),
    Case("cli-output-missing-parent", {}, ("table", "-o", "no/such/out.csv")),
    Case("cli-output-under-file", {"afile": ""}, ("table", "-o", "afile/out.csv")),
    Case("cli-output-too-long", {}, ("table", "-o", "n" * 300)),
    Case("cli-output-fifo", {"spec.yaml": P}, ("run", "spec.yaml", "-o", "pipe"), setup="fifo-out"),
    Case("cli-table-seed", {}, ("table", "--seed", str(2**70))),
    Case("cli-table-eps-nan", {}, ("table", "--eps", "nan")),
    Case("cli-table-trials", {}, ("table", "--trials", "100000000000")),
    Case("cli-table-device", {}, ("table", "--device", "tpu")),
    # cli, found by an outsider session: each was a crash, a silent overwrite or a silent no-op
    Case(
        "cli-explain-output-is-spec",
        {"spec.yaml": P},
        ("explain", "spec.yaml", "-o", "spec.yaml"),
        intact=("spec.yaml",),
    ),
    Case(
        "cli-prove-output-is-spec",
        {"spec.yaml": P},
        ("prove", "spec.yaml", "-o", "./spec.yaml"),
        intact=("spec.yaml",),
    ),
    Case(
        "cli-sweep-output-is-spec",
        {"spec.yaml": P},
        ("sweep", "spec.yaml", "-o", "spec.yaml"),
        intact=("spec.yaml",),
    ),
    Case(
        "cli-sweep-plot-is-output",
        {},
        ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--plot", "p.png", "-o", "p.png"),
    ),
    Case(
        "cli-sweep-plot-missing-folder",
        {},
        ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--plot", "no/p.png"),
    ),
    Case(
        "cli-sweep-high-inf",
        {},
        ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--high", "inf"),
    ),
    Case(
        "cli-sweep-decades",
        {},
        (
            "sweep",
            "--norm",
            "layer_norm",
            "--transform",
            "dataset_rescale",
            "--low",
            "1e-10",
            "--high",
            "1e300",
        ),
    ),
    Case(
        "cli-sweep-eps-inf",
        {},
        ("sweep", "--norm", "layer_norm", "--transform", "dataset_rescale", "--eps", "1e400"),
    ),
    Case(
        "cli-sweep-token-transform-on-dense",
        {},
        ("sweep", "--norm", "layer_norm", "--transform", "token_rescale"),
    ),
    Case("cli-table-tf32-cpu", {}, ("table", "--tf32")),
    Case(
        "cli-prove-seconds-huge",
        {},
        ("prove", "--norm", "layer_norm", "--transform", "dataset_rescale", "--seconds", "1e10"),
    ),
    Case("cli-output-proc", {}, ("schema", "-o", "/proc/invcheck-schema.json")),
    Case("cli-junit-stdout", {"spec.yaml": P}, ("run", "spec.yaml", "--junit-xml", "-")),
    Case("cli-empty-path", {"spec.yaml": P}, ("run", "")),
    Case("cli-kwargs-without-module", {}, ("table", "--kwargs", '{"features": 3}')),
    Case("cli-layout-without-module", {}, ("table", "--layout", "channels_last")),
    Case("cli-timeout-without-module", {}, ("table", "--timeout", "5")),
    # from a second outsider session
    Case("cli-explain-spec-and-flags", {"spec.yaml": P}, ("explain", "spec.yaml", "--norm", "batch_norm")),
    Case(
        "cli-sweep-identity-only",
        {},
        (
            "sweep",
            "--norm",
            "layer_norm",
            "--transform",
            "dataset_rescale",
            "--low",
            "1",
            "--high",
            "1.0000000000001",
        ),
    ),
    Case("cli-newline-in-name", {}, ("run", "no\nsuch.yaml")),
    Case("cli-name-too-long", {}, ("validate", "b" * 300 + ".yaml")),
    Case("cli-kwargs-key-twice", {}, ("table", "--module", "mynorms:N", "--kwargs", '{"a": 1, "a": 2}')),
    Case(
        "cli-kwargs-too-deep", {}, ("table", "--module", "mynorms:N", "--kwargs", "[" * 30000 + "]" * 30000)
    ),
    spec("size-tolerance-beyond-float", P + "tolerance: 1" + "0" * 309 + "\n"),
    Case(
        "cli-module-misspelt",
        {"mynorms.py": "import torch\nclass ScaleNorm(torch.nn.Module):\n    pass\n"},
        ("table", "--layer", "dense", "--module", "mynorms:ScaleNrm", "--allow-import"),
    ),
    # user: user code only with permission, contained
    Case(
        "user-without-permission",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "open('MARKER', 'w')\n",
        },
        ("run", "spec.yaml"),
    ),
    Case(
        "user-self-granted",
        {
            "down/spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "down/pyproject.toml": "[tool.invcheck]\nallow-import = true\n",
            "down/mynorms.py": "open('MARKER', 'w')\n",
            "pyproject.toml": "[project]\nname='x'\n",
        },
        ("run", "down/spec.yaml"),
    ),
    Case(
        "user-bad-pyproject",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "pyproject.toml": "tool = 3\n",
        },
        ("run", "spec.yaml"),
    ),
    Case(
        "user-sys-exit",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "import sys\nsys.exit(0)\n",
        },
        ("run", "spec.yaml", "--allow-import"),
    ),
    Case(
        "user-base-exception",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "class Boom(BaseException):\n    pass\nraise Boom('no')\n",
        },
        ("run", "spec.yaml", "--allow-import"),
    ),
    Case(
        "user-os-exit",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "import os\nos._exit(0)\n",
        },
        ("run", "spec.yaml", "--allow-import"),
    ),
    Case(
        "user-hang",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "while True:\n    pass\n",
        },
        ("run", "spec.yaml", "--allow-import", "--timeout", "1"),
    ),
    # code that ignores the alarm: signal.signal from user code keeps SIGALRM invcheck's (its check's error)
    Case(
        "user-ignores-alarm",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "while True:\n    time.sleep(0.05)\n",
        },
        ("run", "spec.yaml", "--allow-import", "--timeout", "1"),
    ),
    # code that defeats the alarm: the watchdog ends the process at twice the timeout
    Case(
        "user-swallows-the-stop",
        {
            "spec.yaml": 'norm: {module: "mynorms:N"}\ntransform: dataset_rescale\n',
            "mynorms.py": "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except BaseException:\n        pass\n",
        },
        ("run", "spec.yaml", "--allow-import", "--timeout", "1"),
    ),
]

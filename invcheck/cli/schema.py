"""invcheck schema: the JSON Schema of the spec format, for editors and CI."""

# No `from __future__ import annotations`: typer would eval every annotation string at start-up.

from invcheck.cli.app import OutputOpt, app
from invcheck.cli.common import write_output


@app.command()
def schema(
    output: OutputOpt = None,
) -> None:
    """Print the JSON Schema of spec files (for `# yaml-language-server: $schema=...`)."""
    import json

    from invcheck.schema import spec_schema

    write_output(json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n", output)

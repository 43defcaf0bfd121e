"""`mesostack config` and `mesostack schema`: the effective stack file and its JSON Schema."""

from __future__ import annotations

import json

import click

from mesostack.cli._common import Options


@click.command()
@click.option("--show-secrets", is_flag=True,
              help="Show secret-looking variables' values instead of ***.")
@click.pass_obj
def config(options: Options, show_secrets: bool) -> None:
    """Print the effective stack.yaml, every default filled in."""
    from mesostack import console
    from mesostack.config import to_yaml

    options.plan(strict=True)  # what the images can't honour is refused here too
    console.result(to_yaml(options.load().config, show_secrets=show_secrets))


@click.command()
def schema() -> None:
    """Print the JSON Schema of stack.yaml (for editors)."""
    from mesostack import console
    from mesostack.config import json_schema

    console.result(json.dumps(json_schema(), indent=2))

"""`mesostack bundle`: one .tar.gz with the stack's logs, state and config, secrets masked."""

from __future__ import annotations

import click

from mesostack.cli._common import Options


@click.command()
@click.option("-o", "--output", metavar="PATH",
              help="The file to write, or a directory to write it in; never overwritten. "
                   "[default: ./mesostack-bundle-<stack>-<UTC time>.tar.gz]")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              metavar="SECONDS", help="Bound for collecting; what is not done by then is "
                                      "named in the bundle's manifest.")
@click.pass_obj
def bundle(options: Options, output: str | None, timeout: float) -> None:
    """Collect the stack's logs, state and config into one .tar.gz, secrets masked.

    Every container's log and inspect data (task containers too), the masters' and agents'
    state, Marathon's apps, deployments and queue, the ZooKeeper tree, the effective stack.yaml
    and versions. Best effort: what can't be collected is named in the bundle's README.txt."""
    from datetime import UTC, datetime

    from mesostack import bundle as bundle_
    from mesostack import console
    from mesostack.errors import MesostackError

    loaded = options.load()
    plan, where = options.plan()
    console.note(where)
    now = datetime.now(UTC)
    path = bundle_.output_path(output, plan.stack, now)
    target = bundle_.open_new(path)
    try:
        with target:
            made = bundle_.make(target, loaded=loaded, plan=plan, now=now, timeout=timeout,
                                name=bundle_.top_name(path, plan.stack, now))
    except OSError as exc:  # e.g. the disk filled up
        path.unlink(missing_ok=True)
        raise MesostackError(f"can't write {path}: {exc.strerror or exc}",
                             hint="free some space or give another --output") from None
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written bundle left behind
        raise
    console.info(bundle_.summary(made.manifest, path))
    console.result(f"{path}\n")

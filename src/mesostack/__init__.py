"""mesostack: ZooKeeper + Apache Mesos + Marathon as Docker containers, from one stack.yaml."""

__version__ = "0.1.0"

# The Python API's main names, importable from here; loaded when first asked for, so that
# `import mesostack` (and `mesostack --help`) costs nothing more. `typing` is not imported
# either: type checkers take any `TYPE_CHECKING` as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mesostack.api import Callbacks, Stack, load
    from mesostack.errors import InputError, MesostackError

_LAZY = {"Callbacks": "api", "Stack": "api", "load": "api", "InputError": "errors",
         "MesostackError": "errors"}

__all__ = ["Callbacks", "InputError", "MesostackError", "Stack", "__version__", "load"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'mesostack' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"mesostack.{_LAZY[name]}"), name)

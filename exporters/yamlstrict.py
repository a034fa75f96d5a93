"""The one strict YAML reader for aftercare.yml and the web config.

Safe tags only; a key given twice in one mapping, a mapping or list used as a
key, a value its tag cannot hold (``month 13``, ``!!int x``) and nesting too
deep all become one :class:`~exporters.schema.ConfigError` naming the file and
the line, never another exception.  Anchors, aliases and ``<<`` merge keys work
as in any YAML.
"""

from __future__ import annotations

from typing import Any

import yaml

from .schema import ConfigError, describe

__all__ = ["StrictLoader", "read_yaml"]


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate and unhashable keys and unreadable values."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, ConfigError, RecursionError):
            raise
        except Exception:  # ValueError, KeyError... of a tag's constructor on a bad value
            # never echo the value: it may be a password given the wrong tag
            kind = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"found a value that is not a valid {kind}", node.start_mark
            ) from None


_MERGE = "tag:yaml.org,2002:merge"


def _strict_mapping(loader: StrictLoader, node, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue  # "<<: *base" merges a mapping; keys given here win, as in YAML
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "found a mapping or list used as a key (an unrendered template?)",
                key_node.start_mark,
            ) from None
        if key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError((), f"line {line}: key {describe(key)} appears twice in one mapping")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def read_yaml(file: str, what: str = "config file") -> Any:
    """The parsed document in ``file``; any mistake is a ConfigError naming ``file``.

    ``what`` names the file in messages, e.g. "cannot read the web config file".
    """
    try:
        try:
            with open(file, "rb") as fh:
                text = fh.read().decode("utf-8")
        except OSError as err:
            raise ConfigError((), f"cannot read the {what}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError((), f"the {what} is not UTF-8 text") from None
        try:
            return yaml.load(text, Loader=StrictLoader)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(err, "problem", None) or "not valid YAML"
            raise ConfigError((), f"{where}{problem} (expected valid YAML)") from None
        except RecursionError:
            raise ConfigError((), "nested too deeply (expected valid YAML)") from None
    except ConfigError as err:
        err.file = file
        raise

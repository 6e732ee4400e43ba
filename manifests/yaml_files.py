"""Reading the YAML files a user hands in (mix and run recipes): one loader, one policy.

Anchors and aliases are refused before anything is expanded (a "billion laughs" file
otherwise grows without bound once a stage's options are hashed or dumped), and a key
given twice in one mapping is refused instead of the last one silently winning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A YAML file that is missing, unreadable or refused; the message names the file."""


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} is not allowed", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                fresh = key not in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader names that error itself
                fresh = True
            if not fresh:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml_file(path: Path) -> Any:
    """The parsed YAML in `path`; YamlFileError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a leading BOM is not content
    except FileNotFoundError:
        raise YamlFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise YamlFileError(f"{path}: is a folder, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise YamlFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{path}: not valid YAML ({exc})") from None
    except RecursionError:
        raise YamlFileError(f"{path}: nested too deeply to read") from None

"""YAML parsing that remembers where every node came from (line and column, 1-based).

PyYAML's safe composer builds the node tree; we turn it into plain JSON data ourselves so
that each value's path maps to its position, duplicate keys are refused (PyYAML would
silently keep the last one) and only JSON types are accepted (no dates, no binary).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

__all__ = ["Located", "Path", "YamlProblem", "format_path", "parse_located"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlProblem(Exception):
    line: int
    column: int
    path: Path
    message: str


@dataclass(frozen=True)
class Located:
    data: object
    #: path -> (line, column) of the value; ("key", path) entries hold the key's position.
    positions: dict[Path, tuple[int, int]]
    key_positions: dict[Path, tuple[int, int]]

    def position(self, path: Path) -> tuple[int, int]:
        """The position of ``path``, or of its nearest ancestor that has one."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def key_position(self, path: Path) -> tuple[int, int]:
        return self.key_positions.get(path) or self.position(path)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(document)"


_JSON_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse_located(text: str) -> Located:
    """Parse one YAML document; raises :class:`YamlProblem` with the position."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise YamlProblem(line, column, (), f"YAML syntax: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, (), f"YAML: {exc}") from exc
    positions: dict[Path, tuple[int, int]] = {}
    keys: dict[Path, tuple[int, int]] = {}
    constructor = yaml.SafeLoader("")

    seen: set[int] = set()

    def walk(node: yaml.Node, path: Path) -> object:
        positions[path] = _pos(node)
        if id(node) in seen:  # an alias: refused, so no recursion and no "billion laughs"
            line, column = _pos(node)
            raise YamlProblem(line, column, path, "anchors and aliases are not supported")
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            out: dict[str, object] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != (
                    "tag:yaml.org,2002:str"
                ):
                    line, column = _pos(key_node)
                    raise YamlProblem(line, column, path, "keys must be strings")
                key = str(key_node.value)
                if key in out:
                    line, column = _pos(key_node)
                    raise YamlProblem(line, column, (*path, key), f"duplicate key {key!r}")
                keys[(*path, key)] = _pos(key_node)
                out[key] = walk(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [walk(item, (*path, i)) for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            # YAML 1.2 semantics: yes/no/on/off stay strings (deny_countries: [NO] is Norway).
            return str(node.value)
        if node.tag not in _JSON_TAGS:
            line, column = _pos(node)
            raise YamlProblem(line, column, path, f"unsupported value type {node.tag}")
        return constructor.construct_object(node)

    if root is None:
        return Located({}, {(): (1, 1)}, {})
    return Located(walk(root, ()), positions, keys)

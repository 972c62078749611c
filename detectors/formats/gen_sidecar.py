"""Generator sidecars: a JSON or text file written next to a frame by the tool that generated it.

Why: nodes that save EXR/TIFF carry no metadata chunk, so ComfyUI savers put the graph in a JSON
file beside the frame (ComfyUI-HQ-Image-Save ``write_workflow``: ``<frame>_api.json`` =
``json.dumps(prompt, indent=2)``, ``<frame>_ui.json`` = the UI workflow; ComfyUI-Image-Saver
``save_json``: ``<name>.json`` = ``json.dump(workflow)``), and AUTOMATIC1111/Forge write the PNG
``parameters`` infotext to ``<name>.txt`` (``images.save_image`` with ``save_txt``). A delivery
that ships those beside clean-looking frames must not pass.

Recognition is by content, never by name: a JSON document is a sidecar when it *holds* a ComfyUI
graph (API format ``{"3": {"class_type": ..., "inputs": {...}}}`` or UI format ``{"nodes": [...],
"links": [...], "last_node_id": ...}``), anywhere in it (wrapped in ``{"prompt": ..., "workflow":
...}``, a list, or a JSON string); a text is a candidate when it holds an infotext ``Steps:`` line.
What was found becomes canonical fields that the rule pack judges like the PNG chunks:

- ``sidecar:comfyui:prompt``    a ComfyUI API graph (as the PNG ``prompt`` chunk)
- ``sidecar:comfyui:workflow``  a ComfyUI UI workflow (as the PNG ``workflow`` chunk)
- ``sidecar:a1111:parameters``  the text of an infotext candidate (as PNG ``parameters``)

Bounded: the caller reads at most ``MAX_BYTES``; JSON nesting deeper than Python's recursion
guard or ``MAX_DEPTH``, more than ``MAX_VALUES`` values and embedded JSON strings past
``EMBEDDED_BUDGET`` characters are not walked. Fail closed where it matters: a file that is not
valid JSON or too deep, yet carries ComfyUI graph keys, is a *problem* (the scan reports it as
an error) rather than "not a sidecar"; an ordinary JSON or text is simply not one. Any JSON or
text larger than ``MAX_BYTES`` is a problem too ("could not be checked in full"): a graph or an
infotext can sit past the part that was read, so "no graph keys in the first 16 MiB" proves
nothing about the file.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable
from typing import Any

from detectors.formats.native import Collector

MAX_BYTES = 16 * 1024 * 1024  # the rule pack's JSON limit: a larger graph could not be judged
MAX_DEPTH = 64  # real graphs nest < 20 (subgraph definitions included)
MAX_VALUES = 500_000  # JSON values one file may make us visit
MAX_DOCS = 16  # concatenated documents (HQ-Image-Save writes one per extra_pnginfo key)
MAX_GRAPHS = 16  # graphs reported per file
EMBEDDED_BUDGET = MAX_BYTES  # characters of JSON-in-a-string parsed per file

PROMPT = "sidecar:comfyui:prompt"
WORKFLOW = "sidecar:comfyui:workflow"
PARAMETERS = "sidecar:a1111:parameters"

# Keys only a ComfyUI graph has (a config that merely says "nodes" or "inputs" is not one).
GRAPH_TOKENS = ('"class_type"', '"last_node_id"', '"widgets_values"', '"Node name for S&R"')
INFOTEXT_TOKEN = "Steps: "
_SPACE = re.compile(r"[ \t\r\n]*")


def decode(data: bytes) -> str:
    """Text of a sidecar: UTF-8 (BOM dropped); a stray invalid byte must not hide a graph."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace")


def has_graph_tokens(text: str) -> bool:
    return any(t in text for t in GRAPH_TOKENS)


def looks_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def parse_sidecar(data: bytes, size: int, where: str) -> Collector:
    """Fields for a sidecar whose first ``len(data)`` of ``size`` bytes are ``data``.

    ``out.facts``: ``graphs`` (ComfyUI graphs recognised by structure: the rule pack must
    judge each), ``kind`` (``"json"``, ``"text"``), ``bytes_read``."""
    out = Collector()
    out.facts.update(graphs=0, bytes_read=len(data))
    text = decode(data)
    whole = len(data) >= size
    if looks_json(text):
        out.facts["kind"] = "json"
        if not whole:
            _too_large(text, size, where, out)
            return out
        _json_sidecar(text, where, out)
        return out
    out.facts["kind"] = "text"
    if INFOTEXT_TOKEN in text:
        # the rule pack decides (an EDL saying "Steps: 3" is no infotext)
        out.add(PARAMETERS, text.rstrip("\r\n"), f"{where} (text)")
    if not whole:
        out.problem(f"{where}: {size}-byte text is over the {MAX_BYTES}-byte sidecar limit: "
                    f"could not be checked in full (only the first {len(data)} bytes were "
                    "checked for an infotext)")
    return out


def _too_large(text: str, size: int, where: str, out: Collector) -> None:
    """A JSON over the limit is never "not a sidecar": its graph can sit past what was read."""
    if has_graph_tokens(text):
        out.problem(f"{where}: {size}-byte JSON holds ComfyUI graph keys but is over the "
                    f"{MAX_BYTES}-byte sidecar limit; not judged")
    else:
        out.problem(f"{where}: {size}-byte JSON is over the {MAX_BYTES}-byte sidecar limit: "
                    f"could not be checked in full (its first {len(text)} characters hold no "
                    "ComfyUI graph keys)")


def _json_sidecar(text: str, where: str, out: Collector) -> None:
    """Every document in ``text`` (one, or several written back to back), walked for graphs."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    docs = 0
    state = _Walk(where, out)
    failure = ""
    while pos < len(text) and docs < MAX_DOCS:
        try:
            doc, end = decoder.raw_decode(text, pos)
        except RecursionError:
            failure = "nested too deeply to parse"
            break
        except ValueError as exc:
            failure = f"not valid JSON ({str(exc)[:120]})"
            break
        docs += 1
        state.walk(doc, text[pos:end])
        pos = _skip_space(text, end)
    rest = text[pos:]
    if failure:
        if has_graph_tokens(rest):
            out.problem(f"{where}: holds ComfyUI graph keys but is {failure}; not judged")
        elif docs == 0:
            out.note(f"{where}: {failure}: not a generator sidecar")
    elif rest and has_graph_tokens(rest):
        out.problem(f"{where}: more than {MAX_DOCS} JSON documents; the rest holds ComfyUI graph "
                    "keys and was not judged")
    if state.exhausted and out.facts["graphs"] == 0 and has_graph_tokens(text):
        out.problem(f"{where}: holds ComfyUI graph keys beyond what one sidecar may make us walk "
                    f"({state.exhausted}); not judged")
    elif state.exhausted:
        out.note(f"{where}: walk stopped: {state.exhausted}")


class _Walk:
    """Breadth-first search of parsed JSON for ComfyUI graphs (shallow graphs first), bounded in
    values visited, depth and embedded JSON strings; iterative, so no nesting recurses here."""

    def __init__(self, where: str, out: Collector) -> None:
        self.where = where
        self.out = out
        self.values = 0
        self.embedded_left = EMBEDDED_BUDGET
        self.exhausted = ""

    def walk(self, doc: Any, source: str | None) -> None:
        # queue items: (value, depth, path link, original text of the value if known)
        queue: deque[tuple[Any, int, tuple[Any, ...] | None, str | None]] = deque()
        queue.append((doc, 0, None, source))
        while queue:
            node, depth, link, raw = queue.popleft()
            self.values += 1
            if self.values > MAX_VALUES:
                self.exhausted = f"more than {MAX_VALUES} JSON values"
                return
            children: Iterable[tuple[Any, Any]]
            if isinstance(node, dict):
                key = _graph_key(node)
                if key is not None:
                    self._found(key, node, link, raw)
                    continue  # a graph's own subgraphs are part of it
                children = node.items()
            elif isinstance(node, list):
                children = enumerate(node)
            elif isinstance(node, str):
                self._embedded(node, depth, link, queue)
                continue
            else:
                continue
            if depth >= MAX_DEPTH:
                if node:
                    self.exhausted = f"JSON nested deeper than {MAX_DEPTH} levels"
                continue
            for k, child in children:
                if isinstance(child, (dict, list)) or (isinstance(child, str) and len(child) > 16):
                    queue.append((child, depth + 1, (link, k), None))

    def _embedded(self, value: str, depth: int, link: tuple[Any, ...] | None,
                  queue: deque[tuple[Any, int, tuple[Any, ...] | None, str | None]]) -> None:
        """A graph saved as a JSON string inside JSON (``{"prompt": "{\\"3\\": ...}"}``)."""
        if not looks_json(value) or not has_graph_tokens(value):
            return
        if len(value) > self.embedded_left:
            self.exhausted = f"more than {EMBEDDED_BUDGET} characters of JSON inside strings"
            return
        self.embedded_left -= len(value)
        try:
            doc = json.loads(value)
        except (ValueError, RecursionError):
            self.out.problem(f"{self.where} at {_path(link)}: a string holds ComfyUI graph keys "
                             "but is not valid JSON; not judged")
            return
        queue.append((doc, depth + 1, link, value))

    def _found(self, key: str, node: dict[str, Any], link: tuple[Any, ...] | None,
               raw: str | None) -> None:
        if self.out.facts["graphs"] >= MAX_GRAPHS:
            self.exhausted = f"more than {MAX_GRAPHS} graphs"
            return
        self.out.facts["graphs"] += 1
        value = raw.strip() if raw is not None else json.dumps(node, ensure_ascii=False)
        self.out.add(key, value, f"{self.where} at {_path(link)}")


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _graph_key(node: dict[str, Any]) -> str | None:
    """The field key for a dict that *is* a ComfyUI graph, else None.

    Deliberately no looser than the rule pack's matchers (``meta.comfyui.prompt`` wants a node
    with ``class_type`` and ``inputs``; ``meta.comfyui.workflow`` wants ``nodes`` and one of
    ``last_node_id``/``links``/``version``): whatever is recognised here, a rule must judge."""
    nodes = node.get("nodes")
    if isinstance(nodes, list) and ("last_node_id" in node or "links" in node
                                    or "version" in node):
        # LiteGraph serialises every node with id, type and canvas position; another tool's
        # node graph ({"nodes": [{"id": "Read1", "type": "Read"}]}) is not a ComfyUI workflow
        if any(isinstance(n, dict) and "id" in n and isinstance(n.get("type"), str)
               and "pos" in n for n in nodes):
            return WORKFLOW
    for value in node.values():
        if (isinstance(value, dict) and isinstance(value.get("class_type"), str)
                and isinstance(value.get("inputs"), dict)):
            return PROMPT
    return None


def _path(link: tuple[Any, ...] | None) -> str:
    """``$``-rooted path of a value from its parent links (built only for what is reported)."""
    parts: list[str] = []
    while link is not None:
        link, key = link
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return "$" + "".join(reversed(parts))

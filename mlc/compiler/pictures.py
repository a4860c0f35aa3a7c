"""``pydotprint``: a picture of a graph through Graphviz. Apply nodes are boxes (fused
kernels filled, in-place nodes with a red border, device transfers as hexagons, loops as
double boxes), variables are ellipses (inputs green, shared variables teal, constants grey,
outputs blue); an edge names the input position when a node has several.

Graphviz's ``dot`` program draws it: ``apt-get install graphviz`` (Debian, Ubuntu),
``brew install graphviz`` (macOS), ``conda install graphviz``. ``format="dot"`` writes the
Graphviz text itself and needs nothing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from .graph import Constant, Variable, toposort

INSTALL = ("pydotprint needs Graphviz's `dot` program, which was not found on PATH: install it with "
           "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
           "`conda install graphviz`, or pass format='dot' to write the graph as Graphviz text")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node_style(op: Any) -> str:
    name = type(op).__name__
    if name in ("ToDevice", "ToHost"):
        return "shape=hexagon, style=filled, fillcolor=orange"
    if hasattr(op, "inner_outputs"):
        return "shape=box, peripheries=2, style=filled, fillcolor=lightyellow"
    style = ["shape=box"]
    fused = "Composite" in str(op) or name.startswith("Fused")
    if fused:
        style.append("style=filled, fillcolor=lightblue")
    if getattr(op, "destroy_map", None):
        style.append("color=red, penwidth=2")
    return ", ".join(style)


def dot_source(obj: Any, with_ids: bool = False) -> str:
    """The Graphviz text for a compiled function (its rewritten graph), a variable or a list."""
    from .sharedvalue import SharedVariable
    if hasattr(obj, "maker"):
        outputs, inputs = obj.maker.fgraph.outputs, obj.maker.fgraph.inputs
    else:
        outputs = [obj] if isinstance(obj, Variable) else list(obj)
        inputs = []
    ids: dict[int, str] = {}

    def ident(x: Any) -> str:
        return ids.setdefault(id(x), f"n{len(ids)}")

    lines = ["digraph mlc {", "  rankdir=TB;"]

    def variable(v: Variable) -> str:
        key = ident(v)
        label = str(v) if v.name or v.owner is None else str(v.type)
        if isinstance(v, Constant):
            color = "grey"
        elif isinstance(v, SharedVariable):
            color = "cadetblue1"
        elif v.owner is None or v in inputs:
            color = "palegreen"
        elif v in outputs:
            color = "skyblue"
        else:
            return key
        lines.append(f"  {key} [label={_quote(label + (' ' + key if with_ids else ''))}, shape=ellipse, "
                     f"style=filled, fillcolor={color}];")
        return key

    for node in toposort(outputs):
        n = ident(node)
        lines.append(f"  {n} [label={_quote(str(node.op) + (' ' + n if with_ids else ''))}, {_node_style(node.op)}];")
        for k, v in enumerate(node.inputs):
            source = ident(v.owner) if v.owner is not None else variable(v)
            label = f" [label={k}]" if len(node.inputs) > 1 else ""
            lines.append(f"  {source} -> {n}{label};")
    for k, out in enumerate(outputs):
        key = variable(out) if out.owner is None else f"out{k}"
        if out.owner is not None:
            lines.append(f"  {key} [label={_quote(str(out.type))}, shape=ellipse, style=filled, fillcolor=skyblue];")
            lines.append(f"  {ident(out.owner)} -> {key};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def pydotprint(fct: Any, outfile: str | None = None, compact: bool = True, format: str = "png",  # noqa: A002
               with_ids: bool = False, high_contrast: bool = True, cond_highlight: Any = None,
               colorCodes: Any = None, max_label_size: int = 70, scan_graphs: bool = False,
               var_with_name_simple: bool = False, print_output_file: bool = True,
               return_image: bool = False) -> Any:
    """Write a picture of ``fct`` (a compiled function, a variable or a list) to ``outfile``
    (default ``mlc.pydotprint.<format>`` in the working directory); ``return_image=True``
    returns the image bytes instead."""
    source = dot_source(fct, with_ids)
    outfile = outfile or f"mlc.pydotprint.{format}"
    if format == "dot":
        data = source.encode()
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(INSTALL)
        done = subprocess.run([dot, f"-T{format}"], input=source.encode(), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"pydotprint: Graphviz's dot failed for format {format!r}: "
                               f"{done.stderr.decode(errors='replace').strip()[:500]}")
        data = done.stdout
    if return_image:
        return data
    with open(outfile, "wb") as f:
        f.write(data)
    if print_output_file:
        print(f"The output file is available at {os.path.abspath(outfile)}")
    return None

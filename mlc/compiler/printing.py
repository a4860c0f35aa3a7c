"""Looking at graphs: ``debugprint`` (an indented tree with ids), ``pp``/``pprint`` (infix
math), ``Print`` (prints a value when the graph runs) and ``pydotprint`` (a picture)."""
from __future__ import annotations

import string
import sys
from typing import Any

import numpy as np

from .graph import Apply, Constant, Op, Variable

_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//", "mod": "%",
          "pow": "**", "eq": "==", "neq": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
          "and_": "&", "or_": "|", "xor": "^"}


def _ident(n: int) -> str:
    letters = string.ascii_uppercase
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = letters[r] + out
    return out


def _node_label(node) -> str:
    describe = getattr(node.op, "describe", None)
    return describe() if describe else str(node.op)


def debugprint(obj: Any, file: Any = None, print_type: bool = False, depth: int = -1) -> str | None:
    """Print the graph of a variable, a list of variables, or a compiled function (its
    rewritten graph). ``file='str'`` returns the text instead of printing it."""
    if hasattr(obj, "maker"):
        outputs = obj.maker.fgraph.outputs
    elif isinstance(obj, Variable):
        outputs = [obj]
    else:
        outputs = list(obj)
    ids: dict[int, str] = {}
    done: set[int] = set()
    lines: list[str] = []

    def ident(v: Variable) -> str:
        key = id(v.owner) if v.owner is not None else id(v)
        if key not in ids:
            ids[key] = _ident(len(ids))
        return ids[key]

    def visit(v: Variable, prefix: str, level: int) -> None:
        typ = f" <{v.type}>" if print_type else ""
        if v.owner is None:
            lines.append(f"{prefix}{v} [id {ident(v)}]{typ}")
            return
        node = v.owner
        out = f".{v.index}" if len(node.outputs) > 1 else ""
        name = f" '{v.name}'" if v.name else ""
        seen = id(node) in done
        lines.append(f"{prefix}{_node_label(node)}{out} [id {ident(v)}]{name}{typ}{' (seen above)' if seen else ''}")
        if seen or level == depth:
            return
        done.add(id(node))
        child = prefix.replace("|", " ").replace("-", " ") + " |"
        for inp in node.inputs:
            visit(inp, child if prefix else " |", level + 1)

    for out in outputs:
        visit(out, "", 0)
    compiled = hasattr(obj, "maker")
    inner_ops = list(dict.fromkeys(n.op for n in _nodes(outputs) if hasattr(n.op, "inner_outputs")))
    if inner_ops:
        lines.append("")
        lines.append("Inner graphs:")
    for op in inner_ops:
        # of a compiled function: the inner graph as rewritten and compiled (fused kernels shown)
        inner = op.compiled().function.maker.fgraph.outputs if compiled else op.inner_outputs
        lines.append("")
        lines.append(f"{op}")
        for out in inner:
            visit(out, " >", 0)
    text = "\n".join(lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return None


def _nodes(outputs: list) -> list:
    from .graph import toposort
    return toposort(outputs)


def pp(var: Variable) -> str:
    """A one-line infix rendering: ``pp(x * 2 + y)`` gives ``((x * 2) + y)``."""
    if isinstance(var, Constant):
        data = var.data
        return str(data.item() if isinstance(data, np.ndarray) and data.size == 1 else data)
    if var.owner is None:
        return var.name or f"<{var.type}>"
    node = var.owner
    if type(node.op).__name__ == "DimShuffle" and isinstance(node.inputs[0], Constant):
        return pp(node.inputs[0])  # a broadcast constant reads as the constant
    args = [pp(i) for i in node.inputs]
    scalar = getattr(node.op, "scalar_op", None)
    name = getattr(scalar, "name", None)
    if name in _INFIX:
        return "(" + f" {_INFIX[name]} ".join(args) + ")"
    if name == "neg":
        return f"-{args[0]}"
    if name is not None:
        return f"{name}({', '.join(args)})"
    label = type(node.op).__name__ if not getattr(node.op, "__props__", ()) else str(node.op)
    suffix = f"[{var.index}]" if len(node.outputs) > 1 else ""
    return f"{label}({', '.join(args)}){suffix}"


pprint = pp


class Print(Op):
    """Identity that prints its value when the graph runs: ``Print("h")(h)`` prints
    ``h __str__ = [...]`` each call (``attrs`` names what to print: ``("shape", "__str__")``).
    Gradients pass through it; the rewriter keeps it."""

    __props__ = ("message", "attrs")
    view_map = {0: [0]}

    def __init__(self, message: str = "", attrs: tuple = ("__str__",), global_fn: Any = None) -> None:
        self.message, self.attrs = message, tuple(attrs)
        self.global_fn = global_fn

    def make_node(self, x: Any) -> Apply:
        from .tensor.basic import as_tensor_variable
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        value = inputs[0]
        output_storage[0][0] = value
        if self.global_fn is not None:
            self.global_fn(self, value)
            return
        for attr in self.attrs:
            shown = getattr(value, attr)
            print(self.message, attr, "=", shown() if callable(shown) else shown)

    def infer_shape(self, node, input_shapes):
        return input_shapes

    def grad(self, inputs, output_grads):
        return output_grads


from .pictures import pydotprint  # noqa: E402

__all__ = ["debugprint", "pp", "pprint", "Print", "pydotprint"]

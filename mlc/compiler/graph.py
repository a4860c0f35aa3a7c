"""The symbolic graph: ``Variable``, ``Constant``, ``Apply`` and the ``Op`` contract.

A graph is immutable once built. Every ``Apply`` records the line of user code that
created it, so run-time errors and rewritten nodes can point back at it.
"""
from __future__ import annotations

import itertools
import linecache
import os
import sys
from types import SimpleNamespace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

_MLC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ids = itertools.count()


class Tag(SimpleNamespace):
    """Free-form annotations of a variable or node (``trace``, ``test_value``, ...)."""


def user_frame() -> tuple[str, int, str] | None:
    """The innermost stack frame outside the mlc package: where the user built something."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_MLC_DIR) and not filename.startswith("<frozen"):
            return (filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


def format_trace(trace: tuple[str, int, str] | None) -> str:
    """``File "x.py", line 3, in f: <source line>`` for a recorded creation site."""
    if not trace:
        return "(creation site unknown)"
    filename, lineno, func = trace
    line = linecache.getline(filename, lineno).strip()
    return f'File "{filename}", line {lineno}, in {func}' + (f": {line}" if line else "")


class Variable:
    """A symbolic value: the ``index``-th output of ``owner`` (an Apply), or a graph input."""

    def __init__(self, type, owner: "Apply | None" = None, index: int | None = None,
                 name: str | None = None) -> None:
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.tag = Tag()
        self.auto_name = f"v{next(_ids)}"

    def clone(self) -> "Variable":
        """A new unowned variable of the same type and name."""
        var = type(self)(self.type, None, None, self.name)
        var.tag = Tag(**vars(self.tag))
        return var

    def eval(self, inputs_to_values: Mapping["Variable", Any] | None = None) -> Any:
        """This variable's value, given a value for each input it needs: compiled once per set
        of inputs, then cached on the variable.

        >>> import mlc.compiler.tensor as T
        >>> x = T.dscalar("x")
        >>> float((x * 2).eval({x: 3.0}))
        6.0
        """
        from .function import function
        values = dict(inputs_to_values or {})
        inputs = tuple(sorted(values, key=id))
        cache = self.__dict__.setdefault("_eval_cache", {})
        if inputs not in cache:
            cache[inputs] = function(list(inputs), self, on_unused_input="ignore")
        return cache[inputs](*[values[v] for v in inputs])

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_eval_cache"}

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = str(self.owner.op)
            return op + ".out" if len(self.owner.outputs) == 1 else f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self) -> str:
        return str(self)


class Constant(Variable):
    """A variable with a fixed value known at graph-build time."""

    def __init__(self, type, data: Any, name: str | None = None) -> None:
        super().__init__(type, None, None, name)
        self.data = type.filter(data, allow_downcast=True)
        if isinstance(self.data, np.ndarray):
            self.data.setflags(write=False)

    def signature(self) -> tuple:
        """Hashable identity of the constant's value, for merging equal constants."""
        d = self.data
        if isinstance(d, np.ndarray):
            return (self.type, d.shape, d.tobytes())
        return (self.type, repr(d))

    def clone(self) -> "Constant":
        return type(self)(self.type, self.data, self.name)

    def __str__(self) -> str:
        if self.name is not None:
            return self.name
        d = self.data
        if isinstance(d, np.ndarray) and d.size <= 8:
            return str(d.tolist())
        return f"Constant{{{self.type}}}"


class Apply:
    """One application of an ``op`` to ``inputs``, producing ``outputs``."""

    def __init__(self, op: "Op", inputs: Sequence[Variable], outputs: Sequence[Variable],
                 trace: tuple[str, int, str] | None = None) -> None:
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            if out.owner is not None and out.owner is not self:
                raise ValueError(f"output {i} of {op} already belongs to another node")
            out.owner, out.index = self, i
        self.tag = Tag(trace=trace if trace is not None else user_frame())

    @property
    def out(self) -> Variable:
        return self.outputs[0]

    def clone_with_new_inputs(self, inputs: Sequence[Variable]) -> "Apply":
        """The same op on new inputs; types are re-inferred when an input type changed."""
        if all(a.type == b.type for a, b in zip(inputs, self.inputs)):
            node = Apply(self.op, inputs, [o.clone() for o in self.outputs], trace=self.tag.trace)
        else:
            node = self.op.make_node(*inputs)
            node.tag.trace = self.tag.trace
        for old, new in zip(self.outputs, node.outputs):
            new.name = old.name
        return node

    def __str__(self) -> str:
        return f"{self.op}({', '.join(map(str, self.inputs))})"

    __repr__ = __str__


class Op:
    """An operation. Subclasses list their parameters in ``__props__`` and implement:

    - ``make_node(*inputs) -> Apply``: checks inputs and infers output types;
    - ``perform(node, inputs, output_storage)``: the NumPy reference; writes
      ``output_storage[i][0]``;
    - ``grad(inputs, output_grads) -> list``: symbolic gradients (``None`` where an
      input is not differentiable or not connected);
    - ``infer_shape(node, input_shapes) -> list`` of output shapes (tuples of symbolic scalars).

    ``view_map`` / ``destroy_map`` map an output index to the input indices it aliases or
    overwrites.
    """

    __props__: tuple[str, ...] = ()
    view_map: dict[int, list[int]] = {}
    destroy_map: dict[int, list[int]] = {}

    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        props = self._props()
        name = type(self).__name__
        return f"{name}{{{', '.join(map(str, props))}}}" if props else name

    __repr__ = __str__

    def __call__(self, *inputs: Any) -> Any:
        node = self.make_node(*inputs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError

    def perform(self, node: Apply, inputs: list, output_storage: list) -> None:
        raise NotImplementedError(f"{self} has no perform")

    def grad(self, inputs: list, output_grads: list) -> list:
        raise NotImplementedError(f"{self} has no gradient")

    def L_op(self, inputs: list, outputs: list, output_grads: list) -> list:
        """Gradients given the node's own outputs too (override when the rule reuses them)."""
        return self.grad(inputs, output_grads)

    def infer_shape(self, node: Apply, input_shapes: list) -> list:
        raise NotImplementedError(f"{self} has no shape inference")


def toposort(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Apply]:
    """Apply nodes needed for ``outputs``, each after the nodes it depends on.

    Traversal does not go past the variables in ``stop`` (a set is used as it is: a
    graph's own set of variables costs nothing to pass).
    """
    order: list[Apply] = []
    seen: set[Apply] = set()  # variables and nodes hash and compare by identity
    if not isinstance(stop, (set, frozenset)):
        stop = set(stop)
    stack: list[tuple[Apply, bool]] = [(v.owner, False) for v in reversed(list(outputs))
                                      if v.owner is not None and v not in stop]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for inp in reversed(node.inputs):
            owner = inp.owner
            if owner is not None and owner not in seen and inp not in stop:
                stack.append((owner, False))
    return order


def ancestors(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """All variables that ``outputs`` depend on, ``outputs`` included."""
    outputs = list(outputs)
    result = {id(v): v for v in outputs}
    for node in toposort(outputs, stop):
        for v in node.inputs + node.outputs:
            result.setdefault(id(v), v)
    return list(result.values())


def graph_inputs(outputs: Iterable[Variable], stop: Iterable[Variable] = ()) -> list[Variable]:
    """The ownerless variables (inputs, shared variables, constants) ``outputs`` depend on."""
    stop_ids = {id(v) for v in stop}
    return [v for v in ancestors(outputs, stop) if v.owner is None or id(v) in stop_ids]


def clone_replace(outputs: Sequence[Variable], replace: Mapping[Variable, Variable] | None = None
                  ) -> list[Variable]:
    """Rebuild the graph of ``outputs`` with each key of ``replace`` substituted by its value."""
    memo: dict[int, Variable] = {id(k): v for k, v in (replace or {}).items()}
    for node in toposort(outputs, stop=[k for k in (replace or {})]):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if any(a is not b for a, b in zip(new_inputs, node.inputs)):
            new_node = node.clone_with_new_inputs(new_inputs)
            for old, new in zip(node.outputs, new_node.outputs):
                memo[id(old)] = new
    return [memo.get(id(o), o) for o in outputs]


def clone(output: Variable | Sequence[Variable], replace: Any = None, strict: bool = True,
          share_inputs: bool = True) -> Any:
    """Theano's ``theano.clone``: ``output`` (one variable or a list) rebuilt with each key of
    ``replace`` (a dict or pairs) substituted by its value."""
    pairs = dict(replace.items() if isinstance(replace, Mapping) else (replace or []))
    if not strict:
        from .tensor.basic import as_tensor_variable
        pairs = {k: v if isinstance(v, Variable) else as_tensor_variable(v) for k, v in pairs.items()}
    if isinstance(output, Variable):
        return clone_replace([output], pairs)[0]
    return clone_replace(list(output), pairs)


def is_same_graph(a: Variable, b: Variable) -> bool:
    """Structural equality of two graphs (same ops on equal inputs)."""
    memo: dict[tuple[int, int], bool] = {}

    def same(x: Variable, y: Variable) -> bool:
        if x is y:
            return True
        key = (id(x), id(y))
        if key not in memo:
            if isinstance(x, Constant) and isinstance(y, Constant):
                memo[key] = x.signature() == y.signature()
            elif x.owner is None or y.owner is None:
                memo[key] = False
            else:
                memo[key] = (x.index == y.index and x.owner.op == y.owner.op
                             and len(x.owner.inputs) == len(y.owner.inputs)
                             and all(same(p, q) for p, q in zip(x.owner.inputs, y.owner.inputs)))
        return memo[key]
    return same(a, b)

"""What every device backend shares: which nodes go to the device, placement, and thunks
(``thunks``) written once against a small API that each backend supplies:

- memory: ``allocate(shape, dtype)``, ``to_device(array)``, ``to_host(value)`` (views
  too), ``owns(value)`` (a device array of this backend), ``view(x, shape, strides)``;
- code: ``compile(program)`` (a loaded module), ``kernel(module, name)`` (a launcher called
  as ``launch(global_size, local_size, *args)``), ``buffer(array)`` (a kernel argument for
  an array), ``int64(values)`` (a small read-only device array);
- optional: ``dense_product`` (a vendor BLAS);
- limits: ``max_local`` (work-group size), ``fp64`` (float64 support).
"""
from __future__ import annotations

from typing import Any, Callable

from ...codegen import Program, render_nodes, renderer_for
from ...codegen.lower import kernel_for
from ...fgraph import FunctionGraph
from ...graph import Apply
from ...ops.conv import Conv2dGradInputs, Conv2dGradWeights
from ...ops.elemwise import DimShuffle
from ...ops.nnet import SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad
from ...ops.shape import Reshape, Shape
from ..placement import place


class DeviceUnavailable(RuntimeError):
    """The configured device cannot be used (the message says why)."""


class DeviceBackend:
    target = ""
    max_local = 256
    fp64 = True

    def __init__(self, device: str) -> None:
        self.device = device
        self.renderer = renderer_for(self.target)
        self._modules: dict[str, Any] = {}

    def contiguous(self, array: Any) -> Any:
        """``array``, or a C-contiguous copy of a view (for kernels that index it flat; views
        come only from dimshuffles, so this copy is rare)."""
        return array if array.flags.c_contiguous else self.to_device(self.to_host(array))

    def dense_product(self, alpha: Any, x: Any, y: Any, beta: Any, z: Any, out: Any) -> bool:
        """``out = alpha x @ y + beta z`` (``z`` None for a plain product) through a vendor
        BLAS; False when the backend has none for these operands (the tiled kernel runs)."""
        return False

    def build(self, program: Program) -> Any:
        """The loaded module of ``program`` (built once per backend)."""
        module = self._modules.get(program.source)
        if module is None:
            module = self._modules[program.source] = self.compile(program)
        return module

    def supports(self, node: Apply) -> bool:
        from .conv import bn_supported, conv_supported, pool_supported
        from .indexing import adds_at_pairs, takes_pairs, takes_rows
        from .thunks import along_rows, gemm_supported
        if isinstance(node.op, DimShuffle):
            return True  # a view
        if conv_supported(node) and self.max_local < 256:
            return False  # the tiled GEMM needs work-groups of 256
        if conv_supported(node) or pool_supported(node) or bn_supported(node) or takes_rows(node) or takes_pairs(node) or adds_at_pairs(node) \
                or along_rows(node) or (gemm_supported(node) and self.max_local >= 256) or (
                isinstance(node.op, (SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad))
                and node.outputs[0].dtype.startswith("float")):
            dtypes = (node.outputs[0].dtype,)
        else:
            kernel = kernel_for(node, self.renderer)
            if kernel is None:
                return False
            dtypes = kernel.input_dtypes + (kernel.out_dtype, kernel.acc_dtype or "bool")
        return self.fp64 or "float64" not in dtypes

    def where(self, node: Apply) -> tuple | None:
        """Where ``node`` runs and where its inputs and outputs live (see ``placement``)."""
        n_in, n_out = len(node.inputs), len(node.outputs)
        from .thunks import random_supported
        if isinstance(node.op, Shape):
            return ["any"], ["host"], False  # a device array knows its shape: no copy
        if isinstance(node.op, (Conv2dGradInputs, Conv2dGradWeights)) and self.supports(node):
            return ["device", "device", "host"], ["device"], True  # the shape argument is read on the host
        if isinstance(node.op, Reshape):
            return ["device", "host"], ["device"], True
        if random_supported(node) and self.fp64:  # the generator and the parameters stay on the host
            return ["host"] * n_in, ["host", "device"], True
        if self.supports(node):
            return ["device"] * n_in, ["device"] * n_out, True
        return None

    def prepare(self) -> None:
        from ..cpu import CPU
        CPU.prepare()  # the host's nodes are compiled as C

    def place(self, fgraph: FunctionGraph) -> FunctionGraph:
        return place(fgraph, self.device, self.where)

    def thunk_maker(self, fgraph: FunctionGraph, mode: Any) -> Callable[[Apply, list, list], Any]:
        from ..cpu import CPU
        from .thunks import REGISTRY, DeviceContext
        device_nodes = getattr(fgraph, "device_nodes", set())
        nodes = fgraph.toposort()
        host = CPU.thunk_maker(fgraph, mode, [n for n in nodes if n not in device_nodes])
        program, kernels = render_nodes([n for n in nodes if n in device_nodes], self.renderer)
        context = DeviceContext(self, self.build(program) if kernels else None, kernels)

        def make_thunk(node: Apply, ins: list, outs: list) -> Any:
            if node not in device_nodes:
                return host(node, ins, outs)
            return REGISTRY.lookup(node.op)(node, ins, outs, context)
        return make_thunk

"""The OpenCL backend (pyopencl): loop kernels from ``codegen.gpu.OpenCLRenderer`` run on
any OpenCL device (GPUs of every vendor; PoCL on a CPU). Nodes it cannot run stay on the
host, with the CPU backend's thunks, behind explicit transfers (see ``placement``).

``opencl`` is the first device found, ``openclN`` the N-th, counting the devices of every
platform except Oclgrind's (a checking simulator, chosen only through ``MLC_OPENCL_PLATFORM``).
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ...codegen import Program, render_nodes, renderer_for
from ...codegen.lower import kernel_for
from ...fgraph import FunctionGraph
from ...graph import Apply
from ...ops.elemwise import DimShuffle
from ...ops.nnet import SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad
from ..placement import place


class DeviceUnavailable(RuntimeError):
    """The configured device cannot be used (the message says why)."""


def find_device(device: str) -> Any:
    """The pyopencl device ``openclN`` names, or ``DeviceUnavailable`` saying why not."""
    try:
        import pyopencl as cl
    except ImportError:
        raise DeviceUnavailable("pyopencl is not installed (pip install 'mlc[opencl]')") from None
    wanted = os.environ.get("MLC_OPENCL_PLATFORM", "").lower()
    try:
        platforms = cl.get_platforms()
    except cl.Error as err:
        raise DeviceUnavailable(f"no OpenCL platform ({err})") from None
    devices = [d for p in platforms
               if (wanted in p.name.lower() if wanted else "oclgrind" not in p.name.lower())
               for d in p.get_devices()]
    index = int(device[len("opencl"):] or 0)
    if index >= len(devices):
        found = ", ".join(f"opencl{k}: {d.name}" for k, d in enumerate(devices)) or "none"
        raise DeviceUnavailable(f"no OpenCL device {device} (found {found})")
    return devices[index]


class OpenCLBackend:
    target = "opencl"

    def __init__(self, device: str) -> None:
        import pyopencl as cl
        self.device = device
        self.cl_device = find_device(device)
        self.context = cl.Context([self.cl_device])
        self.queue = cl.CommandQueue(self.context)
        self.renderer = renderer_for("opencl")
        self.max_local = self.cl_device.max_work_group_size
        self._programs: dict[str, Any] = {}
        self.fp64 = "cl_khr_fp64" in self.cl_device.extensions

    # -- memory ----------------------------------------------------------------------
    def allocate(self, shape: tuple, dtype: str) -> Any:
        import pyopencl.array as cla
        return cla.empty(self.queue, shape, np.dtype(dtype))

    def to_device(self, array: Any) -> Any:
        import pyopencl.array as cla
        return cla.to_device(self.queue, np.require(array, requirements="C"))

    def to_host(self, value: Any) -> np.ndarray:
        return value.get() if hasattr(value, "get") else np.asarray(value)

    # -- programs and thunks -----------------------------------------------------------
    def build(self, program: Program) -> Any:
        import pyopencl as cl
        built = self._programs.get(program.source)
        if built is None:
            built = self._programs[program.source] = cl.Program(self.context, program.source).build()
        return built

    def supports(self, node: Apply) -> bool:
        from .thunks import along_rows, gemm_supported, takes_rows
        if isinstance(node.op, DimShuffle):
            return True  # a view
        if takes_rows(node) or along_rows(node) or (gemm_supported(node) and self.max_local >= 256) or (
                isinstance(node.op, (SoftmaxCrossentropy1Hot, SoftmaxCrossentropy1HotGrad))
                and node.outputs[0].dtype.startswith("float")):
            dtypes = (node.outputs[0].dtype,)
        else:
            kernel = kernel_for(node, self.renderer)
            if kernel is None:
                return False
            dtypes = kernel.input_dtypes + (kernel.out_dtype, kernel.acc_dtype or "bool")
        return self.fp64 or "float64" not in dtypes

    def place(self, fgraph: FunctionGraph) -> FunctionGraph:
        return place(fgraph, self.device, self.supports)

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

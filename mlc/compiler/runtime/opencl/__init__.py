"""The OpenCL backend (pyopencl): any OpenCL device (GPUs of every vendor; PoCL on a CPU).

``opencl`` is the first device found, ``openclN`` the N-th, counting the devices of every
platform except Oclgrind's (a checking simulator, chosen only through ``MLC_OPENCL_PLATFORM``).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...codegen import Program
from ..device import DeviceBackend, DeviceUnavailable


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


class OpenCLBackend(DeviceBackend):
    target = "opencl"

    def __init__(self, device: str) -> None:
        import pyopencl as cl
        super().__init__(device)
        self.cl_device = find_device(device)
        self.context = cl.Context([self.cl_device])
        self.queue = cl.CommandQueue(self.context)
        self.max_local = self.cl_device.max_work_group_size
        self.fp64 = "cl_khr_fp64" in self.cl_device.extensions
        self._dummy = cl.Buffer(self.context, cl.mem_flags.READ_WRITE, 8)

    # -- memory ----------------------------------------------------------------------
    def allocate(self, shape: tuple, dtype: str) -> Any:
        import pyopencl.array as cla
        return cla.empty(self.queue, shape, np.dtype(dtype))

    def to_device(self, array: Any) -> Any:
        import pyopencl.array as cla
        return cla.to_device(self.queue, np.require(array, requirements="C"))

    def to_host(self, value: Any) -> np.ndarray:
        return value.get() if hasattr(value, "get") else np.asarray(value)

    def owns(self, value: Any) -> bool:
        return getattr(value, "context", None) is self.context

    def view(self, x: Any, shape: tuple, strides: tuple) -> Any:
        import pyopencl.array as cla
        return cla.Array(self.queue, shape, x.dtype, strides=strides, data=x.base_data, offset=x.offset)

    # -- code --------------------------------------------------------------------------
    def compile(self, program: Program) -> Any:
        import pyopencl as cl
        return cl.Program(self.context, program.source).build()

    def kernel(self, module: Any, name: str) -> Any:
        import pyopencl as cl
        kernel, queue = cl.Kernel(module, name), self.queue  # each caller its own: a kernel holds its args

        def launch(global_size: tuple, local_size: tuple, *args: Any) -> None:
            kernel(queue, global_size, local_size, *args)
        return launch

    def buffer(self, array: Any) -> Any:
        if array.size == 0:  # OpenCL has no empty buffers; the kernel reads none of it
            return self._dummy
        return array.base_data if array.offset == 0 else array.data

    def int64(self, values: list) -> Any:
        import pyopencl as cl
        data = np.array(values or [0], dtype=np.int64).ravel()
        if not data.size:
            data = np.zeros(1, np.int64)
        return cl.Buffer(self.context, cl.mem_flags.READ_ONLY | cl.mem_flags.COPY_HOST_PTR, hostbuf=data)

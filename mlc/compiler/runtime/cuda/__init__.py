"""The CUDA backend (pycuda): kernels from ``codegen.gpu.CUDARenderer``, compiled to PTX by
``nvcc`` through the shared build cache (``toolchain``), loaded and launched with pycuda.
``cuda`` is device 0, ``cudaN`` device N. Dense products go through cuBLAS (``cublas``) when
libcublas loads, else through the tiled GEMM kernel that OpenCL uses too."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...codegen import Program
from ..device import DeviceBackend, DeviceUnavailable
from ..launch import cuda_grid
from . import cublas, toolchain


def find_device(device: str) -> Any:
    """The pycuda device ``cudaN`` names, or ``DeviceUnavailable`` saying why not."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise DeviceUnavailable("pycuda is not installed (pip install 'mlc[cuda]')") from None
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as err:  # noqa: BLE001  (pycuda raises its own error types)
        why = str(err).splitlines()[0] if str(err) else repr(err)
        raise DeviceUnavailable(f"no CUDA driver ({why})") from None
    index = int(device[len("cuda"):] or 0)
    if index >= count:
        found = ", ".join(f"cuda{k}: {cuda.Device(k).name()}" for k in range(count)) or "none"
        raise DeviceUnavailable(f"no CUDA device {device} (found {found})")
    return cuda.Device(index)


class CUDABackend(DeviceBackend):
    target = "cuda"

    def __init__(self, device: str) -> None:
        self.cu_device = find_device(device)  # first: it says why when pycuda or a GPU is missing
        import pycuda.driver as cuda
        super().__init__(device)
        if toolchain.nvcc_identity() is None:
            raise DeviceUnavailable("nvcc not found: the CUDA toolkit is needed to build kernels")
        self.context = self.cu_device.retain_primary_context()
        self.context.push()
        major, minor = self.cu_device.compute_capability()
        self.arch = f"sm_{major}{minor}"
        self.max_local = self.cu_device.get_attribute(cuda.device_attribute.MAX_THREADS_PER_BLOCK)
        self._dummy = cuda.mem_alloc(8)
        self._blas: cublas.Handle | None | bool = None  # False: tried, none

    # -- dense products ------------------------------------------------------------------
    def blas(self) -> cublas.Handle | None:
        """The cuBLAS handle, made on first use; None (after one warning) without libcublas."""
        if self._blas is None:
            try:
                self._blas = cublas.Handle()
            except cublas.CublasError as err:
                warnings.warn(f"{err}; dense products on {self.device} use mlc's tiled kernel", stacklevel=2)
                self._blas = False
        return self._blas or None

    def dense_product(self, alpha: Any, x: Any, y: Any, beta: Any, z: Any, out: Any) -> bool:
        item = out.dtype.itemsize
        elements = lambda a: tuple(s // item for s in a.strides)  # noqa: E731
        (M, K), N = x.shape, y.shape[1]
        args = cublas.gemm_arguments(M, N, K, elements(x), elements(y), elements(out))
        fits = z is None or z is out or (z.shape == out.shape and z.flags.c_contiguous)
        handle = self.blas() if args is not None and fits else None
        if handle is None:
            return False
        if z is not None and z is not out:
            import pycuda.driver as cuda
            cuda.memcpy_dtod(out.gpudata, z.gpudata, out.nbytes)
        handle.gemm(out.dtype.name, args, alpha.ptr, y.ptr, x.ptr, beta.ptr, out.ptr)
        return True

    # -- memory ----------------------------------------------------------------------
    def allocate(self, shape: tuple, dtype: str) -> Any:
        import pycuda.gpuarray as gpuarray
        return gpuarray.empty(shape, np.dtype(dtype))

    def to_device(self, array: Any) -> Any:
        import pycuda.gpuarray as gpuarray
        return gpuarray.to_gpu(np.require(array, requirements="C"))

    def to_host(self, value: Any) -> np.ndarray:
        return value.get() if hasattr(value, "get") else np.asarray(value)

    def owns(self, value: Any) -> bool:
        import pycuda.gpuarray as gpuarray
        return isinstance(value, gpuarray.GPUArray)

    def view(self, x: Any, shape: tuple, strides: tuple) -> Any:
        import pycuda.gpuarray as gpuarray
        return gpuarray.GPUArray(shape, x.dtype, gpudata=x.gpudata, strides=strides)

    # -- code --------------------------------------------------------------------------
    def compile(self, program: Program) -> Any:
        import pycuda.driver as cuda
        return cuda.module_from_file(str(toolchain.ptx(program, self.arch)))

    def kernel(self, module: Any, name: str) -> Any:
        function = module.get_function(name)

        def launch(global_size: tuple, local_size: tuple, *args: Any) -> None:
            grid, block = cuda_grid(global_size, local_size)
            function(*args, block=block, grid=grid)
        return launch

    def buffer(self, array: Any) -> Any:
        return array.gpudata if array.size else self._dummy

    def int64(self, values: list) -> Any:
        import pycuda.driver as cuda
        data = np.array(values or [0], dtype=np.int64).ravel()
        return cuda.to_device(data if data.size else np.zeros(1, np.int64))

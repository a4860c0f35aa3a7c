"""The compiled parts of mlc's install: the call fast paths of loop kernels (``_fastcall.c``),
of matrix products (``_products.c``) and of row kernels (``_rows.c``). They are optional:
without a C compiler the install goes on and mlc calls kernels through cffi and products
through NumPy's BLAS."""
import numpy
from setuptools import Extension, setup

CPU = "mlc/compiler/runtime/cpu"


def fast_path(name: str) -> Extension:
    return Extension(f"mlc.compiler.runtime.cpu.{name}", [f"{CPU}/{name}.c"], depends=[f"{CPU}/_cells.h"],
                     include_dirs=[numpy.get_include()], extra_compile_args=["-O2", "-std=gnu11"], optional=True)


setup(ext_modules=[fast_path("_fastcall"), fast_path("_products"), fast_path("_rows")])

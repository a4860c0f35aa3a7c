"""The one compiled part of mlc's install: the call fast path (``_fastcall.c``). It is
optional: without a C compiler the install goes on and mlc calls kernels through cffi."""
import numpy
from setuptools import Extension, setup

setup(ext_modules=[Extension("mlc.compiler.runtime.cpu._fastcall", ["mlc/compiler/runtime/cpu/_fastcall.c"],
                             include_dirs=[numpy.get_include()], extra_compile_args=["-O2", "-std=gnu11"],
                             optional=True)])

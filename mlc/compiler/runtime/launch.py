"""Launch arithmetic for device kernels, in plain Python so it is tested without a device.

Elementwise kernels are grid-stride loops: any grid is correct, so it is sized to cover the
elements once, capped so that huge arrays loop. Reduction kernels take one work-group per
output element (grid-stride too) whose size is a power of two (the halving tree needs it),
no larger than the renderer's scratch array or the device's limit, and no larger than the
reduced range needs.
"""
from __future__ import annotations

from ..codegen.gpu import LOCAL_SIZE

MAX_GROUPS = 4096


def power_of_two_at_most(n: int) -> int:
    """The largest power of two <= ``n`` (1 for n < 1)."""
    return 1 << (max(int(n), 1).bit_length() - 1)


def elementwise_launch(n: int, device_max: int = LOCAL_SIZE) -> tuple[tuple, tuple]:
    """``(global size, local size)`` for a grid-stride loop over ``n`` elements."""
    local = power_of_two_at_most(min(LOCAL_SIZE, device_max))
    groups = min(max(1, -(-n // local)), MAX_GROUPS)
    return (groups * local,), (local,)


def reduction_launch(outer: int, inner: int, device_max: int = LOCAL_SIZE) -> tuple[tuple, tuple]:
    """``(global size, local size)`` for ``outer`` reductions of ``inner`` elements each."""
    local = power_of_two_at_most(min(LOCAL_SIZE, device_max, max(inner, 1)))
    if local < inner and local * 2 <= min(LOCAL_SIZE, device_max):
        local *= 2  # round up: every work-item gets at least one element more often than not
    groups = min(max(outer, 1), MAX_GROUPS)
    return (groups * local,), (local,)


def gemm_launch(M: int, N: int) -> tuple[tuple, tuple]:
    """``(global size, local size)`` for the tiled GEMM: a group of 256 per 16x16 tile of C."""
    tiles = max(1, -(-M // 16) * -(-N // 16))
    return (min(tiles, MAX_GROUPS) * 256,), (256,)


def cuda_grid(global_size: tuple, local_size: tuple) -> tuple[tuple, tuple]:
    """OpenCL-style sizes (work-items in all, per group) as CUDA's ``(grid, block)``."""
    (total,), (local,) = global_size, local_size
    if total % local:
        raise ValueError(f"global size {total} is not a multiple of the local size {local}")
    return (total // local, 1, 1), (local, 1, 1)

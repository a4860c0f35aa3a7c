"""Code generation: loop IR, C renderer, build cache and compiled thunks."""

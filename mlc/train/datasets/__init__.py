"""Small datasets that ship inside the package (see README.md here)."""
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent

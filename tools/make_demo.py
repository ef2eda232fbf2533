"""Build the packaged demo competition from real MNIST.

Usage (from anywhere): python tools/make_demo.py [MNIST_NPZ [OUT_DIR]]
Defaults: mnist.npz in the real datasets folder beside the checkout, and
kaggle_cnn/data/mnist_demo. Output is deterministic, so rerunning changes no bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run from a checkout without installing

from kaggle_cnn.data.demo import build_demo  # noqa: E402


def main(argv: list[str]) -> int:
    mnist = Path(argv[0]) if len(argv) > 0 else REPO_ROOT / "../shared/data/mnist.npz"
    out = Path(argv[1]) if len(argv) > 1 else REPO_ROOT / "kaggle_cnn/data/mnist_demo"
    sizes = build_demo(mnist, out)
    for path, size in sizes.items():
        print(f"{size:>10,}  {path}")
    print(f"{sum(sizes.values()):>10,}  total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

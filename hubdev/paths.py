"""Where the checkout's own files are, for the development tools, the tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
"""The root of this checkout (hubdev runs from a checkout only; it is never in the image)."""

SPEC_EXAMPLES = REPO.parent / "shared" / "spec" / "examples"
"""The contract's worked example (``feed.jsonl``, ``regions.csv``, the expected figures and
retours), beside the checkout as ``../shared/spec/examples``."""

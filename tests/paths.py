"""Where things are, for tests in any folder."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
README = ROOT / "README.md"

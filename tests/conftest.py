import os
import sys
from pathlib import Path

# Tests import helpers such as tests/oracle.py as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_addoption(parser):
    parser.addoption(
        "--slow",
        action="store_true",
        default=bool(os.environ.get("WASM_RT_SLOW")),
        help="also run the full matrices (every transformer model variant); "
        "the environment variable WASM_RT_SLOW=1 does the same",
    )


def pytest_terminal_summary(terminalreporter):
    """Print the evidence tables tests recorded (see tests/reporting.py)."""
    import reporting

    for table in reporting.TABLES:
        terminalreporter.write_sep("-", table)
        terminalreporter.write_line(reporting.render(table))
    for path in reporting.write_all():
        terminalreporter.write_line(f"wrote {path}")

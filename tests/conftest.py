import sys
from pathlib import Path

# Tests import helpers such as tests/oracle.py as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_terminal_summary(terminalreporter):
    """Print the evidence tables tests recorded (see tests/reporting.py)."""
    import reporting

    for table in reporting.TABLES:
        terminalreporter.write_sep("-", table)
        terminalreporter.write_line(reporting.render(table))
    for path in reporting.write_all():
        terminalreporter.write_line(f"wrote {path}")

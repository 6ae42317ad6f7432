"""Browser delivery: the Pyodide bundle, the static site, its server."""

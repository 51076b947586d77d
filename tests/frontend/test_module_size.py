"""One job per file: no source file of the importer grows past 600 lines (issue 24)."""

from pathlib import Path

import flexspim.frontend as frontend

LIMIT = 600


def test_no_frontend_source_file_over_the_limit():
    files = sorted(Path(frontend.__file__).parent.glob("*.py"))
    assert len(files) > 5                      # the package was found
    sizes = {f.name: len(f.read_text().splitlines()) for f in files}
    assert max(sizes.values()) <= LIMIT, {n: k for n, k in sizes.items() if k > LIMIT}

"""rundir.files: whole files replaced atomically."""

from __future__ import annotations

import json

from rundir.files import write_atomic


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    write_atomic(tmp_path / "summary.json", "{}\n")
    write_atomic(tmp_path / "summary.json", '{"a": 1}\n')
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text()) == {"a": 1}

"""The README's Python examples run and say what the README says they say."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _blocks(lang):
    if not README.exists():
        pytest.skip("README.md not beside the tests (installed test run)")
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # examples may write files
    blocks = _blocks("python")
    assert len(blocks) >= 3
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})


def test_gradcheck_report_in_readme_is_real(capsys):
    code = next(b for b in _blocks("python") if "gradcheck" in b)
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    shown = next(b for b in _blocks("text") if b.startswith("gradcheck FAILED"))
    assert printed == shown

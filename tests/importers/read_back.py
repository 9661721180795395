"""Run with the importers' python: import a .qdpx with ``qc`` and write what arrived as JSON.

    read_back.py PROJECT.qdpx EMPTY_FOLDER OUT.json

(A file, not stdout: qc's corpus logs to stdout.)

qc's own command does the import (``qc init --import``, as its tests do); its corpus is then
read through its own ``QCCorpus``. qc does not import cases or variables (it logs that it does
not support them), so those are read with pyrefiqda, a binding of the REFI-QDA schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pyrefiqda import RefiProject
from qualitative_coding.corpus import QCCorpus


def _value(value: Any) -> Any:
    for kind in ("text_value", "integer_value", "date_value", "boolean_value", "float_value"):
        found = getattr(value, kind)
        if found is not None:
            return str(found)
    return None


def _variables(values: list[Any], names: dict[str, str]) -> dict[str, Any]:
    return {names[v.variable_ref.target_guid]: _value(v) for v in values}


def _flatten(tree: Any) -> list[str]:
    """Every code name in qc's codebook.yaml (a list of names and {name: children})."""
    names: list[str] = []
    for item in tree or []:
        if isinstance(item, dict):
            for name, children in item.items():
                names += [name, *_flatten(children)]
        else:
            names.append(item)
    return names


def main(project: Path, folder: Path) -> dict[str, Any]:
    """What qc and pyrefiqda read from ``project``."""
    qc = Path(sys.executable).with_name("qc")
    # qc 1.7.8 left a breakpoint() in its source importer; PYTHONBREAKPOINT=0 makes it a no-op.
    env = dict(os.environ, PYTHONBREAKPOINT="0")
    run = subprocess.run(
        [str(qc), "init", "--import", str(project)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    result: dict[str, Any] = {"qc_exit": run.returncode, "qc_log": run.stdout + run.stderr}
    if run.returncode != 0:
        return result
    corpus = QCCorpus(folder / "settings.yaml")
    with corpus.session():
        result["qc_codebook"] = _flatten(yaml.safe_load(corpus.codebook_path.read_text()))
        result["qc_used_codes"] = sorted(corpus.get_codes())
        result["qc_coders"] = sorted(coder.name for coder in corpus.get_all_coders())
        result["qc_coded_lines"] = sorted(
            [code, coder, path] for code, coder, _, path in corpus.get_coded_lines()
        )
    result["qc_documents"] = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((folder / "corpus").glob("*.txt"))
    }
    parsed = RefiProject.load(project, extract_dir=str(folder / "pyrefiqda"))
    names = {v.guid: v.name for v in parsed.variables.variable}
    result["cases"] = {c.name: _variables(c.variable_value, names) for c in parsed.cases.case}
    result["case_sources"] = {
        c.name: [ref.target_guid for ref in c.source_ref] for c in parsed.cases.case
    }
    result["sources"] = {
        s.name: {"guid": s.guid, "variables": _variables(s.variable_value, names)}
        for s in parsed.sources.text_source
    }
    result["users"] = sorted(u.name for u in parsed.users.user)
    return result


if __name__ == "__main__":
    found = main(Path(sys.argv[1]), Path(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")

"""The configuration reference, generated from the pydantic models (the one source of defaults).

``python -m mercenary_maintenance.doctor.reference --write docs/configuration.md`` regenerates it;
``tests/unit/test_config_reference.py`` fails when the file is stale. A field's text is its
attribute docstring (a string literal right below the field), read here from the models' source:
pydantic's ``use_attribute_docstrings`` would read the source at every import of the config, which
every DAG parse and task process pays.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import json
import re
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mercenary_maintenance.config import MaintenanceConfig, default_reports_url

COMMAND = "python -m mercenary_maintenance.doctor.reference --write docs/configuration.md"
HEADER = f"""# Configuration reference

Generated from the pydantic models in `plugins/mercenary_maintenance/config/` — do not edit;
run `{COMMAND}`. Every key, its type and its default (the defaults live only in the models; the
shipped `include/maintenance.yaml` repeats the switches a user turns). Unknown keys are errors.
`python -m mercenary_maintenance.doctor` says which plan items are off under a config and the key
that turns each on.
"""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    text = re.sub(r"\bmercenary_maintenance(?:\.[a-z_]+)+\.", "", text)  # …config.targets.X → X
    return text.replace("NoneType", "null")


def _default(info: FieldInfo) -> str:
    if info.default_factory is default_reports_url:
        return "file://$AIRFLOW_HOME/maintenance-reports"
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json", exclude_defaults=True) if isinstance(v, BaseModel) else v for v in value]
    text = json.dumps(value, default=str)
    return text if len(text) <= 90 else text[:87] + "…"


@cache
def _attribute_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of ``cls`` and its bases: ``name: T = …`` followed by a string."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass.__module__.startswith("pydantic"):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
        assert isinstance(body, ast.ClassDef)
        for field, following in itertools.pairwise(body.body):
            if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                docs[field.target.id] = inspect.cleandoc(following.value.value)
    return docs


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        sub = _model_of(info.annotation)
        doc = " ".join((info.description or _attribute_docs(model).get(name, "")).split())
        if sub is not None and not str(info.annotation).startswith(("list", "dict")) and "list[" not in str(
                info.annotation) and "dict[" not in str(info.annotation) and sub.__name__ != "ThresholdModel":
            nested.append((key, sub))
            continue
        rows.append((key, _type(info.annotation), _default(info), doc))
    for key, sub in nested:
        rows += _rows(sub, f"{key}.")
    return rows


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def render() -> str:
    lines = [HEADER]
    for section, info in MaintenanceConfig.model_fields.items():
        sub = _model_of(info.annotation)
        assert sub is not None
        doc = " ".join((sub.__doc__ or "").split()) if sub.__doc__ and "Usage docs" not in sub.__doc__ else ""
        lines += [f"## `{section}`", ""]
        if doc:
            lines += [doc, ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key, kind, default, text in _rows(sub, f"{section}."):
            lines.append(f"| `{key}` | `{_cell(kind)}` | `{_cell(default)}` | {_cell(text)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mercenary_maintenance.doctor.reference")
    parser.add_argument("--write", metavar="FILE", help="write the reference there (default: print it)")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

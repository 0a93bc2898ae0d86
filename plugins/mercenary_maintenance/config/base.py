"""The config models' common base: strict (unknown keys are errors), frozen; named targets."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

CONFIG_ENV = "MAINTENANCE_CONFIG"
TARGET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message names the key."""


class StrictModel(BaseModel):
    # A field's attribute docstring (the string below it) is its text in docs/configuration.md
    # (doctor/reference.py reads them). Validators are built at the first validation (defer_build):
    # importing the config is part of every DAG parse.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NamedTarget(StrictModel):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TARGET_NAME.match(value):
            raise ValueError("target names are lower-case letters, digits and '_' (they name lock keys)")
        return value

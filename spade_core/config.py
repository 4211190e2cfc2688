"""The workflow configuration: validation against the JSON schema, defaults, overlays.

`load(raw)` is the one entry point: it accepts what Snakemake hands over (config.yaml deep-merged with
`--configfile` files and `--config` values), validates it against `resources/config.schema.yaml` and
returns a complete config with every default filled in.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "resources" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key, the value and what is allowed."""


@cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _defaulting_validator():
    """A Draft 2020-12 validator that also writes each property's `default` into the instance.

    Defaults are filled before the nested object is validated, so a default `{}` section is then
    filled with its own properties' defaults. A default must sit beside the property (not behind $ref).
    """
    base = jsonschema.Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def fill_then_validate(validator, properties, instance, schema_):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema_)

    return jsonschema.validators.extend(base, {"properties": fill_then_validate})


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        return f"invalid config: unknown key '{prefix}{unknown[0]}' (allowed here: {', '.join(allowed)})"
    allowed = error.schema.get("description") if isinstance(error.schema, dict) else None
    hint = f" ({allowed})" if allowed else ""
    return f"invalid config at '{where}': value {error.instance!r} is not allowed: {error.message}{hint}"


def _resolve(node: dict) -> dict:
    ref = node.get("$ref")
    if not ref:
        return node
    target = schema()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _accepts_string(node: dict) -> bool:
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else types
    return "string" in types or any(isinstance(v, str) for v in node.get("enum", []))


def coerce_strings(value: Any, node: dict | None = None) -> Any:
    """Parse YAML scalars in strings wherever the schema expects a non-string.

    Snakemake's `--config key={a: 1}` hands nested values over as strings ('1'); this restores
    numbers, booleans and nulls without touching values that may legitimately be text (paths, names).
    """
    node = _resolve(node if node is not None else schema())
    if isinstance(value, dict):
        props = node.get("properties", {})
        extra = node.get("additionalProperties")
        return {k: coerce_strings(v, props.get(k, extra if isinstance(extra, dict) else {})) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_strings(v, node.get("items", {})) for v in value]
    if isinstance(value, str) and not _accepts_string(node):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value


def deep_merge(base: dict, overlay: dict) -> dict:
    """A new dict: `base` with `overlay` merged in recursively (overlay wins on non-dict values)."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def validate(cfg: dict) -> dict:
    """A validated deep copy of `cfg` with defaults filled in; raises ConfigError on the first problem."""
    cfg = copy.deepcopy(cfg)
    validator = _defaulting_validator()(schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError(_describe(errors[0]))
    return cfg


def load(raw: dict | None) -> dict:
    """The complete, validated config from Snakemake's merged config dict (see module docstring)."""
    cfg = validate(coerce_strings(dict(raw or {})))
    unknown = [a for a in cfg["matrix"]["ablations"] if a not in cfg["ablations"]]
    if unknown:
        raise ConfigError(
            f"invalid config at 'matrix.ablations': value {unknown[0]!r} is not allowed: "
            f"it is not defined under 'ablations' (defined: {sorted(cfg['ablations'])})"
        )
    for name in cfg["ablations"]:
        with_overlay(cfg, name)  # an overlay must itself give a valid config
    return cfg


def with_overlay(cfg: dict, ablation: str) -> dict:
    """The config of one ablation: its overlay merged into `cfg`, validated."""
    overlay = cfg["ablations"][ablation]
    try:
        return validate(deep_merge(cfg, overlay))
    except ConfigError as err:
        raise ConfigError(f"ablation {ablation!r}: {err}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from `path` (an empty file is an empty mapping)."""
    return yaml.safe_load(Path(path).read_text()) or {}

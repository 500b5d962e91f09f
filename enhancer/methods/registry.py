"""The method registry: each method describes itself once, and the CLI, GUI and benchmark learn from that.

A method is a ``Method`` descriptor plus a typed options dataclass whose fields are declared with
``option(...)`` so that limits, help text and choices travel with the type.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from enhancer.imaging.image import ImageData
from enhancer.runtime.devices import DEVICE_CHOICES  # noqa: F401  (re-exported for UIs)
from enhancer.runtime.jobs import Progress


def option(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[Any, ...] | None = None,
    app_default: Any = None,
    label: str | None = None,
    advanced: bool = False,
) -> Any:
    """Declare an option field with its default, one-line help and limits.

    ``app_default`` is what the app starts with where it differs from the command line's ``default`` (e.g.
    4 face samples to choose from in the app, 1 output file on the command line). ``label`` is the name a
    photographer reads in the app (the field name otherwise); ``advanced`` options are folded away there.
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    meta.update(app_default=app_default, label=label, advanced=advanced)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionInfo:
    """One option as a UI or parser sees it."""

    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    app_default: Any = None
    label: str | None = None
    advanced: bool = False

    @property
    def display_name(self) -> str:
        """The app's name for the option: its label, else ``crop_size`` -> ``Crop size``."""
        if self.label:
            return self.label
        text = self.name.replace("_", " ")
        return text[:1].upper() + text[1:]

    @property
    def default_in_app(self) -> Any:
        return self.default if self.app_default is None else self.app_default

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class NoOptions:
    """Options of a method that has none."""


@dataclass
class RunContext:
    """How a method should run: resolved device preference, progress/cancel, tiling budget, seed, action."""

    progress: Progress = field(default_factory=Progress)
    device: str = "auto"
    tile_size: int = 512
    seed: int | None = None
    action: str = "upscale"


@dataclass
class MethodResult:
    """A method's output image plus anything the user may want to see (e.g. an estimated kernel).

    A generative method that draws several plausible outputs lists them all in ``samples`` (``image`` is the
    first); every other method leaves it empty.
    """

    image: ImageData
    extras: dict[str, Any] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)
    samples: list[ImageData] = field(default_factory=list)


RunFunction = Callable[[ImageData, int, Any, RunContext], MethodResult]


@dataclass(frozen=True)
class Method:
    """A method's descriptor: who it is, what it is for, what it accepts, and how to run it."""

    id: str
    name: str
    purpose: str
    scales: tuple[int, ...]
    options_type: type = NoOptions
    devices: tuple[str, ...] = ("cpu",)
    actions: tuple[str, ...] = ("upscale",)
    run: RunFunction | None = None
    # For a method with a "restore" action: whether an image is one it made and can restore.
    restorable: Callable[[ImageData], bool] | None = None

    def options(self) -> list[OptionInfo]:
        return option_infos(self.options_type)

    def make_options(self, values: Mapping[str, Any] | None = None) -> Any:
        """Build validated options from a mapping of names (or flags) to values or strings."""
        return build_options(self.options_type, values or {})


_REGISTRY: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.id in _REGISTRY:
        raise ValueError(f"method {method.id!r} is registered twice")
    _REGISTRY[method.id] = method
    return method


def unregister(method_id: str) -> None:
    """Remove a method (plug-ins being unloaded, test-only methods)."""
    _REGISTRY.pop(method_id, None)


def get_method(method_id: str) -> Method:
    _load_builtin_methods()
    try:
        return _REGISTRY[method_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"unknown method {method_id!r} (known: {known})") from None


def all_methods() -> list[Method]:
    _load_builtin_methods()
    return list(_REGISTRY.values())


def _load_builtin_methods() -> None:
    import enhancer.methods  # noqa: F401  (importing the package registers the built-in methods)


def option_infos(options_type: type) -> list[OptionInfo]:
    hints = typing.get_type_hints(options_type)
    infos = []
    for f in dataclasses.fields(options_type):
        meta = f.metadata
        infos.append(
            OptionInfo(
                name=f.name,
                type=hints[f.name],
                default=f.default,
                help=meta.get("help", ""),
                minimum=meta.get("minimum"),
                maximum=meta.get("maximum"),
                choices=meta.get("choices"),
                app_default=meta.get("app_default"),
                label=meta.get("label"),
                advanced=bool(meta.get("advanced", False)),
            )
        )
    return infos


def _coerce(info: OptionInfo, value: Any) -> Any:
    kind = info.type
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"{info.flag}: expected true/false, got {value!r}")
        if typing.get_origin(kind) is typing.Union or isinstance(kind, type(int | None)):
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            if text in ("none", ""):
                return None
            kind = args[0]
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{info.flag}: expected {kind.__name__}, got {value!r}") from None
    return value


def build_options(options_type: type, values: Mapping[str, Any]) -> Any:
    """Validated options: unknown names, wrong types, values outside limits and bad choices raise ValueError."""
    infos = {i.name: i for i in option_infos(options_type)}
    kwargs: dict[str, Any] = {}
    for raw_name, raw_value in values.items():
        name = raw_name.lstrip("-").replace("-", "_")
        if name not in infos:
            known = ", ".join(i.flag for i in infos.values()) or "none"
            raise ValueError(f"unknown option --{name.replace('_', '-')} (this method's options: {known})")
        info = infos[name]
        value = _coerce(info, raw_value)
        if info.choices is not None and value not in info.choices:
            raise ValueError(f"{info.flag}: {value!r} is not one of {', '.join(map(str, info.choices))}")
        if value is not None and not isinstance(value, (bool, str)):
            if info.minimum is not None and value < info.minimum:
                raise ValueError(f"{info.flag}: {value} is below the minimum {info.minimum}")
            if info.maximum is not None and value > info.maximum:
                raise ValueError(f"{info.flag}: {value} is above the maximum {info.maximum}")
        kwargs[name] = value
    return options_type(**kwargs)

from dataclasses import dataclass

import pytest

from enhancer.methods.registry import all_methods, build_options, get_method, option


@dataclass(frozen=True)
class DemoOptions:
    iterations: int = option(100, "iterations", minimum=1, maximum=1000)
    rate: float = option(0.5, "rate", minimum=0.0, maximum=1.0)
    preset: str = option("fast", "preset", choices=("fast", "quality"))
    ensemble: bool = option(True, "use the ensemble")
    crop: int | None = option(None, "crop size", minimum=8)


def test_builtin_methods_describe_themselves():
    ids = {m.id for m in all_methods()}
    assert {"bicubic", "lanczos"} <= ids
    bicubic = get_method("bicubic")
    assert bicubic.purpose and 2 in bicubic.scales and 4 in bicubic.scales


def test_unknown_method_names_the_known_ones():
    with pytest.raises(KeyError, match="bicubic"):
        get_method("nope")


def test_options_are_parsed_from_strings_and_flags():
    opts = build_options(
        DemoOptions, {"--iterations": "20", "rate": "0.25", "ensemble": "false", "crop": "none"}
    )
    assert opts == DemoOptions(iterations=20, rate=0.25, ensemble=False, crop=None)
    assert build_options(DemoOptions, {"crop": "32"}).crop == 32


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"iterations": "0"}, "below the minimum"),
        ({"rate": "2"}, "above the maximum"),
        ({"preset": "slow"}, "not one of"),
        ({"iterations": "many"}, "expected int"),
        ({"ensemble": "maybe"}, "true/false"),
        ({"bogus": "1"}, "unknown option --bogus"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        build_options(DemoOptions, values)

"""Device choice for torch and onnxruntime: ``auto`` uses CUDA when it works and never fails without it."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(RuntimeError):
    """An explicitly requested device is not available."""


def _check_choice(preference: str) -> str:
    preference = preference.lower()
    if preference not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device {preference!r} (choose from {', '.join(DEVICE_CHOICES)})")
    return preference


@cache
def cuda_available() -> bool:
    """True when torch can use a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def preset_for_device(preset: str, device: str) -> str:
    """``auto`` -> ``quality`` where the job runs on a CUDA GPU, ``fast`` on a CPU (quality can take an hour
    per photo there); any other preset as given."""
    if preset != "auto":
        return preset
    return "quality" if torch_device(device).type == "cuda" else "fast"


def use_all_cores() -> None:
    """Let torch use every core this process may run on (the default can be lower in containers)."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if torch.get_num_threads() < cores:
        torch.set_num_threads(cores)


def torch_device(preference: str = "auto"):  # -> torch.device (torch imported lazily)
    """The torch device for a preference; ``cuda`` without a GPU raises ``DeviceError``."""
    import torch

    preference = _check_choice(preference)
    if preference == "cpu" or (preference == "auto" and not cuda_available()):
        use_all_cores()
        return torch.device("cpu")
    if not cuda_available():
        raise DeviceError("--device cuda was asked for, but torch sees no CUDA GPU")
    return torch.device("cuda")


@dataclass(frozen=True)
class OnnxProviders:
    """The providers to ask onnxruntime for, best first."""

    requested: tuple[str, ...]
    fallback: str | None = None  # why ``auto`` runs on the CPU, in words (None: by choice, or CUDA is used)


TORCH_BFLOAT16 = "TorchBFloat16"  # not an onnxruntime provider: our torch bfloat16 path on the CPU
TORCH_INT8 = "TorchInt8"  # likewise: our torch int8 path on the CPU
PROVIDER_WORDS = {
    "CPUExecutionProvider": "CPU",
    "CUDAExecutionProvider": "NVIDIA GPU (CUDA)",
    TORCH_BFLOAT16: "CPU (bfloat16)",
    TORCH_INT8: "CPU (int8)",
}


def provider_in_words(provider: str) -> str:
    """``CPUExecutionProvider`` -> ``CPU``: what a user reads."""
    return PROVIDER_WORDS.get(provider, provider.removesuffix("ExecutionProvider"))


@cache
def cpu_has_native_bfloat16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX); elsewhere oneDNN emulates it,
    slower than float32."""
    import torch

    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: assume not
        return False


@cache
def cuda_driver_present() -> bool:
    """True when the NVIDIA driver library loads (no GPU, no driver)."""
    import ctypes

    names = ("nvcuda.dll",) if os.name == "nt" else ("libcuda.so.1", "libcuda.so", "libcuda.dylib")
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


@cache
def onnx_cuda_problem() -> str | None:
    """Why onnxruntime's CUDA provider cannot load here, in words; None when it can.

    The GPU build of onnxruntime lists its CUDA provider on every machine; asking for it where it cannot
    load prints a screen of red errors, so we find out first: the driver, then the provider library with
    its CUDA and cuDNN dependencies.
    """
    import ctypes

    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider"
    if not cuda_driver_present():
        return "no NVIDIA driver was found"
    name = "onnxruntime_providers_cuda.dll" if os.name == "nt" else "libonnxruntime_providers_cuda.so"
    library = os.path.join(os.path.dirname(ort.__file__), "capi", name)
    try:
        ctypes.CDLL(library)
    except OSError as error:
        return f"onnxruntime's CUDA provider cannot load ({str(error).split(':')[-1].strip()})"
    return None


def onnx_providers(preference: str = "auto") -> OnnxProviders:
    """onnxruntime providers for a preference; ``auto`` uses CUDA where it can load, else the CPU."""
    preference = _check_choice(preference)
    if preference == "cpu":
        return OnnxProviders(("CPUExecutionProvider",))
    problem = onnx_cuda_problem()
    if problem is None:
        return OnnxProviders(("CUDAExecutionProvider", "CPUExecutionProvider"))
    if preference == "cuda":
        raise DeviceError(f"--device cuda was asked for, but {problem}")
    return OnnxProviders(("CPUExecutionProvider",), fallback=f"{problem}: running on the CPU")


def onnx_session(model_path: str, preference: str = "auto"):  # -> (InferenceSession, provider actually used)
    """An onnxruntime session; reports the provider that actually runs (CUDA may fail to load and fall back)."""
    import onnxruntime as ort

    providers = onnx_providers(preference)
    # what onnxruntime logs at warning level repeats what ``fallback`` says in words
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the CUDA provider failing to load is expected on CPU-only machines
    session = ort.InferenceSession(model_path, sess_options=options, providers=list(providers.requested))
    used = session.get_providers()[0]
    if preference == "cuda" and used != "CUDAExecutionProvider":
        raise DeviceError(f"--device cuda was asked for, but onnxruntime fell back to {used}")
    return session, used


def describe_devices() -> str:
    """One line for a status bar or ``--version``: what torch and onnxruntime can use here."""
    parts = []
    if cuda_available():
        import torch

        parts.append(f"torch: CUDA ({torch.cuda.get_device_name(0)})")
    else:
        parts.append("torch: CPU")
    try:
        import onnxruntime as ort

        # The GPU build lists the CUDA provider even on machines without a GPU, where it cannot load.
        cuda = "CUDAExecutionProvider" in ort.get_available_providers() and cuda_available()
        parts.append("onnxruntime: CUDA" if cuda else "onnxruntime: CPU")
    except ImportError:
        parts.append("onnxruntime: not installed")
    return "; ".join(parts)


def describe_machine() -> str:
    """CPU model, cores and accelerator, for the report."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return f"{cpu}, {cores} cores; {describe_devices()}"

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from enhancer.runtime import devices


def _tiny_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what every onnxruntime since 1.16 reads
    onnx.save(model, path)
    return str(path)


def test_auto_never_fails_without_a_gpu():
    device = devices.torch_device("auto")
    assert device.type == ("cuda" if devices.cuda_available() else "cpu")


def test_explicit_cuda_without_a_gpu_is_a_clear_error():
    if devices.cuda_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(devices.DeviceError, match="no CUDA GPU"):
        devices.torch_device("cuda")


def test_unknown_device_is_refused():
    with pytest.raises(devices.DeviceError, match="unknown device"):
        devices.torch_device("tpu")


def test_onnx_session_reports_the_provider_that_runs(tmp_path):
    session, used = devices.onnx_session(_tiny_model(tmp_path / "m.onnx"), "auto")
    assert used in ("CUDAExecutionProvider", "CPUExecutionProvider")
    if not devices.cuda_available():
        assert used == "CPUExecutionProvider"
    x = np.array([-1.0, 2.0, -3.0, 4.0], np.float32).reshape(1, 4, 1, 1)[:, :3]
    (y,) = session.run(None, {"x": np.ascontiguousarray(x)})
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    _, cpu_used = devices.onnx_session(_tiny_model(tmp_path / "m2.onnx"), "cpu")
    assert cpu_used == "CPUExecutionProvider"


def test_describe_devices_names_both_runtimes():
    text = devices.describe_devices()
    assert "torch:" in text and "onnxruntime:" in text


def test_cuda_provider_is_not_asked_for_where_it_cannot_load(monkeypatch):
    """The GPU build lists CUDA everywhere; asking for it where it cannot load prints red load errors."""
    monkeypatch.setattr(devices, "onnx_cuda_problem", lambda: "no NVIDIA driver was found")
    providers = devices.onnx_providers("auto")
    assert providers.requested == ("CPUExecutionProvider",)
    assert providers.fallback == "no NVIDIA driver was found: running on the CPU"
    with pytest.raises(devices.DeviceError, match="no NVIDIA driver"):
        devices.onnx_providers("cuda")
    assert devices.onnx_providers("cpu").fallback is None
    monkeypatch.setattr(devices, "onnx_cuda_problem", lambda: None)
    assert devices.onnx_providers("auto").requested[0] == "CUDAExecutionProvider"


def test_an_irn_run_on_this_machine_prints_no_provider_errors(tmp_path):
    """`enhancer shrink --device auto` in a fresh process: stderr holds our lines only, never onnxruntime's."""
    import subprocess
    import sys

    from PIL import Image

    if devices.onnx_cuda_problem() is None:
        pytest.skip("onnxruntime's CUDA provider loads here")
    source = tmp_path / "p.png"
    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(source)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "enhancer",
            "shrink",
            str(source),
            "--scale",
            "2",
            "--out-dir",
            str(tmp_path / "o"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "onnxruntime:" not in done.stderr and "Failed to" not in done.stderr, done.stderr
    assert done.stderr.count("running on the CPU") <= 1


def test_providers_in_words():
    assert devices.provider_in_words("CPUExecutionProvider") == "CPU"
    assert "CUDA" in devices.provider_in_words("CUDAExecutionProvider")


def test_auto_preset_is_fast_on_a_cpu_and_quality_on_a_gpu(monkeypatch):
    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    assert devices.preset_for_device("auto", "auto") == "fast"
    assert devices.preset_for_device("quality", "auto") == "quality"  # an explicit choice wins
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    assert devices.preset_for_device("auto", "auto") == "quality"
    assert devices.preset_for_device("auto", "cpu") == "fast"


def test_zssr_and_kernelgan_start_from_auto_and_name_the_preset_they_ran():
    from enhancer.imaging.image import ImageData
    from enhancer.methods.registry import get_method
    from enhancer.runtime.runner import Job, run_job

    for method_id in ("zssr", "kernelgan"):
        assert get_method(method_id).make_options().preset == "auto"
    image = ImageData(np.random.default_rng(0).random((24, 24, 3), dtype=np.float32))
    result = run_job(Job(image, "zssr", 2, {"iterations": 10, "ensemble": 1}, "cpu", seed=0))
    assert result.info["preset"] == "fast"

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

"""Safe loading: formats told apart by content, pickles refused, conversion only with consent.

The pickle canary is a file whose unpickling creates a marker file; every refusal test checks
that the marker never appears. ``test_the_canary_is_live`` shows that it would.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from studio.core.errors import UserError
from studio.core.safety.consent import ConsentKind, ConsentStore
from studio.core.safety.converter import (
    ConsentRequired,
    ConversionFailed,
    convert_to_safetensors,
    read_conversion_report,
)
from studio.plugin_api import RemoteCodeRequired, UnsafeWeights
from studio.plugin_api.safe_loading import (
    UnreadableWeights,
    WeightsFormat,
    detect_weights_format,
    safe_torch_load,
)
from tests.core.pickle_helpers import (
    Canary,
    HyperParameters,
    PidRecorder,
    TrainingCheckpoint,
)

MISLEADING_NAMES = ("weights.safetensors", "model.bin", "weights")


def tiny_state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "layer.weight": torch.randn(4, 3, generator=generator),
        "layer.bias": torch.randn(4, generator=generator),
        "steps": torch.tensor([7], dtype=torch.int64),
    }


def assert_same_tensors(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for name, tensor in expected.items():
        assert actual[name].dtype == tensor.dtype, name
        assert torch.equal(actual[name], tensor), name


# --- Files of each format -------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, content: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(content)) + content


def minimal_onnx_model() -> bytes:
    """An ONNX ModelProto with one Identity node, encoded by hand (onnx is no dependency).

    onnx 1.23's ``onnx.checker.check_model(full_check=True)`` accepts these bytes.
    """
    tensor_type = _field_bytes(  # TypeProto.tensor_type: FLOAT, shape [2]
        1, _field_varint(1, 1) + _field_bytes(2, _field_bytes(1, _field_varint(1, 2)))
    )
    node = _field_bytes(1, b"x") + _field_bytes(2, b"y") + _field_bytes(4, b"Identity")
    graph = (
        _field_bytes(1, node)
        + _field_bytes(2, b"g")
        + _field_bytes(11, _field_bytes(1, b"x") + _field_bytes(2, tensor_type))
        + _field_bytes(12, _field_bytes(1, b"y") + _field_bytes(2, tensor_type))
    )
    return (
        _field_varint(1, 9)  # ir_version
        + _field_bytes(2, b"studio-test")  # producer_name
        + _field_bytes(7, graph)
        + _field_bytes(8, _field_varint(2, 17))  # opset_import: version 17
    )


def write_gguf(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_torch_tar(path: Path) -> None:
    """The member layout of torch's oldest (tar) format; only the detector reads it."""
    with tarfile.open(path, "w") as archive:
        for name in ("sys_info", "pickle", "storages", "tensors"):
            data = pickle.dumps(name, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save(path) would append ".npy" to the name
        np.save(handle, array)


def make_file(kind: str, path: Path) -> Path:
    state = tiny_state_dict()
    if kind == "safetensors":
        save_file(state, path)
    elif kind == "gguf":
        write_gguf(path)
    elif kind == "onnx":
        path.write_bytes(minimal_onnx_model())
    elif kind == "torch zip":
        torch.save(state, path)
    elif kind == "torch legacy":
        torch.save(state, path, _use_new_zipfile_serialization=False)
    elif kind == "torch legacy, pickle protocol 4":
        torch.save(state, path, _use_new_zipfile_serialization=False, pickle_protocol=4)
    elif kind == "torch tar":
        write_torch_tar(path)
    elif kind == "torchscript":
        with warnings.catch_warnings():  # torch.jit is deprecated, but its files still exist
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    elif kind.startswith("raw pickle protocol "):
        protocol = int(kind.rsplit(" ", 1)[1])
        path.write_bytes(pickle.dumps({"name": "x", "sizes": [1, 2, 3]}, protocol=protocol))
    elif kind == "numpy objects":
        save_npy(path, np.array([{"a": 1}, None], dtype=object))
    elif kind == "numpy structured with an object field":
        save_npy(path, np.zeros(2, dtype=[("a", "<f4"), ("b", "O")]))
    elif kind == "numpy numbers":
        save_npy(path, np.arange(6, dtype=np.float32))
    elif kind == "plain zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("model/readme.txt", "not a checkpoint")
            archive.writestr("model/data.txt", "still not")
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("These are not weights.\n")
    elif kind == "truncated onnx":
        path.write_bytes(minimal_onnx_model()[:-3])
    elif kind == "truncated safetensors":
        save_file(state, path)
        path.write_bytes(path.read_bytes()[:20])
    else:
        raise AssertionError(kind)
    return path


EXPECTED_FORMATS = {
    "safetensors": WeightsFormat.SAFETENSORS,
    "gguf": WeightsFormat.GGUF,
    "onnx": WeightsFormat.ONNX,
    "torch zip": WeightsFormat.PICKLE,
    "torch legacy": WeightsFormat.PICKLE,
    "torch legacy, pickle protocol 4": WeightsFormat.PICKLE,
    "torch tar": WeightsFormat.PICKLE,
    "torchscript": WeightsFormat.PICKLE,
    **{f"raw pickle protocol {n}": WeightsFormat.PICKLE for n in range(6)},
    "numpy objects": WeightsFormat.PICKLE,
    "numpy structured with an object field": WeightsFormat.PICKLE,
    "numpy numbers": WeightsFormat.UNKNOWN,
    "plain zip": WeightsFormat.UNKNOWN,
    "random bytes": WeightsFormat.UNKNOWN,
    "empty": WeightsFormat.UNKNOWN,
    "text": WeightsFormat.UNKNOWN,
    "truncated onnx": WeightsFormat.UNKNOWN,
    "truncated safetensors": WeightsFormat.UNKNOWN,
}


@pytest.mark.parametrize("kind", EXPECTED_FORMATS)
def test_format_is_detected_by_content(kind, tmp_path):
    path = make_file(kind, tmp_path / "file.dat")
    assert detect_weights_format(path) is EXPECTED_FORMATS[kind]


@pytest.mark.parametrize("name", ["model.safetensors", "model.gguf", "model.onnx", "model.pt"])
def test_the_file_name_does_not_matter(name, tmp_path):
    path = make_file("torch zip", tmp_path / name)
    assert detect_weights_format(path) is WeightsFormat.PICKLE
    path = make_file("safetensors", tmp_path / f"other-{name}")
    assert detect_weights_format(path) is WeightsFormat.SAFETENSORS


def test_a_zip_with_a_torch_data_pickle_is_a_checkpoint(tmp_path):
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("anything/data.pkl", pickle.dumps({}, protocol=2))
    assert detect_weights_format(path) is WeightsFormat.PICKLE


def test_detecting_a_missing_file_or_a_folder_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        detect_weights_format(tmp_path / "missing.bin")
    with pytest.raises(IsADirectoryError, match="folder"):
        detect_weights_format(tmp_path)


# --- safe_torch_load ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["safetensors", "torch zip", "torch legacy"])
def test_safe_torch_load_reads_tensors(kind, tmp_path):
    path = make_file(kind, tmp_path / "weights")
    assert_same_tensors(safe_torch_load(path), tiny_state_dict())


def test_safe_torch_load_accepts_a_torch_device(tmp_path):
    path = make_file("safetensors", tmp_path / "weights")
    loaded = safe_torch_load(path, map_location=torch.device("cpu"))
    assert loaded["layer.bias"].device.type == "cpu"


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "model.bin"
    with pytest.raises(FileNotFoundError) as caught:
        safe_torch_load(missing)
    assert str(caught.value) == f"The weights file {missing} does not exist."


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("gguf", "GGUF"),
        ("onnx", "onnxruntime"),
        ("random bytes", "not a weights file"),
        ("empty", "not a weights file"),
        ("plain zip", "not a weights file"),
    ],
)
def test_other_formats_get_a_clear_error(kind, words, tmp_path):
    path = make_file(kind, tmp_path / "thing.bin")
    with pytest.raises(UnreadableWeights, match=words) as caught:
        safe_torch_load(path)
    assert "thing.bin" in str(caught.value)


def test_a_damaged_checkpoint_is_unreadable_not_unsafe(tmp_path):
    path = make_file("torch legacy", tmp_path / "cut.pt")
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(UnreadableWeights, match="damaged"):
        safe_torch_load(path)


@pytest.mark.parametrize(
    "kind", ["torchscript", "raw pickle protocol 2", "numpy objects", "raw pickle protocol 0"]
)
def test_pickles_torch_cannot_read_weights_only_are_unsafe(kind, tmp_path):
    path = make_file(kind, tmp_path / "model.bin")
    with pytest.raises(UnsafeWeights) as caught:
        safe_torch_load(path)
    assert caught.value.path == path


def test_unsafe_weights_message_names_the_file_and_the_way_out(tmp_path):
    message = str(UnsafeWeights(tmp_path / "model.bin"))
    assert message.startswith("model.bin needs full unpickling, which can run code;")
    assert f'"studio consent grant {tmp_path / "model.bin"}"' in message
    assert f'"studio convert {tmp_path / "model.bin"}"' in message
    assert message.endswith(".") and message.count(". ") == 0


def test_remote_code_required_names_the_folder_and_the_command(tmp_path):
    error = RemoteCodeRequired(tmp_path / "my model")
    assert error.folder == tmp_path / "my model"
    assert "trust_remote_code" in str(error)
    assert f"studio consent grant --remote-code '{tmp_path / 'my model'}'" in str(error)


def test_the_plugin_api_does_not_import_torch_when_imported():
    code = (
        "import sys\n"
        "import studio.plugin_api, studio.plugin_api.safe_loading\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --- The pickle canary ----------------------------------------------------------------------


def write_canary(form: str, path: Path, marker: Path) -> Path:
    if form == "raw pickle":
        path.write_bytes(pickle.dumps(Canary(marker), protocol=4))
    elif form == "raw pickle protocol 0":
        path.write_bytes(pickle.dumps(Canary(marker), protocol=0))
    elif form == "torch zip":
        torch.save({"weight": torch.ones(2), "payload": Canary(marker)}, path)
    elif form == "torch legacy":
        torch.save(
            {"weight": torch.ones(2), "payload": Canary(marker)},
            path,
            _use_new_zipfile_serialization=False,
        )
    elif form == "numpy objects":
        save_npy(path, np.array([Canary(marker)], dtype=object))
    else:
        raise AssertionError(form)
    return path


CANARY_FORMS = ("raw pickle", "raw pickle protocol 0", "torch zip", "torch legacy", "numpy objects")


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "canary-ran"


def test_the_canary_is_live(tmp_path, marker):
    """Full unpickling of the canary does create the marker, so its absence means something."""
    path = write_canary("raw pickle", tmp_path / "canary", marker)
    opened = pickle.loads(path.read_bytes())
    opened.close()
    assert marker.exists()


@pytest.mark.parametrize("form", CANARY_FORMS)
@pytest.mark.parametrize("name", MISLEADING_NAMES)
def test_the_canary_is_recognised_and_refused(form, name, tmp_path, marker):
    path = write_canary(form, tmp_path / name, marker)
    assert detect_weights_format(path) is WeightsFormat.PICKLE
    with pytest.raises(UnsafeWeights) as caught:
        safe_torch_load(path)
    if form.startswith("torch"):  # refused by torch's weights-only unpickler itself
        assert isinstance(caught.value.__cause__, pickle.UnpicklingError)
    assert not marker.exists()


@pytest.mark.parametrize("form", CANARY_FORMS)
def test_the_converter_refuses_the_canary_without_consent(form, tmp_path, marker):
    path = write_canary(form, tmp_path / "model.bin", marker)
    consents = ConsentStore(tmp_path / "consents.json")
    with pytest.raises(ConsentRequired, match=r"model\.bin needs full unpickling"):
        convert_to_safetensors(path, consents, tmp_path / "converted")
    assert not marker.exists()
    assert not (tmp_path / "converted").exists()


def test_consent_for_another_file_does_not_cover_the_canary(tmp_path, marker):
    path = write_canary("torch zip", tmp_path / "weights.safetensors", marker)
    other = make_file("torch zip", tmp_path / "other.bin")
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, other)
    consents.grant(ConsentKind.REMOTE_CODE, _code_folder(tmp_path))
    with pytest.raises(ConsentRequired):
        convert_to_safetensors(path, consents, tmp_path / "converted")
    assert not marker.exists()


def test_consent_granted_then_revoked_refuses_again(tmp_path, marker):
    path = write_canary("torch legacy", tmp_path / "weights", marker)
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, path)
    assert consents.revoke(ConsentKind.UNPICKLE, path)
    with pytest.raises(ConsentRequired):
        convert_to_safetensors(path, consents, tmp_path / "converted")
    assert not marker.exists()


def test_consent_for_the_old_content_does_not_cover_a_changed_file(tmp_path, marker):
    path = make_file("torch zip", tmp_path / "model.bin")
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, path)
    write_canary("torch zip", path, marker)  # same name, new content
    with pytest.raises(ConsentRequired):
        convert_to_safetensors(path, consents, tmp_path / "converted")
    assert not marker.exists()


def test_the_child_refuses_content_other_than_the_consented(tmp_path, marker):
    """The child hashes what it reads, so a file swapped after the consent check is not run."""
    path = write_canary("raw pickle", tmp_path / "model.bin", marker)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.core.safety.convert_child",
            str(path),
            "0" * 64,
            str(tmp_path / "out.safetensors"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "changed after consent" in done.stderr
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


def _code_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "remote-model"
    folder.mkdir()
    (folder / "modeling_custom.py").write_text("X = 1\n")
    (folder / "config.json").write_text(json.dumps({"auto_map": {}}))
    return folder


# --- Conversion with consent ----------------------------------------------------------------


def test_a_consented_checkpoint_converts_to_equal_safetensors(tmp_path):
    state = tiny_state_dict()
    checkpoint = TrainingCheckpoint(
        state_dict={f"module.{name}": tensor for name, tensor in state.items()},
        hyper_parameters=HyperParameters(learning_rate=0.1, epochs=3),
        args=argparse.Namespace(seed=1),
        epoch=3,
    )
    source = tmp_path / "model.ckpt"
    torch.save(checkpoint, source)
    with pytest.raises(UnsafeWeights):  # torch refuses the classes under weights_only
        safe_torch_load(source)

    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    out_dir = tmp_path / "converted"
    output = convert_to_safetensors(source, consents, out_dir)

    assert output.parent == out_dir
    assert output.name.endswith(".safetensors")
    assert detect_weights_format(output) is WeightsFormat.SAFETENSORS
    assert_same_tensors(safe_torch_load(output), state)
    report = read_conversion_report(output)
    assert report is not None
    assert report.tensors == 3
    assert sorted(report.dropped) == ["args", "epoch", "hyper_parameters"]
    assert [p.name for p in out_dir.iterdir() if p.name.startswith(".")] == []


def test_a_whole_saved_module_converts_to_its_state_dict(tmp_path):
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    source = tmp_path / "model.pt"
    torch.save(module, source)
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    output = convert_to_safetensors(source, consents, tmp_path / "converted")
    assert_same_tensors(safe_torch_load(output), module.state_dict())


def test_tied_weights_are_kept_as_equal_copies(tmp_path):
    shared = torch.randn(3, 2)
    source = tmp_path / "tied.bin"
    torch.save(
        {"embed.weight": shared, "head.weight": shared, "half": shared[1:]},
        source,
        _use_new_zipfile_serialization=False,
    )
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    loaded = safe_torch_load(convert_to_safetensors(source, consents, tmp_path / "out"))
    assert torch.equal(loaded["embed.weight"], shared)
    assert torch.equal(loaded["head.weight"], shared)
    assert torch.equal(loaded["half"], shared[1:])


def test_with_consent_unpickling_runs_in_a_child_process(tmp_path):
    pid_file = tmp_path / "unpickled-in"
    source = tmp_path / "model.bin"
    torch.save({"weight": torch.ones(2), "payload": PidRecorder(pid_file)}, source)
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    output = convert_to_safetensors(source, consents, tmp_path / "converted")
    assert int(pid_file.read_text()) != os.getpid()
    assert list(safe_torch_load(output)) == ["weight"]
    assert read_conversion_report(output).dropped == ("payload",)


def test_a_converted_file_is_reused(tmp_path):
    source = make_file("torch zip", tmp_path / "model.bin")
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    first = convert_to_safetensors(source, consents, tmp_path / "converted")
    written = first.stat().st_mtime_ns
    copy = tmp_path / "copy-of-model.bin"
    copy.write_bytes(source.read_bytes())
    second = convert_to_safetensors(copy, consents, tmp_path / "converted")
    assert second == first
    assert second.stat().st_mtime_ns == written


def test_a_pickle_without_tensors_fails_clearly(tmp_path):
    source = make_file("raw pickle protocol 2", tmp_path / "notes.pkl")
    consents = ConsentStore(tmp_path / "consents.json")
    consents.grant(ConsentKind.UNPICKLE, source)
    with pytest.raises(ConversionFailed, match=r"notes\.pkl holds no tensors"):
        convert_to_safetensors(source, consents, tmp_path / "converted")
    assert list((tmp_path / "converted").iterdir()) == []


@pytest.mark.parametrize("kind", ["safetensors", "gguf", "random bytes"])
def test_only_pickles_are_converted(kind, tmp_path):
    source = make_file(kind, tmp_path / "model.bin")
    with pytest.raises(UserError, match="not a pickle file"):
        convert_to_safetensors(source, ConsentStore(tmp_path / "c.json"), tmp_path / "out")


def test_converting_a_missing_file_names_it(tmp_path):
    with pytest.raises(UserError, match=r"gone\.bin does not exist"):
        convert_to_safetensors(tmp_path / "gone.bin", ConsentStore(tmp_path / "c.json"), tmp_path)


def test_the_safetensors_header_length_is_checked(tmp_path):
    """A file that starts like safetensors but whose header overruns the file is unknown."""
    path = tmp_path / "fake"
    path.write_bytes(struct.pack("<Q", 10_000) + b'{"a": 1}')
    assert detect_weights_format(path) is WeightsFormat.UNKNOWN

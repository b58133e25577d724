"""What `pip install -e ".[dev]"` brings: no torch and no CUDA package anywhere in what transhades requires, with
its dev extra, followed through every installed requirement. (Checked on the requirements, not on `pip list`: a
machine may hold torch for other reasons; what matters is that nothing of ours asks for it.)"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

HEAVY = re.compile(r"^(torch|torchaudio|torchvision|librosa|resemblyzer|nvidia-.*|triton)$")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(root: str, extras: set[str]) -> dict[str, str]:
    """Every distribution reachable from ``root[extras]`` through requirements whose markers hold here, with the
    one that asked for it first."""
    seen: dict[str, str] = {}
    todo = [(root, extras, "")]
    while todo:
        name, wanted, asked_by = todo.pop()
        key = _name(name)
        if key in seen and not wanted:
            continue
        seen.setdefault(key, asked_by)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: pip would report it; nothing below it to follow
        for line in requires:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in (wanted or {""})]
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            if _name(requirement.name) not in seen or requirement.extras:
                todo.append((requirement.name, set(requirement.extras), key))
    return seen


def test_the_dev_install_requires_no_torch_and_no_cuda_package():
    reached = closure("transhades", {"dev"})
    assert {"faster-whisper", "numpy", "pytest", "kurigram", "onnxruntime"} <= set(reached), "the closure is followed"
    heavy = {name: by for name, by in reached.items() if HEAVY.match(name)}
    assert heavy == {}, f"asked for by: {heavy}"


@pytest.mark.slow
def test_the_voice_encoders_weights_ship_in_the_wheel_with_their_licence(tmp_path):
    """An install from the wheel (not only this editable checkout) can tell speakers apart."""
    root = Path(__file__).resolve().parents[1]
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path), str(root)], capture_output=True, text=True, timeout=240)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("transhades-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "transhades/speakers/ge2e.onnx" in names and "transhades/speakers/GE2E-LICENSE" in names
        assert archive.getinfo("transhades/speakers/ge2e.onnx").file_size > 2_000_000  # 8-bit layers: 2.4 MB
        assert "Apache License" in archive.read("transhades/speakers/GE2E-LICENSE").decode()

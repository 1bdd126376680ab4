import subprocess
import sys

import pytest

import afterburner
from afterburner.errors import BackendError
from afterburner.llm import get_backend, register_backend
from afterburner.llm.scripted import ScriptedBackend


def test_unknown_name_lists_known_backends_in_one_line():
    with pytest.raises(BackendError) as e:
        get_backend("gpt5")
    msg = str(e.value)
    assert "\n" not in msg
    for name in ("openai", "scripted", "transformers", "vllm"):
        assert name in msg


@pytest.mark.parametrize(
    "path", ["afterburner.llm.scripted:ScriptedBackend", "afterburner.llm.scripted.ScriptedBackend"]
)
def test_import_path(path):
    assert isinstance(get_backend(path, replies=["x"]), ScriptedBackend)


def test_bad_import_path_and_bad_option():
    with pytest.raises(BackendError, match="cannot import module"):
        get_backend("nowhere.module:Thing")
    with pytest.raises(BackendError, match="has no attribute"):
        get_backend("afterburner.llm.scripted:Nope")
    with pytest.raises(BackendError, match=r"does not take option.*temprature"):
        get_backend("scripted", replies=["x"], temprature=1)


def test_register_and_pass_through_instances():
    register_backend("canned", "afterburner.llm.scripted:ScriptedBackend")
    b = get_backend("canned", replies=["x"])
    assert get_backend(b) is b
    assert afterburner.get_backend is get_backend


def test_importing_the_llm_package_loads_nothing_heavy():
    code = "import afterburner.llm, sys; print(sorted(m for m in ('torch', 'transformers', 'vllm', 'httpx', 'openai') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_vllm_missing_says_how_to_get_it():
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here")
    with pytest.raises(BackendError, match=r"make-vllm-venv\.sh"):
        get_backend("vllm")

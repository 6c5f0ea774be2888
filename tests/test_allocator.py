"""fastnst.allocator: freed activations' memory is reused instead of faulted in again each step."""

import subprocess
import sys

import pytest

pytest.importorskip("torch")

# Ten forward/backward steps of a conv on 8 MB activations; prints the page faults they cost.
_STEPS = """
import resource, sys
import torch
if sys.argv[1] == "reuse":
    from fastnst.allocator import reuse_freed_memory
    assert reuse_freed_memory()
x = torch.rand(2, 16, 256, 256, requires_grad=True)
w = torch.rand(16, 16, 3, 3)
def step():
    torch.relu(torch.nn.functional.conv2d(torch.relu(x), w, padding=1)).sum().backward()
step()  # the first step faults its memory in either way
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_training_steps_reuse_freed_memory_instead_of_faulting_it_in():
    system, reuse = _faults("system"), _faults("reuse")
    assert system > 10 * (8 << 20) // 4096  # glibc hands each step's large blocks back and faults them in again
    assert reuse < system / 4

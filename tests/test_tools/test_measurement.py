"""The benchmarks' operator counter: kernels counted, views left out."""
import os.path as osp
import sys

import torch

from tests.conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'benchmarks'))
import measurement  # noqa: E402


def test_counts_forward_backward_and_in_place_but_not_views():
    weight = torch.randn(3, 4, requires_grad=True)

    def step(data):
        out = (data['x'] @ weight.t()).relu()
        out.sum().backward()
        with torch.no_grad():
            weight.sub_(weight.grad)

    # Forward mm, relu, sum; backward ones_like (the seed),
    # threshold_backward, mm (the weight's gradient; the input needs
    # none); the in-place sub_. Left out: t (three times), expand and the
    # detaches autograd makes.
    assert measurement.dispatched_operators(step,
                                            dict(x=torch.randn(2, 4))) == 7


def test_counts_the_kernels_of_compiled_code():
    """A compiled step runs compiled under the counter: its generated
    kernels and the ATen operators it calls are counted, once each."""
    weight = torch.randn(3, 4, requires_grad=True)

    def loss(x):
        return (x @ weight.t()).relu().sum()

    def step_of(function):

        def step(data):
            weight.grad = None
            function(data['x']).backward()

        return step

    data = dict(x=torch.randn(2, 4))
    compiled = step_of(torch.compile(loss))
    compiled(data)  # compiles
    # Forward: mm (left to ATen) and one kernel for relu and sum; backward:
    # ones_like (the seed), one kernel for the relu's backward, mm. The
    # same step in eager mode is 6 (relu and sum apart).
    assert measurement.dispatched_operators(compiled, data) == 5
    assert measurement.dispatched_operators(step_of(loss), data) == 6

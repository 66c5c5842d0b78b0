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

"""The MC-Distil benchmark's FLOPs are those of a steady-state step, not
of the first, which also folds the teacher's BN layers."""
import os.path as osp
import sys
from argparse import Namespace

from tests.conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'benchmarks'))
import benchmark_online_kd as bench  # noqa: E402


def test_flops_are_counted_on_a_step_after_the_first():
    args = Namespace(task='cls', size=[32, 32], batch=2, device='cpu',
                     amp=False, tiny=True, mcdistil_hypergrad=None)
    data = bench.make_batch(args)
    flops, _ = bench.mcdistil_flops_and_memory(args, data)
    for name in bench.MCDISTIL_VARIANTS:
        step = bench.build_variant(name, args)
        first = bench.step_flops(step, data)
        later = bench.step_flops(step, data)
        assert flops[name] == later == bench.step_flops(step, data)
        # The first MC-Distil step runs the teacher twice more (a probe
        # forward and the folded one's check); DML has no frozen peer.
        assert (first > later) == name.startswith('mmokd_mcdistil')

"""Iteration time, peak memory and FLOPs of GPD against the plain student.

Measured in one run, on one fixed batch, with the shipped configs' networks
and GPD settings (no pretrained weights are loaded):

(a) ``plain_student``: the student's own train step (mmengine
    ``train_step``, SGD);
(b) ``gpd``: ``mmokd.GPD`` without a teacher (DT forward + backward, student
    forward + backward, one SGD step with gradient clipping 5);
(c) ``gpd_per_forward``: (b) with every forward merging its own
    multi-branch kernels (``set_step_weight_caching(store, False)``), what
    the per-step cache of :mod:`mmokd.models.gpd.step_cache` saves;
(d) ``gpd_teacher``: ``mmokd.GPD`` with the config's static teacher and KD.

Time: the variants run interleaved, round after round, and the median of
each is reported. Memory: on CUDA the peak of
``torch.cuda.max_memory_allocated`` during each variant's first steps,
above what was allocated before them; on CPU, each variant in its own
subprocess, the growth of the peak RSS from after model building to after
the steps. FLOPs: one forward per image of the student, of the dynamic teacher
(the same store in DT mode) and of the teacher, counted by
``torch.utils.flop_counter`` (convolutions and matrix products; the
elementwise merging of multi-branch kernels is not counted); the training
estimate counts a trained network's step as 3 forwards and the teacher's
as one. ``--branches none`` measures the DT without multi-branch convs.
``--amp`` trains through mmengine's ``AmpOptimWrapper`` (CUDA only);
``--json FILE`` also writes the figures as JSON (``gpu_suite.sh``).

Example::

    python tools/benchmarks/benchmark_gpd.py --task cls --size 224 224
"""
import json
import os.path as osp
import sys
from typing import Callable, Dict, Tuple

import torch
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

import mmokd  # noqa: F401
from mmokd.models.gpd import gpd_mode, set_step_weight_caching
from mmokd.registry import MODELS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import measurement  # noqa: E402
from benchmark_online_kd import make_batch  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    cls='configs/gpd/dkd_resnet34_resnet18_in1k.py',
    seg='configs/gpd/kd_deeplabv3_r101_r18_cityscapes.py')
#: ResNet depth of each config's static teacher (``--tiny``).
TEACHER_DEPTHS = dict(cls=34, seg=101)
VARIANTS = ('plain_student', 'gpd', 'gpd_per_forward', 'gpd_teacher')


def model_config(args) -> dict:
    """The config's ``model``, offline (BN on one process for mmseg)."""
    model = Config.fromfile(osp.join(REPO, CONFIGS[args.task])).model
    if args.task == 'seg':
        for network in (model.architecture, model.teacher):
            network.norm_type = 'BN'
            network.cfg_options = dict(
                network.get('cfg_options', {}),
                **{'model.data_preprocessor.size': tuple(args.size)})
    if args.tiny:
        for network, depth in ((model.architecture, 18),
                               (model.teacher, TEACHER_DEPTHS[args.task])):
            network.cfg_options = dict(
                network.get('cfg_options', {}),
                **measurement.tiny_options(args.task, depth))
    if args.branches != 'config':
        model.gpd.branches = None if args.branches == 'none' \
            else args.branches
    return model


def build_variant(name: str, args) -> Callable[[dict], None]:
    """Returns a function running one train step of the variant."""
    cfg = model_config(args)
    device = torch.device(args.device)
    if name == 'plain_student':
        model = MODELS.build(cfg.architecture).to(device)
        optim = measurement.optim_wrapper(
            torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9),
            args.amp)
        return lambda data: model.train_step(data, optim)
    if name != 'gpd_teacher':
        cfg.pop('teacher')
        cfg.pop('static_kd')
    model = MODELS.build(cfg).to(device)
    optim = measurement.optim_wrapper(
        torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9),
        args.amp,
        clip_grad=dict(max_norm=5, norm_type=2))
    model.train()
    if name == 'gpd_per_forward':
        set_step_weight_caching(model.store, False)
    return lambda data: model.train_step(data, optim)


def measure_memory(name: str, args) -> float:
    """Peak training memory of one variant in MiB (run in a subprocess)."""
    step = build_variant(name, args)
    return measurement.peak_memory_mib(step, make_batch(args), args.device,
                                       args.memory_steps)


def measure(args) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Peak memory (MiB) and median seconds per iteration (interleaved) of
    the chosen variants."""
    steps = {name: build_variant(name, args) for name in args.variants}
    data = make_batch(args)
    memory = measurement.memory_of_all(__file__, steps, data, args)
    seconds = measurement.median_times(steps, data, args.device,
                                       args.warmup, args.iters)
    return seconds, memory


def forward_gmacs(args) -> Dict[str, float]:
    """Multiply-accumulates (G) of one forward per image."""
    model = MODELS.build(model_config(args)).eval()
    inputs = torch.zeros(1, 3, *args.size)

    def gmacs(network: torch.nn.Module) -> float:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            network(inputs, mode='tensor')
        return counter.get_total_flops() / 2 / 1e9

    macs = {'teacher': gmacs(model.teacher)}
    for mode in ('student', 'dynamic_teacher'):
        with gpd_mode(model.store, mode):
            macs[mode] = gmacs(model.store)
    return macs


def main() -> None:
    parser = measurement.benchmark_parser(__doc__.splitlines()[0], VARIANTS,
                                          'cls', (224, 224))
    parser.add_argument(
        '--branches',
        choices=['config', 'none', 'scratch'],
        default='config',
        help="multi-branch convs: as the config, none or 'scratch'")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.memory_of:
        print(json.dumps(measure_memory(args.memory_of, args)))
        return
    seconds, memory = measure(args)
    macs = forward_gmacs(args)
    print(f'config={CONFIGS[args.task]} size={args.size} batch={args.batch} '
          f'branches={args.branches} device={args.device} amp={args.amp} '
          f'iters={args.iters} (median)')
    print(f'{"variant":<16}{"s/iter":>10}{"peak MiB":>12}')
    for name in args.variants:
        print(f'{name:<16}{seconds[name]:>10.3f}{memory[name]:>12.1f}')
    if 'plain_student' in seconds:
        plain_t, plain_m = seconds['plain_student'], memory['plain_student']
        for name in args.variants:
            if name != 'plain_student':
                print(f'time   {name} / plain_student = '
                      f'{measurement.ratio(seconds[name], plain_t)}')
                print(f'memory {name} / plain_student = '
                      f'{measurement.ratio(memory[name], plain_m)}')
    s, d, t = macs['student'], macs['dynamic_teacher'], macs['teacher']
    print(f'forward GMACs per image: student {s:.3f}, dynamic teacher '
          f'{d:.3f} (x{d / s:.2f}), teacher {t:.3f}')
    print(f'training GMACs per image (3 x trained forwards + teacher): '
          f'plain {3 * s:.2f}, GPD {3 * (s + d):.2f} '
          f'(x{(s + d) / s:.2f}), GPD + teacher {3 * (s + d) + t:.2f}')
    if args.json:
        measurement.write_json(
            args, 'gpd', seconds, memory,
            flop_ratio={'gpd': (s + d) / s, 'gpd_per_forward': (s + d) / s})


if __name__ == '__main__':
    main()

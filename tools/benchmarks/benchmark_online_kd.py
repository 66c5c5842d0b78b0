"""Iteration time and peak memory of mmokd's online methods.

Measured in one run, on one fixed batch:

(a) each network's own plain train step (``model.train_step`` with its own
    SGD optimizer), teacher and student separately;
(b) mmokd ``DML`` (one optimizer per network);
(c) MMRazor ``SingleTeacherDistill`` with a trainable teacher and KL terms
    in both directions (the nearest thing MMRazor offers; for detection,
    ``ChannelWiseDivergence`` on the five FPN levels of the dense head's
    classification scores);
(d) mmokd ``DML`` + ADM (the ADMDistiller of
    ``configs/adm/resnet34_resnet18_in1k.py`` or
    ``configs/adm/deeplabv3_r101_r18_cityscapes.py``), eager, and with
    ``fuse_terms=True`` (``mmokd_dml_adm_fused``: ADM's terms compiled by
    ``torch.compile``; the compilation happens in the warm-up round);
(e) mmokd ``SwitOKD`` with its decision computed as usual but expert mode
    forced, so every step skips the teacher's backward and optimizer step
    (the saving SwitOKD gets on its expert-mode batches);
(f) mmokd ``KDCL`` (MinLogit ensemble) with one view per network (the
    batch and its horizontal flip) through the multi-view preprocessor;
(g) mmokd ``MCDistil`` with one student (the teacher frozen, a C-Net):
    its plain step (``mmokd_mcdistil``) and its step with a meta step
    (``mmokd_mcdistil_meta``, triggered every iteration, the held-out
    batch being the same batch); the amortised step at ``L = 20``,
    ``(19 plain + meta) / 20``, and the ``FlopCounterMode`` FLOPs of one
    step of each against DML are printed too.

Time: the variants run interleaved, round after round, and the median of
each is reported, so machine noise hits them alike. Memory: on CUDA the
peak of ``torch.cuda.max_memory_allocated`` during each variant's first
steps, above what was allocated before them; on CPU, each variant in its
own subprocess, the growth of the peak RSS from after model building to
after the steps.
Detection (``--task det``, default ``--size 800 1333``, the 1333x800
images of mmdet's recipe): ``--pair retinanet`` (RetinaNet R101 / R18) or
``--pair faster_rcnn`` (Faster R-CNN R101 / R50); (b), (d), (e), (f) are
the algorithms of the shipped configs ``configs/{dml,adm,switokd,kdcl}/``
of the pair (:mod:`det_variants`); KDCL exists for RetinaNet only, and
neither the fused ADM nor MC-Distil for detection.

Operators: the non-view ATen operators one more step of each variant
dispatches (forward, backward, optimizer; SGD is the multi-tensor one on
every device, as CUDA's default), plus the kernels ``torch.compile``
generated and the step launched; on a GPU whose step is launch-bound, time
follows this count, and it is the same on any device (for the compiled
variant, up to how Inductor fuses on each device). Prints the ratios
(b) / sum(a), (b) / (c), and (d), (e), (f) over (b).

Example::

    python tools/benchmarks/benchmark_online_kd.py --task seg --size 128 256
    python tools/benchmarks/benchmark_online_kd.py --task det \
        --pair faster_rcnn --size 256 416 --iters 3
"""
import json
import os.path as osp
import sys
from typing import Callable, Dict, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper, OptimWrapperDict

import mmokd  # noqa: F401
from mmokd.engine import PeerOptimWrapperConstructor
from mmokd.models.builders import ExternalModel
from mmokd.registry import MODELS
from mmokd.utils.mcdistil_checks import HYPERGRADS

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import det_variants  # noqa: E402
import allocated_memory  # noqa: E402
import measurement  # noqa: E402

SEG_CFGS = dict(
    student='mmseg::deeplabv3/'
    'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    teacher='mmseg::deeplabv3/'
    'deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py')
CLS_CFGS = dict(
    student='mmpretrain::resnet/resnet18_8xb32_in1k.py',
    teacher='mmpretrain::resnet/resnet34_8xb32_in1k.py')
ADM_CONFIGS = osp.join(
    osp.dirname(osp.abspath(__file__)), '..', '..', 'configs', 'adm')
ADM_CFGS = dict(
    seg='deeplabv3_r101_r18_cityscapes.py', cls='resnet34_resnet18_in1k.py')
VARIANTS = ('plain_student', 'plain_teacher', 'mmokd_dml', 'mmrazor_std',
            'mmokd_dml_adm', 'mmokd_dml_adm_fused', 'mmokd_switokd_expert',
            'mmokd_kdcl', 'mmokd_mcdistil', 'mmokd_mcdistil_meta')
#: Default ``--size`` of each task.
SIZES = dict(seg=(128, 256), cls=(128, 256), det=(800, 1333))
#: MC-Distil's meta interval in every shipped config.
MCDISTIL_INTERVAL = 20


#: ResNet depth of each network (``--tiny`` narrows them).
DEPTHS = dict(
    cls=dict(student=18, teacher=34), seg=dict(student=18, teacher=101))


def build_peer(args, role: str) -> torch.nn.Module:
    """One network exactly as its mmseg / mmpretrain / mmdet config
    builds it."""
    if args.task == 'det':
        return det_variants.build_peer(args.pair, role, args.tiny)
    tiny = measurement.tiny_options(args.task, DEPTHS[args.task][role]) \
        if args.tiny else {}
    if args.task == 'seg':
        options = {
            'model.pretrained': None,
            'model.data_preprocessor.size': tuple(args.size),
            **tiny
        }
        return ExternalModel(SEG_CFGS[role], options, 'BN')
    return ExternalModel(CLS_CFGS[role], tiny or None)


def make_batch(args) -> dict:
    """A fixed dataloader-style batch."""
    gen = torch.Generator().manual_seed(0)
    if args.task == 'det':
        return det_variants.make_batch(args.size, args.batch, gen)
    h, w = args.size
    inputs = [
        torch.randint(0, 256, (3, h, w), generator=gen, dtype=torch.uint8)
        for _ in range(args.batch)
    ]
    if args.task == 'seg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(args.batch):
            sample = SegDataSample()
            label = torch.randint(0, 19, (1, h, w), generator=gen)
            sample.gt_sem_seg = PixelData(data=label)
            sample.set_metainfo(
                dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            samples.append(sample)
    else:
        from mmpretrain.structures import DataSample
        samples = [
            DataSample().set_gt_label(int(i) % 1000) for i in range(args.batch)
        ]
    return dict(inputs=inputs, data_samples=samples)


def logits_module(args) -> str:
    return 'decode_head.conv_seg' if args.task == 'seg' else 'head.fc'


def adm_distiller(args, fuse_terms: bool = False) -> dict:
    """The ADM distiller of the shipped config of the pair of
    :data:`SEG_CFGS` / :data:`CLS_CFGS`, its terms compiled or not."""
    cfg = Config.fromfile(osp.join(ADM_CONFIGS, ADM_CFGS[args.task]))
    return dict(cfg.model.distiller.to_dict(), fuse_terms=fuse_terms)


def tiny_adm_channels(cfg):
    """The classification ADM distiller with the backbone widths of
    ``--tiny`` (its ``channels`` are backbone stage widths; segmentation's
    are the decode heads', which ``--tiny`` keeps)."""
    if isinstance(cfg, list):
        return [tiny_adm_channels(item) for item in cfg]
    if not isinstance(cfg, dict):
        return cfg
    return {
        key: {role: width * measurement.TINY_WIDTH // 64
              for role, width in value.items()}
        if key == 'channels' else tiny_adm_channels(value)
        for key, value in cfg.items()
    }


def multi_view_preprocessor(args) -> dict:
    """The peers' own preprocessing (ImageNet mean / std), per view."""
    norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
    if args.task == 'seg':
        return dict(
            type='mmokd.MultiViewSegDataPreProcessor',
            num_views=2,
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
            size=tuple(args.size),
            **norm)
    return dict(
        type='mmokd.MultiViewClsDataPreprocessor',
        num_views=2,
        to_rgb=True,
        num_classes=1000,
        **norm)


def two_views(data: dict) -> dict:
    """The batch as ``pseudo_collate`` gives a two-view pipeline's: the
    images, then their horizontal flips."""
    flipped = [image.flip(-1) for image in data['inputs']]
    return dict(
        inputs=[data['inputs'], flipped], data_samples=data['data_samples'])


# The multi-tensor SGD that CUDA uses by default, on every device, so that
# operator counts taken on a CPU match a GPU's.
SGD_ARGS = dict(lr=1e-3, momentum=0.9, foreach=True)


def sgd(params, amp: bool = False) -> OptimWrapper:
    return measurement.optim_wrapper(torch.optim.SGD(params, **SGD_ARGS), amp)


def peer_sgd(model, amp: bool = False) -> OptimWrapperDict:
    """One :data:`SGD_ARGS` optimizer per peer of an mmokd algorithm."""
    wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic') \
        if amp else {}
    return PeerOptimWrapperConstructor({
        name: dict(wrapper, optimizer=dict(type='SGD', **SGD_ARGS))
        for name in model.peer_names
    })(model)


def mcdistil_step(args, peers: dict, meta: bool) -> Callable[[dict], None]:
    """A train step of MC-Distil over ``peers`` (the teacher frozen; the
    hypergradient of ``--mcdistil-hypergrad``, by default the shipped
    configs' of the task), with a meta step on every call when ``meta``."""
    seg = args.task == 'seg'
    model = MODELS.build(
        dict(
            type='mmokd.MCDistil',
            peers=peers,
            logits=logits_module(args),
            cnet=dict(type='mmokd.MCDistilCNet', num_students=1, dense=seg),
            hypergrad=args.mcdistil_hypergrad or
            ('finite_difference' if seg else 'forward_mode'),
            hard_loss_keys=('decode.loss_ce', ) if seg else
            ('loss_task', ))).to(args.device)
    model.train()  # as mmengine's train loop: the frozen teacher in eval
    wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic') \
        if args.amp else {}
    optim = PeerOptimWrapperConstructor(
        dict(
            student=dict(wrapper, optimizer=dict(type='SGD', **SGD_ARGS)),
            cnet=dict(wrapper, optimizer=dict(type='Adam', lr=1e-3))))(
                model)
    model.meta_triggered = meta

    def step(data: dict) -> None:
        model.set_meta_batches([data])
        model.train_step(data, optim)

    return step


def step_flops(step: Callable[[dict], None], data: dict) -> int:
    """FLOPs of one call of ``step`` (``FlopCounterMode``: forward,
    backward and double backward)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step(data)
    return counter.get_total_flops()


MCDISTIL_VARIANTS = ('mmokd_dml', 'mmokd_mcdistil', 'mmokd_mcdistil_meta')


def mcdistil_flops_and_memory(
        args, data: dict) -> Tuple[Dict[str, int], Dict[str, float]]:
    """FLOPs of the second step of DML and MC-Distil's plain and meta
    steps, each on a freshly built model, and the peak tensor memory of
    its third step above the tensors alive before it (the profiler's
    allocation events on the CPU, :mod:`allocated_memory`): steady-state
    steps, their gradients, activations and look-ahead, without the work
    done once in the first (the optimizer state, and two more teacher
    forwards that fold its BN layers, ``BatchNormFolding``).

    Args:
        args (Namespace): The parsed options.
        data (dict): The batch.

    Returns:
        tuple[dict, dict]: ``{variant: FLOPs}``, ``{variant: MiB}``.
    """
    flops, memory = {}, {}
    for name in MCDISTIL_VARIANTS:
        step = build_variant(name, args)
        step(data)
        flops[name] = step_flops(step, data)
        memory[name] = allocated_memory.step_peak_mib(step, data,
                                                      args.device)
    return flops, memory


def print_mcdistil_ratios(args, seconds: Dict[str, float]) -> None:
    """MC-Distil's plain, meta and amortised step against DML: time,
    counted FLOPs and peak tensor memory of a step, with the targets.

    Args:
        args (Namespace): The parsed options.
        seconds (dict): ``{variant: median s/iter}`` of the timed run.
    """
    dml, plain, meta = (seconds[name] for name in MCDISTIL_VARIANTS)
    every = MCDISTIL_INTERVAL
    amortised = ((every - 1) * plain + meta) / every
    flops, memory = mcdistil_flops_and_memory(args, make_batch(args))
    flops_amortised = ((every - 1) * flops['mmokd_mcdistil'] +
                       flops['mmokd_mcdistil_meta']) / every
    flops_ratio = flops_amortised / flops['mmokd_dml']
    print(f'time   mmokd_mcdistil plain / meta / amortised (L={every}) over '
          f'mmokd_dml = {plain / dml:.3f} / {meta / dml:.3f} / '
          f'{amortised / dml:.3f}')
    print('flops  mmokd_mcdistil plain / meta / amortised over mmokd_dml = '
          f'{flops["mmokd_mcdistil"] / flops["mmokd_dml"]:.3f} / '
          f'{flops["mmokd_mcdistil_meta"] / flops["mmokd_dml"]:.3f} / '
          f'{flops_ratio:.3f}')
    print(f'time / flops amortised = {amortised / dml / flops_ratio:.3f} '
          '(target <= 1.1)')
    print('step peak tensor MiB mmokd_dml / mmokd_mcdistil / '
          'mmokd_mcdistil_meta = ' +
          ' / '.join(f'{memory[name]:.1f}' for name in MCDISTIL_VARIANTS))
    meta_memory = measurement.ratio(memory['mmokd_mcdistil_meta'],
                                    memory['mmokd_dml'])
    print(f'memory mmokd_mcdistil_meta / mmokd_dml = {meta_memory} '
          '(target <= 1.3)')


def online_algorithm(name: str, args,
                     peers: Dict[str, torch.nn.Module]) -> torch.nn.Module:
    """The mmokd algorithm of variant ``name`` (DML, DML + ADM eager or
    fused, SwitOKD, KDCL) over ``peers``: for detection the shipped
    config's, otherwise built here."""
    if args.task == 'det':
        return det_variants.build_algorithm(name, args.pair, peers,
                                            args.tiny)
    if name.startswith('mmokd_dml'):
        distiller = adm_distiller(args, name.endswith('fused')) \
            if 'adm' in name else None
        if distiller is not None and args.tiny and args.task == 'cls':
            distiller = tiny_adm_channels(distiller)
        return MODELS.build(
            dict(
                type='mmokd.DML',
                peers=peers,
                logits=logits_module(args),
                dml_loss=dict(type='mmokd.DMLLoss'),
                distiller=distiller))
    if name == 'mmokd_kdcl':
        return MODELS.build(
            dict(
                type='mmokd.KDCL',
                peers=peers,
                logits=logits_module(args),
                ensemble_strategy='minlogit',
                data_preprocessor=multi_view_preprocessor(args)))
    return MODELS.build(
        dict(type='mmokd.SwitOKD', peers=peers, logits=logits_module(args)))


def mmrazor_distill(peers: Dict[str, torch.nn.Module],
                    source: str,
                    loss: dict,
                    calls: Optional[int] = None) -> torch.nn.Module:
    """MMRazor's ``SingleTeacherDistill`` with a trainable teacher and
    ``loss`` in both directions on the outputs of module ``source``.

    Args:
        peers (dict): ``{student: network, teacher: network}``.
        source (str): The recorded module.
        loss (dict): The MMRazor loss of each direction.
        calls (int, optional): How often ``source`` runs in a forward
            (once per FPN level), one term per call and direction; once
            if not given.

    Returns:
        nn.Module: The algorithm.
    """
    record = dict(type='ModuleOutputs', source=source)
    losses: Dict[str, dict] = {}
    mappings: Dict[str, dict] = {}
    for call in [None] if calls is None else range(calls):
        suffix = '' if call is None else str(call)
        index = {} if call is None else dict(record_idx=call)
        for key, student_first in (('loss_s', True), ('loss_t', False)):
            losses[key + suffix] = loss
            mappings[key + suffix] = dict(
                preds_S=dict(
                    from_student=student_first, recorder='logits', **index),
                preds_T=dict(
                    from_student=not student_first,
                    recorder='logits',
                    **index))
    return MODELS.build(
        dict(
            type='mmrazor.SingleTeacherDistill',
            architecture=peers['student'],
            teacher=peers['teacher'],
            teacher_trainable=True,
            teacher_norm_eval=False,
            distiller=dict(
                type='ConfigurableDistiller',
                student_recorders=dict(logits=record),
                teacher_recorders=dict(logits=record),
                distill_losses=losses,
                loss_forward_mappings=mappings)))


def build_variant(name: str, args) -> Callable[[dict], None]:
    """Returns a function running one train step of the variant."""
    device = torch.device(args.device)
    if name.startswith('plain_'):
        model = build_peer(args, name[len('plain_'):]).to(device)
        optim = sgd(model.parameters(), args.amp)
        return lambda data: model.train_step(data, optim)
    peers = dict(
        student=build_peer(args, 'student'),
        teacher=build_peer(args, 'teacher'))
    if name.startswith('mmokd_mcdistil'):
        return mcdistil_step(args, peers, name.endswith('meta'))
    if name == 'mmrazor_std':
        if args.task == 'det':
            source, loss, calls = det_variants.mmrazor_terms(args.pair)
        else:
            source, loss, calls = logits_module(args), dict(
                type='KLDivergence',
                tau=1,
                reduction='mean' if args.task == 'seg' else
                'batchmean'), None
        model = mmrazor_distill(peers, source, loss, calls).to(device)
        optim = sgd(model.parameters(), args.amp)
        return lambda data: model.train_step(data, optim)
    model = online_algorithm(name, args, peers).to(device)
    if name == 'mmokd_switokd_expert':
        # The statistics and their all-reduce still run (reweight_losses);
        # only the student steps, as in expert mode.
        model.peers_to_update = lambda: [model.student_name]
    optim = peer_sgd(model, args.amp)
    if name == 'mmokd_kdcl' and args.task != 'det':
        # One view per network (detection's KDCL has one shared view).
        return lambda data: model.train_step(two_views(data), optim)
    return lambda data: model.train_step(data, optim)


def measure_memory(name: str, args) -> float:
    """Peak training memory of one variant in MiB (run in a subprocess)."""
    step = build_variant(name, args)
    return measurement.peak_memory_mib(step, make_batch(args), args.device,
                                       args.memory_steps)


def measure_time_and_operators(
        args) -> Tuple[Dict[str, float], Dict[str, int], Dict[str, float]]:
    """Median seconds per iteration of every variant, interleaved, the
    operators one more step of each dispatches and peak memory (MiB)."""
    steps = {name: build_variant(name, args) for name in args.variants}
    data = make_batch(args)
    memory = measurement.memory_of_all(__file__, steps, data, args)
    seconds = measurement.median_times(steps, data, args.device, args.warmup,
                                       args.iters)
    operators = {
        name: measurement.dispatched_operators(step, data)
        for name, step in steps.items()
    }
    return seconds, operators, memory


def check_variants(args, parser) -> Dict[str, str]:
    """Sets the default ``--size`` of the task and, for detection, leaves
    out of the default variants those the pair lacks (asked for by name,
    they are an error).

    Args:
        args (Namespace): The parsed options (changed in place).
        parser (ArgumentParser): For the error.

    Returns:
        dict: ``{variant: why it is not measured}``.
    """
    args.size = args.size or SIZES[args.task]
    if args.task != 'det':
        return {}
    lacking = det_variants.unavailable(args.pair)
    if args.variants == list(VARIANTS):
        args.variants = [name for name in VARIANTS if name not in lacking]
    for name in args.variants:
        if name in lacking:
            parser.error(f'--task det --pair {args.pair}: {name} is not '
                         f'available ({lacking[name]})')
    return {name: reason for name, reason in lacking.items()
            if name not in args.variants}


def main() -> None:
    parser = measurement.benchmark_parser(__doc__.splitlines()[0], VARIANTS,
                                          'seg', None, tuple(SIZES))
    parser.add_argument(
        '--mcdistil-hypergrad',
        choices=list(HYPERGRADS),
        help='model.hypergrad of the MC-Distil variants (default: the '
        "shipped configs': forward mode for cls, finite differences for "
        'seg)')
    parser.add_argument(
        '--pair',
        choices=list(det_variants.PAIRS),
        default='retinanet',
        help='the detector pair of --task det')
    args = parser.parse_args()
    notes = check_variants(args, parser)
    torch.manual_seed(0)
    if args.memory_of:
        print(json.dumps(measure_memory(args.memory_of, args)))
        return
    seconds, operators, memory = measure_time_and_operators(args)
    pair = f' pair={args.pair}' if args.task == 'det' else ''
    print(f'task={args.task}{pair} size={args.size} batch={args.batch} '
          f'device={args.device} amp={args.amp} iters={args.iters} '
          '(median)')
    for name, reason in notes.items():
        print(f'{name}: not measured ({reason})')
    print(f'{"variant":<22}{"s/iter":>10}{"peak MiB":>12}{"operators":>11}')
    for name in args.variants:
        print(f'{name:<22}{seconds[name]:>10.3f}{memory[name]:>12.1f}'
              f'{operators[name]:>11d}')
    if {'plain_student', 'plain_teacher', 'mmokd_dml',
            'mmrazor_std'} <= set(seconds):
        plain_time = seconds['plain_student'] + seconds['plain_teacher']
        plain_mem = memory['plain_student'] + memory['plain_teacher']
        print(f'time   mmokd_dml / sum(plain) = '
              f'{seconds["mmokd_dml"] / plain_time:.3f}')
        print(f'time   mmokd_dml / mmrazor_std = '
              f'{seconds["mmokd_dml"] / seconds["mmrazor_std"]:.3f}')
        print(f'memory mmokd_dml / sum(plain) = '
              f'{measurement.ratio(memory["mmokd_dml"], plain_mem)}')
        razor_mem = measurement.ratio(memory['mmokd_dml'],
                                      memory['mmrazor_std'])
        print(f'memory mmokd_dml / mmrazor_std = {razor_mem}')
    for name in VARIANTS[4:]:
        if name not in seconds or 'mmokd_dml' not in seconds:
            continue
        for label, values in (('time', seconds), ('memory', memory),
                              ('operators', operators)):
            print(f'{label:<9} {name} / mmokd_dml = '
                  f'{measurement.ratio(values[name], values["mmokd_dml"])}')
    if set(MCDISTIL_VARIANTS) <= set(seconds):
        print_mcdistil_ratios(args, seconds)
    if args.json:
        extra = dict(pair=args.pair) if args.task == 'det' else {}
        measurement.write_json(args, 'online_kd', seconds, memory, operators,
                               notes, **extra)


if __name__ == '__main__':
    main()

"""Does the student learn better? Every method against the student alone.

Real data that ships inside scikit-learn (an optional dependency, see
``requirements/optional.txt``): the 1797 UCI handwritten digits of
``sklearn.datasets.load_digits`` (8x8, 17 grey levels, 10 classes), read
from the package's own files, no download. They are written once as an
mmpretrain ``CustomDataset`` (PNG image folders ``<class>/<index>.png``,
upsampled to 16x16, plus annotation lists): mmpretrain's CIFAR reader
accepts only 32x32 pickles, and a folder dataset is what a user's own data
looks like. A fixed stratified split holds out ``TEST_IMAGES`` images for
testing; two training settings draw from the rest:

* ``small``: 30 images per class (300): every method and the teacher
  alone, and ADM's ablations (on the first ``--ablation-seeds`` seeds);
* ``full``: every training image (1300): the methods of ``FULL``.

Each method trains with its shipped config (``configs/dml``, ``kdcl``,
``switokd``, ``adm``, ``gpd``) re-pointed at the digits by
``configs/learning/digits_overlay.py`` (dataset, random-crop pipeline, ten
classes, CIFAR ResNet-14 teacher / ResNet-8 student, SGD with a cosine
schedule) through the mmengine ``Runner``, in-process; the student alone
and the teacher alone train with the same schedule and seeds. Every run
reports the last epoch's test top-1. Paired differences (method minus
student alone, same seed) give the gain and its spread. The loss terms
each network logs are averaged per epoch, which shows the scale of ADM's
terms against the label and DML terms over training.

Runs are spread over ``--workers`` processes (one thread each); the wall
time is measured and written with the results. Each finished run is
appended to ``<work-dir>/records.jsonl``: ``--resume`` runs only the
missing ones, ``--report`` rewrites the report from them.

Example::

    OMP_NUM_THREADS=1 python tools/benchmarks/learning_check.py \\
        --workers 2 --doc docs/learning.md
    python tools/benchmarks/learning_check.py --quick --work-dir /tmp/lc
"""
import argparse
import copy
import json
import multiprocessing
import os
import os.path as osp
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OVERLAY = osp.join(REPO, 'configs', 'learning', 'digits_overlay.py')
TEST_IMAGES = 497
SMALL_PER_CLASS = 30
HELD_OUT_FRACTION = 0.1  # KDCL-General's held-out share of the training set
BEGIN = '<!-- learning_check results: begin -->'
END = '<!-- learning_check results: end -->'

#: Method -> (shipped config, overrides merged after the digits overlay).
ADM_CFG = 'configs/adm/resnet32x4_resnet8x4_cifar100.py'
KDCL_CFG = 'configs/kdcl/resnet32x4_resnet8x4_cifar100.py'
METHODS: Dict[str, Tuple[str, dict]] = {
    'student alone': ('configs/dml/resnet32x4_resnet8x4_cifar100.py', {}),
    'teacher alone': ('configs/dml/resnet32x4_resnet8x4_cifar100.py', {}),
    'DML': ('configs/dml/resnet32x4_resnet8x4_cifar100.py', {}),
    'KDCL naive': (KDCL_CFG, dict(model=dict(ensemble_strategy='naive'))),
    'KDCL linear': (KDCL_CFG, dict(model=dict(ensemble_strategy='linear'))),
    'KDCL MinLogit': (KDCL_CFG, {}),
    'KDCL General':
    ('configs/kdcl/resnet32x4_resnet8x4_general_cifar100.py', {}),
    'KDCL mean': (KDCL_CFG, dict(model=dict(ensemble_strategy='mean'))),
    'SwitOKD': ('configs/switokd/resnet32x4_resnet8x4_cifar100.py', {}),
    'DML+ADM': (ADM_CFG, {}),
    'KDCL+ADM': ('configs/adm/kdcl_resnet32x4_resnet8x4_cifar100.py', {}),
    'offline KD+ADM':
    ('configs/adm/offline_kd_resnet32x4_resnet8x4_cifar100.py', {}),
    'GPD': ('configs/gpd/scratch_resnet18_in1k.py', {}),
    # ADM ablations (paper values above: alpha = beta = 0.01, gamma = 1.0,
    # feature loss on layer2 and F).
    'offline KD': ('configs/adm/offline_kd_resnet32x4_resnet8x4_cifar100.py',
                   dict(model=dict(distiller=dict(alpha=0.0)))),
    'DML+ADM gamma=0': (ADM_CFG, dict(model=dict(distiller=dict(gamma=0.0)))),
    'DML+ADM gamma=0.1':
    (ADM_CFG, dict(model=dict(distiller=dict(gamma=0.1)))),
    'DML+ADM F only': (ADM_CFG,
                       dict(model=dict(distiller=dict(feature_stages=[])))),
    'DML+ADM feature only':
    (ADM_CFG, dict(model=dict(distiller=dict(alpha=0.0, beta=0.0)))),
    'DML+ADM a=b=0.5 gamma=0':
    (ADM_CFG,
     dict(model=dict(distiller=dict(alpha=0.5, beta=0.5, gamma=0.0)))),
}
MAIN = ('DML', 'KDCL naive', 'KDCL linear', 'KDCL MinLogit', 'KDCL General',
        'KDCL mean', 'SwitOKD', 'DML+ADM', 'KDCL+ADM', 'offline KD+ADM', 'GPD')
ABLATION = ('offline KD', 'DML+ADM gamma=0', 'DML+ADM gamma=0.1',
            'DML+ADM F only', 'DML+ADM feature only',
            'DML+ADM a=b=0.5 gamma=0')
#: Trained alone, same schedule and seeds (the teacher's own top-1 is shown).
REFERENCES = ('student alone', 'teacher alone')
#: The methods of the full setting (the others: small setting only).
FULL = ('DML', 'KDCL MinLogit', 'DML+ADM', 'GPD')
QUICK = ('DML', 'KDCL MinLogit', 'DML+ADM', 'offline KD+ADM')
#: ADM variants and the method each adds to (compared seed by seed).
ADM_PAIRS = (('DML+ADM', 'DML'), ('DML+ADM gamma=0',
                                  'DML'), ('DML+ADM gamma=0.1', 'DML'),
             ('DML+ADM F only', 'DML'), ('DML+ADM feature only', 'DML'),
             ('DML+ADM a=b=0.5 gamma=0', 'DML'), ('KDCL+ADM', 'KDCL MinLogit'),
             ('offline KD+ADM', 'offline KD'))
#: The loss terms whose scale over training is reported.
TRACED = ('DML+ADM', 'DML+ADM gamma=0.1', 'DML+ADM gamma=0')


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def write_digits(root: str, seed: int = 0) -> Dict[str, object]:
    """Writes scikit-learn's digits once as an mmpretrain folder dataset.

    Layout: ``images/<class>/<index>.png`` (16x16 RGB, nearest upsampling
    of the 8x8 originals, grey levels 0..16 scaled to 0..255) and
    ``meta/{test,train_full,train_small}.txt`` (``<class>/<index>.png
    <class>`` per line, in a shuffled order so that index slices mix the
    classes). ``meta/stats.json`` holds the training images' mean and
    standard deviation (0..255) for the data preprocessor. An existing
    complete dataset is left as it is.

    Args:
        root (str): Output folder.
        seed (int): Seed of the split and of the lists' order.

    Returns:
        dict: ``stats.json``'s content (``mean``, ``std``, image counts).
    """
    stats_path = osp.join(root, 'meta', 'stats.json')
    if osp.exists(stats_path):
        with open(stats_path) as f:
            return json.load(f)
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.kron(digits.images, np.ones((2, 2))) * (255 / 16)
    images = np.round(images).astype(np.uint8)
    labels = digits.target
    index = np.arange(len(labels))
    train, test = train_test_split(
        index, test_size=TEST_IMAGES, stratify=labels, random_state=seed)
    rng = np.random.default_rng(seed)
    small = np.concatenate([
        rng.permutation(train[labels[train] == c])[:SMALL_PER_CLASS]
        for c in range(10)
    ])
    for i in index:
        folder = osp.join(root, 'images', str(labels[i]))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(np.repeat(images[i][..., None], 3, axis=2)).save(
            osp.join(folder, f'{i:04d}.png'))
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    for name, subset in (('test', test), ('train_full', train), ('train_small',
                                                                 small)):
        with open(osp.join(root, 'meta', f'{name}.txt'), 'w') as f:
            for i in rng.permutation(subset):
                f.write(f'{labels[i]}/{i:04d}.png {labels[i]}\n')
    pixels = images[train].astype(np.float64)
    stats = dict(
        mean=round(float(pixels.mean()), 2),
        std=round(float(pixels.std()), 2),
        test=int(len(test)),
        train_full=int(len(train)),
        train_small=int(len(small)))
    with open(stats_path, 'w') as f:
        json.dump(stats, f)
    return stats


# --------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------
def _merge(cfg, overrides: dict) -> None:
    """Merges a nested dict into ``cfg`` (mmengine rules, ``_delete_``)."""
    cfg.merge_from_dict(overrides)


def _digits_pipeline(cfg) -> List[dict]:
    """The overlay's training pipeline (random crop, pack)."""
    return copy.deepcopy(cfg.digits_train_pipeline)


def method_config(method: str,
                  setting: dict,
                  seed: int,
                  data_root: str,
                  work_dir: str,
                  teacher_ckpt: Optional[str] = None):
    """The shipped config of ``method`` re-pointed at the digits.

    Args:
        method (str): A key of ``METHODS``.
        setting (dict): ``ann_file``, ``epochs``, ``batch_size``, ``mean``,
            ``std`` and ``images`` of the training setting.
        seed (int): Seed of initialisation, sampling and augmentation.
        data_root (str): Folder written by :func:`write_digits`.
        work_dir (str): The run's work folder.
        teacher_ckpt (str, optional): Plain teacher weights (offline KD).

    Returns:
        mmengine.Config: The full training config.
    """
    from mmengine.config import Config

    path, overrides = METHODS[method]
    cfg = Config.fromfile(osp.join(REPO, path))
    overlay = Config.fromfile(OVERLAY)
    # The overlay's own fields, as a child config would set them.
    _merge(
        cfg,
        dict(
            num_classes=overlay.num_classes,
            train_dataloader=overlay.train_dataloader,
            val_dataloader=overlay.val_dataloader,
            test_dataloader=overlay.test_dataloader,
            val_evaluator=overlay.val_evaluator,
            test_evaluator=overlay.test_evaluator,
            data_preprocessor=overlay.data_preprocessor,
            train_cfg=overlay.train_cfg,
            default_hooks=overlay.default_hooks,
            env_cfg=overlay.env_cfg,
            log_level=overlay.log_level))
    cfg.param_scheduler = copy.deepcopy(overlay.param_scheduler)
    cfg.custom_hooks = []
    cfg.auto_scale_lr = None
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.train_cfg.max_epochs = setting['epochs']
    cfg.train_cfg.val_interval = setting['epochs']
    cfg.param_scheduler[0].T_max = setting['epochs']
    cfg.param_scheduler[0].end = setting['epochs']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.train_dataloader.dataset.ann_file = setting['ann_file']
    cfg.train_dataloader.batch_size = setting['batch_size']
    cfg.data_preprocessor.mean = [setting['mean']] * 3
    cfg.data_preprocessor.std = [setting['std']] * 3
    pipeline = _digits_pipeline(overlay)
    sgd = copy.deepcopy(overlay.sgd)
    student = copy.deepcopy(overlay.student)
    teacher = copy.deepcopy(overlay.teacher)
    model = cfg.model
    kind = model.get('type', '')
    if method in ('student alone', 'teacher alone'):
        from mmokd.models.builders.num_classes import with_num_classes
        cfg.model = with_num_classes(
            student if method == 'student alone' else teacher,
            overlay.num_classes, 'model')
        cfg.optim_wrapper = sgd
        cfg.val_cfg = dict()
        cfg.test_cfg = dict()
        cfg.train_dataloader.dataset.pipeline = pipeline
        return cfg
    # One field sets every network's class count (and the preprocessor's).
    model.num_classes = overlay.num_classes
    if kind == 'GPD':
        model.architecture = student
        cfg.optim_wrapper.optimizer = sgd.optimizer
        cfg.train_dataloader.dataset.pipeline = pipeline
        return cfg
    model.peers.student = dict(
        student, init_cfg=model.peers.student.get('init_cfg'))
    model.peers.teacher = dict(
        teacher, init_cfg=model.peers.teacher.get('init_cfg'))
    if model.peers.student.init_cfg is None:
        model.peers.student.pop('init_cfg')
    if model.peers.teacher.init_cfg is None:
        model.peers.teacher.pop('init_cfg')
    else:
        model.peers.teacher.init_cfg.checkpoint = teacher_ckpt
    for name, wrapper in cfg.optim_wrapper.items():
        if name != 'constructor':
            wrapper.optimizer = sgd.optimizer
    views = cfg.data_preprocessor.get('num_views', 1)
    if views > 1:
        cfg.train_dataloader.dataset.pipeline = [
            dict(
                type='MultiView', num_views=views, transforms=[pipeline[:-1]]),
            pipeline[-1]
        ]
    else:
        cfg.train_dataloader.dataset.pipeline = pipeline
    if 'distiller' in model and model.distiller.get('type') == \
            'ADMDistiller':
        model.distiller.channels = overlay.adm_channels
        model.distiller.feature_stages = overlay.adm_stages
    if kind == 'KDCL' and model.get('ensemble_strategy') == 'general':
        held = max(1, round(setting['images'] * HELD_OUT_FRACTION))
        cfg.train_dataloader.dataset.indices = setting['images'] - held
        cfg.custom_hooks = [
            dict(
                type='mmokd.KDCLGeneralWeightsHook',
                dataloader=dict(
                    cfg.val_dataloader,
                    dataset=dict(
                        cfg.val_dataloader.dataset,
                        ann_file=setting['ann_file'],
                        indices=-held)))
        ]
    _merge(cfg, overrides)
    return cfg


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------
def _trace_hook(gradients: bool):
    """A hook averaging every logged loss per epoch and keeping the last
    validation metrics (built lazily: mmengine is imported in workers).

    With ``gradients``, after each epoch it also measures, on the epoch's
    last batch, the gradient norm of every loss term over the parameters
    of the network that owns it (BatchNorm statistics restored afterwards,
    so training is unchanged).
    """
    import torch
    from mmengine.hooks import Hook

    class LossTrace(Hook):
        priority = 'LOWEST'

        def __init__(self) -> None:
            self.epochs: List[Dict[str, float]] = []
            self.sums: Dict[str, float] = defaultdict(float)
            self.count = 0
            self.metrics: Dict[str, float] = {}
            self.batch = None

        def after_train_iter(self,
                             runner,
                             batch_idx: int,
                             data_batch=None,
                             outputs=None) -> None:
            for key, value in (outputs or {}).items():
                if 'loss' in key:
                    self.sums[key] += float(
                        value.detach() if hasattr(value, 'detach') else value)
            self.count += 1
            self.batch = data_batch

        def after_train_epoch(self, runner) -> None:
            epoch = {k: v / max(self.count, 1) for k, v in self.sums.items()}
            if gradients:
                epoch.update(self.gradient_norms(runner.model))
            self.epochs.append(epoch)
            self.sums = defaultdict(float)
            self.count = 0

        def gradient_norms(self, model) -> Dict[str, float]:
            """``grad_norm/<peer>.<term>`` on the last batch."""
            buffers = [(b, b.clone()) for b in model.buffers()]
            data = model.data_preprocessor(self.batch, True)
            losses = model.peer_losses(**data)
            norms = {}
            for peer, terms in losses.items():
                params = [
                    p for p in getattr(model, peer).parameters()
                    if p.requires_grad
                ]
                for key, value in terms.items():
                    if 'loss' not in key or not value.requires_grad:
                        continue
                    grads = torch.autograd.grad(
                        value, params, retain_graph=True, allow_unused=True)
                    norms[f'grad_norm/{peer}.{key}'] = float(
                        torch.sqrt(
                            sum((g.double()**2).sum() for g in grads
                                if g is not None)))
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)
            return norms

        def after_val_epoch(self, runner, metrics=None) -> None:
            self.metrics = dict(metrics or {})

    return LossTrace()


RUNNER_FIELDS = ('model', 'work_dir', 'train_dataloader', 'val_dataloader',
                 'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
                 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
                 'val_evaluator', 'test_evaluator', 'default_hooks',
                 'custom_hooks', 'data_preprocessor', 'load_from', 'env_cfg',
                 'log_processor', 'log_level', 'visualizer', 'default_scope',
                 'randomness')


def build_runner(cfg):
    """``Runner.from_cfg`` without handing the runner the config itself.

    The runner would format the whole config with yapf five times (log,
    dump, visualizer), about 2 s a run, several times the training of a
    small run. Each run gets its own experiment name, so runs in one
    process share no message hub, logger or visualizer.

    Args:
        cfg (mmengine.Config): The full training config.

    Returns:
        mmengine.runner.Runner: The runner.
    """
    from mmengine.runner import Runner

    cfg = copy.deepcopy(cfg)
    return Runner(
        **{field: cfg.get(field)
           for field in RUNNER_FIELDS},
        experiment_name=f'learning_check_{os.getpid()}_{time.time_ns()}')


def train_once(cfg, gradients: bool = False) -> Dict[str, object]:
    """Trains one config in this process; returns metrics and traces.

    Args:
        cfg (mmengine.Config): A config from :func:`method_config`.
        gradients (bool): Also trace each term's gradient norm.

    Returns:
        dict: ``metrics`` (last validation), ``losses`` (per-epoch means
        of every logged loss), ``seconds``, ``cpu_seconds`` (this
        process's CPU time: what the run costs without other load) and
        the runner's ``model``.
    """
    import mmokd  # noqa: F401
    from mmokd.utils import check_views

    check_views(cfg)
    start, cpu = time.perf_counter(), time.process_time()
    runner = build_runner(cfg)
    trace = _trace_hook(gradients)
    runner.register_hook(trace)
    runner.train()
    return dict(
        metrics=trace.metrics,
        losses=trace.epochs,
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu,
        model=runner.model)


def run_job(job: dict) -> List[dict]:
    """Trains one job's methods in order (the teacher alone before the
    offline methods that read its weights).

    Args:
        job (dict): ``setting`` (name), ``setting_cfg``, ``seed``,
            ``methods``, ``data_root`` and ``work_dir``.

    Returns:
        list[dict]: One record per method.
    """
    import torch

    torch.set_num_threads(1)
    records = []
    teacher_ckpt = None
    for method in job['methods']:
        work_dir = osp.join(job['work_dir'], job['setting'],
                            method.replace(' ', '_').replace('=', ''),
                            f'seed{job["seed"]}')
        cfg = method_config(method, job['setting_cfg'], job['seed'],
                            job['data_root'], work_dir, teacher_ckpt)
        try:
            out = train_once(cfg, gradients=method in TRACED)
        except Exception as error:  # recorded; the other runs go on
            records.append(
                dict(
                    setting=job['setting'],
                    method=method,
                    seed=job['seed'],
                    error=f'{type(error).__name__}: {error}'))
            continue
        if method == 'teacher alone':
            teacher_ckpt = osp.join(work_dir, 'teacher.pth')
            torch.save(
                dict(state_dict=out['model'].state_dict()), teacher_ckpt)
        metrics = out['metrics']
        peer = metrics.get('teacher.accuracy/top1',
                           metrics.get('dynamic_teacher.accuracy/top1'))
        records.append(
            dict(
                setting=job['setting'],
                method=method,
                seed=job['seed'],
                top1=float(metrics['accuracy/top1']),
                peer_top1=None if peer is None else float(peer),
                seconds=out['seconds'],
                cpu_seconds=out['cpu_seconds'],
                losses=out['losses'] if method in TRACED else None))
    return records


def plan_jobs(settings: Dict[str, dict],
              seeds: Sequence[int],
              methods: Dict[str, Sequence[str]],
              data_root: str,
              work_dir: str,
              ablation_seeds: Optional[Sequence[int]] = None,
              done: Optional[set] = None) -> List[dict]:
    """Jobs of one method each, except the teacher alone, which carries
    the offline methods that use its weights; setting by setting and seed
    by seed, so that the records of an interrupted run hold every method
    of the first seeds.

    Args:
        settings (dict): ``{name: setting}``.
        seeds (list[int]): Seeds.
        methods (dict): ``{setting name: methods}`` (without the two
            references, which are always run).
        data_root (str): Dataset folder.
        work_dir (str): Work folder.
        ablation_seeds (list[int], optional): Seeds of the ``ABLATION``
            methods; defaults to ``seeds``.
        done (set, optional): ``(setting, method, seed)`` already
            recorded; jobs made only of these are left out.

    Returns:
        list[dict]: Jobs for :func:`run_job`.
    """
    jobs = []
    for name in settings:
        for seed in seeds:
            offline = [m for m in methods[name] if m.startswith('offline')]
            groups = [['teacher alone'] + offline] if offline else []
            groups.append(['student alone'])
            groups += [[m] for m in methods[name] if m not in offline]
            for group in groups:
                group = [
                    m for m in group if m not in ABLATION or seed in (
                        seeds if ablation_seeds is None else ablation_seeds)
                ]
                if all((name, m, seed) in (done or set()) for m in group):
                    continue
                jobs.append(
                    dict(
                        setting=name,
                        setting_cfg=settings[name],
                        seed=seed,
                        methods=group,
                        data_root=data_root,
                        work_dir=work_dir))
    return jobs


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def _mean_sd(values: Sequence[float]) -> str:
    """``mean ± sd`` (sample sd; 0 for one value), two decimals."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.2f} ± {sd:.2f}'


def paired_gains(records: List[dict],
                 setting: str,
                 reference: str = 'student alone') -> Dict[str, dict]:
    """Per method: top-1 per seed and the paired difference to
    ``reference`` on the same seed.

    Args:
        records (list[dict]): Run records.
        setting (str): Setting name.
        reference (str): The reference method.

    Returns:
        dict: ``{method: {'top1': [...], 'gain': [...], 'peer': [...],
        'seconds': [...]}}`` in seed order.
    """
    by = defaultdict(dict)
    for rec in records:
        if rec['setting'] == setting and 'error' not in rec:
            by[rec['method']][rec['seed']] = rec
    ref = by.get(reference, {})
    table = {}
    for method, runs in by.items():
        seeds = sorted(s for s in runs if s in ref)
        table[method] = dict(
            top1=[runs[s]['top1'] for s in seeds],
            gain=[runs[s]['top1'] - ref[s]['top1'] for s in seeds],
            peer=[
                runs[s]['peer_top1'] for s in seeds
                if runs[s]['peer_top1'] is not None
            ],
            seconds=[runs[s]['seconds'] for s in seeds])
    return table


def markdown_table(table: Dict[str, dict], order: Sequence[str]) -> str:
    """One row per method: top-1, paired gain, seeds better, peer."""
    lines = [
        '| method | student top-1 | gain over the student alone (paired) '
        '| better on | teacher / other peer top-1 | s per run |',
        '|---|---|---|---|---|---|',
    ]
    for method in order:
        if method not in table:
            continue
        row = table[method]
        n = len(row['gain'])
        if method in REFERENCES:
            gain, better = '-', '-'
        else:
            gain = _mean_sd(row['gain'])
            better = f'{sum(g > 0 for g in row["gain"])} of {n}'
        peer = _mean_sd(row['peer']) if row['peer'] else '-'
        lines.append(f'| {method} | {_mean_sd(row["top1"])} | {gain} | '
                     f'{better} | {peer} | '
                     f'{statistics.mean(row["seconds"]):.1f} |')
    return '\n'.join(lines)


def adm_table(records: List[dict], setting: str) -> str:
    """Each ADM variant against the method it adds to, paired by seed
    (only the seeds both ran)."""
    lines = [
        '| ADM variant | against | seeds | difference (paired) | better on |',
        '|---|---|---|---|---|'
    ]
    for variant, base in ADM_PAIRS:
        runs = {}
        for rec in records:
            if rec['setting'] == setting and 'error' not in rec and \
                    rec['method'] in (variant, base):
                runs.setdefault(rec['seed'], {})[rec['method']] = rec['top1']
        diffs = [(seed, r[variant] - r[base])
                 for seed, r in sorted(runs.items()) if len(r) == 2]
        if not diffs:
            continue
        gains = [d for _, d in diffs]
        lines.append(f'| {variant} | {base} | {[d[0] for d in diffs]} | '
                     f'{_mean_sd(gains)} | {sum(g > 0 for g in gains)} of '
                     f'{len(gains)} |')
    return '\n'.join(lines)


def loss_scale_table(records: List[dict], setting: str, method: str) -> str:
    """Per-epoch mean of every logged loss term (mean over seeds) at five
    points of training."""
    traces = [
        r['losses'] for r in records if r['setting'] == setting
        and r['method'] == method and r.get('losses')
    ]
    if not traces:
        return ''
    epochs = len(traces[0])
    points = sorted({0, epochs // 4, epochs // 2, 3 * epochs // 4, epochs - 1})
    keys = sorted((k for k in traces[0][-1] if k != 'loss'),
                  key=lambda k: (k.startswith('grad_norm'), k))
    lines = [
        '| term | ' + ' | '.join(f'epoch {p + 1}' for p in points) + ' |',
        '|---|' + '---|' * len(points)
    ]
    for key in keys:
        values = [
            statistics.mean(t[p].get(key, float('nan')) for t in traces)
            for p in points
        ]
        lines.append(f'| {key} | ' + ' | '.join(f'{v:.4f}'
                                                for v in values) + ' |')
    return '\n'.join(lines)


def plot(records: List[dict], settings: Sequence[str],
         orders: Dict[str, Sequence[str]], path: str) -> None:
    """Student top-1 per method, one point per seed, one panel per
    setting; the dashed line is the student alone's mean."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(settings), 1, figsize=(9, 3.2 * len(settings)), squeeze=False)
    for ax, setting in zip(axes[:, 0], settings):
        table = paired_gains(records, setting)
        names = [
            m for m in REFERENCES[:1] + tuple(orders[setting]) if m in table
        ]
        for x, method in enumerate(names):
            ys = table[method]['top1']
            xs = x + np.linspace(-0.15, 0.15, len(ys))
            ax.plot(
                xs, ys, 'o', ms=3.5, color='C1' if 'ADM' in method else 'C0')
        if 'student alone' in table:
            ax.axhline(
                statistics.mean(table['student alone']['top1']),
                ls='--',
                lw=0.8,
                color='grey')
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=40, ha='right', fontsize=7)
        ax.set_ylabel('student top-1 (%)')
        ax.set_title(f'{setting} training set', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def report(records: List[dict], settings: Dict[str, dict],
           orders: Dict[str, Sequence[str]], seeds: Sequence[int],
           wall: Optional[float], workers: int, command: str, png: str) -> str:
    """The Markdown block of results written into the doc (records of
    methods no longer planned for a setting are left out)."""
    records = [
        r for r in records
        if r['setting'] in orders and r['method'] in REFERENCES +
        tuple(orders[r['setting']])
    ]
    done = sorted({r['seed'] for r in records})
    timing = 'interrupted run' if wall is None else f'{wall / 60:.1f} min'
    busy = sum(r.get('seconds', 0.0) for r in records) / 60
    cpu = [r['cpu_seconds'] for r in records if 'cpu_seconds' in r]
    parts = [
        f'Command: `{command}`', '',
        f'Wall time: {timing} with {workers} worker process(es) of one '
        f'thread each, {len(records)} runs, seeds {done} of {list(seeds)}; '
        f'the runs themselves took {busy:.1f} min in all (building and '
        'training, summed over workers).'
    ]
    if len(cpu) == len(records):
        parts[-1] += (f' Their CPU time: {sum(cpu) / 60:.1f} min, about '
                      f'{sum(cpu) / 60 / max(workers, 1):.1f} min of wall '
                      f'time on {workers} otherwise idle core(s).')
    parts.append('')
    for name, setting in settings.items():
        references = REFERENCES if any(
            m.startswith('offline') for m in orders[name]) else REFERENCES[:1]
        parts += [
            f'### {name}: {setting["images"]} training images, '
            f'{setting["epochs"]} epochs, batch {setting["batch_size"]}', '',
            markdown_table(
                paired_gains(records, name), references + tuple(orders[name])),
            ''
        ]
    for name in settings:
        table = adm_table(records, name)
        if table.count('\n') > 1:
            parts += [
                f'ADM against the method it adds to ({name}):', '', table, ''
            ]
    errors = [r for r in records if 'error' in r]
    if errors:
        parts += ['Failed runs:', ''] + [
            f'* {r["setting"]} / {r["method"]} / seed {r["seed"]}: '
            f'{r["error"]}' for r in errors
        ] + ['']
    parts += [f'![student top-1 per seed]({osp.basename(png)})', '']
    for name in settings:
        for method in TRACED:
            table = loss_scale_table(records, name, method)
            if table:
                parts += [
                    f'Loss terms of {method} ({name}), per-epoch mean over '
                    'iterations, mean over seeds (weights applied):', '',
                    table, ''
                ]
    return '\n'.join(parts)


def write_doc(doc: str, block: str) -> None:
    """Replaces the results block of ``doc`` (between the markers) or
    writes a new file with it."""
    text = ''
    if osp.exists(doc):
        with open(doc) as f:
            text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = f'{head}{BEGIN}\n{block}\n{END}{tail}'
    else:
        text = f'# Learning check\n\n{BEGIN}\n{block}\n{END}\n'
    with open(doc, 'w') as f:
        f.write(text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root', default=osp.join(REPO, 'data', 'digits'))
    parser.add_argument(
        '--work-dir', default=osp.join(REPO, 'work_dirs', 'learning_check'))
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--epochs-small', type=int, default=20)
    parser.add_argument('--epochs-full', type=int, default=5)
    parser.add_argument(
        '--doc',
        help='Markdown file to write the results into (the '
        'block between the learning_check markers); the plot goes next '
        'to it as learning.png. Defaults to <work-dir>/learning.md.')
    parser.add_argument(
        '--ablation-seeds',
        type=int,
        default=2,
        help='How many of the seeds the ADM ablations use.')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='Keep the records of <work-dir>/records.jsonl and run only '
        'the missing ones (the wall time then covers this call only).')
    parser.add_argument(
        '--report',
        action='store_true',
        help='Only write the report from <work-dir>/records.jsonl (e.g. '
        'of an interrupted run).')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='One seed, the small setting, 1 epoch, DML, KDCL, DML+ADM '
        'and offline KD+ADM only: a smoke test of the whole path.')
    return parser.parse_args()


def run_jobs(jobs: List[dict], workers: int, progress: str) -> List[dict]:
    """Runs the jobs on ``workers`` processes, appending each finished
    job's records to ``progress`` (JSON lines) as it completes.

    Args:
        jobs (list[dict]): Jobs of :func:`plan_jobs`.
        workers (int): Worker processes (one thread each).
        progress (str): The JSON-lines file (appended to).

    Returns:
        list[dict]: Every record.
    """
    os.makedirs(osp.dirname(progress), exist_ok=True)
    records = []
    context = multiprocessing.get_context('fork')
    with open(progress, 'a') as out, ProcessPoolExecutor(
            workers, mp_context=context) as pool:
        for done in as_completed([pool.submit(run_job, j) for j in jobs]):
            records += done.result()
            for rec in done.result():
                out.write(json.dumps(rec) + '\n')
            out.flush()
    return records


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    stats = write_digits(args.data_root)
    settings = {
        name: dict(
            ann_file=f'meta/train_{name}.txt',
            images=stats[f'train_{name}'],
            epochs=epochs,
            batch_size=32,
            mean=stats['mean'],
            std=stats['std'])
        for name, epochs in (('small', args.epochs_small),
                             ('full', args.epochs_full))
    }
    orders = dict(small=MAIN + ABLATION, full=FULL)
    seeds = args.seeds
    if args.quick:
        settings = dict(small=dict(settings['small'], epochs=1))
        orders = dict(small=QUICK)
        seeds = seeds[:1]
    progress = osp.join(args.work_dir, 'records.jsonl')
    if args.report:
        with open(progress) as f:
            records = [json.loads(line) for line in f]
        wall_file = osp.join(args.work_dir, 'wall.json')
        wall = None
        if osp.exists(wall_file):
            with open(wall_file) as f:
                wall = json.load(f)['wall_s']
    else:
        done = []
        if args.resume and osp.exists(progress):
            with open(progress) as f:
                done = [json.loads(line) for line in f]
        elif osp.exists(progress):
            os.remove(progress)
        jobs = plan_jobs(
            settings, seeds, orders, args.data_root, args.work_dir,
            seeds[:args.ablation_seeds],
            {(r['setting'], r['method'], r['seed'])
             for r in done if 'error' not in r})
        records = [r for r in done if 'error' not in r] + run_jobs(
            jobs, args.workers, progress)
        wall = time.perf_counter() - start
        with open(osp.join(args.work_dir, 'wall.json'), 'w') as f:
            json.dump(dict(wall_s=wall, runs=len(records)), f)
    doc = args.doc or osp.join(args.work_dir, 'learning.md')
    png = osp.join(osp.dirname(osp.abspath(doc)), 'learning.png')
    command = 'python tools/benchmarks/learning_check.py ' + ' '.join(
        a for a in os.sys.argv[1:] if a != '--report')
    plot(records, list(settings), orders, png)
    write_doc(
        doc,
        report(records, settings, orders, seeds, wall, args.workers,
               command.strip(), png))
    print(f'{len(records)} runs; results in {doc}')


if __name__ == '__main__':
    main()

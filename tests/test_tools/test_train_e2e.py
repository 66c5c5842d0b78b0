"""End-to-end runs through tools/ on tiny data in the real formats.

Multi-process runs use ``tools/dist_train.sh`` with 2 CPU processes
(gloo), exactly as users launch it.
"""
import json
import os
import os.path as osp

import pytest
import torch

from mmokd.utils import load_checkpoint_safely
from tests.conftest import REPO, dist_env, dist_train, python, run_tool

SEG_DEMO = osp.join(
    REPO, 'configs/demo/'
    'dml_deeplabv3_r101_r18_tiny-cityscapes_cpu.py')
CLS_DML = osp.join(REPO, 'configs/dml/resnet32x4_resnet8x4_cifar100.py')


def write_config(path, base, body=''):
    bases = [base] if isinstance(base, str) else list(base)
    with open(path, 'w') as f:
        f.write(f'_base_ = {bases!r}\n{body}')
    return str(path)


def seg_options(data_root, iters=4):
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={iters}',
        f'default_hooks.checkpoint.interval={iters}',
    ]


def shrink_cityscapes_options(data_root, iters=4):
    """--cfg-options turning a full Cityscapes config into a tiny CPU run:
    tiny data (128x64 images, 64x128 crops), no downloads, BN, few
    iterations."""
    options = seg_options(data_root, iters) + [
        'train_dataloader.dataset.pipeline.2.scale=(128,64)',
        'train_dataloader.dataset.pipeline.3.crop_size=(64,128)',
        'val_dataloader.dataset.pipeline.1.scale=(128,64)',
        'test_dataloader.dataset.pipeline.1.scale=(128,64)',
        'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        'default_hooks.visualization.draw=False',
    ]
    for peer in ('student', 'teacher'):
        options += [
            f'model.peers.{peer}.norm_type=BN',
            f'model.peers.{peer}.cfg_options.model.pretrained=None',
            f'model.peers.{peer}.cfg_options.model.data_preprocessor.size='
            '(64,128)',
        ]
    return options


CLS_TINY_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'])
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, check_md5=False{pipeline}))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={root!r}, check_md5=False))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1),
                     logger=dict(interval=1))
custom_hooks = [dict(type='mmokd.ExportPeerHook'),
                dict(type='DumpPeerDigestHook')]
randomness = dict(seed=0, deterministic=True)
"""


def cls_config(tmp_path, root, epochs=1):
    return write_config(
        tmp_path / 'cls.py', CLS_DML,
        CLS_TINY_BODY.format(root=root, epochs=epochs, pipeline=''))


def assert_ranks_agree(work_dir, peers=('student', 'teacher')):
    digests = [
        json.load(open(osp.join(work_dir, f'digest_rank{r}.json')))
        for r in (0, 1)
    ]
    assert digests[0].keys() == set(peers)
    for peer in digests[0]:
        assert digests[0][peer] == pytest.approx(
            digests[1][peer], rel=1e-6), peer


def exported_student(work_dir):
    found = [
        osp.join(root, name) for root, _, names in os.walk(work_dir)
        for name in names if name == 'student.pth'
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope='module')
def seg_run(tmp_path_factory, tiny_cityscapes):
    """One 2-process DML run of the Cityscapes demo config (2 iters)."""
    tmp_path = tmp_path_factory.mktemp('seg')
    cfg = write_config(
        tmp_path / 'seg.py', SEG_DEMO,
        "custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'])\n"
        "custom_hooks = [dict(type='mmokd.ExportPeerHook'),\n"
        "                dict(type='DumpPeerDigestHook')]\n")
    work_dir = str(tmp_path / 'work')
    proc = dist_train(cfg, work_dir, seg_options(tiny_cityscapes, iters=2),
                      check=False)
    return proc, work_dir


def test_dml_segmentation_two_processes(seg_run):
    proc, work_dir = seg_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'student.loss_dml' in log and 'teacher.loss_dml' in log
    assert 'mIoU' in log and 'teacher.mIoU' in log
    assert_ranks_agree(work_dir)
    ckpt = load_checkpoint_safely(osp.join(work_dir, 'iter_2.pth'))
    keys = ckpt['state_dict'].keys()
    assert {k.split('.')[0] for k in keys} == {'student', 'teacher'}
    assert not any('.module.' in k for k in keys)
    assert set(ckpt['optimizer']) == {'student', 'teacher'}


def test_exported_student_loads_strictly_and_mmseg_tests_it(
        seg_run, tiny_cityscapes, tmp_path):
    from mmengine.runner import load_checkpoint

    from mmokd.models.builders import ExternalModel
    proc, work_dir = seg_run
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = str(tmp_path / 'student_r18.pth')
    proc = run_tool([
        python(), 'tools/model_converters/export_peer.py',
        osp.join(work_dir, 'iter_2.pth'), out, '--peer', 'student',
        '--config', osp.join(work_dir, 'seg.py')
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The hook's export at the end of training holds the same weights,
    # and both wrote the same plain mmseg config beside them.
    hook_export = load_checkpoint_safely(exported_student(work_dir))
    tool_export = load_checkpoint_safely(out)
    for key, value in tool_export['state_dict'].items():
        assert torch.equal(value, hook_export['state_dict'][key]), key
    plain_cfg = exported_student(work_dir)[:-len('.pth')] + '.py'
    with open(plain_cfg) as hook_cfg, open(out[:-len('.pth')] + '.py') as f:
        assert hook_cfg.read() == f.read()
    plain = ExternalModel(plain_cfg)
    assert plain.backbone.depth == 18
    load_checkpoint(plain, out, strict=True)
    n_plain = sum(p.numel() for p in plain.parameters())
    n_export = sum(v.numel() for k, v in tool_export['state_dict'].items()
                   if 'running' not in k and 'num_batches' not in k)
    assert n_plain == n_export
    # mmseg's own test tool evaluates it with the plain mmseg config.
    assert_mmseg_test_evaluates(tmp_path, plain_cfg, '', tiny_cityscapes, out)


MMSEG_TEST_BODY = """
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(pretrained=None, data_preprocessor=dict(size=(64, 128)),
             backbone=dict(norm_cfg=norm_cfg{backbone}),
             decode_head=dict(norm_cfg=norm_cfg{decode_head}),
             auxiliary_head=dict(norm_cfg=norm_cfg{auxiliary_head}))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={root!r},
                                    pipeline=test_pipeline))
"""


def assert_mmseg_test_evaluates(tmp_path, plain_cfg, overrides, data_root,
                                ckpt):
    """mmseg's own tools/test.py evaluates ``ckpt`` with the plain mmseg
    config ``plain_cfg`` (BN, tiny Cityscapes); ``overrides`` maps
    ``backbone`` / ``decode_head`` / ``auxiliary_head`` to extra keyword
    text such as ``', channels=32'``."""
    import mmseg
    mmseg_test = osp.join(osp.dirname(mmseg.__file__), '.mim/tools/test.py')
    parts = {
        key: (overrides or {}).get(key, '')
        for key in ('backbone', 'decode_head', 'auxiliary_head')
    }
    test_cfg = write_config(tmp_path / 'plain_seg.py', plain_cfg,
                            MMSEG_TEST_BODY.format(root=data_root, **parts))
    proc = run_tool([
        python(), mmseg_test, test_cfg, ckpt, '--work-dir',
        str(tmp_path / 'mmseg_test')
    ])
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'mIoU' in proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def cls_run(tmp_path_factory, tiny_cifar100):
    """One 2-process DML run of the CIFAR-100 config on the tiny set
    (random crop and flip, no dataloader workers): 2 epochs, a checkpoint
    after each, validation at the end."""
    tmp_path = tmp_path_factory.mktemp('cls')
    cfg = cls_config(tmp_path, tiny_cifar100, epochs=2)
    work_dir = str(tmp_path / 'work')
    return cfg, work_dir, dist_train(cfg, work_dir).log


def test_dml_classification_two_processes(cls_run, tmp_path, tiny_cifar100):
    cfg, work_dir, log = cls_run
    assert 'accuracy/top1' in log and 'teacher.accuracy/top1' in log
    assert_ranks_agree(work_dir)
    # Test one chosen peer with 2 processes through tools/dist_test.sh.
    proc = run_tool([
        'bash', 'tools/dist_test.sh', cfg,
        osp.join(work_dir, 'epoch_2.pth'), '2', '--peers', 'teacher',
        '--work-dir',
        str(tmp_path / 'test')
    ],
                    env=dist_env())
    assert proc.returncode == 0, proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'teacher.accuracy/top1' in log
    assert 'Epoch(test)' in log and ' accuracy/top1' not in log
    assert_student_evaluates_with_mmpretrain(tmp_path, tiny_cifar100,
                                             exported_student(work_dir))


PLAIN_CLS_BODY = """
test_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    dataset=dict(type='mmokd.OfflineCIFAR100', data_root={root!r},
                 check_md5=False))
"""


def assert_student_evaluates_with_mmpretrain(tmp_path, data_root, ckpt):
    """The exported student loads strictly into the plain mmpretrain
    classifier of the config written beside it, and mmpretrain's own
    tools/test.py evaluates it with that model."""
    import mmpretrain
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    cfg_path = write_config(tmp_path / 'plain_student.py', [
        'mmpretrain::_base_/datasets/cifar100_bs16.py',
        'mmpretrain::_base_/schedules/cifar10_bs128.py',
        'mmpretrain::_base_/default_runtime.py', ckpt[:-len('.pth')] + '.py'
    ], PLAIN_CLS_BODY.format(root=data_root))
    plain_model = Config.fromfile(cfg_path).model
    assert plain_model.backbone.arch == 'resnet8x4'
    plain = PRETRAIN_MODELS.build(plain_model)
    load_checkpoint(plain, ckpt, strict=True)
    tool = osp.join(osp.dirname(mmpretrain.__file__), '.mim/tools/test.py')
    proc = run_tool([
        python(), tool, cfg_path, ckpt, '--work-dir',
        str(tmp_path / 'mmpretrain_test')
    ])
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'accuracy/top1' in proc.stdout + proc.stderr


def train_interrupted_and_resumed(tmp_path,
                                  cfg,
                                  stop=1,
                                  end=2,
                                  unit='epoch',
                                  processes=2,
                                  options=()):
    """Trains ``cfg`` to ``{unit}_{end}`` in one run and, in another
    work_dir, resumes that run's checkpoint ``{unit}_{stop}`` (all that a
    run killed after writing it leaves) to the end, both with ``processes``
    processes (``tools/dist_train.sh`` when more than one) and the
    ``--cfg-options`` ``options``; returns both final checkpoints and the
    resumed one."""
    full_dir, part_dir = str(tmp_path / 'full'), str(tmp_path / 'part')
    middle = osp.join(full_dir, f'{unit}_{stop}.pth')
    if processes == 1:
        launch = [python(), 'tools/train.py', cfg]
        env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    else:
        launch = ['bash', 'tools/dist_train.sh', cfg, str(processes)]
        env = dist_env()
    options = ['--cfg-options', *options] if options else []
    for args in (['--work-dir', full_dir],
                 ['--work-dir', part_dir, '--resume', middle]):
        proc = run_tool(launch + args + options, env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    return [
        load_checkpoint_safely(path) for path in (
            osp.join(full_dir, f'{unit}_{end}.pth'),
            osp.join(part_dir, f'{unit}_{end}.pth'), middle)
    ]


def weight_differences(full, part):
    """Per key, the largest absolute difference between two checkpoints
    with the same keys (every weight and buffer, BN statistics
    included)."""
    assert full['state_dict'].keys() == part['state_dict'].keys()
    differences = {}
    for key, value in full['state_dict'].items():
        other = part['state_dict'][key]
        differences[key] = float((value.double() - other.double()).abs().max())
    return differences


def assert_same_weights(full, part):
    """The two checkpoints hold the same weights, within 1e-6."""
    differences = weight_differences(full, part)
    worst = max(differences, key=differences.get)
    assert differences[worst] <= 1e-6, (worst, differences[worst])


def resume(cfg, full_dir, part_dir, stop=1, end=2, unit='epoch',
           options=()):
    """Resumes the 2-process run of ``cfg`` in ``full_dir`` from its
    ``{unit}_{stop}`` checkpoint (all that a run killed after writing it
    leaves) in ``part_dir``, with the ``--cfg-options`` ``options``;
    returns the final checkpoints of both runs and the resumed one."""
    middle = osp.join(full_dir, f'{unit}_{stop}.pth')
    log = dist_train(cfg, part_dir, options, ['--resume', middle]).log
    assert 'resumed' in log.lower()
    return [
        load_checkpoint_safely(path) for path in (
            osp.join(full_dir, f'{unit}_{end}.pth'),
            osp.join(part_dir, f'{unit}_{end}.pth'), middle)
    ]


def assert_resumed_like_the_uninterrupted_run(full, part, middle):
    """Both ranks' random states were saved and the resumed run ends with
    the uninterrupted run's weights and optimizer state keys."""
    assert len(middle['rank_states']) == 2
    assert_same_weights(full, part)
    for peer in ('student', 'teacher'):
        assert full['optimizer'][peer]['state'].keys() == \
            part['optimizer'][peer]['state'].keys()


def test_resume_reaches_the_uninterrupted_weights(cls_run, tmp_path):
    # Random crop and flip (the CIFAR-100 pipeline) drawn in the main
    # process (no dataloader workers), 2 processes; the SwitOKD resume
    # below draws them in dataloader workers.
    cfg, work_dir, _ = cls_run
    assert_resumed_like_the_uninterrupted_run(
        *resume(cfg, work_dir, str(tmp_path / 'part')))


def test_missing_dataset_fails_before_training(tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'iter_8000.pth').write_bytes(b'user checkpoint')
    (work_dir / 'dml_deeplabv3_r101_r18_tiny-cityscapes_cpu.py'
     ).write_text('user config dump')
    before = {p.name: p.read_bytes() for p in work_dir.iterdir()}
    missing = str(tmp_path / 'no_such_folder')
    proc = run_tool([
        python(), 'tools/train.py', SEG_DEMO, '--work-dir',
        str(work_dir), '--cfg-options'
    ] + seg_options(missing))
    assert proc.returncode != 0
    assert 'train_dataloader.dataset' in proc.stderr
    assert 'no_such_folder' in proc.stderr
    after = {p.name: p.read_bytes() for p in work_dir.iterdir()}
    assert after == before


def test_adm_segmentation_config_two_processes(tmp_path, tiny_cityscapes):
    work_dir = str(tmp_path / 'work')
    log = dist_train(
        osp.join(REPO, 'configs/adm/deeplabv3_r101_r18_cityscapes.py'),
        work_dir, shrink_cityscapes_options(tiny_cityscapes, iters=2)).log
    for term in ('student.loss_adm_consensus', 'student.loss_adm_feat',
                 'teacher.loss_adm_divergence', 'student.loss_dml'):
        assert term in log, term
    assert 'teacher.mIoU' in log
    ckpt = load_checkpoint_safely(osp.join(work_dir, 'iter_2.pth'))
    keys = ckpt['state_dict'].keys()
    assert any(
        k.startswith('distiller.connectors.student.adm_adapter') for k in keys)
    assert not any('.module.' in k for k in keys)
    student = load_checkpoint_safely(exported_student(work_dir))
    assert not any('adm' in k for k in student['state_dict'])


TINY_CIFAR_LOADERS = """
tiny = dict(type='mmokd.OfflineCIFAR100', data_root={root!r},
            check_md5=False, pipeline=[dict(type='PackInputs')])
train_dataloader = dict(
    _delete_=True, batch_size={batch_size}, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(tiny, split='train'))
val_dataloader = dict(
    _delete_=True, batch_size=16, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(tiny, split='test'))
test_dataloader = val_dataloader
"""


def tiny_cifar_loaders(root, batch_size):
    """Config lines replacing a config's own loaders (e.g. ImageNet's) by
    loaders on the tiny CIFAR-100 copy, unaugmented."""
    return TINY_CIFAR_LOADERS.format(root=root, batch_size=batch_size)


OFFLINE_BODY = """
model = dict(peers=dict(teacher=dict(cfg_options={{
    'model.init_cfg': dict(type='Pretrained', checkpoint={ckpt!r})}})))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
"""


def test_offline_kd_with_adm_keeps_the_teacher_frozen(tmp_path, tiny_cifar100):
    from mmokd.models.builders import ExternalModel
    torch.manual_seed(0)
    teacher = ExternalModel('mmpretrain::resnet/resnet34_8xb32_in1k.py')
    ckpt = str(tmp_path / 'teacher_r34.pth')
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    cfg = write_config(
        tmp_path / 'offline.py',
        osp.join(REPO, 'configs/adm/offline_kd_resnet34_resnet18_in1k.py'),
        OFFLINE_BODY.format(ckpt=ckpt) +
        tiny_cifar_loaders(tiny_cifar100, 16))
    work_dir = str(tmp_path / 'work')
    proc = run_tool([python(), 'tools/train.py', cfg, '--work-dir', work_dir],
                    env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'student.loss_kd' in log and 'student.loss_adm_consensus' in log
    assert 'teacher.loss' not in log and 'loss_adm_divergence' not in log
    assert 'teacher.accuracy/top1' in log
    saved = load_checkpoint_safely(osp.join(work_dir, 'epoch_1.pth'))
    for key, value in teacher.state_dict().items():
        assert torch.equal(saved['state_dict'][f'teacher.{key}'], value), key
    assert set(saved['optimizer']) == {'student'}


def test_offline_dkd_with_adm_probe_on_a_heterogeneous_pair(
        tmp_path, tiny_cifar100):
    from mmengine.config import Config

    from mmokd.registry import MODELS
    config = osp.join(
        REPO, 'configs/adm/offline_dkd_wrn-16-2_mobilenetv2-x0.5_cifar100.py')
    teacher_cfg = Config.fromfile(config).model.peers.teacher
    teacher_cfg.pop('init_cfg')
    torch.manual_seed(0)
    teacher = MODELS.build(teacher_cfg)
    ckpt = str(tmp_path / 'wrn.pth')
    torch.save({'state_dict': teacher.state_dict()}, ckpt)
    body = CLS_TINY_BODY.format(root=tiny_cifar100, epochs=1, pipeline='')
    body = body.replace("dict(type='DumpPeerDigestHook')", '')
    cfg = write_config(tmp_path / 'offline_dkd.py', config, body)
    work_dir = str(tmp_path / 'work')
    proc = run_tool([
        python(), 'tools/train.py', cfg, '--work-dir', work_dir,
        '--cfg-options', 'train_dataloader.batch_size=8',
        f'model.peers.teacher.init_cfg.checkpoint={ckpt}'
    ],
                    env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    for term in ('student.loss_dkd', 'student.loss_adm_consensus',
                 'student.loss_adm_probe'):
        assert term in log, term
    saved = load_checkpoint_safely(osp.join(work_dir, 'epoch_1.pth'))
    for key, value in teacher.state_dict().items():
        assert torch.equal(saved['state_dict'][f'teacher.{key}'], value), key


@pytest.mark.parametrize('config, terms', [
    ('configs/adm/resnet32x4_resnet8x4_cifar100.py',
     ('student.loss_adm_consensus', 'student.loss_adm_feat',
      'teacher.loss_adm_divergence')),
    ('configs/adm/wrn-16-10_wrn-16-2_mobilenetv2_2t1s_cifar100.py',
     ('student.loss_adm_consensus_teacher',
      'student.loss_adm_consensus_assistant',
      'assistant.loss_adm_divergence_student',
      'teacher.loss_adm_divergence_student', 'assistant.accuracy/top1')),
])
def test_adm_classification_configs_train(tmp_path, tiny_cifar100, config,
                                          terms):
    body = CLS_TINY_BODY.format(root=tiny_cifar100, epochs=1, pipeline='')
    body = body.replace("dict(type='DumpPeerDigestHook')", '')
    cfg = write_config(tmp_path / 'adm_cls.py', osp.join(REPO, config), body)
    proc = run_tool([
        python(), 'tools/train.py', cfg, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        'train_dataloader.batch_size=8'
    ],
                    env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    for term in terms:
        assert term in log, term


def test_switokd_two_processes_decide_together_and_resume(
        tmp_path, tiny_cifar100):
    """The ranks of a 2-process SwitOKD run take every decision together
    from the all-reduced statistics; resumed from epoch 1 (random crop and
    flip drawn in 2 dataloader workers per rank, seeded from the restored
    state), it repeats the uninterrupted run's decisions and weights."""
    from mmokd.models.losses import switokd_decision
    body = CLS_TINY_BODY.format(root=tiny_cifar100, epochs=2, pipeline='')
    body = body.replace(
        "dict(type='DumpPeerDigestHook')", "dict(type='DumpPeerDigestHook'),\n"
        "                dict(type='RecordSwitchHook')")
    cfg = write_config(
        tmp_path / 'switokd.py',
        osp.join(REPO, 'configs/switokd/resnet32x4_resnet8x4_cifar100.py'),
        body + "model = dict(require_teacher_better=False)\n"
        "train_dataloader.update(batch_size=8, num_workers=2)\n")
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir).log
    assert 'switokd.expert' in log
    assert_ranks_agree(work_dir)
    runs = [
        json.load(open(osp.join(work_dir, f'switch_rank{r}.json')))
        for r in (0, 1)
    ]
    assert runs[0]['decisions'] == runs[1]['decisions']
    assert len(runs[0]['decisions']) == 8  # 2 epochs x 64 / (2 x 8)
    for i, decision in enumerate(runs[0]['decisions']):
        total = torch.tensor(runs[0]['local_stats'][i]) + torch.tensor(
            runs[1]['local_stats'][i])
        assert float(switokd_decision(total, False)[0]) == decision
    part_dir = str(tmp_path / 'part')
    assert_resumed_like_the_uninterrupted_run(
        *resume(cfg, work_dir, part_dir))
    with open(osp.join(part_dir, 'switch_rank0.json')) as f:
        assert json.load(f)['decisions'] == runs[0]['decisions'][4:]


def test_switokd_segmentation_config_two_processes(tmp_path, tiny_cityscapes):
    log = dist_train(
        osp.join(REPO, 'configs/switokd/deeplabv3_r101_r18_cityscapes.py'),
        str(tmp_path / 'work'),
        shrink_cityscapes_options(tiny_cityscapes, iters=2)).log
    assert 'switokd.expert' in log and 'switokd.delta' in log
    assert 'teacher.mIoU' in log


@pytest.mark.parametrize('setting', ['1t2s', '2t1s'])
def test_switokd_three_networks_two_processes(tmp_path, tiny_cifar100,
                                              setting):
    config = osp.join(
        REPO, 'configs/switokd/'
        f'wrn-16-10_wrn-16-2_mobilenetv2_{setting}_cifar100.py')
    body = CLS_TINY_BODY.format(root=tiny_cifar100, epochs=1, pipeline='')
    cfg = write_config(tmp_path / 'switokd3.py', config, body)
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir, [
        'train_dataloader.batch_size=8',
        'model.peers.teacher.backbone.widen_factor=2',
        'model.peers.teacher.head.in_channels=128'
    ]).log
    pairs = ['teacher_student', 'teacher_assistant'] if setting == '1t2s' \
        else ['assistant_student', 'teacher_student']
    for pair in pairs:
        assert f'switokd.expert.{pair}' in log, pair
    assert 'assistant.accuracy/top1' in log
    assert_ranks_agree(work_dir, ('student', 'assistant', 'teacher'))

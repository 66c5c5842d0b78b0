"""Two-process DML of two RetinaNets on tiny COCO, as users launch it:
both networks validated, ranks identical, the exported student a plain
mmdet checkpoint that mmdet's own tools/test.py evaluates, the run resumed
from the middle ending with the uninterrupted run's weights; 2-process DML
and SwitOKD (with resume) of two Faster R-CNNs."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO, dist_train, python, run_tool
from tests.test_det.det_helpers import (RETINANET_R18, TINY_DETECTORS,
                                        TINY_RETINANET)
from tests.test_tools.test_train_e2e import (
    assert_ranks_agree, assert_resumed_like_the_uninterrupted_run,
    exported_student, resume, write_config)

DEMO = 'configs/demo/dml_retinanet_r101_r18_tiny-coco_cpu.py'
ITERS = 2

TINY_RUN_BODY = """
custom_imports = dict(imports=['mmokd', 'tests.dist_hooks'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='mmokd.ExportPeerHook'),
                dict(type='DumpPeerDigestHook')]
tiny = {tiny!r}
model = dict(peers=dict(
    student=dict(cfg_options=tiny),
    teacher=dict(cfg_path={r18!r}, cfg_options=tiny)))
train_dataloader = dict(dataset=dict(data_root={root!r}))
val_dataloader = dict(dataset=dict(data_root={root!r}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={ann!r})
test_evaluator = val_evaluator
train_cfg = dict(max_iters={iters}, val_interval={iters})
default_hooks = dict(checkpoint=dict(interval={iters}))
"""

#: Only the data: the network is the plain config written beside the
#: export.
PLAIN_MMDET_BODY = """
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(160, 128), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                          'img_shape', 'scale_factor'))]
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root={root!r},
                                    pipeline=test_pipeline))
test_evaluator = dict(ann_file={ann!r})
"""


@pytest.fixture(scope='module')
def det_run(tmp_path_factory, tiny_coco):
    """One 2-process DML run of the demo config with tiny RetinaNet R18s
    (2 iterations, a checkpoint after each, validation at the end)."""
    tmp_path = tmp_path_factory.mktemp('det')
    root = tiny_coco + '/'
    cfg = write_config(
        tmp_path / 'det.py', osp.abspath(DEMO),
        TINY_RUN_BODY.format(
            tiny=TINY_RETINANET, r18=RETINANET_R18, root=root,
            ann=root + 'annotations/instances_val2017.json', iters=ITERS))
    work_dir = str(tmp_path / 'work')
    proc = dist_train(cfg, work_dir, ['default_hooks.checkpoint.interval=1'])
    return proc, cfg, work_dir, tmp_path


def test_both_networks_validated_and_ranks_agree(det_run):
    proc, _, work_dir, _ = det_run
    assert 'coco/bbox_mAP: ' in proc.log
    assert 'teacher.coco/bbox_mAP: ' in proc.log
    assert 'student.loss_dml' in proc.log and 'teacher.loss_dml' in proc.log
    assert_ranks_agree(work_dir)


def test_test_tool_evaluates_a_chosen_peer(det_run):
    _, cfg, work_dir, tmp_path = det_run
    proc = run_tool([
        python(), 'tools/test.py', cfg,
        osp.join(work_dir, f'iter_{ITERS}.pth'), '--peers', 'teacher',
        '--work-dir', str(tmp_path / 'test')
    ],
                    env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr[-5000:]
    log = proc.stdout + proc.stderr
    assert 'teacher.coco/bbox_mAP: ' in log
    assert ' coco/bbox_mAP: ' not in log


def test_exported_student_is_a_plain_mmdet_checkpoint(det_run, tiny_coco):
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmokd.registry import MODELS
    _, _, work_dir, tmp_path = det_run
    ckpt = exported_student(work_dir)
    written = ckpt[:-len('.pth')] + '.py'  # the student's plain config
    plain = MODELS.build(
        dict(type='mmokd.ExternalModel', cfg_path=RETINANET_R18,
             cfg_options=TINY_RETINANET))
    load_checkpoint(plain, ckpt, strict=True)
    state = torch.load(ckpt, weights_only=True)['state_dict']
    assert set(state) == set(plain.state_dict())
    root = tiny_coco + '/'
    test_cfg = write_config(
        tmp_path / 'plain_retinanet.py', written,
        PLAIN_MMDET_BODY.format(
            root=root, ann=root + 'annotations/instances_val2017.json'))
    model = Config.fromfile(test_cfg).model
    assert (model.backbone.depth, model.neck.out_channels,
            model.bbox_head.stacked_convs) == (18, 32, 1)
    assert model.test_cfg.score_thr == 0.0  # the demo's cfg_options
    import mmdet
    mmdet_test = osp.join(osp.dirname(mmdet.__file__), '.mim/tools/test.py')
    proc = run_tool([
        python(), mmdet_test, test_cfg, ckpt, '--work-dir',
        str(tmp_path / 'mmdet_test')
    ])
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert 'coco/bbox_mAP: ' in proc.stdout + proc.stderr


def resumed_from_iteration_1(cfg, work_dir, tmp_path):
    """Resumes the run of ``work_dir`` from its iteration-1 checkpoint for
    the last iteration (no validation), checks that it resumed (no
    iteration-1 checkpoint of its own) with both ranks' states, and checks
    that it ends at the uninterrupted run's iteration, optimizer state keys
    and weights.

    Returns:
        tuple[dict, dict]: The uninterrupted and the resumed run's last
        checkpoints.
    """
    part_dir = str(tmp_path / 'part')
    full, part, resumed = resume(
        cfg, work_dir, part_dir, end=ITERS, unit='iter', options=[
            'default_hooks.checkpoint.interval=1', 'train_cfg.val_begin=100'
        ])
    # Training went on at iteration 2: no iteration-1 checkpoint here.
    assert not osp.exists(osp.join(part_dir, 'iter_1.pth'))
    assert part['meta']['iter'] == full['meta']['iter'] == ITERS
    assert_resumed_like_the_uninterrupted_run(full, part, resumed)
    return full, part


def test_resume_reaches_the_uninterrupted_weights(det_run):
    """The DML run resumed from its iteration-1 checkpoint (mid-epoch: 8
    images, 2 per rank) restores every rank's random state, so the random
    flips of iteration 2 repeat, and ends with the uninterrupted run's
    weights and optimizer state keys (SwitOKD's resume: the Faster R-CNN
    test below)."""
    _, cfg, work_dir, tmp_path = det_run
    resumed_from_iteration_1(cfg, work_dir, tmp_path)


def faster_rcnn_run_body(tiny_coco):
    """Config lines of a 2-process run of the demo config with two tiny
    Faster R-CNNs (every RoI kept at test time, so both are scored), the
    dense terms on the RPN."""
    cfg_path, tiny = TINY_DETECTORS['faster-rcnn']
    root = tiny_coco + '/'
    body = TINY_RUN_BODY.format(
        tiny=dict(tiny, **{'model.test_cfg.rcnn.score_thr': 0.0}),
        r18=cfg_path, root=root,
        ann=root + 'annotations/instances_val2017.json', iters=ITERS)
    return body + (f"model['peers']['student']['cfg_path'] = {cfg_path!r}\n"
                   "model['logits'] = dict(type='mmokd.DenseHead', "
                   "source='rpn_head')\n")


def test_dml_faster_rcnn_two_processes_agree(tmp_path, tiny_coco):
    """DML of two Faster R-CNNs with the shipped config's terms (the RPN's
    dense KL and the RoI cross-evaluation, configs/dml), 2 processes:
    both terms of both networks are logged and the ranks end with the
    same weights (each rank's samplers draw from its own random state;
    the RoI term pools one rank's RoIs from the other network's maps)."""
    distiller = Config.fromfile(
        osp.join(REPO, 'configs/dml/faster-rcnn_r101_r50_coco.py')
    ).model.distiller.to_dict()
    body = faster_rcnn_run_body(tiny_coco) + \
        f"model['distiller'] = {distiller!r}\n"
    cfg = write_config(tmp_path / 'dml.py', osp.abspath(DEMO), body)
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir).log
    for peer in ('student', 'teacher'):
        for term in ('loss_dml_rpn', 'loss_dml_roi'):
            assert f'{peer}.{term}: ' in log, (peer, term)
    assert 'teacher.coco/bbox_mAP: ' in log
    assert_ranks_agree(work_dir)


def test_switokd_faster_rcnn_ranks_agree_and_resumes(tmp_path, tiny_coco):
    """SwitOKD on two Faster R-CNNs (switch on the RPN), 2 processes: the
    switch's sums are all-reduced, so both ranks decide alike and end with
    the same weights; Faster R-CNN's samplers draw from each rank's own
    random state. The run resumed from its iteration-1 checkpoint restores
    the iteration, every rank's random state (so the samplers draw as in
    the uninterrupted run and the weights end equal), the optimizer state
    and the metadata."""
    body = faster_rcnn_run_body(tiny_coco) + \
        "model.update(type='SwitOKD', teacher='teacher')\n"
    cfg = write_config(tmp_path / 'switokd.py', osp.abspath(DEMO), body)
    work_dir = str(tmp_path / 'work')
    log = dist_train(cfg, work_dir,
                     ['default_hooks.checkpoint.interval=1']).log
    assert 'switokd.expert' in log and 'teacher.coco/bbox_mAP: ' in log
    # The RPN's mimicry terms: loss_dml_rpn, per source for the teacher.
    assert 'student.loss_dml_rpn: ' in log
    assert 'teacher.loss_dml_rpn_student: ' in log
    assert_ranks_agree(work_dir)
    full, part = resumed_from_iteration_1(cfg, work_dir, tmp_path)
    for key in ('epoch', 'seed', 'dataset_meta'):
        assert part['meta'][key] == full['meta'][key], key

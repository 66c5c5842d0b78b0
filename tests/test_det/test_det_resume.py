"""Resume of 2-process detection runs: a RetinaNet DML or SwitOKD run
resumed from its iteration-2 checkpoint ends with the uninterrupted run's
weights (random flips included) and optimizer state keys."""
import os.path as osp

import pytest

from tests.test_det.det_helpers import RETINANET_R18, TINY_RETINANET
from tests.test_det.test_det_e2e import DEMO, TINY_RUN_BODY
from tests.test_tools.test_train_e2e import (assert_same_weights,
                                             train_interrupted_and_resumed,
                                             write_config)


@pytest.mark.parametrize('method', ['DML', 'SwitOKD'])
def test_resume_reaches_the_uninterrupted_weights(tmp_path, tiny_coco,
                                                  method):
    root = tiny_coco + '/'
    body = TINY_RUN_BODY.format(
        tiny=TINY_RETINANET, r18=RETINANET_R18, root=root,
        ann=root + 'annotations/instances_val2017.json', iters=4)
    body += f"model.update(type={method!r})\n"
    cfg = write_config(tmp_path / 'resume.py', osp.abspath(DEMO), body)
    full, part, middle = train_interrupted_and_resumed(
        tmp_path, cfg, stop=2, end=4, unit='iter',
        options=['default_hooks.checkpoint.interval=2'])
    assert len(middle['rank_states']) == 2
    assert_same_weights(full, part)
    for peer in ('student', 'teacher'):
        assert full['optimizer'][peer]['state'].keys() == \
            part['optimizer'][peer]['state'].keys()

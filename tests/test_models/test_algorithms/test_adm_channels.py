"""ADM's channel counts are checked against the peers when the model is
built, from a forward on meta tensors (issue 10, 2): a wrong count names
its field and both numbers instead of failing at the first step."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmokd.models.utils.meta_probe import probe_outputs
from mmokd.registry import MODELS
from tests.conftest import REPO
from tests.toy_models import ADM, dml_config, tiny_classifier


def build(**kwargs):
    return MODELS.build(dml_config(distiller=dict(ADM, **kwargs)))


def test_probe_gives_output_shapes_without_touching_the_network():
    network = MODELS.build(tiny_classifier())
    state = {k: v.clone() for k, v in network.state_dict().items()}
    outputs = probe_outputs(network, ['backbone', 'backbone.layer2'])
    assert outputs['backbone'][-1].shape == (1, 64, 8, 8)
    assert outputs['backbone'][-1].device.type == 'meta'
    assert outputs['backbone.layer2'].shape == (1, 16, 32, 32)
    assert network.training
    assert all(
        torch.equal(v,
                    network.state_dict()[k]) for k, v in state.items())


@pytest.mark.parametrize('kwargs, message', [
    (dict(channels=dict(student=32, teacher=128)),
     'model.distiller.channels.student: 32 given, but the output of '
     '"backbone" in peer "student" has 64 channels; set it to 64.'),
    (dict(channels=dict(student=64, teacher=64)),
     'model.distiller.channels.teacher: 64 given, but the output of '
     '"backbone" in peer "teacher" has 128 channels'),
    (dict(feature_stages=[
        dict(source='backbone.layer3', channels=dict(student=32, teacher=32))
    ]), 'model.distiller.feature_stages[0].channels.teacher: 32 given, but '
     'the output of "backbone.layer3" in peer "teacher" has 64 channels'),
])
def test_wrong_channel_count_is_refused_at_build(kwargs, message):
    with pytest.raises(ValueError) as error:
        build(**kwargs)
    assert message in str(error.value)


def test_right_channel_counts_build():
    model = build(feature_stages=[
        dict(source='backbone.layer3', channels=dict(student=32, teacher=64))
    ])
    assert set(model.distiller.connectors['student']) == {
        'adm_adapter', 'adm_adapter0'
    }


def test_stage_counts_are_not_checked_when_unused():
    """With gamma = 0 the stages feed no term; their counts are unused."""
    model = build(
        gamma=0.0,
        adapter_probe_weight=1.0,
        feature_stages=[
            dict(
                source='backbone.layer3', channels=dict(student=1, teacher=1))
        ])
    assert 'loss_adm_probe' in model.distiller.losses['student']


def test_segmentation_pair_is_checked_on_its_decode_head():
    """The shipped Cityscapes DML + ADM config with the student's count of
    the teacher: the DeepLabV3 R18 bottleneck has 128 channels."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/adm/deeplabv3_r101_r18_cityscapes.py'))
    cfg.model.distiller.channels.student = 512
    with pytest.raises(
            ValueError,
            match=r'model\.distiller\.channels\.'
            r'student: 512 given, but the output of "decode_head'
            r'\.bottleneck" in peer "student" has 128 channels'):
        MODELS.build(cfg.model)


def test_network_that_cannot_run_on_meta_tensors_is_built_with_a_warning(
        monkeypatch):
    from mmengine.logging import MMLogger

    from mmokd.models.distillers import adm_distiller

    def no_meta_kernel(network, modules):
        raise NotImplementedError('no meta kernel for custom_op')

    monkeypatch.setattr(adm_distiller, 'probe_outputs', no_meta_kernel)
    warnings = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        warnings.append)
    model = build(channels=dict(student=32, teacher=128))  # unchecked
    assert 'adm_adapter' in model.distiller.connectors['student']
    assert len(warnings) == 2  # one per peer
    assert 'channel counts of peer "student" were not checked at build ' \
        '(NotImplementedError: no meta kernel for custom_op)' in warnings[0]

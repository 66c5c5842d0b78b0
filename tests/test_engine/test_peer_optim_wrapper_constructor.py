"""One optimizer wrapper per trained peer, over exactly that peer's
parameters and its connectors', with the peer's own ``paramwise_cfg``."""
import pytest
from mmengine.optim import OptimWrapperDict

from mmokd.engine.optimizers import PeerOptimWrapperConstructor
from mmokd.registry import MODELS
from tests.test_engine.engine_stubs import dml_model
from tests.toy_models import ADM, dml_config


def sgd(lr, **kwargs):
    return dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9), **kwargs)


def param_ids(module):
    return {id(p) for p in module.parameters()}


def optimised_ids(wrapper):
    return {
        id(p)
        for group in wrapper.optimizer.param_groups for p in group['params']
    }


def test_one_wrapper_per_peer_over_its_own_parameters():
    model = dml_model()
    wrappers = PeerOptimWrapperConstructor(
        dict(student=sgd(0.1), teacher=sgd(0.05)))(model)
    assert isinstance(wrappers, OptimWrapperDict)
    assert sorted(wrappers.keys()) == ['student', 'teacher']
    for name, lr in (('student', 0.1), ('teacher', 0.05)):
        assert optimised_ids(wrappers[name]) == param_ids(model.peer(name))
        assert {g['lr'] for g in wrappers[name].optimizer.param_groups} == {
            lr
        }


def test_paramwise_cfg_sees_the_peers_own_names():
    model = dml_model()
    wrappers = PeerOptimWrapperConstructor(
        dict(
            student=sgd(
                0.1,
                paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=0.5)})),
            teacher=sgd(0.1)))(model)
    head = param_ids(model.student.head)
    for group in wrappers['student'].optimizer.param_groups:
        expected = 0.05 if id(group['params'][0]) in head else 0.1
        assert group['lr'] == pytest.approx(expected)


def test_connectors_are_optimised_with_their_peer():
    adm_model = MODELS.build(dml_config(distiller=ADM))
    connectors = adm_model.distiller.connectors
    assert 'student' in connectors
    wrappers = PeerOptimWrapperConstructor(
        dict(student=sgd(0.1), teacher=sgd(0.1)))(adm_model)
    assert optimised_ids(wrappers['student']) == (
        param_ids(adm_model.student) | param_ids(connectors['student']))
    assert optimised_ids(wrappers['teacher']) == param_ids(
        adm_model.teacher)


@pytest.mark.parametrize(
    'keys', [('student', ), ('student', 'teacher', 'techer')])
def test_keys_must_be_the_trained_peers(keys):
    with pytest.raises(ValueError, match='optim_wrapper: keys'):
        PeerOptimWrapperConstructor({key: sgd(0.1)
                                     for key in keys})(dml_model())


def test_top_level_paramwise_cfg_is_refused():
    with pytest.raises(ValueError, match='optim_wrapper.paramwise_cfg'):
        PeerOptimWrapperConstructor(
            dict(student=sgd(0.1)), paramwise_cfg=dict(custom_keys={}))


def test_a_trained_module_that_is_not_a_peer_gets_its_own_optimizer():
    """``optimized_names`` (the PeerAlgorithm contract): the trained peers
    plus modules such as MC-Distil's coordinator network."""
    from torch import nn

    from mmokd.models.algorithms import DML

    class WithCoordinator(DML):
        extra_optimized_names = ('coordinator', )

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.coordinator = nn.Linear(3, 2)

    cfg = dml_config()
    cfg.pop('type')
    model = WithCoordinator(**cfg)
    assert model.optimized_names == ['student', 'teacher', 'coordinator']
    wrappers = PeerOptimWrapperConstructor(
        dict(student=sgd(0.1), teacher=sgd(0.1), coordinator=sgd(0.01)))(
            model)
    assert optimised_ids(wrappers['coordinator']) == param_ids(
        model.coordinator)
    model.check_optim_keys(wrappers)
    with pytest.raises(ValueError, match=r"\['coordinator', 'student', "
                       r"'teacher'\] \(the trained peers, and the trained "
                       'modules that are not peers\\)'):
        PeerOptimWrapperConstructor(dict(student=sgd(0.1),
                                         teacher=sgd(0.1)))(model)

"""The worked example of docs/customize_online_kd.md, run as written: its
module registers a loss and a method, its config builds on the shipped
DML config, and the method trains for two iterations."""
import os.path as osp
import re
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmokd.registry import MODELS
from tests.conftest import REPO
from tests.toy_models import batch

DOC = osp.join(REPO, 'docs', 'customize_online_kd.md')


def python_blocks():
    text = open(DOC).read()
    return re.findall(r'```python\n(.*?)```', text, flags=re.S)


@pytest.fixture(scope='module')
def example_module():
    """The doc's module, importable as ``my_okd`` (its config imports
    it)."""
    module = types.ModuleType('my_okd')
    exec(compile(python_blocks()[0], DOC, 'exec'), module.__dict__)
    sys.modules['my_okd'] = module
    yield module
    del sys.modules['my_okd']


@pytest.fixture(scope='module')
def model(example_module, tmp_path_factory):
    """The doc's config, in a folder of ``configs/`` as the doc says."""
    config = python_blocks()[1]
    path = tmp_path_factory.mktemp('cfg') / 'peer_mean.py'
    path.write_text(
        config.replace('../dml/', osp.join(REPO, 'configs', 'dml', '')))
    cfg = Config.fromfile(str(path))
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def sgd(model):
    return OptimWrapperDict(
        **{
            name: OptimWrapper(
                torch.optim.SGD(model.peer(name).parameters(), lr=0.1))
            for name in model.peer_names
        })


def test_the_term_is_the_mse_to_the_mean_prediction(model):
    model.train()
    data = model.data_preprocessor(batch(num_classes=100), True)
    losses = model.peer_losses(**data)
    with torch.no_grad():
        probs = {
            name: model.peer(name)(data['inputs'], mode='tensor').softmax(1)
            for name in model.peer_names
        }
    mean = (probs['student'] + probs['teacher']) / 2
    for name in model.peer_names:
        expected = F.mse_loss(probs[name], mean)
        assert float(losses[name]['loss_mean_mse']) == pytest.approx(
            float(expected), rel=1e-4)


def test_trains_two_iterations(model):
    routing = model.distiller.routing_table()
    assert ('student: loss_mean_mse = ProbabilityMSELoss(preds_S <- '
            'student.logits, target_probs <- data:peer_mean_probs)'
            in routing)
    optim = sgd(model)
    before = model.student.head.fc.weight.detach().clone()
    for step in range(2):
        log_vars = model.train_step(batch(num_classes=100, seed=step), optim)
        for name in model.peer_names:
            assert torch.isfinite(log_vars[f'{name}.loss_mean_mse'])
    assert not torch.equal(before, model.student.head.fc.weight)

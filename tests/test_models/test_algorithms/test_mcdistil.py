"""MC-Distil (Tambat et al., TMLR 2025): the C-Net contract and the
invariants of the meta step and the student step."""
import pytest
import torch

from mmokd.models.mcdistil import MCDistilCNet
from mmokd.models.utils import config_field


@pytest.mark.parametrize('dense', [False, True])
@pytest.mark.parametrize('source', ['feature', 'head'])
def test_cnet_contract(dense, source):
    cnet = MCDistilCNet(num_students=3, dense=dense, weight_source=source)
    cnet.init_weights()
    weights = cnet(torch.randn(4, 3, 32, 48))
    assert weights.shape == ((4, 6, 4, 6) if dense else (4, 6))
    assert (weights >= 0).all()
    weights.sum().backward()
    names = [n for n, p in cnet.named_parameters() if p.grad is None]
    assert names == []  # every parameter is used (DDP, no unused ones)
    assert (cnet.head is None) == (source == 'feature')


def test_cnet_feature_weights_are_the_first_pooled_channels():
    cnet = MCDistilCNet(num_students=2)
    inputs = torch.randn(3, 3, 32, 32)
    feature = cnet.trunk(inputs)[0]
    assert torch.equal(cnet(inputs), feature.mean(dim=(2, 3))[:, :4])


def test_cnet_refuses_more_weights_than_channels_naming_the_field():
    with config_field('model.cnet'), pytest.raises(
            ValueError, match='model.cnet.num_students: 33 students'):
        MCDistilCNet(num_students=33)
    MCDistilCNet(num_students=33, weight_source='head')
    with pytest.raises(ValueError, match='weight_source'):
        MCDistilCNet(num_students=1, weight_source='logits')

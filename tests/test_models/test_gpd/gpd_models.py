"""Real mmpretrain / mmseg / mmokd models for the GPD core tests.

Each builder returns a fresh copy of a cached, randomly initialised plain
model whose BN layers have random statistics and affine parameters, so that
eval-mode checks are meaningful.
"""
import copy
import functools

import torch
from torch import nn

from mmokd.models.builders.external_model import ExternalModel
from mmokd.models.gpd import expand_to_dynamic_teacher

R18_CFG = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
MODELS = {
    'resnet18':
    dict(cfg_path=R18_CFG),
    'resnet34':
    dict(cfg_path='mmpretrain::resnet/resnet34_8xb32_in1k.py'),
    'resnet50':
    dict(cfg_path='mmpretrain::resnet/resnet50_8xb32_in1k.py'),
    'mobilenet_v1':
    dict(
        cfg_path=R18_CFG,
        cfg_options={
            'model.backbone': dict(_delete_=True, type='mmokd.MobileNetV1'),
            'model.head.in_channels': 1024
        }),
    'mobilenet_v2':
    dict(cfg_path='mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'),
    'mobilenet_v3_small':
    dict(
        cfg_path='mmpretrain::mobilenet_v3/mobilenet-v3-small_8xb128_in1k.py'),
    'deeplabv3_r18':
    dict(
        cfg_path='mmseg::deeplabv3/'
        'deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        cfg_options={'model.pretrained': None},
        norm_type='BN'),
    'pspnet_r18':
    dict(
        cfg_path='mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        cfg_options={'model.pretrained': None},
        norm_type='BN'),
}
#: GPD arguments of each model (the configs' ``model.gpd`` fields).
GPD_ARGS = {
    'resnet18':
    dict(output_boundary=('head.fc', )),
    'resnet34':
    dict(output_boundary=('head.fc', )),
    'resnet50':
    dict(output_boundary=('head.fc', )),
    'mobilenet_v1':
    dict(
        input_boundary=('backbone.layers.0.0', ),
        output_boundary=('head.fc', )),
    'mobilenet_v2':
    dict(output_boundary=('head.fc', )),
    'mobilenet_v3_small':
    dict(output_boundary=('head.layers.1.fc', )),
    'deeplabv3_r18':
    dict(scope='backbone'),
    'pspnet_r18':
    dict(scope='backbone'),
}


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random running statistics and affine parameters for every BN."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                c = module.num_features
                module.running_mean.copy_(torch.rand(c, generator=gen) - .5)
                module.running_var.copy_(torch.rand(c, generator=gen) + .5)
                module.weight.copy_(torch.rand(c, generator=gen) + .5)
                module.bias.copy_(torch.rand(c, generator=gen) * .6 - .3)
    return model


def build_new(name: str, **overrides) -> nn.Module:
    """Builds model ``name`` (ExternalModel kwargs ``overrides``) with the
    same random initialisation as :func:`build`."""
    torch.manual_seed(0)
    model = ExternalModel(**dict(MODELS[name], **overrides))
    return randomize_bn(model).eval()


@functools.lru_cache(maxsize=None)
def _plain(name: str) -> nn.Module:
    return build_new(name)


def build(name: str) -> nn.Module:
    """A fresh copy of the plain model ``name`` in eval mode."""
    return copy.deepcopy(_plain(name))


def images(n: int = 2, size: int = 32, seed: int = 1) -> torch.Tensor:
    """A fixed random batch ``(n, 3, size, size)``."""
    return torch.randn(
        n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x, mode='tensor')`` without gradients."""
    with torch.no_grad():
        return model(x, mode='tensor')


@functools.lru_cache(maxsize=3)
def _expanded(name: str, ratio: int, noise_std: float) -> tuple:
    torch.manual_seed(0)
    model = expand_to_dynamic_teacher(
        build(name),
        ratio,
        noise_std=noise_std,
        example_input=images(),
        **GPD_ARGS[name])
    return _plain(name), model


def expanded(name: str,
             ratio: int = 2,
             noise_std: float = 0.0,
             copy_model: bool = False) -> tuple:
    """``(plain, expanded)`` models (cached; never modify them in place
    unless ``copy_model=True`` returns a private copy of the expanded one).
    """
    plain, model = _expanded(name, ratio, noise_std)
    return plain, copy.deepcopy(model) if copy_model else model

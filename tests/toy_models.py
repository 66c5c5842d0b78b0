"""Small real mmpretrain classifiers for fast CPU algorithm tests."""
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.structures import DataSample

# ADM over tiny_classifier peers: student width 8 -> 64 channels, teacher
# width 16 -> 128 channels.
ADM = dict(
    type='mmokd.ADMDistiller',
    feature=dict(source='backbone', data_idx=-1),
    classifier='head.fc',
    channels=dict(student=64, teacher=128),
    alpha=0.5,
    beta=0.5,
    gamma=1.0)


def tiny_classifier(num_classes: int = 10, width: int = 8) -> dict:
    """An mmpretrain ImageClassifier config with a narrow ResNet-18."""
    return dict(
        _scope_='mmpretrain',
        type='ImageClassifier',
        backbone=dict(
            type='ResNet_CIFAR',
            depth=18,
            stem_channels=width,
            base_channels=width),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=8 * width,
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))


def dml_config(num_classes: int = 10, **kwargs) -> dict:
    """A two-peer DML config over tiny classifiers."""
    cfg = dict(
        type='mmokd.DML',
        peers=dict(
            student=tiny_classifier(num_classes),
            teacher=tiny_classifier(num_classes, width=16)),
        logits='head.fc',
        dml_loss=dict(type='mmokd.DMLLoss', tau=1.0, loss_weight=1.0),
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor', num_classes=num_classes))
    cfg.update(kwargs)
    return cfg


def batch(num_images: int = 4, num_classes: int = 10, seed: int = 0):
    """A dataloader-style batch of uint8 images and labelled samples."""
    gen = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 256, (3, 32, 32), generator=gen, dtype=torch.uint8)
        for _ in range(num_images)
    ]
    labels = torch.randint(0, num_classes, (num_images, ), generator=gen)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=inputs, data_samples=samples)


def build_dml(seed: int = 0, **kwargs):
    """A seeded DML model of :func:`dml_config` (``kwargs`` update it)."""
    from mmokd.registry import MODELS
    torch.manual_seed(seed)
    return MODELS.build(dml_config(**kwargs))


def sgd_dict(model, lr: float = 0.1) -> OptimWrapperDict:
    """One plain SGD wrapper per peer of ``model``."""
    return OptimWrapperDict(
        **{
            name: OptimWrapper(
                torch.optim.SGD(model.peer(name).parameters(), lr=lr))
            for name in model.peer_names
        })

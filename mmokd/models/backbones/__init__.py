"""CIFAR-style classification backbones of the CIFAR-100 KD benchmark.

Each returns a tuple of feature maps (the last by default: the map right
before global pooling) and plugs into mmpretrain's ``ImageClassifier``
with a ``GlobalAveragePooling`` neck and a ``LinearClsHead``.
"""
from .cifar_mobilenet_v2 import CIFARMobileNetV2
from .cifar_resnet import CIFARResNet
from .cifar_shufflenet_v1 import CIFARShuffleNetV1
from .cifar_shufflenet_v2 import CIFARShuffleNetV2
from .cifar_vgg import CIFARVGG
from .wide_resnet_cifar import CIFARWideResNet

__all__ = [
    'CIFARResNet', 'CIFARWideResNet', 'CIFARVGG', 'CIFARShuffleNetV1',
    'CIFARShuffleNetV2', 'CIFARMobileNetV2'
]

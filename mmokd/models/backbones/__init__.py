"""Classification backbones mmpretrain lacks: the CIFAR-style networks of
the CIFAR-100 KD benchmark and MobileNet V1.

Each returns a tuple of feature maps (the last by default: the map right
before global pooling) and plugs into mmpretrain's ``ImageClassifier``
with a ``GlobalAveragePooling`` neck and a ``LinearClsHead``.
"""
from .cifar_basic_resnet import CIFARBasicResNet
from .cifar_mobilenet_v2 import CIFARMobileNetV2
from .cifar_resnet import CIFARResNet
from .cifar_shufflenet_v1 import CIFARShuffleNetV1
from .cifar_shufflenet_v2 import CIFARShuffleNetV2
from .cifar_vgg import CIFARVGG
from .mobilenet_v1 import MobileNetV1
from .wide_resnet_cifar import CIFARWideResNet

__all__ = [
    'CIFARResNet', 'CIFARWideResNet', 'CIFARVGG', 'CIFARShuffleNetV1',
    'CIFARShuffleNetV2', 'CIFARMobileNetV2', 'MobileNetV1', 'CIFARBasicResNet'
]

"""The seeded held-out split of MC-Distil's meta set."""
import pytest

from mmokd.datasets import RandomSplitDataset


def cifar(root):
    return dict(
        type='mmokd.OfflineCIFAR100',
        data_root=root,
        check_md5=False,
        split='train',
        pipeline=[dict(type='mmpretrain.PackInputs')])


def test_parts_are_disjoint_complete_and_reproducible(tiny_cifar100):
    train = RandomSplitDataset(cifar(tiny_cifar100), 10, 'train', seed=3)
    held = RandomSplitDataset(cifar(tiny_cifar100), 10, 'held_out', seed=3)
    again = RandomSplitDataset(cifar(tiny_cifar100), 10, 'held_out', seed=3)
    other = RandomSplitDataset(cifar(tiny_cifar100), 10, 'held_out', seed=4)
    assert len(train) == 54 and len(held) == 10
    assert not set(train.indices) & set(held.indices)
    assert sorted(train.indices + held.indices) == list(range(64))
    assert held.indices == again.indices != other.indices
    item = held[0]
    label = item['data_samples'].gt_label.item()
    assert label == held.dataset.get_data_info(held.indices[0])['gt_label']
    assert held.get_data_info(0)['gt_label'] == label
    assert held.metainfo == held.dataset.metainfo
    assert len(held.metainfo['classes']) == 100


@pytest.mark.parametrize('count', [0, 64, 2.5, True])
def test_bad_sizes_are_refused(tiny_cifar100, count):
    with pytest.raises(ValueError, match='num_held_out'):
        RandomSplitDataset(cifar(tiny_cifar100), count)


def test_unknown_part_is_refused(tiny_cifar100):
    with pytest.raises(ValueError, match='part'):
        RandomSplitDataset(cifar(tiny_cifar100), 5, 'meta')

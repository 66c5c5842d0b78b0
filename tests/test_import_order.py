"""mmokd, MMRazor and the three downstream packages import in any order.

With mmdet installed, MMRazor 1.0.0 imports ``mmdet.models`` itself, so
mmdet's registrations meet mmokd's compatibility fixes (``mmokd.compat``)
from either side. Each order runs in a fresh interpreter: a module cached
by an earlier import would hide an order-dependent failure. MMRazor itself
always comes after mmokd (``import mmrazor.models`` on torch >= 2 needs
``mmokd.compat``, README "Installation"); the downstream packages come
before or after both.
"""
import pytest

from tests.conftest import python, run_tool

ORDERS = {
    'mmokd-first': ('mmokd', 'mmrazor.models', 'mmrazor.engine',
                    'mmseg.models', 'mmpretrain.models', 'mmdet.models'),
    'mmdet-first': ('mmdet.models', 'mmpretrain.models', 'mmseg.models',
                    'mmokd', 'mmrazor.engine', 'mmrazor.models'),
}

CHECK = """
from mmengine.registry import MODELS
import mmokd.registry
assert mmokd.registry.MODELS.get('DML') is not None
assert MODELS.get('mmdet.RetinaNet') is not None
assert MODELS.get('mmseg.EncoderDecoder') is not None
assert MODELS.get('mmpretrain.ImageClassifier') is not None
assert MODELS.get('mmrazor.SingleTeacherDistill') is not None
print('imported', {order!r})
"""


@pytest.mark.parametrize('name', sorted(ORDERS))
def test_packages_import_in_either_order(name):
    order = ORDERS[name]
    code = ''.join(f'import {name}\n' for name in order)
    proc = run_tool([python(), '-c', code + CHECK.format(order=order)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'imported {order!r}' in proc.stdout

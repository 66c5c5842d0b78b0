"""The ADM visualisation tool writes one 4-panel PNG per image."""
import glob
import os.path as osp

from PIL import Image

from tests.conftest import REPO, python, run_tool


def test_writes_similarity_and_attention_pngs(tmp_path, tiny_cityscapes):
    images = sorted(
        glob.glob(osp.join(tiny_cityscapes, 'leftImg8bit/val/*/*.png')))
    out_dir = str(tmp_path / 'maps')
    options = []
    for peer in ('student', 'teacher'):
        options += [
            f'model.peers.{peer}.cfg_options.model.pretrained=None',
            f'model.peers.{peer}.norm_type=BN'
        ]
    proc = run_tool([
        python(), 'tools/visualizations/vis_adm_maps.py',
        osp.join(REPO, 'configs/adm/deeplabv3_r101_r18_cityscapes.py'),
        '--images', *images, '--out-dir', out_dir, '--cfg-options', *options
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = sorted(glob.glob(osp.join(out_dir, '*_adm.png')))
    assert len(written) == len(images) == 2
    width, height = Image.open(written[0]).size
    assert width > 3 * height  # four panels side by side


def test_rejects_configs_without_adm(tmp_path, tiny_cityscapes):
    image = sorted(
        glob.glob(osp.join(tiny_cityscapes, 'leftImg8bit/val/*/*.png')))[0]
    proc = run_tool([
        python(), 'tools/visualizations/vis_adm_maps.py',
        osp.join(REPO, 'configs/dml/deeplabv3_r101_r18_cityscapes.py'),
        '--images', image, '--out-dir',
        str(tmp_path), '--cfg-options',
        'model.peers.student.cfg_options.model.pretrained=None',
        'model.peers.teacher.cfg_options.model.pretrained=None'
    ])
    assert proc.returncode != 0
    assert 'not an ADMDistiller' in proc.stderr

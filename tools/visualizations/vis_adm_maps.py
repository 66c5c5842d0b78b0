"""Draws ADM's similarity and attention maps over images.

For each image, writes ``<out-dir>/<image stem>_adm.png`` with four
panels: the image, the teacher/student similarity map ``S``, the
student's consensus attention ``(1 + S) / (1 + mean S)`` and the teacher's
divergence attention ``(1 - S) / (1 - mean S)``, each overlaid on the
image (ADM paper, Figures 1 and 4). Works with any config whose distiller
is ``mmokd.ADMDistiller``, with a checkpoint or with the initialised
networks::

    python tools/visualizations/vis_adm_maps.py \
        configs/adm/deeplabv3_r101_r18_cityscapes.py \
        --checkpoint work_dirs/.../iter_80000.pth \
        --images demo/*.png --out-dir adm_maps
"""
import argparse
import os
import os.path as osp
from typing import List

import matplotlib
import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction

import mmokd  # noqa: F401  (registration and checkpoint allow-list)
from mmokd.models.losses.functional import adm_attention, adm_similarity
from mmokd.registry import MODELS
from mmokd.utils import load_checkpoint_safely

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with an ADMDistiller')
    parser.add_argument('--checkpoint', help='mmokd checkpoint (optional)')
    parser.add_argument('--images', nargs='+', required=True)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='resize images to this size first (default: as they are)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def build_model(args: argparse.Namespace):
    """The algorithm, with weights from the checkpoint or initialised."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model)
    if args.checkpoint:
        state = load_checkpoint_safely(args.checkpoint)
        model.load_state_dict(state.get('state_dict', state))
    else:
        model.init_weights()
    if not getattr(model.distiller, 'attention_inputs', None):
        raise ValueError(f'{args.config}: model.distiller is not an '
                         'ADMDistiller with consensus or divergence terms '
                         '(no ADM maps to visualise).')
    return model.eval()


def adm_maps(model, image: np.ndarray) -> List[np.ndarray]:
    """``S``, consensus and divergence maps of one BGR image, ``H' x W'``."""
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)
    data = model.data_preprocessor(dict(inputs=[tensor]), False)
    distiller = model.distiller
    for name in model.peer_names:
        with distiller.recording(name), torch.no_grad():
            model.peer(name)(data['inputs'], None, mode='tensor')
    aligned_src, feat_t_src = next(iter(distiller.attention_inputs.values()))
    with torch.no_grad():
        cache: dict = {}
        aligned = distiller.fetch(aligned_src, [], cache)
        feat_t = distiller.fetch(feat_t_src, [], cache)
        sim = adm_similarity(aligned, feat_t)
        attn_co, attn_di = adm_attention(aligned, feat_t)
    return [sim[0].numpy(), attn_co[0, 0].numpy(), attn_di[0, 0].numpy()]


def overlay(ax, image_rgb: np.ndarray, values: np.ndarray, title: str,
            vmin: float, vmax: float) -> None:
    """Draws ``values`` resized to the image, half transparent."""
    h, w = image_rgb.shape[:2]
    resized = mmcv.imresize(values.astype(np.float32), (w, h))
    ax.imshow(image_rgb)
    shown = ax.imshow(resized, cmap='jet', alpha=0.5, vmin=vmin, vmax=vmax)
    plt.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
    ax.set_title(title, fontsize=9)
    ax.axis('off')


def main() -> None:
    """Writes one PNG per image."""
    args = parse_args()
    model = build_model(args)
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.images:
        image = mmcv.imread(path)
        if args.size:
            image = mmcv.imresize(image, (args.size[1], args.size[0]))
        sim, co, di = adm_maps(model, image)
        rgb = mmcv.bgr2rgb(image)
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
        axes[0].imshow(rgb)
        axes[0].set_title(osp.basename(path), fontsize=9)
        axes[0].axis('off')
        overlay(axes[1], rgb, sim, 'similarity S (teacher vs student)', -1, 1)
        top = max(co.max(), di.max(), 1.0)
        overlay(axes[2], rgb, co, 'consensus attention (student)', 0, top)
        overlay(axes[3], rgb, di, 'divergence attention (teacher)', 0, top)
        fig.tight_layout()
        out = osp.join(args.out_dir,
                       osp.splitext(osp.basename(path))[0] + '_adm.png')
        fig.savefig(out, dpi=100)
        plt.close(fig)
        print(out)


if __name__ == '__main__':
    main()

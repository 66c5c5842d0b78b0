"""Per-network photometric views for segmentation (KDCL)."""
from mmseg.datasets.transforms import PackSegInputs, PhotoMetricDistortion

from mmokd.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiViewPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` drawn independently per view.

    KDCL (Guo et al., CVPR 2020) gives every network its own augmentation
    of the image. For segmentation only the photometric part differs
    between views: crops, flips and resizing happen once before this
    transform, so every view keeps the same pixel grid and the label map
    stays shared (per-view geometric changes would misalign the networks'
    per-pixel predictions that the ensemble combines). ``results['img']``
    becomes a list of ``num_views`` images; put this transform last,
    before ``mmokd.PackMultiViewSegInputs``.

    Config example (replaces ``PhotoMetricDistortion``)::

        dict(type='mmokd.MultiViewPhotoMetricDistortion', num_views=2)

    Args:
        num_views (int): Number of views (networks). Defaults to 2.
        **kwargs: Arguments of ``PhotoMetricDistortion``.
    """

    def __init__(self, num_views: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_views = num_views

    def transform(self, results: dict) -> dict:
        """Replaces ``results['img']`` by ``num_views`` distorted copies.

        Args:
            results (dict): Pipeline results with one ``img``.

        Returns:
            dict: ``results`` with ``img`` a list of images.
        """
        image = results['img']
        results['img'] = [
            super(MultiViewPhotoMetricDistortion,
                  self).transform(dict(results, img=image))['img']
            for _ in range(self.num_views)
        ]
        return results

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, num_views={self.num_views})'


@TRANSFORMS.register_module()
class PackMultiViewSegInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` for a list of views of one image.

    ``inputs`` becomes a list of one ``(3, H, W)`` tensor per view; the
    data sample (label map, meta information) is packed once. A single
    image is packed as by the parent.

    Config example::

        dict(type='mmokd.PackMultiViewSegInputs')

    Args:
        **kwargs: Arguments of ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Packs every view and the shared data sample.

        Args:
            results (dict): Pipeline results.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        views = results.get('img')
        if not isinstance(views, list):
            return super().transform(results)
        packed = [
            super(PackMultiViewSegInputs,
                  self).transform(dict(results, img=view)) for view in views
        ]
        return dict(
            inputs=[item['inputs'] for item in packed],
            data_samples=packed[0]['data_samples'])

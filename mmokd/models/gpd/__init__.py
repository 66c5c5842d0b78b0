"""Gap Preserving Distillation (GPD) core: a dynamic teacher that shares
its parameters with the student (Guo et al., ICLR 2025)."""
from .activation import GPDActivation
from .batch_norm import GPDBatchNorm2d
from .conv import GPDConv2d, GPDMultiBranchConv2d
from .expand import expand_to_dynamic_teacher
from .export import export_student
from .linear import GPDLinear
from .mode import GPD_MODES, get_gpd_mode, gpd_mode, set_gpd_mode
from .multi_branch_conv import MultiBranchConv2d, convert_to_multi_branch
from .step_cache import set_step_weight_caching, step_weight_cache

__all__ = [
    'GPD_MODES', 'GPDActivation', 'GPDBatchNorm2d', 'GPDConv2d', 'GPDLinear',
    'GPDMultiBranchConv2d', 'MultiBranchConv2d', 'convert_to_multi_branch',
    'expand_to_dynamic_teacher', 'export_student', 'get_gpd_mode', 'gpd_mode',
    'set_gpd_mode', 'set_step_weight_caching', 'step_weight_cache'
]

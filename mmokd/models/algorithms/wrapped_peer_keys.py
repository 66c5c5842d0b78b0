"""Loading checkpoint keys saved without DDP's ``.module.`` into a model
whose peers are DDP-wrapped."""
from mmengine.model import is_model_wrapper
from torch import nn


def load_into_wrapped_peers(module: nn.Module, state_dict: dict, prefix: str,
                            *args) -> None:
    """Load-state-dict pre-hook of an algorithm whose children may be
    wrapped (``MMSeparateDistributedDataParallel``).

    The algorithm's state-dict hook saves ``teacher.x`` for a wrapped
    ``teacher.module.x``. mmengine's loader skips wrappers, so it reads
    those keys as they are; torch's ``load_state_dict`` (e.g. ``EMAHook``
    loading its averaged copy of the model on resume, non-strictly) walks
    through the wrapper and would silently miss them. This hook gives each
    wrapped child a pre-hook of its own that adds the ``module.`` back; it
    runs only when a loader passes through the wrapper.

    Args:
        module (nn.Module): The algorithm.
        state_dict (dict): The state dict being loaded.
        prefix (str): The algorithm's key prefix.
        *args: The remaining arguments of a load-state-dict pre-hook.
    """
    for child in module._modules.values():
        if is_model_wrapper(child) and not getattr(
                child, '_adds_module_to_keys', False):
            child._register_load_state_dict_pre_hook(
                _add_module_to_keys, with_module=True)
            child._adds_module_to_keys = True


def _add_module_to_keys(wrapper: nn.Module, state_dict: dict, prefix: str,
                        *args) -> None:
    """Renames ``{prefix}x`` to ``{prefix}module.x`` (a wrapper's
    pre-hook)."""
    wrapped = f'{prefix}module.'
    for key in [
            k for k in state_dict
            if k.startswith(prefix) and not k.startswith(wrapped)
    ]:
        state_dict[wrapped + key[len(prefix):]] = state_dict.pop(key)

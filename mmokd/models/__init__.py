"""Models of mmokd: algorithms, distillers, losses, backbones, builders."""
from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .builders import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

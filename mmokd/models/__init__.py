"""Models of mmokd: algorithms, distillers, losses, tasks, backbones,
builders, data preprocessors."""
from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .builders import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .distillers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .tasks import *  # noqa: F401,F403

"""eldercare-coverage: plan the 15-minute home and community eldercare circle (一刻钟居家养老服务圈).

The import name is ``coverage`` (the distribution and command are ``eldercare-coverage``);
it shares that import name with the coverage.py test tool, so do not install both in one
environment.
"""

from .config import StudyConfig, load_config, resolve_walk_speed, WALK_SPEEDS
from .errors import InputError, Problem, ProblemReport

__version__ = "0.1.0"

__all__ = [
    "StudyConfig", "load_config", "resolve_walk_speed", "WALK_SPEEDS",
    "InputError", "Problem", "ProblemReport", "__version__",
]

"""skillmix: curate, decontaminate, mix and train on post-training skill mixes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("skillmix")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"

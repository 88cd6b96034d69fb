"""Put the top-level data/ and templates/ into regular installs, as bubblelens/_shipped/.

They stay at the top of the repository because analysts and designers edit them there; setuptools'
package-data cannot reach a folder outside the package, so the wheel's build step copies them in.
Editable installs skip the copy and read the checkout itself (bubblelens/core/resources.py).
Everything else (which packages, metadata, the build backend) is in pyproject.toml.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("data", "templates")
# Never shipped even when present under data/ or templates/: caches, editor and OS litter, and the hidden
# temp files of an atomic write in progress (core/io.py).
JUNK = shutil.ignore_patterns("__pycache__", "*.py[cod]", ".*", "*~", "*.swp")


class BuildPyWithShippedData(build_py):
    def run(self) -> None:
        if getattr(self, "editable_mode", False):
            super().run()      # an editable install reads data/ and templates/ in the checkout
            return
        # pip builds in the source tree, and setuptools never prunes build/lib: a module that was moved
        # or deleted since the last build would otherwise ride along in every later wheel.
        shutil.rmtree(Path(self.build_lib) / "bubblelens", ignore_errors=True)
        super().run()
        target = Path(self.build_lib) / "bubblelens" / "_shipped"
        for name in SHIPPED:
            if not (HERE / name).is_dir():
                raise SystemExit(f"setup.py: {HERE / name} is missing; a wheel needs the shipped {name}/")
            shutil.copytree(HERE / name, target / name, ignore=JUNK)


setup(cmdclass={"build_py": BuildPyWithShippedData})

"""Build script: the darkpy package, plus the repository's cfg/ and data/ folders inside it.

The repository keeps Darknet's layout (top-level cfg/ and data/, where Darknet users look for
them). A wheel must carry them inside the package so that an installed darkpy finds the bundled
cfgs, names, trees, sample images and the demo model from any folder. setuptools' package-dir
mapping does that without copying anything in the checkout: cfg/ is installed as
darkpy/_bundled/cfg and data/ as darkpy/_bundled/data (each sub-folder, e.g. data/demo/images,
declared as a data-only package so setuptools ships its files). darkpy/assets.py resolves both
layouts, the installed one and a checkout. Project metadata is in pyproject.toml. Nothing under
tests/ is shipped."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
BUNDLED = {}
for top in ("cfg", "data"):
    for folder in [HERE / top, *sorted(p for p in (HERE / top).rglob("*") if p.is_dir())]:
        rel = folder.relative_to(HERE)
        BUNDLED["darkpy._bundled." + ".".join(rel.parts)] = rel.as_posix()

setup(
    packages=find_packages(include=["darkpy", "darkpy.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    package_data={name: ["*"] for name in BUNDLED},
)

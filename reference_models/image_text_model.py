"""A small CLIP-like dual encoder for the synthetic image-caption data (:mod:`.image_text_data`).

* image encoder: three 3x3 convolutions (16, 32, 48 channels, two 2x2 max-pools) and a linear map
  to :data:`FEATURES` dimensions;
* text encoder: a token embedding (:data:`EMBED` dimensions, token 0 = padding), a learned position
  embedding, the mean over the non-padding tokens and a two-layer MLP to :data:`FEATURES` dimensions.

Both encoders return **unit-norm** features; the similarity of an image and a caption is their dot
product (a cosine).  The text encoder is split so that attacks can work on token embeddings:
``encode_text(tokens) == encode_embedded(token_embeddings(tokens), tokens != 0)``.
About 43k parameters (170 kB of float32).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .image_text_data import MAX_TOKENS, VOCAB

FEATURES = 32
EMBED = 32


class DualEncoder(nn.Module):
    def __init__(self, features: int = FEATURES, embed: int = EMBED, vocab: int = len(VOCAB)) -> None:
        super().__init__()
        self.image = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 48, 3, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(48 * 4 * 4, features),
        )
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.position = nn.Parameter(torch.zeros(MAX_TOKENS, embed))
        self.text = nn.Sequential(nn.Linear(embed, 64), nn.ReLU(), nn.Linear(64, features))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 16, 16) in [0, 1] -> (B, FEATURES), unit norm."""
        return F.normalize(self.image(images), dim=-1)

    def token_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 token ids -> (B, L, EMBED) embeddings (padding embeds to 0)."""
        return self.embedding(tokens)

    def encode_embedded(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, EMBED) embeddings and a (B, L) bool mask of real tokens -> (B, FEATURES), unit norm."""
        m = mask.to(embeddings.dtype).unsqueeze(-1)
        pooled = ((embeddings + self.position[: embeddings.shape[1]]) * m).sum(1) / m.sum(1).clamp_min(1.0)
        return F.normalize(self.text(pooled), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 token ids (0 = padding) -> (B, FEATURES), unit norm."""
        return self.encode_embedded(self.token_embeddings(tokens), tokens != 0)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(image features, text features), both unit norm."""
        return self.encode_image(images), self.encode_text(tokens)

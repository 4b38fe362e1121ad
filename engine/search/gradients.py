"""The attribution fallback for encoders that are not mean-pooled: integrated gradients.

CLS pooling has no exact additive split, so each side's tokens are scored by integrated
gradients (Sundararajan et al. 2017) on the input word embeddings, from a zero baseline, with
the other side's vector held fixed. IG's completeness gives Σ attributions = f(x) - f(0); the
remainder f(0) plus the special tokens' share is reported as the special share, so the parts
still add up to the score. The output's method names the step count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from engine.search.explanation import Explanation, fold_words


def _side(
    encoder: Any, text: str, kind: str, target: torch.Tensor, steps: int
) -> tuple[float, list[tuple[int, int, float]], float, torch.Tensor]:
    """IG over one text's tokens against a fixed unit vector `target`."""
    prefix = encoder.config.query_prefix if kind == "query" else encoder.config.passage_prefix
    enc = encoder.tokenizer(
        [prefix + text], truncation=True, max_length=encoder.max_tokens,
        return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt",
    )
    model = encoder._model
    device = next(model.parameters()).device
    ids = enc["input_ids"].to(device)
    mask = enc["attention_mask"].to(device)
    with torch.no_grad():
        embeds = model.get_input_embeddings()(ids).float()
    alphas = torch.linspace(1.0 / steps, 1.0, steps, device=device).view(-1, 1, 1)
    scaled = (alphas * embeds).detach().requires_grad_(True)
    dtype = next(model.parameters()).dtype
    with torch.enable_grad():
        out = model(inputs_embeds=scaled.to(dtype), attention_mask=mask.expand(steps, -1))
        pooled = out.last_hidden_state[:, 0].float()
        scores = torch.nn.functional.normalize(pooled, dim=-1) @ target.to(device)
        (grads,) = torch.autograd.grad(scores.sum(), scaled)
    attributions = (embeds[0] * grads.mean(dim=0)).sum(dim=-1).detach().cpu().numpy()
    score = float(scores[-1].detach())
    vector = torch.nn.functional.normalize(pooled[-1].detach(), dim=-1)

    cut = len(prefix)
    offsets, special = [], []
    for (s, e), flag in zip(enc["offset_mapping"][0].tolist(),
                            enc["special_tokens_mask"][0].tolist(), strict=True):
        outside = bool(flag) or e <= cut
        offsets.append((0, 0) if outside else (max(s - cut, 0), e - cut))
        special.append(outside)
    words, owner = fold_words(text, offsets, special)
    weights = np.zeros(len(words))
    np.add.at(weights, owner[owner >= 0], attributions[owner >= 0])
    spans = [(s, e, float(w)) for (s, e), w in zip(words, weights, strict=True)]
    return score, spans, score - float(weights.sum()), vector


def integrated_gradients(
    encoder: Any, query: str, passages: Sequence[tuple[str, int]], steps: int
) -> list[Explanation]:
    q_vec = torch.as_tensor(encoder.encode_queries([query])[0], dtype=torch.float32)
    out = []
    for text, start in passages:
        score, p_spans, p_rest, p_vec = _side(encoder, text, "passage", q_vec, steps)
        _, q_spans, _, _ = _side(encoder, query, "query", p_vec, steps)
        # Residual against the same score on both sides, so each side adds up to it.
        q_rest = score - sum(w for _, _, w in q_spans)
        out.append(
            Explanation(
                method=f"integrated-gradients-{steps}",
                score=score,
                passage_spans=[(start + s, start + e, w) for s, e, w in p_spans],
                query_spans=q_spans,
                pairs=[],
                special_share=p_rest,
                query_special_share=q_rest,
            )
        )
    return out

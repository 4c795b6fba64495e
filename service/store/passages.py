"""Passages with their label scores and evidence type, and the cache of passage vectors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import func, select

from service.encoding.embed import embedding_key
from service.errors import NotFound
from service.records import Analysis
from service.store.db import Database, ScopedQueries
from service.store.schema import EmbeddingRow, PassageRow, ReportRow


def _scores_json(scores: Any) -> dict[str, Any]:
    reading = {"scores": scores.scores, "labels": list(scores.labels), "parts": list(scores.parts)}
    if scores.part_scores:
        reading["part_scores"] = scores.part_scores
    return reading


class PassageQueries(ScopedQueries):
    """The passages of one scope's reports (a passage belongs to the tenant of its report)."""

    def _passages(self, *columns: Any) -> Any:
        query = select(*columns).join(ReportRow, PassageRow.report_id == ReportRow.id)
        return self._own(query, ReportRow.tenant_id)

    def save_analysis(
        self,
        report_id: int,
        analysis: Analysis,
        model: str,
        evidence_types: Sequence[str],
        cache_scope: str = "",
    ) -> list[int]:
        """Replace the report's passages and result in one transaction; returns passage row ids.

        ``evidence_types`` has one type per passage (service.judging.substance.evidence_type), stored so
        readers
        never decide it again. ``cache_scope`` is the embedding cache's scope the vectors were stored
        under (service.encoding.embed.ScopedCache).
        """
        with self._db.session() as s:
            report = s.get(ReportRow, report_id)
            if report is None or not self._sees(report.tenant_id):
                raise NotFound(f"no report with id {report_id}")
            s.query(PassageRow).filter(PassageRow.report_id == report_id).delete()
            readings = zip(analysis.passages, analysis.sdg, analysis.dd, evidence_types, strict=True)
            rows = [
                PassageRow(
                    report_id=report_id,
                    passage_key=p.id,
                    page=p.page,
                    start=p.start,
                    end=p.end,
                    heading=p.heading,
                    text=p.text,
                    embedding_key=embedding_key(model, analysis.encoder_input(n), cache_scope),
                    sdg=_scores_json(sdg),
                    dd=_scores_json(dd),
                    evidence_type=kind,
                )
                for n, (p, sdg, dd, kind) in enumerate(readings)
            ]
            s.add_all(rows)
            report.status = "done"
            report.error = ""
            report.language = analysis.document.language
            report.pages = analysis.document.page_count
            report.result = json.loads(json.dumps(analysis.report.to_dict()))
            s.flush()
            return [row.id for row in rows]

    def passages(self, report_id: int, offset: int = 0, limit: int | None = 100) -> list[PassageRow]:
        """A report's passages in reading order (none for another tenant's report)."""
        with self._db.session() as s:
            query = self._passages(PassageRow).where(PassageRow.report_id == report_id)
            return list(s.scalars(query.order_by(PassageRow.id).offset(offset).limit(limit)))

    def last_passage_id(self) -> int:
        """The highest passage row id (0 without passages): whether the index has missed any."""
        with self._db.session() as s:
            return int(s.scalar(self._passages(func.max(PassageRow.id))) or 0)

    def passages_by_ids(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        with self._db.session() as s:
            rows = s.scalars(self._passages(PassageRow).where(PassageRow.id.in_(list(ids))))
            return {row.id: row for row in rows}

    def passage_ids(self, report_id: int | None = None, sector: str | None = None) -> list[int]:
        """Row ids of the scope's passages, optionally of one report or one sector's reports."""
        with self._db.session() as s:
            query = self._passages(PassageRow.id)
            if report_id is not None:
                query = query.where(PassageRow.report_id == report_id)
            if sector:
                query = query.where(func.lower(ReportRow.sector) == sector.lower())
            return list(s.scalars(query))

    def all_passage_vectors(self, model: str, after: int = 0) -> tuple[list[int], np.ndarray]:
        """Every passage id of the scope (above ``after``) with its cached vector (for the index)."""
        with self._db.session() as s:
            query = (
                self._passages(PassageRow.id, EmbeddingRow.vector)
                .join(EmbeddingRow, EmbeddingRow.key == PassageRow.embedding_key)
                .where(EmbeddingRow.model == model, PassageRow.id > after)
                .order_by(PassageRow.id)
            )
            pairs = list(s.execute(query))
        if not pairs:
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in pairs])
        return [i for i, _ in pairs], vectors


class VectorCache:
    """Cached vectors keyed by sha256(model, text, scope) (implements service.encoding.embed.EmbeddingCache).

    The key carries the tenant's scope (service.encoding.embed.ScopedCache), so the cache needs no tenant
    here.
    """

    _db: Database

    def get_vectors(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._db.session() as s:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                rows = s.execute(
                    select(EmbeddingRow.key, EmbeddingRow.vector).where(EmbeddingRow.key.in_(chunk))
                )
                found.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        return found

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._db.session() as s:
            existing = set(s.scalars(select(EmbeddingRow.key).where(EmbeddingRow.key.in_(list(vectors)))))
            s.add_all(
                EmbeddingRow(key=k, model=model, vector=np.asarray(v, np.float32).tobytes())
                for k, v in vectors.items()
                if k not in existing
            )

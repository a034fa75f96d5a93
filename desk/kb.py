"""The knowledge base: runbooks and resolved incidents, found by substring in any language.

SQLite: an FTS5 table with the trigram tokenizer (words of three characters or more use its
index; shorter ones, such as a two-character Chinese word, are matched by a scan of it).
PostgreSQL: ILIKE over pg_trgm GIN indexes.  Neither needs spaces between words.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from .models import KnowledgeDoc

LIMIT = 50


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(db: Session, query: str, limit: int = LIMIT) -> list[KnowledgeDoc]:
    """Documents holding every word of ``query`` (split at blanks), runbooks first."""
    terms = [t for t in query.split() if t][:8]
    if not terms:
        return []
    if db.get_bind().dialect.name == "sqlite":
        where = " AND ".join(
            f"(kb_fts.title LIKE :t{i} ESCAPE '\\' OR kb_fts.body LIKE :t{i} ESCAPE '\\')"
            for i in range(len(terms))
        )
        rows = (
            db.execute(
                text(f"SELECT rowid FROM kb_fts WHERE {where} LIMIT :limit"),
                {**{f"t{i}": _like_pattern(t) for i, t in enumerate(terms)}, "limit": limit},
            )
            .scalars()
            .all()
        )
        docs = db.scalars(select(KnowledgeDoc).where(KnowledgeDoc.id.in_(rows))).all()
    else:
        query_ = select(KnowledgeDoc)
        for term in terms:
            pattern = _like_pattern(term)
            query_ = query_.where(
                or_(
                    KnowledgeDoc.title.ilike(pattern, escape="\\"),
                    KnowledgeDoc.body.ilike(pattern, escape="\\"),
                )
            )
        docs = db.scalars(query_.limit(limit)).all()
    return sorted(docs, key=lambda d: (d.source != "runbook", d.ref))


def snippet(doc: KnowledgeDoc, query: str, width: int = 160) -> str:
    """The text around the first word of the query."""
    terms = query.split()
    at = doc.body.lower().find(terms[0].lower()) if terms else -1
    start = max(0, at - width // 3) if at >= 0 else 0
    return doc.body[start : start + width]


def import_runbooks(db: Session, directory: str | Path) -> int:
    """Add or refresh every runbook (*.md) of ``directory``; the number read."""
    count = 0
    for path in sorted(Path(directory).glob("*.md")):
        body = path.read_text(encoding="utf-8")
        first = next((line for line in body.splitlines() if line.strip()), path.stem)
        ref = f"runbook:{path.stem}"
        doc = db.scalars(select(KnowledgeDoc).where(KnowledgeDoc.ref == ref)).first()
        if doc is None:
            db.add(KnowledgeDoc(source="runbook", ref=ref, title=first.lstrip("# "), body=body))
        else:
            doc.title, doc.body = first.lstrip("# "), body
        count += 1
    return count

"""Column types shared by the models."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# JSON everywhere; JSONB on PostgreSQL so that it can be indexed and compared.
JsonType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

"""Storage: SQLAlchemy tables, the database engine and Alembic migrations."""

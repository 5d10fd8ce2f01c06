"""The project file (``*.studio``): one SQLite file with assets, blobs, recipes and lineage.

See docs/project-file.md for the format and the safety rules; :class:`ProjectStore` is the
way in.
"""

from studio.core.project.assets import Asset, LineageLink
from studio.core.project.checks import IntegrityReport
from studio.core.project.errors import (
    AssetNotFoundError,
    DamagedProjectError,
    ForeignJournalError,
    NewerProjectError,
    NotAProjectError,
    ProjectClosedError,
    ProjectError,
    ProjectExistsError,
    ProjectNotFoundError,
    ProjectOpenError,
    ProjectReadOnlyError,
)
from studio.core.project.queries import AssetFilter
from studio.core.project.schema import APPLICATION_ID, SCHEMA_VERSION
from studio.core.project.store import PROJECT_SUFFIX, ProjectStats, ProjectStore

__all__ = [
    "APPLICATION_ID",
    "PROJECT_SUFFIX",
    "SCHEMA_VERSION",
    "Asset",
    "AssetFilter",
    "AssetNotFoundError",
    "DamagedProjectError",
    "ForeignJournalError",
    "IntegrityReport",
    "LineageLink",
    "NewerProjectError",
    "NotAProjectError",
    "ProjectClosedError",
    "ProjectError",
    "ProjectExistsError",
    "ProjectNotFoundError",
    "ProjectOpenError",
    "ProjectReadOnlyError",
    "ProjectStats",
    "ProjectStore",
]

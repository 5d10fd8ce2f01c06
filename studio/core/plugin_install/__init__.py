"""Installing, reviewing and removing third-party plugins (no Qt).

The one way in, for the command line (``studio plugins install|uninstall|enable|disable``) and
the window's Plugins dialog alike:

1. :meth:`PluginInstaller.review` takes what the user has (a folder, a ``.zip``, a wheel, or a
   package name on the package index), unpacks it into a staging folder with every archive entry
   checked, reads the manifest, and works out the Python requirements against Studio's own
   environment. Nothing of the plugin runs and nothing outside the staging folder is written.
2. The user sees the :class:`InstallReview` (manifest, what it declares it needs, the
   requirements already met, the ones that would be installed, and any conflict).
3. :meth:`PluginInstaller.install` puts the plugin into ``<data dir>/plugins/<id>/`` and the
   missing requirements into its private ``<data dir>/plugin-packages/<id>/`` (``pip install
   --no-deps --target`` of exactly the versions pip's dry run picked: Studio's own packages are
   never changed), and records every file it added. Any failure rolls the whole install back.
4. :meth:`PluginInstaller.uninstall` removes exactly what the install added;
   :meth:`PluginInstaller.set_enabled` keeps a plugin installed but off (persisted).

The private packages count as met for that plugin alone (:mod:`studio.core.registry`) and are
on the path of that plugin's own model process only (:mod:`studio.core.plugin_sandbox`).

Modules: :mod:`.archive` (safe unpacking and copying, the limits), :mod:`.sources` (folder,
zip, wheel, package name), :mod:`.requirements` (resolution against Studio's environment),
:mod:`.state` (install records, switched-off plugins), :mod:`.pip` (Studio's own pip).
"""

from __future__ import annotations

from studio.core.plugin_install.archive import Limits
from studio.core.plugin_install.installer import (
    InstalledPlugin,
    InstallReview,
    PluginInstaller,
    Requirement,
)

__all__ = ["InstallReview", "InstalledPlugin", "Limits", "PluginInstaller", "Requirement"]

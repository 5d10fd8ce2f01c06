"""What a third-party plugin may do in its model process (docs/safety.md, "What a third-party
plugin may do").

A model process runs either the built-in plugins of a panel or exactly one third-party plugin
(:func:`hosted_plugin`; the host starts a new process when that changes). At its start, before
any thread and before anything of the plugin is imported, the process of a third-party plugin
calls :func:`confine_model_process`, which

- puts the plugin's private packages (``<data dir>/plugin-packages/<id>/``, what the installer
  added for it alone) at the front of ``sys.path``, in that process only;
- unless its manifest declares ``needs.network = true``: moves the process into a network
  namespace of its own where the system allows it (:func:`enter_network_namespace`: only a
  loopback interface, down; it covers programs the plugin starts too), and installs an audit
  hook (:class:`NetworkBlock`) that refuses every connection, datagram, name lookup and
  listening socket on the network with a :class:`PermissionError` naming the plugin and the
  address. The first refusal of a job becomes the job's error, whatever the plugin or its
  libraries made of the exception.

It stops accidental and casual network use and makes it visible; it is not a security boundary
(native code and ``ctypes`` bypass an audit hook, and the namespace is not made everywhere).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.paths import Paths
from studio.core.registry import PluginRegistry, PluginSource, PluginUnavailable

log = logging.getLogger("studio.models")

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

LOCAL_FAMILIES = frozenset(
    f for f in (getattr(socket, "AF_UNIX", None), getattr(socket, "AF_NETLINK", None)) if f
)
"""Socket families that never leave the machine: Studio's own pipes are AF_UNIX socket pairs."""

AUDIT_HOOK = "audit hook"
NAMESPACE = "network namespace"


def hosted_plugin(registry: PluginRegistry, plugin_id: str) -> str:
    """The plugin a model process for ``plugin_id``'s jobs is for: "" for a built-in (the
    panel's process runs them all), else ``plugin_id`` (a process of its own)."""
    try:
        source = registry.get(plugin_id).source
    except PluginUnavailable:
        return ""  # nothing of an unknown plugin can run anywhere; the job says why
    return "" if source is PluginSource.BUILTIN else plugin_id


def _where(host: Any, port: Any = None) -> str:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host) or "*"  # "": every address of the machine
    if port is None or port == "":
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return _where(address[0], address[1])
    return _where(address)


def _numeric(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return True


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    return False


def _family(sock: Any) -> Any:
    return getattr(sock, "family", None)


def network_attempt(event: str, args: tuple[Any, ...]) -> str:
    """What an audit event tries to do on the network ("connect to 127.0.0.1:8765"), or "" for
    an event that stays on this machine (a Unix socket, a numeric address, the loopback)."""
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        if _family(sock) in LOCAL_FAMILIES or address is None:
            return ""  # a Unix socket, or one connected already (sendmsg without an address)
        verb = "connect to" if event == "socket.connect" else "send to"
        return f"{verb} {_address(address)}"
    if event == "socket.bind":
        sock, address = args[0], args[1]
        if _family(sock) in LOCAL_FAMILIES:
            return ""
        host = address[0] if isinstance(address, tuple) and address else address
        return "" if _loopback(host) else f"listen on {_address(address)}"
    if event == "socket.getaddrinfo":
        host, port = args[0], args[1]
        if host in (None, "", b"") or _numeric(host):
            return ""  # no lookup: an address already, or a local wildcard
        if port in (None, "", 0):
            return f"look up {_where(host)}"
        return f"connect to {_where(host, port)}"
    if event == "socket.gethostbyname":
        return "" if _numeric(args[0]) else f"look up {_where(args[0])}"
    if event == "socket.gethostbyaddr":
        return "" if _loopback(args[0]) else f"look up the name of {_where(args[0])}"
    if event == "socket.getnameinfo":
        address = args[0]
        host = address[0] if isinstance(address, tuple) and address else address
        return "" if _loopback(host) else f"look up the name of {_address(address)}"
    return ""


def blocked_sentence(plugin_name: str, attempt: str) -> str:
    return (
        f"{plugin_name} tried to {attempt}, but it does not declare needs.network in its "
        "manifest: Studio blocked it."
    )


class NetworkBlock:
    """The audit hook that refuses a plugin's network use (installed once; a hook cannot be
    removed). Each refusal is kept until :meth:`take` (the model process takes it at the start
    and the end of each job) and logged once."""

    def __init__(self, plugin_name: str) -> None:
        self.plugin_name = plugin_name
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._logged: set[str] = set()

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not event.startswith("socket."):
            return
        attempt = network_attempt(event, args)
        if not attempt:
            return
        sentence = blocked_sentence(self.plugin_name, attempt)
        with self._lock:
            self._pending.append(sentence)
            first = sentence not in self._logged
            self._logged.add(sentence)
        if first:
            log.warning("%s", sentence)
        raise PermissionError(sentence)

    def take(self) -> str:
        """The first refusal since the last call ("" if none), forgetting them all."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending[0] if pending else ""


def _libc_unshare() -> Callable[[int], int]:
    libc = ctypes.CDLL(None, use_errno=True)
    unshare = libc.unshare
    unshare.argtypes = [ctypes.c_int]
    unshare.restype = ctypes.c_int
    return unshare


def enter_network_namespace() -> str:
    """Move this process (and whatever it starts later) into a network namespace of its own:
    no interface but a loopback that is down. As root (CAP_SYS_ADMIN) directly; otherwise in a
    user namespace of its own, mapped to the same user and group, where the system allows
    unprivileged user namespaces (the process must not have started a thread yet). Returns how;
    raises ``OSError`` saying why not."""
    if not sys.platform.startswith("linux"):
        raise OSError("network namespaces exist on Linux only")
    unshare = _libc_unshare()
    if unshare(CLONE_NEWNET) == 0:
        return NAMESPACE
    alone = ctypes.get_errno()
    uid, gid = os.getuid(), os.getgid()
    if unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(
            errno,
            f"unshare(CLONE_NEWNET): {os.strerror(alone)}; with a user namespace: "
            f"{os.strerror(errno)}",
        )
    # The same user and group inside as outside, so files keep their owners.
    try:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError as exc:
        log.warning("the user namespace could not map user %s and group %s: %s", uid, gid, exc)
    return f"{NAMESPACE} (in a user namespace)"


@dataclass
class Confinement:
    """What :func:`confine_model_process` did for the one plugin of a model process."""

    plugin_id: str
    plugin_name: str
    network: bool
    """The manifest declares ``needs.network``: nothing is blocked."""
    packages: Path | None = None
    """The private package folder put at the front of ``sys.path``, if the plugin has one."""
    protection: str = ""
    """"audit hook" or "audit hook + network namespace"; "" when the network is allowed."""
    why_no_namespace: str = ""
    block: NetworkBlock | None = field(default=None, repr=False)

    def take_blocked(self) -> str:
        """The first network use refused since the last call, as a sentence ("" if none)."""
        return self.block.take() if self.block is not None else ""

    def describe(self) -> str:
        packages = f"; private packages {self.packages}" if self.packages else ""
        if self.network:
            return (
                f"model process for {self.plugin_name} ({self.plugin_id}): it declares "
                f"needs.network, the network is allowed{packages}"
            )
        why = f" (no network namespace: {self.why_no_namespace})" if self.why_no_namespace else ""
        return (
            f"model process for {self.plugin_name} ({self.plugin_id}): network blocked by "
            f"{self.protection}{why}{packages}"
        )


def confine_model_process(
    plugin_id: str,
    registry: PluginRegistry,
    paths: Paths,
    namespace: Callable[[], str] = enter_network_namespace,
) -> Confinement | None:
    """Confine this model process to what the third-party plugin ``plugin_id`` may do ("" for
    the built-ins' process: nothing changes). Call it before any thread starts and before the
    plugin is imported."""
    if not plugin_id:
        return None
    packages = paths.plugin_packages_dir(plugin_id)
    if packages.is_dir():  # first, so the registry finds the plugin's requirements there
        sys.path.insert(0, str(packages))
    else:
        packages = None
    try:
        record = registry.get(plugin_id)
    except PluginUnavailable:
        record = None  # its jobs fail with the reason; still nothing of it gets the network
    if record is not None and record.source is PluginSource.BUILTIN:
        if packages is not None:
            sys.path.remove(str(packages))
        return None
    manifest = record.manifest if record is not None else None
    name = record.name if record is not None else plugin_id
    if manifest is not None and manifest.needs.network:
        confinement = Confinement(plugin_id, name, network=True, packages=packages)
        log.info("%s", confinement.describe())
        return confinement
    why = ""
    try:
        namespace()
        protection = f"{AUDIT_HOOK} + {NAMESPACE}"
    except OSError as exc:
        protection, why = AUDIT_HOOK, str(exc)
    block = NetworkBlock(name)
    block.install()
    confinement = Confinement(
        plugin_id,
        name,
        network=False,
        packages=packages,
        protection=protection,
        why_no_namespace=why,
        block=block,
    )
    log.info("%s", confinement.describe())
    return confinement


def refusal(confinement: Confinement | None, registry: PluginRegistry, plugin_id: str) -> str:
    """Why this model process must not run ``plugin_id`` ("" if it may): a process runs the
    built-ins, or the one third-party plugin it was started for (the host sees to it; this is
    the check where the plugin would run)."""
    if confinement is not None:
        if plugin_id == confinement.plugin_id:
            return ""
        return (
            f"the model process of {confinement.plugin_name} cannot run '{plugin_id}' "
            "(each third-party plugin runs in a process of its own)"
        )
    if hosted_plugin(registry, plugin_id):
        return f"'{plugin_id}' is a third-party plugin: it runs in a model process of its own"
    return ""

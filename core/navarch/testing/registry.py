"""A private image registry for tests (Debian's ``docker-registry``, the
distribution project's registry) on 127.0.0.1, and a push that needs no docker
daemon: tests pull real images from it without reaching any public registry.

    with RegistryProcess(tmp_path, htpasswd={"navarch": "s3cret"}) as registry:
        push_archive(registry.host, busybox_archive(tmp_path), "busybox", "1",
                     auth=registry.auth)
        await runtime.pull_image(f"{registry.host}/busybox:1", auth=registry.auth)

Runtimes treat 127.0.0.0/8 registries as plain HTTP (Docker and containerd do by
default), so no TLS is set up.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import secrets
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from pathlib import Path
from typing import IO

import yaml

from navarch.runtime.archive import read_archive_manifest
from navarch.runtime.types import RegistryAuth
from navarch.testing.daemon import DaemonProcess, free_port

REGISTRY_BINARY = Path("/usr/bin/docker-registry")

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
# The archives' layers are plain tar; Docker and containerd both pull this type.
MEDIA_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

# Never through an HTTP proxy from the environment: the registry is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RegistryProcess(DaemonProcess):
    """``docker-registry serve`` with its own config, storage directory and port.
    ``htpasswd`` (user -> password) turns on basic authentication."""

    def __init__(
        self,
        directory: Path,
        *,
        htpasswd: Mapping[str, str] | None = None,
        port: int | None = None,
        binary: Path = REGISTRY_BINARY,
    ):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.htpasswd = dict(htpasswd or {})
        self.binary = Path(binary)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "registry.log"

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the prefix of the images it holds."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def auth(self) -> RegistryAuth | None:
        """Credentials of the first htpasswd user, or ``None`` without authentication."""
        for user, password in self.htpasswd.items():
            return RegistryAuth(username=user, password=password)
        return None

    def start(self, timeout: float = 30.0) -> RegistryProcess:
        if not self.binary.exists():
            raise RuntimeError(
                f"{self.binary} is missing: run `apt-get install docker-registry` "
                "(or `make system-deps`)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "registry.yml"
        config_path.write_text(yaml.safe_dump(self._config()))
        # REGISTRY_* variables override the config file: keep the caller's out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer in {timeout}s: {self.log_tail()}")

    def _config(self) -> dict:
        config: dict = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.directory / "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if self.htpasswd:
            htpasswd_path = self.directory / "htpasswd"
            htpasswd_path.write_text(
                "".join(f"{user}:{bcrypt_hash(pw)}\n" for user, pw in self.htpasswd.items())
            )
            config["auth"] = {"htpasswd": {"realm": "navarch-test", "path": str(htpasswd_path)}}
        return config

    def _answers(self) -> bool:
        try:
            with _opener.open(f"{self.url}/v2/", timeout=1) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code == 401 and bool(self.htpasswd)
        except OSError:
            return False


def bcrypt_hash(password: str, cost: int = 4) -> str:
    """A bcrypt hash for an htpasswd file (the only scheme the registry accepts),
    from the system's libcrypt (libxcrypt, in every Debian): no Python package
    needed. The lowest cost keeps each authenticated request cheap; these are test
    credentials."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    libcrypt = ctypes.CDLL(name)
    libcrypt.crypt_gensalt.restype = ctypes.c_char_p
    libcrypt.crypt_gensalt.argtypes = [
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    libcrypt.crypt.restype = ctypes.c_char_p
    libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = libcrypt.crypt_gensalt(b"$2b$", cost, None, 0)
    hashed = libcrypt.crypt(password.encode(), setting) if setting else None
    if not hashed or not hashed.startswith(b"$2"):
        raise RuntimeError(f"{name} cannot make bcrypt hashes")
    return str(hashed.decode())


def push_archive(
    registry: str,
    archive: Path,
    repository: str,
    tag: str,
    auth: RegistryAuth | None = None,
) -> str:
    """Push the (first) image of ``archive`` to ``registry`` (``127.0.0.1:PORT``) as
    ``repository:tag`` through the distribution API, with a Docker v2 schema 2
    manifest; returns the manifest's digest (``sha256:…``), by which the image can
    also be pulled (``host/repository@digest``). Blobs the registry has are skipped.
    """
    archive = Path(archive)
    read_archive_manifest(archive)  # a clear ImageLoadError for a broken archive
    client = _RegistryClient(f"http://{registry}", repository, auth)
    with tarfile.open(archive, "r:*") as tar:
        entry = json.load(_member(tar, "manifest.json"))[0]
        config = _member(tar, entry["Config"]).read()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        client.put_blob(config_digest, config, len(config))
        layers = []
        for layer_path in entry["Layers"]:
            member = tar.getmember(layer_path)
            digest = _digest(_member(tar, layer_path))
            client.put_blob(digest, _member(tar, layer_path), member.size)
            layers.append({"mediaType": MEDIA_LAYER, "size": member.size, "digest": digest})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "size": len(config), "digest": config_digest},
            "layers": layers,
        },
        indent=3,
    ).encode()
    return client.put_manifest(tag, manifest)


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    stream = tar.extractfile(name)
    if stream is None:
        raise ValueError(f"{name} is not a file in the archive")
    return stream


def _digest(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class _RegistryClient:
    """The few distribution API calls a push makes, with basic auth when given."""

    def __init__(self, base: str, repository: str, auth: RegistryAuth | None):
        self.base, self.repository = base, repository
        self.headers: dict[str, str] = {}
        if auth is not None:
            token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Message]:
        if url.startswith("/"):
            url = self.base + url
        request = urllib.request.Request(
            url, data=body, method=method, headers={**self.headers, **(headers or {})}
        )
        try:
            with _opener.open(request, timeout=60) as response:
                response.read()
                return response.status, response.headers
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code == 404:
                return 404, exc.headers
            detail = exc.read().decode(errors="replace").strip()
            raise RuntimeError(
                f"registry {self.base}: {method} {url} failed: {exc.code} {detail}"
            ) from exc

    def put_blob(self, digest: str, body: bytes | IO[bytes], size: int) -> None:
        status, _ = self._request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        if status == 200:
            return
        _, headers = self._request("POST", f"/v2/{self.repository}/blobs/uploads/", b"")
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            body,
            {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )

    def put_manifest(self, tag: str, manifest: bytes) -> str:
        _, headers = self._request(
            "PUT",
            f"/v2/{self.repository}/manifests/{tag}",
            manifest,
            {"Content-Type": MEDIA_MANIFEST},
        )
        return headers.get("Docker-Content-Digest") or (
            "sha256:" + hashlib.sha256(manifest).hexdigest()
        )

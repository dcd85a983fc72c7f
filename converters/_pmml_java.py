"""What sklearn2pmml needs around it: a Java 11+, a scikit-learn it accepts, no telemetry.

sklearn2pmml runs JPMML-SkLearn (`com.sklearn2pmml.Main`) in a `java` subprocess. Three
things can refuse a conversion before any model is looked at, and each is checked here
without starting Java:
- Java itself: JAVA_HOME/bin/java if set, else `java` on PATH, and `java -version` >= 11.
- the scikit-learn version: every estimator pickles `_sklearn_version`, and JPMML-SkLearn
  throws "Scikit-Learn version '1.9.1' is not supported" for anything newer than the
  version it was built against ("1.9.0" for sklearn2pmml 0.133.1, a constant in
  `sklearn/Step.class` of the bundled pmml-sklearn jar, read from there).
- the package age: Main refuses to run 360 days after the Build-Timestamp in its jar's
  manifest ("The SkLearn2PMML package has expired").

Telemetry: when a conversion fails, Main POSTs an incident (exception, stack trace, library
versions) to https://telemetry.jpmml.org/v1/incidents with java.net.http.HttpClient, which
honours the JVM's proxy properties. `telemetry_blocking_opts` routes http(s) through
127.0.0.1 on a port we hold bound but never listen on (so the connection is refused at
once and no other process can take the port), and empties the JVM's name resolution
(`jdk.net.hosts.file` = /dev/null) in case anything bypasses the proxy. Conversions never
need the network.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path

from model_repo.errors import DependencyMissing

MIN_JAVA = 11
EXPIRY = timedelta(days=360)  # com.sklearn2pmml.Main.validate()
JAVA_HINT = (
    "install a Java 11+ runtime (e.g. apt-get install openjdk-17-jre-headless) and put it on "
    "PATH or point JAVA_HOME at it"
)
_VERSION_LINE = re.compile(r'version "([^"]+)"')
_STEP_CLASS = "sklearn/Step.class"


@dataclass(frozen=True)
class JavaRuntime:
    executable: str
    home: str | None  # given to sklearn2pmml as java_home; None means `java` from PATH
    version: str
    major: int


def find_java() -> JavaRuntime:
    """The Java sklearn2pmml will run, after checking that it is 11 or newer."""
    return _find_java(os.environ.get("JAVA_HOME"), os.environ.get("PATH"))


@lru_cache(maxsize=8)  # failures raise and are not cached; a fixed Java is found next time
def _find_java(home: str | None, search_path: str | None) -> JavaRuntime:
    if home and (Path(home) / "bin" / "java").is_file():
        executable, java_home = str(Path(home) / "bin" / "java"), home
    else:
        found = shutil.which("java", path=search_path)
        if found is None:
            raise DependencyMissing(f"Java was not found (no java on PATH); {JAVA_HINT}")
        executable, java_home = found, None
    version = _java_version(executable)
    major = java_major(version)
    if major < MIN_JAVA:
        raise DependencyMissing(
            f"Java {version} at {executable} is too old: sklearn2pmml needs Java {MIN_JAVA} "
            f"or newer; {JAVA_HINT}"
        )
    return JavaRuntime(executable, java_home, version, major)


def _java_version(executable: str) -> str:
    try:
        done = subprocess.run(
            [executable, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DependencyMissing(f"{executable} does not run ({exc}); {JAVA_HINT}") from exc
    match = _VERSION_LINE.search(done.stderr + done.stdout)
    if done.returncode != 0 or match is None:
        raise DependencyMissing(
            f"{executable} -version failed: {(done.stderr or done.stdout).strip()[:300]}; "
            f"{JAVA_HINT}"
        )
    return match.group(1)


def java_major(version: str) -> int:
    """17 for "17.0.15", 8 for "1.8.0_292" (the numbering before Java 9)."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] or [0]
    return parts[1] if parts[0] == 1 and len(parts) > 1 else parts[0]


def version_key(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: (1, 9, 1) for "1.9.1" or "1.9.1rc1"."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def check_sklearn_accepted(installed: str) -> None:
    newest = newest_sklearn_accepted()
    if newest is not None and version_key(installed) > version_key(newest):
        raise DependencyMissing(
            f"library version refused: sklearn2pmml {_sklearn2pmml_version()} converts models "
            f"of scikit-learn up to {newest}, and scikit-learn {installed} is installed. "
            f"Install scikit-learn=={newest} (as constraints.txt pins it), or a newer "
            "sklearn2pmml that supports it"
        )


def check_not_expired(now: datetime | None = None) -> None:
    built = build_timestamp()
    if built is not None and (now or datetime.now(UTC)) - built > EXPIRY:
        raise DependencyMissing(
            f"library version refused: sklearn2pmml {_sklearn2pmml_version()} was built on "
            f"{built:%Y-%m-%d} and refuses to run {EXPIRY.days} days after that; upgrade "
            "sklearn2pmml (and scikit-learn to a version it supports)"
        )


@cache
def newest_sklearn_accepted() -> str | None:
    """The version constant JPMML-SkLearn compares `_sklearn_version` with; None if the
    jar layout is not the one we know (Java will still refuse, and we translate that)."""
    found = _jar_entry("pmml-sklearn-[0-9]*.jar", _STEP_CLASS)
    if found is None:
        return None
    # CONSTANT_Utf8 entries: tag 1, two length bytes, the text.
    versions = set(re.findall(rb"\x01\x00[\x05-\x08](\d+\.\d+\.\d+)", found))
    return versions.pop().decode() if len(versions) == 1 else None


@cache
def build_timestamp() -> datetime | None:
    manifest = _jar_entry("sklearn2pmml-*.jar", "META-INF/MANIFEST.MF")
    match = re.search(rb"^Build-Timestamp: (\S+)", manifest or b"", re.MULTILINE)
    if match is None:
        return None
    return datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00"))


def _jar_entry(pattern: str, entry: str) -> bytes | None:
    jars = sorted(resources_dir().glob(pattern))
    if len(jars) != 1:
        return None
    try:
        with zipfile.ZipFile(jars[0]) as jar:
            return jar.read(entry)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


def resources_dir() -> Path:
    import sklearn2pmml

    return Path(sklearn2pmml.__file__).parent / "resources"


def _sklearn2pmml_version() -> str:
    from sklearn2pmml import __version__

    return str(__version__)


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port held bound but never listening: connecting to it is refused."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


def converter_java_opts(proxy_port: int) -> list[str]:
    # C1 only: a conversion is one short run, and skipping C2 saves about a second of it.
    return ["-XX:TieredStopAtLevel=1", *telemetry_blocking_opts(proxy_port)]


def telemetry_blocking_opts(proxy_port: int) -> list[str]:
    """JVM options that keep the converter's incident reports on this machine."""
    proxy = []
    for scheme in ("http", "https"):
        proxy += [f"-D{scheme}.proxyHost=127.0.0.1", f"-D{scheme}.proxyPort={proxy_port}"]
    return [*proxy, "-Djava.net.useSystemProxies=false", f"-Djdk.net.hosts.file={os.devnull}"]

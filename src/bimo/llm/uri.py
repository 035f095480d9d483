"""Model URIs (`scheme:path`, the schemes are listed in `bimo.llm`), parsed in one place.

A training base may also be a bare spec: a registry name (`small`), a `.gguf` file or a
checkpoint folder; `ModelURI.from_spec` turns those into URIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from bimo.errors import BimoError

SCHEMES = ("local", "gguf", "openai", "hf")
#: Schemes whose model runs in this process, from a file on this machine.
LOCAL_SCHEMES = ("local", "gguf", "hf")
_USAGE = "use local:NAME, gguf:PATH, openai:URL[#MODEL] or hf:PATH"


def is_path_spec(spec: str) -> bool:
    """Whether a bare model spec names a file or folder (else a registry name)."""
    return spec.startswith((".", "/", "~")) or "/" in spec or "\\" in spec or spec.endswith(".gguf")


@dataclass(frozen=True)
class ModelURI:
    scheme: str
    path: str  # everything after the first colon: a name, a path, or URL[#MODEL]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.path}"

    @property
    def is_local(self) -> bool:
        """Runs in this process (llama.cpp or transformers), not behind a server."""
        return self.scheme in LOCAL_SCHEMES

    @classmethod
    def parse(cls, uri: str, what: str = "") -> ModelURI:
        """`scheme:path`, any scheme (plugins add their own); a one-line BimoError otherwise.
        `what` names the setting in the error ("eval.judge: bad model URI ...")."""
        uri = uri.strip()
        scheme, sep, rest = uri.partition(":")
        if not sep or not scheme or not rest:
            raise BimoError(f"{what + ': ' if what else ''}bad model URI {uri!r}; {_USAGE}")
        return cls(scheme, rest)

    @classmethod
    def known(cls, spec: str) -> ModelURI | None:
        """The URI if `spec` starts with one of bimo's own schemes, else None (a bare spec)."""
        scheme, sep, rest = spec.partition(":")
        return cls(scheme, rest) if sep and scheme in SCHEMES else None

    @classmethod
    def from_spec(cls, spec: str) -> ModelURI:
        """A URI, a registry name, a `.gguf` file or a checkpoint folder, as a URI."""
        uri = cls.known(spec)
        if uri is not None:
            return uri
        if is_path_spec(spec):
            return cls("gguf" if spec.endswith(".gguf") else "hf", spec)
        return cls("local", spec)

    def plugin(self, what: str = "") -> EntryPoint:
        """The `bimo.backends` entry point serving a scheme bimo does not know itself."""
        for ep in entry_points(group="bimo.backends"):
            if ep.name == self.scheme:
                return ep
        raise BimoError(f"{what + ': ' if what else ''}unknown model scheme {self.scheme!r} in {str(self)!r}; "
                        f"valid: {', '.join(SCHEMES)}")

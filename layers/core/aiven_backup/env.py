"""Read the stack's configuration from the environment ``template.yaml`` gives the functions.

Every setting's default is written once, next to the setting (a dataclass field or a named
constant); this reader only applies it when the variable is unset or empty, and turns a malformed
value into ``StackMisconfigured`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiven_backup.errors import StackMisconfigured


class StackEnvironment:
    """Typed reads of ``env``; ``who`` names the functions the template gives these variables."""

    def __init__(self, env: Mapping[str, str], *, who: str = "every function") -> None:
        self._env = env
        self._who = who

    def raw(self, name: str) -> str:
        """The variable's value, stripped; empty when unset."""
        return self._env.get(name, "").strip()

    def has(self, name: str) -> bool:
        return bool(self.raw(name))

    def required(self, name: str) -> str:
        value = self.raw(name)
        if not value:
            raise StackMisconfigured(
                f"environment variable {name} is not set: redeploy the stack (template.yaml sets "
                f"it for {self._who})"
            )
        return value

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def flag(self, name: str) -> bool:
        """True only for ``true`` (any case): off unless switched on explicitly."""
        return self.raw(name).lower() == "true"

    def number(self, name: str, default: float) -> float:
        """A non-negative number."""
        raw = self.raw(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise StackMisconfigured(f"{name}={raw!r} is not a number") from None
        if value < 0:
            raise StackMisconfigured(f"{name}={raw!r} must not be negative")
        return value

    def integer(self, name: str, default: int) -> int:
        """A non-negative whole number (``30`` or ``30.0``)."""
        value = self.number(name, default)
        if value != int(value):
            raise StackMisconfigured(f"{name}={self.raw(name)!r} must be a whole number")
        return int(value)

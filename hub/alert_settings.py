"""``hub.toml`` ``[alerts]``: where the hub sends alerts (webhooks, e-mail), which queue thresholds it watches, and
how often it may repeat itself.

The alerts themselves (``hub.services.alerts``) fire on a change of state: a partner starts failing and recovers,
a queue passes a threshold and falls back below it, a pathway milestone breaches. Every error names the file and
the key (``hub.toml: alerts.thresholds[1].below: ...``), like the rest of the configuration.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hub.plugin_api.problems import ConfigError
from hub.sections import Section

MEASURES = ("pending", "retrying", "dead")
"""What a threshold counts: deliveries waiting to be sent (due now or retrying), those of them that failed at
least once, and dead letters."""
EACH_PARTNER = "*"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Webhook:
    """``[[alerts.webhooks]]``: an HTTP endpoint that takes each alert as a JSON POST.

    With ``secret_env``, the body is signed with HMAC-SHA256 under the secret that variable holds, in the
    ``X-Hub-Signature-256: sha256=<hex>`` header; the secret itself is never in a file.
    """

    name: str
    url: str
    secret_env: str | None = None
    timeout_seconds: float = 10.0

    def secret(self) -> bytes | None:
        """The signing secret from the environment (None when the webhook is not signed, b"" when the variable has
        been emptied since the start)."""
        return os.environ.get(self.secret_env, "").encode() if self.secret_env else None


@dataclass(frozen=True)
class Smtp:
    """``[alerts.smtp]``: the mail server alerts are sent through, and to whom."""

    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    timeout_seconds: float = 10.0
    ca_file: Path | None = None
    """Trust this CA for the server's certificate (the system's CAs otherwise)."""


@dataclass(frozen=True)
class Threshold:
    """``[[alerts.thresholds]]``: fire when ``measure`` reaches ``above``; resolve when it falls to ``below``.

    ``partner``: one partner's deliveries, ``"*"`` each partner's separately, None all partners' together.
    ``below`` is under ``above`` (hysteresis: a queue hovering at the line does not flap).
    """

    measure: str
    above: int
    below: int
    partner: str | None = None

    @property
    def label(self) -> str:
        """The threshold's part of an alert key: ``pending>=500``."""
        return f"{self.measure}>={self.above}"


@dataclass(frozen=True)
class AlertSettings:
    """Everything ``[alerts]`` says; ``enabled`` when it names at least one webhook or a mail server."""

    webhooks: tuple[Webhook, ...] = ()
    smtp: Smtp | None = None
    thresholds: tuple[Threshold, ...] = ()
    partner_failures: bool = True
    milestone_breaches: bool = True
    interval_seconds: float = 10.0
    min_interval_seconds: float = 300.0
    retry_initial_seconds: float = 5.0
    retry_max_delay_seconds: float = 600.0
    max_attempts: int = 12
    channels: tuple[str, ...] = field(default=())

    @property
    def enabled(self) -> bool:
        """True when alerts have somewhere to go."""
        return bool(self.webhooks) or self.smtp is not None

    @property
    def lease_seconds(self) -> float:
        """How long one process holds the evaluator's lease without renewing it (three rounds and some)."""
        return max(3 * self.interval_seconds + 5.0, 15.0)


def parse_alerts(file: str, value: Any, config_dir: Path = Path()) -> AlertSettings:
    """``[alerts]`` checked: raise ``ConfigError`` naming the file and the entry of the first problem (a relative
    ``smtp.ca_file`` is resolved against ``config_dir``)."""
    section = Section(file, "alerts", value)
    webhooks = tuple(parse_webhook(file, i, raw) for i, raw in enumerate(section.get("webhooks", list, [])))
    names = [w.name for w in webhooks]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise ConfigError(f"{file}: alerts.webhooks[{index}].name: {name!r} is used by another webhook")
    raw_smtp = section.get("smtp", dict, None)
    smtp = parse_smtp(file, raw_smtp, config_dir) if raw_smtp is not None else None
    thresholds = tuple(parse_threshold(file, i, raw) for i, raw in enumerate(section.get("thresholds", list, [])))
    seen: dict[tuple[str, int, str | None], int] = {}
    for index, rule in enumerate(thresholds):
        key = (rule.measure, rule.above, rule.partner)
        if key in seen:
            raise ConfigError(f"{file}: alerts.thresholds[{index}]: the same threshold as "
                              f"alerts.thresholds[{seen[key]}]")  # fmt: skip
        seen[key] = index
    settings = AlertSettings(
        webhooks=webhooks,
        smtp=smtp,
        thresholds=thresholds,
        partner_failures=section.get("partner_failures", bool, True),
        milestone_breaches=section.get("milestone_breaches", bool, True),
        interval_seconds=section.positive("interval_seconds", float, 10.0),
        min_interval_seconds=_not_negative(section, "min_interval_seconds", 300.0),
        retry_initial_seconds=section.positive("retry_initial_seconds", float, 5.0),
        retry_max_delay_seconds=section.positive("retry_max_delay_seconds", float, 600.0),
        max_attempts=section.positive("max_attempts", int, 12),
        channels=(*(f"webhook:{w.name}" for w in webhooks), *(("email",) if smtp is not None else ())),
    )
    section.finish()
    if not webhooks and smtp is None and thresholds:
        raise ConfigError(f"{file}: alerts: thresholds are set but no webhook or smtp says where alerts go")
    return settings


def check_alert_partners(settings: AlertSettings, partner_ids: set[str], file: str = "hub.toml") -> None:
    """Raise ``ConfigError`` for a threshold naming a partner ``partners.toml`` does not declare."""
    for index, rule in enumerate(settings.thresholds):
        if rule.partner not in (None, EACH_PARTNER) and rule.partner not in partner_ids:
            raise ConfigError(f"{file}: alerts.thresholds[{index}].partner: {rule.partner!r} is not a partner of "
                              f"partners.toml (known: {', '.join(sorted(partner_ids))})")  # fmt: skip


def _not_negative(section: Section, key: str, default: float) -> float:
    value: float = section.get(key, float, default)
    if value < 0:
        raise ConfigError(f"{section.where(key)}: must be 0 or more, got {value!r}")
    return value


def _env_name(entry: Section, key: str) -> str | None:
    name: str | None = entry.get(key, str, None)
    if name is not None and not os.environ.get(name):
        raise ConfigError(f"{entry.where(key)}: the environment variable {name} is not set (it holds the secret; "
                          "the secret itself is never written in hub.toml)")  # fmt: skip
    return name


def parse_webhook(file: str, index: int, raw: Any) -> Webhook:
    """``[[alerts.webhooks]]`` entry ``index``, checked."""
    entry = Section(file, f"alerts.webhooks[{index}]", raw)
    name = entry.get("name", str, None)
    if name is None or not _NAME.match(name):
        raise ConfigError(f"{entry.where('name')}: give a name of 1-64 lower-case letters, digits, '.', '_' or '-', "
                          f"got {name!r}")  # fmt: skip
    url = entry.get("url", str, None)
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{entry.where('url')}: give an http:// or https:// URL, got {url!r}")
    if parts.password:
        raise ConfigError(f"{entry.where('url')}: a URL with a password puts a secret in hub.toml; sign with "
                          "secret_env instead")  # fmt: skip
    webhook = Webhook(name, str(url), _env_name(entry, "secret_env"), entry.positive("timeout_seconds", float, 10.0))
    entry.finish()
    return webhook


def parse_smtp(file: str, raw: Any, config_dir: Path) -> Smtp:
    """``[alerts.smtp]``, checked (a relative ``ca_file`` is resolved against ``config_dir``)."""
    entry = Section(file, "alerts.smtp", raw)
    host = entry.get("host", str, None)
    if not host:
        raise ConfigError(f"{entry.where('host')}: give the mail server's host name")
    sender = entry.get("from", str, None)
    if not sender or "@" not in sender:
        raise ConfigError(f"{entry.where('from')}: give the sender's address, got {sender!r}")
    to = entry.get("to", (str, list), None)
    recipients = [to] if isinstance(to, str) else list(to or [])
    if not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        raise ConfigError(f"{entry.where('to')}: give one address or a list of addresses, got {to!r}")
    username = entry.get("username", str, None)
    password_env = _env_name(entry, "password_env")
    if (username is None) != (password_env is None):
        raise ConfigError(f"{entry.where('username' if username is None else 'password_env')}: give both username "
                          "and password_env, or neither")  # fmt: skip
    port = entry.positive("port", int, 587)
    starttls = entry.get("starttls", bool, True)
    ca = entry.get("ca_file", str, None)
    ca_file = (config_dir / ca).resolve() if ca is not None else None
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"{entry.where('ca_file')}: {ca_file} is not a file")
    smtp = Smtp(host, sender, tuple(recipients), port, starttls, username, password_env,
                entry.positive("timeout_seconds", float, 10.0), ca_file)  # fmt: skip
    entry.finish()
    return smtp


def parse_threshold(file: str, index: int, raw: Any) -> Threshold:
    """``[[alerts.thresholds]]`` entry ``index``, checked (its partner is checked by ``check_alert_partners``)."""
    entry = Section(file, f"alerts.thresholds[{index}]", raw)
    measure = entry.get("measure", str, None)
    if measure not in MEASURES:
        raise ConfigError(f"{entry.where('measure')}: {measure!r} is not one of {', '.join(MEASURES)}")
    above = entry.positive("above", int, None) if "above" in entry.data else None
    if above is None:
        raise ConfigError(f"{entry.where('above')}: give the count at which the alert fires (1 or more)")
    below = entry.get("below", int, (above * 4) // 5)
    if not 0 <= below < above:
        raise ConfigError(f"{entry.where('below')}: must be 0 or more and under above ({above}), got {below}")
    partner = entry.get("partner", str, None)
    entry.finish()
    return Threshold(str(measure), int(above), int(below), partner)


__all__ = ["EACH_PARTNER", "MEASURES", "AlertSettings", "Smtp", "Threshold", "Webhook", "check_alert_partners",
           "parse_alerts", "parse_smtp", "parse_threshold", "parse_webhook"]  # fmt: skip

"""The partner directory: who the hub talks to, how they receive, and who they are.

Partners and operators are declared in ``partners.toml``. A partner proves who
it is with a bearer token whose SHA-256 digest is in the file; an operator's
token gives read access to everything (and every read is recorded).

A partner's ``kind``, the codes it is known by and the message types of its
agreement are checked against the ``Vocabulary`` plugins registered
(``hub_register_partner_kinds``, ``hub_register_code_fields``,
``hub_register_message_types``); none is listed here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.auth import hash_token, is_token_hash
from hub.plugin_api.callers import Caller
from hub.plugin_api.partner import Agreement, Partner, Receive
from hub.plugin_api.problems import ConfigError
from hub.replies import ReplyMapping
from hub.sections import Section

if TYPE_CHECKING:
    from hub.plugin_api.records import Vocabulary

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Operator:
    """A person or system that runs the hub; may read any message's state."""

    id: str
    token_hashes: tuple[str, ...] = ()


@dataclass
class PartnerDirectory:
    """Partners and operators by id, by token digest and by code."""

    partners: dict[str, Partner]
    operators: dict[str, Operator]
    _by_token: dict[str, Caller] = field(default_factory=dict)
    _by_code: dict[tuple[str, str], Partner] = field(default_factory=dict)
    _by_cert: dict[str, Caller] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        partners: list[Partner],
        operators: list[Operator],
        partner_tokens: Mapping[str, tuple[str, ...]] | None = None,
    ) -> PartnerDirectory:
        """Index partners and operators, refusing duplicate ids, tokens and codes.

        ``partner_tokens`` maps a partner's id to the digests of its bearer tokens: they are kept here, never
        in the ``Partner`` records plugins receive.
        """
        directory = cls({}, {})
        tokens = partner_tokens or {}
        for partner in partners:
            if partner.id in directory.partners:
                raise ConfigError(f"partners.toml: partner id {partner.id!r} is declared twice")
            directory.partners[partner.id] = partner
            for code_field, code in partner.codes.items():
                key = (code_field, code)
                if key in directory._by_code:
                    other = directory._by_code[key].id
                    raise ConfigError(
                        f"partners.toml: {code_field} {code!r} is claimed by both {other!r} and {partner.id!r}"
                    )
                directory._by_code[key] = partner
            for digest in tokens.get(partner.id, ()):
                directory._add_token(digest, Caller(partner.id, "partner"))
            for fingerprint in partner.client_cert_sha256:
                if fingerprint in directory._by_cert:
                    raise ConfigError(
                        f"partners.toml: one client certificate is given to two partners ({partner.id!r})"
                    )
                directory._by_cert[fingerprint] = Caller(partner.id, "partner")
        for operator in operators:
            if operator.id in directory.operators or operator.id in directory.partners:
                raise ConfigError(f"partners.toml: operator id {operator.id!r} is already used")
            directory.operators[operator.id] = operator
            for digest in operator.token_hashes:
                directory._add_token(digest, Caller(operator.id, "operator"))
        return directory

    def _add_token(self, digest: str, caller: Caller) -> None:
        if digest in self._by_token:
            raise ConfigError(
                f"partners.toml: the same token digest is given to {self._by_token[digest].id!r} and {caller.id!r}"
            )
        self._by_token[digest] = caller

    def has_token(self, caller_id: str) -> bool:
        """True when the partner or operator ``caller_id`` has at least one bearer token."""
        return any(caller.id == caller_id for caller in self._by_token.values())

    def authenticate(self, token: str) -> Caller | None:
        """Return the caller a bearer token belongs to, or None."""
        return self._by_token.get(hash_token(token))

    def authenticate_certificate(self, fingerprint: str) -> Caller | None:
        """Return the partner a verified client certificate (SHA-256 fingerprint) belongs to, or None."""
        return self._by_cert.get(fingerprint.lower())

    def get(self, partner_id: str) -> Partner | None:
        """The partner with this id, or None."""
        return self.partners.get(partner_id)

    def by_code(self, code_field: str, code: str) -> Partner | None:
        """The partner holding ``code`` in the code field ``code_field`` (a registered ``CodeField``), or None."""
        return self._by_code.get((code_field, code))

    def add_operator(self, operator: Operator) -> None:
        """Add an operator after loading (the demo's own, with a token it made)."""
        if operator.id in self.operators or operator.id in self.partners:
            raise ConfigError(f"operator id {operator.id!r} is already used")
        self.operators[operator.id] = operator
        for digest in operator.token_hashes:
            self._add_token(digest, Caller(operator.id, "operator"))

    def add_scheduler(self, name: str, token_hashes: tuple[str, ...]) -> None:
        """Add a scheduler identity (``hub.toml`` ``[[pathway.scheduler_identities]]``): it may only fire timers."""
        if name in self.operators or name in self.partners:
            raise ConfigError(f"hub.toml: pathway.scheduler_identities: {name!r} is already a partner or operator id")
        for digest in token_hashes:
            self._add_token(digest, Caller(name, "scheduler"))

    def with_overrides(self, partner_id: str, **changes: Any) -> None:
        """Replace fields of one partner (used by the demo and tests to point at loopback URLs)."""
        from dataclasses import replace

        old = self.partners[partner_id]
        new = replace(old, **changes)
        self.partners[partner_id] = new
        for key, partner in list(self._by_code.items()):
            if partner.id == partner_id:
                self._by_code[key] = new


def token_hashes_of(section: Section) -> tuple[str, ...]:
    """The token digests of a table (``token_sha256`` and ``token_sha256s``), checked; for other identities' tables."""
    return _token_hashes(section)


def _token_hashes(section: Section) -> tuple[str, ...]:
    single = section.get("token_sha256", str, None)
    many = section.get("token_sha256s", list, [])
    hashes = ([single] if single else []) + list(many)
    for value in hashes:
        if not isinstance(value, str) or not is_token_hash(value):
            raise ConfigError(
                f"{section.where('token_sha256')}: {value!r} is not a token digest "
                "('sha256:' and 64 hex digits; 'hub partners token ID' makes one)"
            )
    return tuple(hashes)


def _envelope_keys(section: Section, base_dir: Path) -> dict[str, Any]:
    from hub.envelope import EnvelopeError, load_jwk, load_jwk_set

    tls_only = section.get("tls_only", bool, False)
    raw = section.get("keys", dict, None)
    if raw is None:
        if not tls_only:
            raise ConfigError(
                f"{section.where('keys')}: required: the partner's public envelope keys "
                '(keys = { sig = "FILE.pub.jwk", enc = "FILE.pub.jwk" }), or tls_only = true to send '
                "and accept unsealed messages over TLS alone"
            )
        return {"tls_only": True}
    if tls_only:
        raise ConfigError(f"{section.where('tls_only')}: a partner with envelope keys is not tls_only; choose one")
    keys = Section(section.file, f"{section.prefix}.keys", raw)
    out: dict[str, Any] = {"tls_only": False}
    for use in ("sig", "enc"):
        value = keys.get(use, (str, dict), None)
        if value is None:
            raise ConfigError(f"{keys.where(use)}: required: a public JWK file, or an inline JWK or JWK set")
        try:
            source = json.loads((base_dir / value).read_bytes()) if isinstance(value, str) else value
            loaded = load_jwk_set(source) if isinstance(source, dict) and "keys" in source else [load_jwk(source)]
        except OSError as exc:
            raise ConfigError(f"{keys.where(use)}: cannot read {value}: {exc.strerror}") from None
        except ValueError:
            raise ConfigError(f"{keys.where(use)}: {value} is not JSON") from None
        except EnvelopeError as exc:
            raise ConfigError(f"{keys.where(use)}: not a usable JWK: {exc.reason}") from None
        if any(k.is_private for k in loaded):
            raise ConfigError(f"{keys.where(use)}: holds a PRIVATE key; give the hub the partner's public key only")
        allowed = ("Ed25519", "P-256") if use == "sig" else ("X25519", "P-256")
        wrong = [k for k in loaded if k.crv not in allowed or (k.use is not None and k.use != use)]
        if wrong:
            raise ConfigError(
                f"{keys.where(use)}: a {wrong[0].crv} key marked use={wrong[0].use!r} cannot be a "
                f"{'signing' if use == 'sig' else 'encryption'} key ({' or '.join(allowed)}, use {use!r})"
            )
        _check_key_set(loaded, keys.where(use), use)
        out[f"{use}_keys"] = tuple(loaded)
    keys.finish()
    return out


def _check_key_set(loaded: list[Any], where: str, use: str) -> None:
    """A key set is not empty, names no key twice, and holds no more encryption keys than an envelope carries."""
    from hub.envelope import DEFAULT_MAX_RECIPIENTS

    if not loaded:
        raise ConfigError(f"{where}: the JWK set holds no key")
    if len({key.kid for key in loaded}) != len(loaded):
        raise ConfigError(f"{where}: the JWK set holds the same key twice")
    if use == "enc" and len(loaded) > DEFAULT_MAX_RECIPIENTS:
        raise ConfigError(
            f"{where}: {len(loaded)} encryption keys; at most {DEFAULT_MAX_RECIPIENTS}, since the hub seals every "
            "delivery to each of them and an envelope carries at most that many recipients"
        )


def _fingerprints(section: Section) -> tuple[str, ...]:
    value = section.get("client_cert_sha256", (str, list), [])
    values = [value] if isinstance(value, str) else value
    out = []
    for item in values:
        cleaned = str(item).replace(":", "").lower()
        if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
            raise ConfigError(f"{section.where('client_cert_sha256')}: {item!r} is not a SHA-256 fingerprint")
        out.append(cleaned)
    return tuple(out)


def _checked_id(section: Section) -> str:
    value: str | None = section.get("id", str, None)
    if value is None:
        raise ConfigError(f"{section.where('id')}: required")
    if not _ID.match(value):
        raise ConfigError(f"{section.where('id')}: {value!r} must be lower-case letters, digits, '.', '_' or '-'")
    return value


def parse_partner(section: Section, base_dir: Path | None, vocabulary: Vocabulary) -> tuple[Partner, tuple[str, ...]]:
    """Build a ``Partner`` from one ``[[partner]]`` table, with the digests of its tokens, naming any bad key.

    Key files named in ``[partner.keys]`` are read relative to ``base_dir`` (the config directory).
    ``kind``, the code fields and the agreement's types are checked against ``vocabulary``.
    """
    partner_id = _checked_id(section)
    kind = section.get("kind", str, None)
    if kind not in vocabulary.partner_kinds:
        raise ConfigError(
            f"{section.where('kind')}: {kind!r} is not one of {vocabulary.known(vocabulary.partner_kinds)} "
            "(the partner kinds the loaded plugins register)"
        )
    codes: dict[str, str] = {}
    for code_field in vocabulary.code_fields:
        value = section.get(code_field, str, None)
        if value:
            codes[code_field] = value
    receive_raw = section.get("receive", dict, None)
    if receive_raw is None:
        raise ConfigError(
            f'{section.where("receive")}: required: {{ mode = "push", url = "https://..." }} or {{ mode = "pull" }}'
        )
    receive_section = Section(section.file, f"{section.prefix}.receive", receive_raw)
    mode = receive_section.get("mode", str, None)
    if mode is None:
        raise ConfigError(f"{receive_section.where('mode')}: required: 'push' or 'pull'")
    if mode not in ("push", "pull"):
        raise ConfigError(f"{receive_section.where('mode')}: {mode!r} must be 'push' or 'pull'")
    url = receive_section.get("url", str, None)
    transport = receive_section.get("transport", str, "http")
    if mode == "push" and transport == "http" and not url:
        raise ConfigError(f"{receive_section.where('url')}: required when mode is 'push' over http")
    if mode == "pull" and url:
        raise ConfigError(f'{receive_section.where("url")}: a pull partner has no url (did you mean mode = "push"?)')
    options = dict(receive_section.get("options", dict, {}))
    for file_option in ("ca_file", "client_cert", "client_key"):  # files are named relative to the config
        if isinstance(options.get(file_option), str) and base_dir is not None:
            options[file_option] = str((base_dir / options[file_option]).resolve())
    reply = None
    reply_raw = receive_section.get("reply", dict, None)
    if reply_raw is not None:
        if mode != "push":
            raise ConfigError(f"{receive_section.where('reply')}: only a push partner answers deliveries")
        reply = ReplyMapping.from_section(Section(section.file, f"{receive_section.prefix}.reply", reply_raw))
    receive_section.finish()
    name = section.get("name", str, partner_id)
    adapter = section.get("adapter", str, None)
    token_hashes = _token_hashes(section)  # read in the order the keys were always checked
    partner = Partner(
        id=partner_id,
        name=name,
        kind=kind,
        adapter=adapter,
        codes=codes,
        receive=Receive(mode=mode, transport=transport, url=url, options=options, reply=reply),
        agreement=_parse_agreement(section, vocabulary),
        client_cert_sha256=_fingerprints(section),
        referral_contact=_referral_contact(section),
        **_envelope_keys(section, base_dir or Path(".")),
    )
    section.finish()
    return partner, token_hashes


# the shapes of the canonical schema's phone and email (schemas/canonical/v1/common.schema.json)
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,29}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTACT_FIELDS = {
    "name": (True, None, "the team's or person's name"),
    "phone": (True, _PHONE, "a telephone number: digits, spaces, brackets, hyphens, an optional leading +"),
    "email": (True, _EMAIL, "an e-mail address, name@domain"),
    "organisation": (False, None, "the organisation's name"),
}


def _referral_contact(section: Section) -> dict[str, str] | None:
    """The partner's ``referral_contact`` table, checked field by field (errors name the key, never the value)."""
    raw = section.get("referral_contact", dict, None)
    if raw is None:
        return None
    table = Section(section.file, f"{section.prefix}.referral_contact", raw)
    contact: dict[str, str] = {}
    for key, (required, shape, what) in _CONTACT_FIELDS.items():
        table.seen.add(key)
        value = raw.get(key)
        if value is None:
            if required:
                raise ConfigError(f"{table.where(key)}: required: {what}")
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ConfigError(f"{table.where(key)}: must be {what}, as a string of 1-200 characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value) or (shape is not None and not shape.match(value)):
            raise ConfigError(f"{table.where(key)}: is not {what}")
        contact[key] = value.strip()
    table.finish()
    contact.setdefault("organisation", section.get("name", str, section.data.get("id", "")))
    return contact


def _parse_agreement(section: Section, vocabulary: Vocabulary) -> Agreement | None:
    raw = section.get("agreement", dict, None)
    if raw is None:
        return None
    known = vocabulary.message_types

    agreement = Section(section.file, f"{section.prefix}.agreement", raw)
    types = agreement.get("types", list, None)
    if not types:
        raise ConfigError(f"{agreement.where('types')}: required: the message types this partner may receive")
    for message_type in types:
        if message_type not in known:
            raise ConfigError(f"{agreement.where('types')}: {message_type!r} is not one of {vocabulary.known(known)}")
    fields_raw = agreement.get("fields", dict, {})
    fields: dict[str, tuple[str, ...]] = {}
    for message_type in types:
        paths = fields_raw.get(message_type)
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ConfigError(
                f"{agreement.where('fields.' + message_type)}: required: the payload paths this partner may receive "
                "in a " + message_type + ' (["payload"] for all of it)'
            )
        bad = [p for p in paths if not (p == "payload" or p.startswith("payload."))]
        if bad:
            raise ConfigError(f"{agreement.where('fields.' + message_type)}: {bad[0]!r} must start with 'payload'")
        fields[message_type] = tuple(paths)
    extra = set(fields_raw) - set(types)
    if extra:
        raise ConfigError(f"{agreement.where('fields')}: {sorted(extra)[0]} is not in agreement.types")
    agreement.finish()
    return Agreement(frozenset(types), fields)


def parse_operator(section: Section) -> Operator:
    """Build an ``Operator`` from one ``[[operator]]`` table."""
    operator = Operator(id=_checked_id(section), token_hashes=_token_hashes(section))
    section.finish()
    return operator

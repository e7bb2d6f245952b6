"""The hub's envelope keys in the key ring: signing (``sig``) and encryption (``enc``), and their rotation.

Statuses (``hub.crypto.keyring`` describes them): ``next`` (made, published with ``hub keys export``, not
yet signing; an ``enc`` key already opens), ``active``, ``previous`` (replaced, still published or still
opening), ``retired`` (material destroyed, ``kid`` kept).
"""

from __future__ import annotations

from typing import Any, Literal

from hub.crypto.keyring_base import KeyRingError, RingBase, _changes_ring, _now


class EnvelopeKeys(RingBase):
    """The envelope-key part of ``FileKeyRing``."""

    def _add_envelope_keys(self) -> None:
        from hub.envelope import dump_jwk, generate_key

        envelope_keys: tuple[tuple[Literal["sig", "enc"], str], ...] = (("sig", "EdDSA"), ("enc", "X25519"))
        for purpose, alg in envelope_keys:
            if not any(e["purpose"] == purpose for e in self._doc["keys"]):
                jwk = generate_key(purpose, alg)
                key_id = self._add_key(purpose, "active", dump_jwk(jwk, private=True).encode())
                self._entry(key_id)["kid"] = jwk.kid

    def envelope_signing_key(self) -> Any:
        """The hub's private JWK that signs what it seals for partners (the ``active`` sig key).

        An activation by another process (``hub keys activate``) is seen within a second.
        """
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            entries = self._live("sig", "active")
            if not entries:
                raise KeyRingError(f"{self.path}: no envelope signing key (run 'hub keys init' again on a new ring)")
            material = self._keys[entries[0]["id"]]
        return load_jwk(material)

    def envelope_decryption_keys(self) -> list[Any]:
        """The hub's private JWKs that open what partners seal for it: active, next, then previous (the overlap)."""
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            materials = [self._keys[e["id"]] for e in self._live("enc", "active", "next", "previous")]
        keys = [load_jwk(material) for material in materials]
        if not keys:
            raise KeyRingError(f"{self.path}: no envelope encryption key")
        return keys

    def published_envelope_keys(self) -> list[tuple[str, Any]]:
        """(ring id, public JWK) of what partners must hold: every live signing key (active, next and
        previous, so that an envelope signed by any of them verifies) and the encryption keys partners
        may seal to (active, next). A previous encryption key still opens but is no longer offered."""
        from hub.envelope import load_jwk

        self.refresh_if_changed()
        with self._lock:
            entries = self._live("sig", "active", "next", "previous") + self._live("enc", "active", "next")
            materials = [(str(e["id"]), self._keys[e["id"]]) for e in entries]
        return [(key_id, load_jwk(material).public()) for key_id, material in materials]

    def retired_envelope_key(self, kid: str) -> str | None:
        """When the hub's envelope key with this ``kid`` was retired; None if no retired key has it."""
        for entry in self._doc["keys"]:
            if entry.get("kid") == kid and entry["status"] == "retired":
                return str(entry.get("retired_at"))
        return None

    @_changes_ring
    def mark_published(self, key_ids: list[str]) -> None:
        """Record that these envelope keys were exported for partners (the first time only)."""
        changed = False
        for key_id in key_ids:
            entry = self._entry(key_id)
            if not entry.get("published_at"):
                entry["published_at"] = _now()
                changed = True
        if changed:
            self._save()

    @_changes_ring
    def add_envelope_key(self, purpose: Literal["sig", "enc"], alg: str) -> str:
        """Add a ``next`` signing or encryption key (``EdDSA``/``ES256``, ``X25519``/``P-256``); return its id.

        Refused while another ``next`` key of that purpose waits to be activated.
        """
        from hub.envelope import EnvelopeError, dump_jwk, generate_key

        waiting = self._live(purpose, "next")
        if waiting:
            raise KeyRingError(
                f"{waiting[0]['id']} is already the next {purpose} key; activate or retire it before adding another"
            )
        try:
            jwk = generate_key(purpose, alg)
        except EnvelopeError:
            what = (
                "a signing (sig) key is EdDSA or ES256"
                if purpose == "sig"
                else "an encryption (enc) key is X25519 or P-256"
            )
            raise KeyRingError(f"{what}, not {alg!r}") from None
        key_id = self._add_key(purpose, "next", dump_jwk(jwk, private=True).encode())
        self._entry(key_id)["kid"] = jwk.kid
        self._save()
        return key_id

    @_changes_ring
    def activate(self, key_id: str) -> str | None:
        """Make a published ``next`` envelope key ``active``; the active one becomes ``previous``. Return its id.

        Refused unless the key was published (``hub keys export``): partners must hold a signing
        key before the hub signs with it.
        """
        entry = self._entry(key_id)
        if entry["purpose"] not in ("sig", "enc"):
            raise KeyRingError(f"{key_id} is the {entry['purpose']} key; only envelope keys are activated")
        if entry["status"] != "next":
            raise KeyRingError(f"{key_id} is {entry['status']}; only a next key is activated")
        if not entry.get("published_at"):
            raise KeyRingError(
                f"{key_id} was never published: run 'hub keys export' and give partners the key set "
                "(and wait the overlap they need) before activating it"
            )
        replaced = None
        for other in self._live(entry["purpose"], "active"):
            other["status"] = "previous"
            replaced = str(other["id"])
        entry["status"] = "active"
        entry["activated_at"] = _now()
        self._save()
        return replaced

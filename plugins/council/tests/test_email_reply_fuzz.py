"""A council's e-mail reply under generated mail: read, or refused with ``ReplyRefused``, never a crash.

The ``smtp-replies`` listener reads each mail it is given (``read_reply``: the From address and the audit
reference of its Message-ID) and takes its one sealed attachment (``sealed_attachment``) before anything is
verified. Generated mails (``hub.testing.fuzzing``: a real reply cut, spliced and repeated) must be read, and
the attachment taken or refused with the listener's own ``ReplyRefused``, within the fuzzing bounds. A mail
whose header Python's own parser fails on (a cut-short ``Message-ID: <abc@`` made it raise IndexError, which
left the SMTP answer to the mail server's error path) is read as one without that header.
"""

from __future__ import annotations

import contextlib

import pytest
from hub_council.email_replies import ReplyRefused, read_reply, sealed_attachment

from hub.testing.fuzzing import fuzz

REPLY = (b"From: Luton Housing <housing@luton.example>\r\nTo: replies@hub.example\r\n"
         b"Message-ID: <abc@luton.example>\r\nSubject: Re: referral\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
         b"--XX\r\nContent-Type: application/jose\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         b"ZXlKaGJHY2lPaUpGUTBSSUxVVlRJaXdp\r\n--XX--\r\n")  # fmt: skip


def read(raw: bytes) -> None:
    mail, address, reference = read_reply(raw)
    assert isinstance(address, str) and reference
    with contextlib.suppress(ReplyRefused):
        sealed_attachment(mail)


def test_a_reply_is_read_with_its_sender_reference_and_attachment() -> None:
    mail, address, reference = read_reply(REPLY)
    assert (address, reference) == ("housing@luton.example", "<abc@luton.example>")
    assert sealed_attachment(mail) == (b"eyJhbGciOiJFQ0RILUVTIiwi", "application/jose")


def test_a_header_pythons_parser_fails_on_is_read_as_absent() -> None:
    _, address, reference = read_reply(REPLY[: REPLY.index(b"luton.example>\r\nSubject")])
    assert (address, reference) == ("housing@luton.example", "-")


def test_generated_replies_are_read_or_refused_with_reply_refused() -> None:
    fuzz(read, [REPLY], allowed=(), examples=300)


def test_a_reply_of_more_parts_than_a_reply_needs_is_refused_from_its_headers() -> None:
    nested = b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n" * 80
    many = REPLY.replace(b"--XX\r\nContent-Type: text/plain", b"--XX\r\n" + nested + b"Content-Type: text/plain")
    mail, address, reference = read_reply(many)
    assert (address, reference) == ("housing@luton.example", "<abc@luton.example>")
    with pytest.raises(ReplyRefused, match="MIME parts cannot be read \\(a reply has at most 32\\)"):
        sealed_attachment(mail)


def test_a_reply_whose_headers_are_over_16_kib_is_read_from_their_start_and_refused() -> None:
    huge = REPLY.replace(b"boundary=XX\r\n", b"boundary=XX" + b"; x=multipart/mixed" * 12000 + b"\r\n", 1)
    mail, address, reference = read_reply(huge)
    assert (address, reference) == ("housing@luton.example", "<abc@luton.example>")
    with pytest.raises(ReplyRefused):
        sealed_attachment(mail)

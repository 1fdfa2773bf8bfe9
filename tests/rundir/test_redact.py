"""rundir.redact: what never reaches meta.json (secrets in flags, credentials in a host)."""

from __future__ import annotations

from rundir.redact import REDACTED, public_host, redact_flags


def test_flags_are_redacted_for_the_record():
    flags = (
        "--slots 4 --api-key s3cr3t --token=abc --service-ms 50 "
        "--db /tmp/x.db AKIA1234567890ABCDEFGH"
    )
    out = redact_flags(flags)
    assert "s3cr3t" not in out and "abc" not in out and "AKIA1234567890" not in out
    assert out == (
        f"--slots 4 --api-key '{REDACTED}' '--token={REDACTED}' --service-ms 50 "
        f"--db /tmp/x.db '{REDACTED}'"
    )
    assert redact_flags("--unbalanced 'quote") == REDACTED


def test_host_loses_credentials_and_query():
    assert (
        public_host("https://user:pw@api.example.com:8443/base?key=1#x")
        == "https://api.example.com:8443/base"
    )
    assert public_host(None) is None

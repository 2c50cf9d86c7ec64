"""The client's address behind trusted proxies: right-most untrusted X-Forwarded-For hop."""

from __future__ import annotations

import pytest

from server.settings import Settings, SettingsError
from server.client_ip import client_address, parse_networks

NETS = parse_networks("10.0.0.0/8, 127.0.0.1, ::1")


@pytest.mark.parametrize("remote,xff,real,expected", [
    ("203.0.113.9", ["1.2.3.4"], None, "203.0.113.9"),               # untrusted peer: header ignored
    ("10.0.0.2", ["1.2.3.4"], None, "1.2.3.4"),
    ("10.0.0.2", ["6.6.6.6, 1.2.3.4"], None, "1.2.3.4"),             # client-written hop ignored
    ("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.9"], None, "1.2.3.4"),   # chain of trusted proxies
    ("10.0.0.2", ["6.6.6.6", "1.2.3.4"], None, "1.2.3.4"),           # repeated headers
    ("10.0.0.2", [], "5.6.7.8", "5.6.7.8"),
    ("10.0.0.2", [], None, "10.0.0.2"),
    ("10.0.0.2", ["garbage, 10.0.0.7"], None, "10.0.0.7"),           # unparsable: stop at the last trusted
    ("::1", ["2001:db8::1"], None, "2001:db8::1"),
    ("10.0.0.2", ["[2001:db8::2]:443"], None, "2001:db8::2"),
    ("10.0.0.2", ["1.2.3.4:5678"], None, "1.2.3.4"),
])
def test_client_address(remote, xff, real, expected):
    assert client_address(remote, xff, real, NETS) == expected


def test_no_trusted_proxies_by_default():
    assert Settings().trusted_proxies == ""
    assert client_address("10.0.0.2", ["1.2.3.4"], "5.6.7.8", parse_networks("")) == "10.0.0.2"


def test_bad_cidr_is_a_settings_error():
    with pytest.raises(SettingsError, match="trusted_proxies"):
        Settings(trusted_proxies="10.0.0.0/8, nonsense")

"""Syslog over UDP, TCP and TLS: RFC 3164 and RFC 5424, newline framing and RFC 6587 octet counting."""

"""How ffmpeg splits a URL (libavformat's av_url_split), for tests that compare it with urllib.

ffmpeg does not use urllib's rules: it takes the host part up to the first '/', '?' or '#', the
credentials up to the last '@' before that, then either '[v6]' (and ':port' right after ']') or
'host:port'. A camera URL the model accepts must mean the same host and port to both.
"""

from __future__ import annotations


def av_url_split(url: str) -> tuple[str, str, str, int, str]:
    """(scheme, userinfo, host, port or -1, path-and-query), as av_url_split fills them."""
    colon = url.find(":")
    if colon < 0:
        return "", "", "", -1, url
    scheme, p = url[:colon], url[colon + 1 :]
    for _ in range(2):
        if p.startswith("/"):
            p = p[1:]
    ends = [i for i in (p.find("/"), p.find("?"), p.find("#")) if i >= 0]
    ls = min(ends) if ends else len(p)
    authority, path = p[:ls], p[ls:]
    userinfo = ""
    if "@" in authority:
        userinfo, authority = authority.rsplit("@", 1)
    port = -1
    if authority.startswith("[") and "]" in authority:
        close = authority.index("]")
        host = authority[1:close]
        if authority[close + 1 : close + 2] == ":":
            port = _atoi(authority[close + 2 :])
    elif ":" in authority:
        host, _, rest = authority.partition(":")
        port = _atoi(rest)
    else:
        host = authority
    return scheme, userinfo, host, port, path


def _atoi(text: str) -> int:
    """C atoi: leading digits, 0 when there are none."""
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0

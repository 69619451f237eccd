"""Code that runs ON the gateway: standard library only, uploaded as it is by the roles.

Each module here is a script the roles copy to /usr/local/lib/camgate/ and the host's python3 runs
(see camgate.paths). It must import nothing but the standard library (a unit test runs each one with
`python3 -I -S`); the operator side may import its constants. One exception: the WebRTC engine
(webrtc.py) drives the distribution's GStreamer through python3-gi (packages.WEBRTC), so the
operator side never imports it (`source` reads it).
"""


def source(module: str) -> str:
    """The text of gateway-side module `module` (uploaded as is), read without importing it: the
    WebRTC engine imports the gateway's GStreamer bindings, which the operator's Python may lack."""
    from pathlib import Path

    return (Path(__file__).parent / f"{module}.py").read_text()

"""camgate: provision an RTSP-to-HLS CCTV gateway and prove it works."""

__version__ = "0.1.0"

"""Code that runs ON the gateway: standard library only, uploaded as it is by the roles.

Each module here is a script the roles copy to /usr/local/lib/camgate/ and the host's python3 runs
(see camgate.paths). It must import nothing but the standard library (a unit test runs each one with
`python3 -I -S`); the operator side may import its constants.
"""

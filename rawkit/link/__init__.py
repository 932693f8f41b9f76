"""The link layer: the only part of rawkit that touches the operating system (AF_PACKET rings, raw IP
sockets, TAP devices, ping sockets, BPF attach) and the network-namespace lab (`rawkit.link.netns`)
that tests and `rawkit script` build their networks with.

Submodules are imported on demand so that importing rawkit never needs privileges.
"""

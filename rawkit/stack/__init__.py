"""The stack layer: runs protocols over the link layer (probers for ping and trace today; a
userspace TCP with Berkeley-style sockets to come)."""

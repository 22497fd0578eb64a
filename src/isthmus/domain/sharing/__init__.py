"""Sharing channels with connected workspaces: the share lifecycle (invite, accept, resume, unshare), who may
change what across servers, and what a peer refused."""

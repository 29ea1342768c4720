"""The conversation core: platform-free; one message in, replies out."""

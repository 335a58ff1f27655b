"""Local stand-ins for outside services (a phone carrier), FOR DEVELOPMENT AND TESTS: they
speak the real services' protocols over real HTTP on loopback, so the production adapters
are exercised unchanged, and they deliver nothing outside this machine."""
